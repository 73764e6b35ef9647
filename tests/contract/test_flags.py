"""Feature flags: stored as given, changed with an audit line, keys unique per project."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from heliograph.flags.definition import FlagError, check_filters
from heliograph.model import Event
from heliograph.store.base import DigestBatch, Organization, Project
from heliograph.store.contract import Store

ROLLOUT = check_filters({"groups": [{"properties": [], "rollout_percentage": 30}]})
SPLIT = check_filters(
    {
        "multivariate": {"variants": [
            {"key": "a", "rollout_percentage": 50}, {"key": "b", "rollout_percentage": 50},
        ]},
        "payloads": {"b": {"color": "blue"}},
    }
)  # fmt: skip


def new_flag(store: Store, project: Project, key: str = "new-checkout", **extra: object) -> int:
    fields: dict[str, object] = {"name": "New checkout", "active": True, "filters": ROLLOUT,
                                 "environments": {}, "user_id": None, **extra}  # fmt: skip
    return store.create_flag(project.id, key=key, **fields).id  # type: ignore[arg-type]


def test_a_flag_is_stored_as_given(store: Store, project: Project) -> None:
    created = store.create_flag(
        project.id, key="split", name="Split", active=False, filters=SPLIT,
        environments={"staging": True}, user_id=None,
    )  # fmt: skip
    assert (created.key, created.name, created.active, created.version) == (
        "split",
        "Split",
        False,
        1,
    )
    found = store.get_flag(created.id)
    assert found == created
    assert found.filters == SPLIT and found.environments == {"staging": True}
    assert found.filters["payloads"] == {"b": '{"color":"blue"}'}


def test_flags_list_by_key_and_belong_to_their_project(
    store: Store, project: Project, other_project: Project
) -> None:
    for key in ("zeta", "Alpha", "beta"):
        new_flag(store, project, key)
    new_flag(store, other_project, "elsewhere")
    assert [f.key for f in store.list_flags(project.id)] == ["Alpha", "beta", "zeta"]
    assert [f.key for f in store.list_flags(other_project.id)] == ["elsewhere"]


def test_a_key_is_unique_among_a_projects_live_flags(
    store: Store, project: Project, other_project: Project
) -> None:
    first = new_flag(store, project, "dup")
    with pytest.raises(FlagError, match="already has a flag"):
        new_flag(store, project, "dup")
    new_flag(store, other_project, "dup")  # another project may
    other = new_flag(store, project, "other")
    with pytest.raises(FlagError, match="already has a flag"):
        store.update_flag(other, {"key": "dup"}, user_id=None)
    assert store.delete_flag(first, user_id=None)
    assert store.get_flag(first) is None
    new_flag(store, project, "dup")  # a deleted flag's key is free again
    assert store.delete_flag(first, user_id=None) is False


def test_changes_bump_the_version_and_are_audited(
    store: Store, org: Organization, project: Project
) -> None:
    user = store.create_user("ops@example.com")
    flag_id = new_flag(store, project, user_id=user.id)
    updated = store.update_flag(flag_id, {"active": False, "filters": SPLIT}, user_id=user.id)
    assert updated is not None and (updated.active, updated.version) == (False, 2)
    unchanged = store.update_flag(flag_id, {"active": False}, user_id=user.id)
    assert unchanged is not None and unchanged.version == 2  # nothing changed, nothing logged
    store.delete_flag(flag_id, user_id=None)
    log = store.flag_changes(flag_id)
    assert [(c.action, c.user_id) for c in log] == [
        ("deleted", None), ("updated", user.id), ("created", user.id)
    ]  # fmt: skip
    assert log[1].before == {"active": True, "filters": ROLLOUT}
    assert log[1].after == {"active": False, "filters": SPLIT}
    assert log[2].after["key"] == "new-checkout" and log[2].before == {}
    assert store.update_flag(flag_id, {"name": "x"}, user_id=None) is None  # deleted


def test_flags_survive_reopening(
    store: Store, project: Project, reopen: Callable[[], Store]
) -> None:
    flag_id = new_flag(store, project, environments={"production": False})
    again = reopen()
    found = again.get_flag(flag_id)
    assert found is not None and found.environments == {"production": False}
    assert found.filters == ROLLOUT


def called(project: Project, flag: str, value: object, at: float) -> Event:
    return Event(
        project_id=project.id, event_id=uuid.uuid4().hex, timestamp=at, received_at=at,
        kind="analytics", name="$feature_flag_called", distinct_id="u",
        properties={"$feature_flag": flag, "$feature_flag_response": value},
    )  # fmt: skip


def test_first_reads_of_each_value_are_counted(store: Store, project: Project) -> None:
    now = time.time()
    hour = int(now // 3600)
    events = [
        called(project, "checkout-copy", "short", now),
        called(project, "checkout-copy", "short", now - 7200),
        called(project, "checkout-copy", "long", now),
        called(project, "new-checkout", True, now),
        called(project, "checkout-copy", "long", now - 3 * 86400),  # before the window
    ]
    batch = DigestBatch(analytics=[*events, events[0]])  # an event twice in a batch
    store.record(batch)
    store.record(batch)  # and a replay: neither is counted again
    assert store.flag_calls(project.id, "checkout-copy", hour - 24) == [("short", 2), ("long", 1)]
    assert store.flag_calls(project.id, "new-checkout", hour - 24) == [("true", 1)]
    assert store.flag_calls(project.id, "missing", hour - 24) == []
