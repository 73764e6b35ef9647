"""Flag evaluation agrees with PostHog's own, user by user.

posthog-python's local evaluator (``posthog.feature_flags``) is the oracle: it
is what PostHog users' servers run on the definitions we serve, so any
difference would show one user one value here and another there.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import pytest
from posthog import feature_flags as posthog_flags

from heliograph.flags.definition import FeatureFlag, FlagError, check_filters
from heliograph.flags.evaluation import bucket, evaluate, match_property, payload_for

IDS = [str(uuid.UUID(int=random.Random(1).getrandbits(128) + n)) for n in range(1000)]


def flag(key: str, filters: dict[str, Any], **extra: Any) -> FeatureFlag:
    return FeatureFlag(id=1, project_id=1, key=key, name=key, active=True,
                       filters=check_filters(filters), **extra)  # fmt: skip


def posthog_value(f: FeatureFlag, distinct_id: str, properties: dict[str, Any]) -> Any:
    definition = {"key": f.key, "active": True, "filters": f.filters}
    return posthog_flags.match_feature_flag_properties(
        definition, distinct_id, properties, bucketing_value=distinct_id
    )


ROLLOUT = flag("rollout-30", {"groups": [{"properties": [], "rollout_percentage": 30}]})
SPLIT = flag(
    "checkout-copy",
    {
        "groups": [{"properties": [], "rollout_percentage": 100}],
        "multivariate": {"variants": [
            {"key": "control", "rollout_percentage": 34},
            {"key": "short", "rollout_percentage": 33},
            {"key": "long", "rollout_percentage": 33},
        ]},
        "payloads": {"short": {"headline": "Buy"}, "long": '{"headline": "Buy it now"}'},
    },
)  # fmt: skip
RULE = flag(
    "beta-users",
    {
        "groups": [
            {"properties": [{"key": "email", "operator": "icontains", "value": "@acme."}],
             "rollout_percentage": 50},
            {"properties": [{"key": "plan", "operator": "exact", "value": ["pro", "Team"]},
                            {"key": "seats", "operator": "gte", "value": 10}]},
            {"properties": [{"key": "beta", "operator": "exact", "value": "true"}],
             "rollout_percentage": 100},
            {"properties": [{"key": "email", "operator": "regex", "value": r"^[ab]@ACME\."}]},
            {"properties": [{"key": "plan", "operator": "not_regex", "value": "^(free|pro)$"},
                            {"key": "seats", "operator": "lt", "value": "10"}]},
        ],
    },
)  # fmt: skip


def people(seed: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    return [
        (distinct_id, {
            "email": rng.choice(["a@acme.io", "b@ACME.com", "c@other.org", "d@acme.dev"]),
            "plan": rng.choice(["free", "pro", "TEAM", "enterprise"]),
            "seats": rng.choice([1, 9, 10, "12", 40.5]),
            "beta": rng.choice([True, False, "true", "False"]),
        })
        for distinct_id in IDS
    ]  # fmt: skip


def test_buckets_are_posthogs_hash() -> None:
    for distinct_id in IDS[:200]:
        assert bucket("some-flag", distinct_id) == posthog_flags._hash("some-flag", distinct_id)
        assert bucket("f", distinct_id, "variant") == posthog_flags._hash(
            "f", distinct_id, salt="variant"
        )


@pytest.mark.parametrize("f", [ROLLOUT, SPLIT, RULE], ids=lambda f: f.key)
def test_every_user_gets_what_posthog_would_give(f: FeatureFlag) -> None:
    for distinct_id, properties in people(7):
        assert evaluate(f, distinct_id, properties) == posthog_value(f, distinct_id, properties)


def test_a_30_percent_rollout_reaches_about_30_percent() -> None:
    share = sum(evaluate(ROLLOUT, distinct_id) is True for distinct_id in IDS) / len(IDS)
    assert 0.27 <= share <= 0.33


def test_variants_split_by_their_percentages_and_carry_their_payloads() -> None:
    seen = [evaluate(SPLIT, distinct_id) for distinct_id in IDS]
    shares = {key: seen.count(key) / len(seen) for key in ("control", "short", "long")}
    assert all(0.28 <= share <= 0.40 for share in shares.values()), shares
    assert payload_for(SPLIT, "short") == '{"headline":"Buy"}'
    assert payload_for(SPLIT, "long") == '{"headline": "Buy it now"}'
    assert payload_for(SPLIT, "control") is None


def test_an_inactive_flag_or_an_environment_switched_off_is_false() -> None:
    off = FeatureFlag(1, 1, "f", "f", False, check_filters(None))
    assert evaluate(off, "u") is False
    staging_only = FeatureFlag(1, 1, "f", "f", False, check_filters(None),
                               environments={"staging": True})  # fmt: skip
    assert evaluate(staging_only, "u", environment="staging") is True
    assert evaluate(staging_only, "u", environment="production") is False


def test_a_missing_property_matches_no_filter() -> None:
    prop = {"key": "plan", "operator": "is_not", "value": "free"}
    assert match_property(prop, {}) is False
    assert match_property({"key": "plan", "operator": "is_not_set"}, {"plan": None}) is False


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"groups": [{"rollout_percentage": 130}]}, "from 0 to 100"),
        ({"groups": [{"properties": [{"key": "x", "operator": "like"}]}]}, "is not one of"),
        ({"groups": [{"properties": [{"key": "x", "operator": "regex", "value": "("}]}]},
         "regular expression"),
        ({"groups": [{"properties": [{"key": "x", "operator": "regex", "value": "(?=a)b"}]}]},
         "lookaround"),
        ({"groups": [{"properties": [{"key": "x", "operator": "regex", "value": "(a+)+$"}]}]},
         "exponential time"),
        ({"multivariate": {"variants": [{"key": "a", "rollout_percentage": 60}]}}, "add up"),
        ({"groups": [{"variant": "b"}]}, "not one of the flag's variants"),
        ({"payloads": {"blue": 1}}, "belongs to one of true"),
        ({"groups": [{"properties": [{"key": "x", "type": "cohort", "value": 3}]}]},
         "only person properties"),
    ],
)  # fmt: skip
def test_bad_definitions_are_refused_with_the_reason(filters: dict[str, Any], reason: str) -> None:
    with pytest.raises(FlagError, match=reason):
        check_filters(filters)


def test_a_hostile_value_never_stalls_a_regex_condition() -> None:
    """Stored before the definition checks, say: the server still matches in linear time."""
    groups = [{"properties": [{"key": "name", "operator": "regex", "value": "(a+)+$"}],
               "rollout_percentage": None}]  # fmt: skip
    risky = FeatureFlag(1, 1, "risky", "risky", True, {"groups": groups, "payloads": {}})
    began = time.perf_counter()
    assert evaluate(risky, "u1", {"name": "a" * 50_000 + "!"}) is False
    assert evaluate(risky, "u1", {"name": "aaaa"}) is True
    assert time.perf_counter() - began < 0.5
