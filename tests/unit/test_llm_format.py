"""Money on the LLM pages: cheap calls stay comparable."""

from __future__ import annotations

import pytest

from heliograph.web.llm_format import usd


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "unknown"),
        (0.0, "$0"),
        (1234.5, "$1,234"),
        (12.345, "$12.35"),
        (0.5, "$0.50"),
        (0.0042, "$0.0042"),
        (0.00421, "$0.00421"),
        # Two gpt-4o-mini calls of a few tokens: once both "<$0.0001", now apart.
        (0.0000015, "$0.0000015"),
        (0.00000153, "$0.00000153"),
        (1.2e-12, "<$0.0000000001"),
    ],
)
def test_costs_keep_three_significant_digits_under_a_dollar(
    value: float | None, shown: str
) -> None:
    assert usd(value) == shown


def test_a_property_condition_as_typed() -> None:
    from heliograph.query.llm import property_filter
    from heliograph.store.web_records import PropertyFilter

    assert property_filter("tier=gold") == PropertyFilter("tier", "eq", "gold")
    assert property_filter(" tier != gold ") == PropertyFilter("tier", "neq", "gold")
    assert property_filter("tier") == PropertyFilter("tier", "is_set")
    assert property_filter("a=b=c") == PropertyFilter("a", "eq", "b=c")
    assert property_filter("") is None and property_filter("=gold") is None
