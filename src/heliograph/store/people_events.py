"""What an event says about its person, and how two profiles merge: pure rules.

PostHog's SDKs speak of persons through events:

* ``$identify`` (posthog-js ``identify(id, $set, $set_once)``, posthog-python
  ``identify``): the event's distinct id is the person's new id, and
  ``$anon_distinct_id`` the anonymous id they had; both become one person.
* ``$create_alias`` (``alias``): ``properties.alias`` joins the person of
  the event's distinct id (posthog-python sends the old id as
  ``properties.distinct_id``). ``$merge_dangerously`` is the same.

Who may be merged follows PostHog: a person is *identified* once an
``$identify`` or ``$create_alias`` named one of their distinct ids as the
event's own (the person kept). ``$identify`` and ``$create_alias`` merge the
other person in only while that person is not identified, so a client (or
anyone holding the project's public key) cannot join two known users by
sending one event; ``$merge_dangerously`` merges whoever it names, as its
name warns (:func:`may_merge`).
* ``$set`` / ``$set_once`` (objects, in the properties or at the top level
  of the event; the decoder moves the latter into the properties), and
  ``$unset`` (a list of keys). The Heliograph snippet sends what it knows
  of a logged-in user as ``$user``: read as ``$set``.

Any event with a distinct id creates its person, unless it is personless
(``$process_person_profile: false``, what posthog-js and the snippet send
for anonymous visitors). Ids that SDKs send by mistake (``"null"``,
``"undefined"``, ``"anonymous"``...) are ignored: merging on them would
join strangers into one person.

Everything is bounded: keys and string values are cut, and a profile keeps
at most :data:`MAX_PROPERTIES` properties and :data:`MAX_PROPERTY_BYTES` of
JSON, new keys being dropped past that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.model import Event
from heliograph.store.web_records import MAX_VALUE_TEXT

__all__ = [
    "MAX_PROPERTIES",
    "MAX_PROPERTY_BYTES",
    "PersonUpdate",
    "apply_update",
    "may_merge",
    "merge_properties",
    "person_update",
    "usable_id",
]

MAX_PROPERTIES = 200
MAX_PROPERTY_BYTES = 64 * 1024
_MAX_KEY = 200
_MAX_STRING = 1000
_MAX_SET_KEYS = 100
# Distinct ids that are placeholders, not people (as PostHog refuses them too).
_PLACEHOLDER_IDS = frozenset(
    {
        "anonymous",
        "guest",
        "distinctid",
        "distinct_id",
        "id",
        "not_authenticated",
        "email",
        "undefined",
        "true",
        "false",
        "null",
        "none",
        "nan",
        "0",
        "[object object]",
    }
)
_MERGING_EVENTS = {"$create_alias": "alias", "$merge_dangerously": "alias"}


@dataclass(slots=True)
class PersonUpdate:
    """One event's effect on persons: touch ``distinct_id``, maybe merge, set properties."""

    distinct_id: str
    timestamp: float
    merge_with: str | None = None
    # $identify / $create_alias: the person of ``distinct_id`` becomes identified.
    identifies: bool = False
    # $merge_dangerously: merge even an identified person.
    dangerous: bool = False
    set: dict[str, Any] = field(default_factory=dict)
    set_once: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)


def usable_id(value: Any) -> str | None:
    """``value`` as a distinct id, or None when it is empty, too long or a placeholder;
    NULs as U+FFFD, as PostgreSQL stores them, so that every backend keeps the same id."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip().replace("\x00", "\ufffd")
    if not text or len(text) > MAX_VALUE_TEXT or text.lower() in _PLACEHOLDER_IDS:
        return None
    return text


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value[:_MAX_STRING]
    return value


def _assignments(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    found = {}
    for key, item in list(value.items())[:_MAX_SET_KEYS]:
        if isinstance(key, str) and key:
            found[key[:_MAX_KEY]] = _bounded(item)
    return found


def person_update(event: Event) -> PersonUpdate | None:
    """What ``event`` does to persons; None when it touches none."""
    if event.kind != "analytics":
        return None
    properties = event.properties
    distinct_id = usable_id(event.distinct_id)
    if distinct_id is None:
        return None
    merge_with: str | None = None
    if event.name == "$identify":
        merge_with = usable_id(properties.get("$anon_distinct_id"))
    elif event.name in _MERGING_EVENTS:
        merge_with = usable_id(properties.get(_MERGING_EVENTS[event.name]))
        if merge_with == distinct_id:
            # posthog-python: the event's distinct id is the alias, properties name the other.
            merge_with = usable_id(properties.get("distinct_id"))
    if merge_with == distinct_id:
        merge_with = None
    update = PersonUpdate(
        distinct_id,
        event.timestamp,
        merge_with,
        identifies=event.name in ("$identify", "$create_alias"),
        dangerous=event.name == "$merge_dangerously",
    )
    update.set = {**_assignments(properties.get("$user")), **_assignments(properties.get("$set"))}
    update.set_once = _assignments(properties.get("$set_once"))
    unset = properties.get("$unset")
    if isinstance(unset, list):
        update.unset = [key[:_MAX_KEY] for key in unset[:_MAX_SET_KEYS] if isinstance(key, str)]
    personless = properties.get("$process_person_profile") is False
    if personless and not (merge_with or update.set or update.set_once):
        return None
    return update


def may_merge(update: PersonUpdate, merged_identified: bool) -> bool:
    """Whether ``update`` may merge in a person who is (or is not) identified."""
    return update.dangerous or not merged_identified


def _size(properties: Mapping[str, Any]) -> int:
    try:
        return len(orjson.dumps(properties))
    except (TypeError, orjson.JSONEncodeError):
        return MAX_PROPERTY_BYTES + 1


def _room_for(properties: dict[str, Any], key: str, value: Any) -> bool:
    if key in properties:
        return True
    if len(properties) >= MAX_PROPERTIES:
        return False
    return _size({key: value}) + _size(properties) <= MAX_PROPERTY_BYTES


def apply_update(properties: dict[str, Any], update: PersonUpdate) -> bool:
    """Apply ``$set_once``, ``$set``, then ``$unset`` to a profile, in place; True if it changed."""
    before = dict(properties)
    for key, value in update.set_once.items():
        if key not in properties and _room_for(properties, key, value):
            properties[key] = value
    for key, value in update.set.items():
        if _room_for(properties, key, value):
            properties[key] = value
    for key in update.unset:
        properties.pop(key, None)
    if _size(properties) > MAX_PROPERTY_BYTES:  # one value too large: keep the profile as it was
        properties.clear()
        properties.update(before)
    return properties != before


def merge_properties(kept: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """The profile of two merged persons: ``kept``'s values win, ``merged`` fills the gaps."""
    result = dict(kept)
    for key, value in merged.items():
        if key not in result and _room_for(result, key, value):
            result[key] = value
    return result
