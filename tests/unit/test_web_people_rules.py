"""Person updates, profile merging, property filters and the HyperLogLog estimate: pure rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from heliograph.model import Event
from heliograph.query.web import QueryError, parse_filters
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.hll import estimate, register_of
from heliograph.store.people_events import (
    MAX_PROPERTIES,
    apply_update,
    may_merge,
    merge_properties,
    person_update,
)
from heliograph.store.web_records import PropertyFilter, matches, property_text
from heliograph.store.web_shaping import pageview_of


def event(name: str, distinct_id: str | None, /, **properties: Any) -> Event:
    return Event(
        project_id=1, event_id=uuid.uuid4().hex, timestamp=1.0, kind="analytics",
        name=name, distinct_id=distinct_id, properties=properties,
    )  # fmt: skip


def test_identify_alias_and_placeholders() -> None:
    identify = person_update(event("$identify", "u1", **{"$anon_distinct_id": "a1"}))
    assert identify is not None and identify.merge_with == "a1"
    js_alias = person_update(event("$create_alias", "u1", alias="crm-9"))
    assert js_alias is not None and js_alias.merge_with == "crm-9"
    py_alias = person_update(event("$create_alias", "new", alias="new", distinct_id="old"))
    assert py_alias is not None and py_alias.merge_with == "old"
    assert person_update(event("$identify", "undefined", **{"$anon_distinct_id": "a1"})) is None
    placeholder = person_update(event("$identify", "u1", **{"$anon_distinct_id": "null"}))
    assert placeholder is not None and placeholder.merge_with is None
    assert person_update(event("$pageview", "x", **{"$process_person_profile": False})) is None


def test_only_merge_dangerously_merges_an_identified_person() -> None:
    identify = person_update(event("$identify", "u1", **{"$anon_distinct_id": "a1"}))
    alias = person_update(event("$create_alias", "u1", alias="a1"))
    dangerous = person_update(event("$merge_dangerously", "u1", alias="a1"))
    plain = person_update(event("$set", "u1", **{"$set": {"plan": "pro"}}))
    assert identify is not None and alias is not None and dangerous is not None
    assert plain is not None and not plain.identifies
    assert identify.identifies and alias.identifies and not dangerous.identifies
    assert may_merge(identify, False) and not may_merge(identify, True)
    assert may_merge(alias, False) and not may_merge(alias, True)
    assert may_merge(dangerous, True)


def test_set_set_once_unset_and_bounds() -> None:
    update = person_update(
        event("$set", "u1", **{"$set": {"plan": "pro"}, "$set_once": {"plan": "free", "src": "ad"},
                               "$unset": ["old"], "$user": {"email": "a@b.c"}})
    )  # fmt: skip
    assert update is not None
    profile = {"old": 1, "src": "organic"}
    assert apply_update(profile, update)
    assert profile == {"src": "organic", "plan": "pro", "email": "a@b.c"}
    assert not apply_update(profile, update)  # the same again changes nothing
    big = {f"k{n}": n for n in range(100)}
    full = {f"p{n}": n for n in range(MAX_PROPERTIES)}
    update = person_update(event("$set", "u1", **{"$set": big}))
    assert update is not None
    apply_update(full, update)
    assert len(full) == MAX_PROPERTIES  # new keys past the bound are dropped
    huge = person_update(event("$set", "u1", **{"$set": {"blob": "x" * 10_000}}))
    assert huge is not None and len(huge.set["blob"]) == 1000


def test_merge_keeps_the_identified_values() -> None:
    merged = merge_properties({"plan": "pro", "email": "a@b.c"}, {"plan": "free", "seats": 3})
    assert merged == {"plan": "pro", "email": "a@b.c", "seats": 3}


def test_property_text_and_filters() -> None:
    props = {"s": "Pro", "n": 30, "f": 1.5, "b": True, "o": {"a": [1]}, "z": None}
    assert [property_text(props, k) for k in ("s", "n", "f", "b", "o", "z", "missing")] == [
        "Pro", "30", "1.5", "true", '{"a":[1]}', None, None
    ]  # fmt: skip
    assert matches(props, [PropertyFilter("s", "contains", "pr"), PropertyFilter("n", "eq", "30")])
    assert matches(props, [PropertyFilter("missing", "neq", "x")])
    assert not matches(props, [PropertyFilter("z", "is_set")])
    assert matches(props, [PropertyFilter("z", "is_not_set")])
    assert not matches(props, [PropertyFilter("s", "eq", "pro")])


def test_parse_filters_refuses_hostile_input() -> None:
    assert parse_filters(["plan", ""], ["eq", "eq"], ["pro", ""]) == (
        PropertyFilter("plan", "eq", "pro"),
    )
    for keys, ops, values in (
        (["plan"], ["drop table"], ["x"]),
        (["k" * 201], ["eq"], ["x"]),
        (["plan"], ["eq"], ["v" * 201]),
        (["a\x00"], ["eq"], ["x"]),
        ([f"k{n}" for n in range(11)], ["is_set"] * 11, [""] * 11),
    ):
        try:
            parse_filters(keys, ops, values)
        except QueryError:
            continue
        raise AssertionError(f"accepted {keys[:1]} {ops[:1]}")


def test_hyperloglog_is_close_and_merges_by_max() -> None:
    first = {}
    second = {}
    for n in range(20_000):
        register, rank = register_of(f"visitor-{n}")
        target = first if n < 12_000 else second
        target[register] = max(rank, target.get(register, 0))
    assert abs(estimate(first) - 12_000) < 12_000 * 0.05
    union = [*first.items(), *second.items()]
    assert abs(estimate(union) - 20_000) < 20_000 * 0.05
    assert estimate({}) == 0


def test_pageview_facts_fall_back_on_url_and_user_agent() -> None:
    view = pageview_of(
        event("$pageview", "u1", **{
            "$current_url": "https://shop.example/a/b?q=1", "$referrer": "https://www.google.com/x",
            "$raw_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        })
    )  # fmt: skip
    assert view is not None
    assert (view.path, view.referrer, view.os, view.device) == (
        "/a/b", "www.google.com", "iOS", "Mobile"
    )  # fmt: skip
    assert view.session.startswith("d:u1:")
    assert pageview_of(event("signup", "u1")) is None
    hostile = pageview_of(
        event("$pageview", None, **{"$current_url": "http://[::1", "$pathname": 5})
    )
    assert hostile is not None and hostile.path == "/" and hostile.visitor


@pytest.mark.parametrize(
    "cursor", ["1.0:99999999999999999999", "1.0:-1", "nan:1", "inf:1", "-inf:2", "1:x", "x"]
)
def test_crafted_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(cursor)


def test_cursors_round_trip() -> None:
    assert decode_cursor(encode_cursor(1.5, 2**63 - 1)) == (1.5, 2**63 - 1)
    assert decode_cursor(encode_cursor(0.0, 0)) == (0.0, 0)


def test_nuls_become_replacement_characters_as_postgresql_stores_them() -> None:
    update = person_update(event("$identify", "u\x001", **{"$anon_distinct_id": "a\x00"}))
    assert update is not None
    assert (update.distinct_id, update.merge_with) == ("u\ufffd1", "a\ufffd")
    view = pageview_of(
        event("$pageview", "v", **{"$current_url": "https://x.example/a%00b\x00c",
                                   "$referrer": "https://ref\x00.example/"})
    )  # fmt: skip
    assert view is not None and "\x00" not in view.path + view.referrer
