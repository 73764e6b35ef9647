"""Logged messages waiting for their generation, and joining the ones stored, in SQL.

Digest joins a generation and its logged messages when one batch holds both
(:mod:`heliograph.digest.log_messages`). Otherwise the store does, inside the
batch's transaction (:func:`join_messages`), whichever came first:

* the span came first: its event is stored; the messages are merged into its
  document (one ``UPDATE``);
* the messages came first: they wait in ``llm_held_messages`` (migration 15),
  and the batch that stores their span takes them and merges them the same
  way, right after writing it.

Either way the merge happens in one transaction with the write it depends
on, so a crash leaves both halves, or the whole, for the replayed batch; a
replay merges nothing twice (:func:`heliograph.llm_messages.merge_messages`
keeps what is there) and holds nothing twice (a held row is unique by its
content). Why a table and not a wait in digest: the two halves may be a
batch or a day apart, and a 2xx answered to either is a promise to keep it.

Bounds: a project holds at most :data:`MAX_HELD_PER_PROJECT` groups (more are
counted ``filtered``, ``llm_messages_held_too_many``: an exporter sending
logs of spans it never sends fills no disk), and a group waits at most
:data:`HOLD_SECONDS`; retention deletes it then.

PostgreSQL writes from several digest processes at once: there the batch
first takes an advisory lock per generation it touches
(:mod:`heliograph.store.postgresql.message_locks`), so that a span and its
messages in two concurrent batches are joined by whichever commits second.
ClickHouse keeps the documents elsewhere: it uses :func:`held_for`,
:func:`hold` and :func:`release` and merges in ClickHouse itself
(:mod:`heliograph.store.clickhouse.store`).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from heliograph.llm_messages import GenerationMessages, merge_messages, span_event_id
from heliograph.llm_vocabulary import AI_GENERATION
from heliograph.model import Event
from heliograph.store.base import DigestBatch, Outcome
from heliograph.store.sql_dialect import SqlDialect

__all__ = [
    "HOLD_SECONDS",
    "MAX_HELD_PER_PROJECT",
    "generation_keys",
    "held_for",
    "hold",
    "join_messages",
    "merged_document",
    "release",
]

HOLD_SECONDS = 24 * 3600
"""How long logged messages wait for their span (an exporter retrying for a day)."""

MAX_HELD_PER_PROJECT = 10_000
"""Groups of messages a project may have waiting at once."""

TOO_MANY = "llm_messages_held_too_many"

Key = tuple[int, str]
_COLUMNS = "project_id, event_id, trace_id, span_id, first_at, received_at, checksum, messages"


def generation_keys(events: Iterable[Event]) -> list[Key]:
    """The keys of the generations made from OTLP spans (the only ones logs can join)."""
    return sorted(
        {
            (event.project_id, event.event_id)
            for event in events
            if event.name == AI_GENERATION
            and event.trace_id
            and event.span_id
            and event.event_id == span_event_id(event.trace_id, event.span_id)
        }
    )


def held_for(
    conn: Any, dialect: SqlDialect, keys: Sequence[Key]
) -> list[tuple[int, GenerationMessages]]:
    """The groups waiting for these generations, with their row ids."""
    if not keys:
        return []
    condition, params = dialect.in_pairs(("project_id", "event_id"), keys)
    rows = conn.execute(
        dialect.sql(
            "SELECT id, project_id, trace_id, span_id, first_at, received_at, messages "
            f"FROM llm_held_messages WHERE {condition} ORDER BY id"
        ),
        params,
    ).fetchall()
    return [
        (
            int(row[0]),
            GenerationMessages.from_document(
                bytes(row[6]),
                project_id=int(row[1]),
                trace_id=row[2],
                span_id=row[3],
                first_at=int(row[4]),
                received_at=float(row[5]),
            ),
        )
        for row in rows
    ]


def hold(conn: Any, dialect: SqlDialect, groups: Sequence[GenerationMessages]) -> list[Outcome]:
    """Keep groups until their span comes; what a project cannot hold more of is counted."""
    if not groups:
        return []
    room: dict[int, int] = {}
    dropped: Counter[int] = Counter()
    rows = []
    for group in groups:
        if group.project_id not in room:
            held = conn.execute(
                dialect.sql("SELECT COUNT(*) FROM llm_held_messages WHERE project_id = ?"),
                (group.project_id,),
            ).fetchone()[0]
            room[group.project_id] = MAX_HELD_PER_PROJECT - int(held)
        if room[group.project_id] <= 0:
            dropped[group.project_id] += 1
            continue
        room[group.project_id] -= 1
        document = group.document()
        checksum = hashlib.sha1(group.event_id.encode() + b"\0" + document).hexdigest()
        rows.append(
            (
                group.project_id,
                group.event_id,
                group.trace_id,
                group.span_id,
                group.first_at,
                group.received_at,
                checksum,
                document,
            )
        )
    conn.cursor().executemany(
        dialect.sql(
            f"INSERT INTO llm_held_messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (project_id, event_id, checksum) DO NOTHING"
        ),
        rows,
    )
    return [
        Outcome(project_id, "analytics", "filtered", TOO_MANY, count)
        for project_id, count in sorted(dropped.items())
    ]


def release(conn: Any, dialect: SqlDialect, row_ids: Sequence[int]) -> None:
    """Delete held groups that joined their generation."""
    if row_ids:
        condition, params = dialect.in_list("id", sorted(set(row_ids)))
        conn.execute(dialect.sql(f"DELETE FROM llm_held_messages WHERE {condition}"), params)


def merged_document(document: bytes, groups: Sequence[GenerationMessages]) -> bytes | None:
    """A stored generation's document with its messages merged in; None when it is not a
    generation or nothing changes."""
    data = orjson.loads(document)
    if not isinstance(data, dict) or data.get("name") != AI_GENERATION:
        return None
    properties = data.get("properties")
    if not isinstance(properties, dict):
        properties = data["properties"] = {}
    return orjson.dumps(data) if merge_messages(properties, groups) else None


def join_messages(conn: Any, dialect: SqlDialect, batch: DigestBatch) -> list[Outcome]:
    """Join logged messages and generations in ``events``, inside the batch's transaction.

    Call it after the batch's events were written: the held groups of the
    batch's generations, and the batch's own groups, are merged into the
    stored documents; the batch's groups whose generation is not stored yet
    are held. Returns what could not be held.
    """
    by_key: dict[Key, list[GenerationMessages]] = defaultdict(list)
    held_ids: dict[Key, list[int]] = defaultdict(list)
    for row_id, group in held_for(conn, dialect, generation_keys(batch.analytics)):
        key = (group.project_id, group.event_id)
        by_key[key].append(group)
        held_ids[key].append(row_id)
    arrived: dict[Key, list[GenerationMessages]] = defaultdict(list)
    for group in batch.llm_messages:
        by_key[(group.project_id, group.event_id)].append(group)
        arrived[(group.project_id, group.event_id)].append(group)
    if not by_key:
        return []
    condition, params = dialect.in_pairs(("project_id", "event_id"), sorted(by_key))
    stored = {
        (int(row[0]), str(row[1])): bytes(row[2])
        for row in conn.execute(
            dialect.sql(f"SELECT project_id, event_id, data FROM events WHERE {condition}"), params
        ).fetchall()
    }
    waiting: list[GenerationMessages] = []
    joined: list[int] = []
    for key, groups in by_key.items():
        document = stored.get(key)
        if document is None:
            waiting.extend(arrived.get(key, ()))
            continue
        merged = merged_document(document, groups)
        if merged is not None:
            conn.execute(
                dialect.sql("UPDATE events SET data = ? WHERE project_id = ? AND event_id = ?"),
                (merged, key[0], key[1]),
            )
        joined.extend(held_ids.get(key, ()))
    release(conn, dialect, joined)
    return hold(conn, dialect, waiting)
