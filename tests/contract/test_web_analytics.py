"""Web analytics rollups, the events explorer and people: the same on every backend."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from heliograph.model import Event, User
from heliograph.query.web import build_explorer
from heliograph.store import web_rollups
from heliograph.store.base import DigestBatch
from heliograph.store.contract import Store
from heliograph.store.web_records import EventQuery, PropertyFilter
from tests.contract.builders import HOUR, error, record_errors

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def event(
    project_id: int,
    name: str,
    distinct_id: str | None,
    at: float,
    /,
    **properties: Any,
) -> Event:
    return Event(
        project_id=project_id, event_id=uuid.uuid4().hex, timestamp=at, received_at=at,
        kind="analytics", name=name, distinct_id=distinct_id, properties=properties,
    )  # fmt: skip


def view(project_id: int, who: str, session: str, path: str, at: float, **more: Any) -> Event:
    return event(
        project_id, "$pageview", who, at, **{"$session_id": session, "$pathname": path, **more}
    )


FIREFOX = {
    "$referring_domain": "news.example",
    "$browser": "Firefox",
    "$os": "Linux",
    "$device_type": "Desktop",
}
CHROME = {"$raw_user_agent": CHROME_MAC, "$referrer": "$direct"}


def approx(found: int, expected: int) -> bool:
    return abs(found - expected) <= 0.03 * expected


def record(store: Store, *events: Event) -> None:
    store.record(DigestBatch(analytics=list(events)))


def test_pageviews_sessions_bounces_and_tops_from_rollups(store: Store, project: Any) -> None:
    hour = int(time.time() // 3600) - 1
    at = hour * HOUR + 60
    pid = project.id
    batch = [
        view(pid, "ada", "s1", "/", at, **FIREFOX),
        view(pid, "ada", "s1", "/pricing", at + 10),
        view(pid, "bob", "s2", "/", at + 20, **CHROME),
        event(pid, "signup", "bob", at + 30, plan="pro"),
    ]  # fmt: skip
    record(store, *batch)
    record(store, *batch)  # a replay counts nothing again
    [traffic] = store.web_traffic(pid, hour, hour)
    assert (traffic.pageviews, traffic.sessions, traffic.bounces) == (3, 2, 1)
    # A later pageview in bob's session: no longer a bounce, counted where it started.
    record(store, view(pid, "bob", "s2", "/docs", at + 2 * HOUR))
    hours = store.web_traffic(pid, hour, hour + 2)
    assert [(t.hour, t.pageviews, t.sessions, t.bounces) for t in hours] == [
        (hour, 3, 2, 0),
        (hour + 2, 1, 0, 0),
    ]
    pages = store.web_top(pid, "page", hour, hour + 2)
    assert [(p.value, p.pageviews, p.sessions) for p in pages] == [
        ("/", 2, 2), ("/docs", 1, 0), ("/pricing", 1, 0)
    ]  # fmt: skip
    referrers = {t.value: t.sessions for t in store.web_top(pid, "referrer", hour, hour + 2)}
    assert referrers == {"news.example": 1, "$direct": 1}
    browsers = {t.value: t.sessions for t in store.web_top(pid, "browser", hour, hour + 2)}
    assert browsers == {"Firefox": 1, "Chrome": 1}
    assert {t.value for t in store.web_top(pid, "os", hour, hour + 2)} == {"Linux", "Mac OS X"}
    assert {t.value for t in store.web_top(pid, "device", hour, hour + 2)} == {"Desktop"}
    names = {n.name: n.events for n in store.event_names(pid, hour, hour + 2)}
    assert names == {"$pageview": 4, "signup": 1}
    with pytest.raises(ValueError):
        store.web_top(pid, "nonsense", hour, hour)


def test_rare_values_past_the_bound_fold_into_other(
    store: Store, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_rollups, "MAX_TOP_VALUES", 5)
    hour = int(time.time() // 3600) - 1
    at = hour * HOUR + 60
    pid = project.id
    record(store, *[view(pid, "ada", "s1", f"/p{n}", at + n) for n in range(4)])
    # A flood of made-up paths: the first fills the bound, the rest are "(other)"; the
    # paths already counted keep their rows.
    record(store, *[view(pid, "ada", "s1", f"/spam{n}", at + 10 + n) for n in range(7)])
    record(store, view(pid, "ada", "s1", "/p0", at + 30), view(pid, "ada", "s1", "/x", at + 31))
    pages = store.web_top(pid, "page", hour, hour, limit=50)
    assert {top.value: top.pageviews for top in pages} == {
        "(other)": 7, "/p0": 2, "/p1": 1, "/p2": 1, "/p3": 1, "/spam0": 1,
    }  # fmt: skip
    [traffic] = store.web_traffic(pid, hour, hour)
    assert traffic.pageviews == 13


def test_countries_roll_up_where_known(store: Store, project: Any, other_project: Any) -> None:
    hour = int(time.time() // 3600) - 1
    at = hour * HOUR + 60
    pid = project.id
    code = "$geoip_country_code"
    record(
        store,
        view(pid, "ada", "s1", "/", at, **{code: "DE", "$geoip_country_name": "Germany"}),
        view(pid, "ada", "s1", "/pricing", at + 10, **{code: "DE"}),
        view(pid, "bob", "s2", "/", at + 20, **{code: "DE"}),
        view(pid, "eve", "s3", "/", at + 30, **{code: "gb"}),  # as a server SDK may send it
        view(pid, "joe", "s4", "/", at + 40),  # no country: no row
        view(pid, "kim", "s5", "/", at + 50, **{code: "Germany"}),  # not a code: no row
        event(pid, "signup", "bob", at + 60, **{code: "FR"}),  # not a pageview
    )
    countries = store.web_top(pid, "country", hour, hour)
    assert [(c.value, c.sessions, c.pageviews) for c in countries] == [("DE", 2, 3), ("GB", 1, 1)]
    assert store.web_top(other_project.id, "country", hour, hour) == []
    [traffic] = store.web_traffic(pid, hour, hour)
    assert (traffic.pageviews, traffic.sessions) == (6, 5)


def test_unique_visitors_across_hours_and_days(store: Store, project: Any) -> None:
    day = int(time.time() // 86400) - 2
    at = day * 86400.0 + 3600
    visitors = [f"v{n}" for n in range(300)]
    events = [view(project.id, v, f"s-{v}", "/", at) for v in visitors]
    # The same visitors come back the next hour and the next day, with 50 new ones.
    events += [view(project.id, v, f"t-{v}", "/", at + HOUR) for v in visitors]
    events += [view(project.id, v, f"u-{v}", "/", at + 86400) for v in visitors[:100]]
    events += [view(project.id, f"new{n}", f"n{n}", "/", at + 86400) for n in range(50)]
    record(store, *events)
    hour = int(at // 3600)
    # Estimates (HyperLogLog): within 3% here, where counting twice would be 100% off.
    hourly = store.web_visitors(project.id, hour, hour + 1, "hour")
    assert sorted(hourly.by_bucket) == [hour, hour + 1]
    assert all(approx(count, 300) for count in hourly.by_bucket.values())
    assert approx(hourly.total, 300)
    daily = store.web_visitors(project.id, day, day + 1, "day")
    assert approx(daily.by_bucket[day], 300) and approx(daily.by_bucket[day + 1], 150)
    assert approx(daily.total, 350)
    assert store.web_visitors(project.id, day + 5, day + 6, "day").total == 0


def test_explorer_filters_breaks_down_and_pages(store: Store, project: Any) -> None:
    now = time.time()
    pid = project.id
    events = [
        event(pid, "purchase", "ada", now - 100, plan="pro", amount=30, beta=True),
        event(pid, "purchase", "bob", now - 90, plan="free", amount=5),
        event(pid, "purchase", "cy", now - 80, plan="Pro-Annual"),
        event(pid, "purchase", "dee", now - 70),
        event(pid, "signup", "ada", now - 60, plan="pro"),
    ]
    record(store, *events)

    def ids(query: EventQuery) -> list[str]:
        found, _ = store.find_events(query, limit=50)
        return [stored.event.distinct_id or "" for stored in found]

    base = EventQuery(pid, now - 3600, now + 1, name="purchase")
    assert ids(base) == ["dee", "cy", "bob", "ada"]
    eq = PropertyFilter("plan", "eq", "pro")
    assert ids(EventQuery(pid, now - 3600, now + 1, name="purchase", filters=(eq,))) == ["ada"]
    assert ids(EventQuery(pid, now - 3600, now + 1, filters=(eq,))) == ["ada", "ada"]
    neq = PropertyFilter("plan", "neq", "pro")
    assert ids(EventQuery(pid, now - 3600, now + 1, name="purchase", filters=(neq,))) == [
        "dee", "cy", "bob"
    ]  # fmt: skip
    contains = PropertyFilter("plan", "contains", "PRO")
    assert ids(EventQuery(pid, now - 3600, now + 1, "purchase", (contains,))) == ["cy", "ada"]
    is_set = PropertyFilter("amount", "is_set")
    assert ids(EventQuery(pid, now - 3600, now + 1, "purchase", (is_set,))) == ["bob", "ada"]
    numeric = PropertyFilter("amount", "eq", "30")
    boolean = PropertyFilter("beta", "eq", "true")
    assert ids(EventQuery(pid, now - 3600, now + 1, "purchase", (numeric, boolean))) == ["ada"]
    assert ids(EventQuery(pid, now - 3600, now + 1, distinct_ids=("ada",))) == ["ada", "ada"]
    assert ids(EventQuery(pid, now - 30, now + 1)) == []

    first, cursor = store.find_events(base, limit=3)
    assert [s.event.distinct_id for s in first] == ["dee", "cy", "bob"]
    assert cursor is not None
    rest, end = store.find_events(base, limit=3, cursor=cursor)
    assert [s.event.distinct_id for s in rest] == ["ada"] and end is None
    assert rest[0].event.properties["plan"] == "pro"

    split = store.event_breakdown(base, "plan", "hour")
    assert split.total == 4 and split.complete
    assert split.top == [("Pro-Annual", 1), ("free", 1), ("pro", 1), (None, 1)]
    bucket = int((now - 100) // 3600) * 3600
    assert split.series["pro"] == {bucket: 1} or int((now - 70) // 3600) != int((now - 100) // 3600)
    whole = store.event_breakdown(EventQuery(pid, now - 3600, now + 1), None, "day")
    assert whole.total == 5 and whole.top == [("", 5)]
    assert sum(whole.series[""].values()) == 5


def test_the_explorer_chart_counts_every_value_not_only_the_top_ten(
    store: Store, project: Any
) -> None:
    now = time.time()
    pid = project.id
    record(store, *[event(pid, "buy", f"u{n}", now - 60 - n, sku=f"sku-{n}") for n in range(14)])
    split = store.event_breakdown(EventQuery(pid, now - 3600, now + 1), "sku", "hour")
    assert split.total == 14 and len(split.top) == 10
    assert sum(split.buckets.values()) == 14
    view = build_explorer(
        store, pid, range_key="24h", name=None, filters=(), breakdown_by="sku", cursor=None,
        now=now,
    )  # fmt: skip
    assert sum(view.totals) == 14


def test_identify_alias_and_set_merge_persons(store: Store, project: Any) -> None:
    now = time.time() - 600
    pid = project.id
    record(
        store,
        view(pid, "anon-1", "s1", "/", now),
        event(pid, "$set", "anon-1", now + 1, **{"$set_once": {"first_page": "/"}}),
    )
    record(
        store,
        event(pid, "$identify", "user-42", now + 2, **{
            "$anon_distinct_id": "anon-1",
            "$set": {"email": "ada@acme.io", "plan": "pro"},
            "$set_once": {"first_page": "/later"},
        }),
        event(pid, "$create_alias", "user-42", now + 3, alias="ada-crm"),
        # posthog-python's alias: the new id is the event's, the old one in properties.
        event(pid, "$create_alias", "legacy-7", now + 4, alias="legacy-7", distinct_id="user-42"),
        event(pid, "$identify", "null", now + 5, **{"$anon_distinct_id": "user-42"}),
    )  # fmt: skip
    person = store.person_by_distinct_id(pid, "anon-1")
    assert person is not None
    assert set(person.distinct_ids) == {"anon-1", "user-42", "ada-crm", "legacy-7"}
    assert person.properties == {"first_page": "/", "email": "ada@acme.io", "plan": "pro"}
    assert store.person_by_distinct_id(pid, "null") is None
    assert store.get_person(pid, person.id) == person
    # Two persons with histories of their own merge: every id stays, the identified one's
    # properties win, the other's fill the gaps.
    record(
        store,
        event(pid, "$set", "phone-1", now + 6, **{"$set": {"plan": "free", "device": "ios"}}),
        event(pid, "$identify", "user-42", now + 7, **{"$anon_distinct_id": "phone-1"}),
        event(pid, "$set", "user-42", now + 8, **{"$unset": ["device"], "$set": {"seats": 5}}),
    )  # fmt: skip
    merged = store.person_by_distinct_id(pid, "phone-1")
    assert merged is not None and merged.id == person.id
    assert set(merged.distinct_ids) == {"anon-1", "user-42", "ada-crm", "legacy-7", "phone-1"}
    assert merged.properties == {
        "first_page": "/",
        "email": "ada@acme.io",
        "plan": "pro",
        "seats": 5,
    }
    # Personless events make no person.
    record(store, event(pid, "$pageview", "ghost", now, **{"$process_person_profile": False}))
    assert store.person_by_distinct_id(pid, "ghost") is None

    persons, cursor = store.list_persons(pid, limit=10)
    assert [p.id for p in persons] == [merged.id] and cursor is None
    assert [p.id for p in store.list_persons(pid, search="ACME", limit=10)[0]] == [merged.id]
    assert [p.id for p in store.list_persons(pid, search="legacy", limit=10)[0]] == [merged.id]
    assert store.list_persons(pid, search="100%_", limit=10)[0] == []


def test_identified_persons_merge_only_dangerously(store: Store, project: Any) -> None:
    now = time.time() - 600
    pid = project.id
    record(
        store,
        event(pid, "$identify", "ada", now, **{"$anon_distinct_id": "anon-a"}),
        event(pid, "$identify", "bob", now + 1, **{"$anon_distinct_id": "anon-b"}),
        event(pid, "$pageview", "anon-c", now + 2),
    )
    ada = store.person_by_distinct_id(pid, "ada")
    bob = store.person_by_distinct_id(pid, "bob")
    assert ada is not None and bob is not None and ada.identified and bob.identified
    anon = store.person_by_distinct_id(pid, "anon-c")
    assert anon is not None and not anon.identified
    # Anyone may send these: an identified person is never merged in by them.
    record(
        store,
        event(pid, "$identify", "bob", now + 3, **{"$anon_distinct_id": "ada"}),
        event(pid, "$create_alias", "bob", now + 4, alias="anon-a"),
    )  # fmt: skip
    assert store.person_by_distinct_id(pid, "ada") == ada
    bob_now = store.person_by_distinct_id(pid, "bob")
    assert bob_now is not None and set(bob_now.distinct_ids) == {"bob", "anon-b"}
    # A new id joins whoever it is aliased to (PostHog adds it to them), who keeps their id.
    record(store, event(pid, "$create_alias", "new-id", now + 5, alias="new-id", distinct_id="ada"))
    ada_now = store.person_by_distinct_id(pid, "new-id")
    assert ada_now is not None and ada_now.id == ada.id
    assert set(ada_now.distinct_ids) == {"ada", "anon-a", "new-id"}
    # An anonymous person is merged in; $merge_dangerously merges even an identified one.
    record(store, event(pid, "$create_alias", "bob", now + 6, alias="anon-c"))
    record(store, event(pid, "$merge_dangerously", "bob", now + 7, alias="ada"))
    merged = store.person_by_distinct_id(pid, "ada")
    assert merged is not None and merged.identified
    assert set(merged.distinct_ids) == {"ada", "anon-a", "new-id", "bob", "anon-b", "anon-c"}


def test_profiles_change_in_arrival_order_across_batches(store: Store, project: Any) -> None:
    now = time.time() - 600
    pid = project.id
    record(
        store,
        event(pid, "$set", "ada", now + 2, **{"$set": {"plan": "pro"}}),
        event(pid, "$set", "ada", now + 1, **{"$set": {"plan": "free"}, "$set_once": {"a": 1}}),
    )
    person = store.person_by_distinct_id(pid, "ada")
    assert person is not None and person.properties == {"plan": "pro", "a": 1}  # by event time
    late = event(pid, "$set", "ada", now, **{"$set": {"plan": "trial"}, "$set_once": {"a": 0}})
    record(store, late)  # arrives last, happened first: wins (as documented)
    person = store.person_by_distinct_id(pid, "ada")
    assert person is not None and person.properties == {"plan": "trial", "a": 1}


def test_people_pages_and_errors_of_a_person(
    store: Store, project: Any, other_project: Any
) -> None:
    now = time.time()
    for n in range(5):
        record(store, event(project.id, "seen", f"p{n}", now - 1000 + n))
    record(store, event(other_project.id, "seen", "p0", now))
    first, cursor = store.list_persons(project.id, limit=2)
    assert [p.distinct_ids for p in first] == [("p4",), ("p3",)]
    second, cursor = store.list_persons(project.id, limit=2, cursor=cursor)
    third, end = store.list_persons(project.id, limit=2, cursor=cursor)
    assert [p.distinct_ids for p in second + third] == [("p2",), ("p1",), ("p0",)]
    assert end is None
    grouped = error(project.id, "g-person", at=now)
    grouped.event.user = User(id="p1")
    record_errors(store, grouped, error(project.id, "g-other", at=now))
    issues = store.person_issues(project.id, ["p1", "p9"])
    assert [issue.group_hash for issue in issues] == ["g-person"]
    assert store.person_issues(other_project.id, ["p1"]) == []
    assert store.person_llm_usage(project.id, ["p1"], now - 3600).requests == 0


def test_retention_purges_rollups_and_people(store: Store, project: Any) -> None:
    old = time.time() - 200 * 86400
    record(
        store,
        view(project.id, "gone", "s-old", "/", old),
        event(project.id, "$identify", "gone-user", old, **{"$anon_distinct_id": "gone"}),
    )
    record(store, view(project.id, "kept", "s-new", "/", time.time() - 60))
    hour = int(old // 3600)
    assert store.web_traffic(project.id, hour, hour)
    store.purge_expired()
    assert store.web_traffic(project.id, hour, hour) == []
    assert store.web_visitors(project.id, hour, hour, "hour").total == 0
    assert store.person_by_distinct_id(project.id, "gone") is None
    assert store.person_by_distinct_id(project.id, "gone-user") is None
    assert store.person_by_distinct_id(project.id, "kept") is not None
    # A purged id that comes back makes a new person, not a half-deleted one.
    record(store, event(project.id, "back", "gone", time.time()))
    back = store.person_by_distinct_id(project.id, "gone")
    assert back is not None and back.distinct_ids == ("gone",)
