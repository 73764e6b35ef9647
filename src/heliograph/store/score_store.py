"""Scores on LLM output, one implementation for every SQL backend.

Scores live in ``llm_scores`` (one row each, unique by the id their sender
gave) beside ``llm_score_flags`` (the feature-flag values a score's
generation carried, one row per flag). Both are in the transactional
database of every mode, PostgreSQL included when ClickHouse keeps the
events: scores change after the fact (a correction, a deleted annotation),
which ClickHouse does not do well, and they are few next to events.

A score is written with what it scores copied onto it: the model,
provider, prompt name and version, and flag values of the generation it
names (by observation id, else the trace's first generation). That makes
"mean helpfulness by model, by prompt version, by variant" one ``GROUP BY``
on one table, on every backend, with no join to events (which, with
ClickHouse, are in another database). The generation is looked up when the
score is written: among the same batch's events, else among stored ones
(:meth:`ScoreStoreMixin._generation_contexts`, which ClickHouse's store
answers from ClickHouse). A score that comes before its generation is
completed when the generation is digested (:func:`fill_waiting_scores`).

Summaries are computed from the rows at read time (no rollup): scores are
far fewer than calls, and a rollup could not follow a score replaced or
deleted later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic

import orjson

from heliograph.llm_vocabulary import AI_MODEL, AI_PROVIDER, PRICED_EVENTS
from heliograph.model import Event
from heliograph.store.account_reads import DbT
from heliograph.store.base import TimeUnit
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.llm_flags import event_flags
from heliograph.store.llm_shaping import llm_record
from heliograph.store.score_records import (
    Score,
    ScoreBucket,
    ScoreContext,
    ScoreFilter,
    ScoreGroup,
    ScoreQuery,
    ScoreSummary,
)
from heliograph.store.sql_dialect import SqlDialect

__all__ = [
    "AI_PROMPT_NAME",
    "AI_PROMPT_VERSION",
    "ContextKey",
    "ScoreStoreMixin",
    "batch_contexts",
    "document_context",
    "event_context",
    "fill_waiting_scores",
    "record_scores",
]

AI_PROMPT_NAME = "$ai_prompt_name"
AI_PROMPT_VERSION = "$ai_prompt_version"
_MAX_TEXT = 200

# A generation as scores name it: (project id, "span", span id) or (project id, "trace", trace id).
ContextKey = tuple[int, str, str]
# Looks stored generations up: keys in, the context of each one found out.
ContextLookup = Callable[[Any, Sequence[ContextKey]], Mapping[ContextKey, ScoreContext]]

_COLUMNS = (
    "id, project_id, score_id, name, data_type, value, string_value, comment, source, "
    "trace_id, observation_id, session_id, author_id, distinct_id, environment, timestamp, "
    "created_at, model, provider, prompt_name, prompt_version"
)
_UPSERT = """
INSERT INTO llm_scores (project_id, score_id, name, data_type, value, string_value, comment,
    source, trace_id, observation_id, session_id, author_id, distinct_id, environment,
    timestamp, hour, created_at, model, provider, prompt_name, prompt_version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, score_id) DO UPDATE SET
    name = excluded.name, data_type = excluded.data_type, value = excluded.value,
    string_value = excluded.string_value, comment = excluded.comment,
    source = excluded.source, trace_id = excluded.trace_id,
    observation_id = excluded.observation_id, session_id = excluded.session_id,
    author_id = excluded.author_id, distinct_id = excluded.distinct_id,
    environment = excluded.environment, timestamp = excluded.timestamp,
    hour = excluded.hour,
    model = COALESCE(excluded.model, llm_scores.model),
    provider = COALESCE(excluded.provider, llm_scores.provider),
    prompt_name = COALESCE(excluded.prompt_name, llm_scores.prompt_name),
    prompt_version = COALESCE(excluded.prompt_version, llm_scores.prompt_version)
RETURNING id
"""


def _clip(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)[:_MAX_TEXT]


def event_context(event: Event, trace_id: str | None = None) -> ScoreContext:
    """What a generation event (or a score event about one) says about the call."""
    props = event.properties
    return ScoreContext(
        model=_clip(props.get(AI_MODEL)),
        provider=_clip(props.get(AI_PROVIDER)),
        prompt_name=_clip(props.get(AI_PROMPT_NAME)),
        prompt_version=_clip(props.get(AI_PROMPT_VERSION)),
        flags=tuple(event_flags(event)),
        trace_id=trace_id,
    )


def _wanted(score: Score) -> ContextKey | None:
    """The generation whose context ``score`` still lacks, if any."""
    if score.context.model:
        return None
    if score.observation_id:
        return (score.project_id, "span", score.observation_id)
    if score.trace_id:
        return (score.project_id, "trace", score.trace_id)
    return None


def batch_contexts(events: Iterable[Event]) -> dict[ContextKey, ScoreContext]:
    """The contexts of a batch's generations, by span id and by trace (the first one)."""
    found: dict[ContextKey, ScoreContext] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.name not in PRICED_EVENTS:
            continue
        record = llm_record(event, 0)
        context = event_context(event, record.trace_id)
        if record.span_id:
            found.setdefault((event.project_id, "span", record.span_id), context)
        if record.trace_id:
            found.setdefault((event.project_id, "trace", record.trace_id), context)
    return found


def record_scores(
    conn: Any,
    dialect: SqlDialect,
    scores: Sequence[Score],
    events: Sequence[Event],
    lookup: ContextLookup,
) -> list[int]:
    """Write ``scores`` (upserts by id), completed with their generations' context; then
    complete stored scores that were waiting for a generation among ``events``.

    Called in digest's transaction and by :meth:`ScoreStoreMixin.save_scores`;
    ``lookup`` finds generations already stored. Returns the scores' row ids.
    """
    known = batch_contexts(events)
    missing = sorted({k for s in scores if (k := _wanted(s)) and k not in known})
    if missing:
        known.update(lookup(conn, missing))
    ids = []
    for score in sorted(scores, key=lambda s: (s.project_id, s.id)):
        key = _wanted(score)
        ids.append(
            _upsert(conn, dialect, score.with_context(known[key]) if key in known else score)
        )
    fill_waiting_scores(conn, dialect, events)
    return ids


def _upsert(conn: Any, dialect: SqlDialect, score: Score) -> int:
    context = score.context
    row = conn.execute(
        dialect.sql(_UPSERT),
        (
            score.project_id,
            score.id,
            score.name,
            score.data_type,
            score.value,
            score.string_value,
            score.comment,
            score.source,
            score.trace_id,
            score.observation_id,
            score.session_id,
            score.author_id,
            score.distinct_id,
            score.environment,
            score.timestamp,
            int(score.timestamp // 3600),
            score.created_at or time.time(),
            context.model,
            context.provider,
            context.prompt_name,
            context.prompt_version,
        ),
    ).fetchone()
    row_id = int(row[0])
    if context.flags:
        _set_flags(conn, dialect, row_id, score.project_id, score.timestamp, context.flags)
    return row_id


def _set_flags(
    conn: Any,
    dialect: SqlDialect,
    row_id: int,
    project_id: int,
    at: float,
    flags: Sequence[tuple[str, str]],
) -> None:
    conn.execute(dialect.sql("DELETE FROM llm_score_flags WHERE score_row = ?"), (row_id,))
    cursor = conn.cursor()
    try:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO llm_score_flags (score_row, project_id, timestamp, flag, value) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            [(row_id, project_id, at, flag, value) for flag, value in dict(flags).items()],
        )
    finally:
        cursor.close()


def fill_waiting_scores(conn: Any, dialect: SqlDialect, events: Sequence[Event]) -> None:
    """Copy the context of the batch's generations onto stored scores that name them but
    came first (their model still empty): one read per project, usually finding none."""
    contexts = batch_contexts(events)
    by_project: dict[int, tuple[list[str], list[str]]] = {}
    for project_id, kind, value in contexts:
        spans, traces = by_project.setdefault(project_id, ([], []))
        (spans if kind == "span" else traces).append(value)
    for project_id, (spans, traces) in sorted(by_project.items()):
        span_in, span_params = dialect.in_list("observation_id", spans or [""])
        trace_in, trace_params = dialect.in_list("trace_id", traces or [""])
        rows = conn.execute(
            dialect.sql(
                "SELECT id, observation_id, trace_id, timestamp FROM llm_scores "
                f"WHERE project_id = ? AND model IS NULL AND ({span_in} OR "
                f"(observation_id IS NULL AND {trace_in})) ORDER BY id"
            ),
            (project_id, *span_params, *trace_params),
        ).fetchall()
        for row_id, span, trace, at in rows:
            key = (project_id, "span", span) if span else (project_id, "trace", trace)
            context = contexts.get(key)
            if context is None:
                continue
            conn.execute(
                dialect.sql(
                    "UPDATE llm_scores SET model = ?, provider = ?, "
                    "prompt_name = COALESCE(prompt_name, ?), "
                    "prompt_version = COALESCE(prompt_version, ?), "
                    "trace_id = COALESCE(trace_id, ?) WHERE id = ?"
                ),
                (
                    context.model,
                    context.provider,
                    context.prompt_name,
                    context.prompt_version,
                    context.trace_id,
                    row_id,
                ),
            )
            has_flags = conn.execute(
                dialect.sql("SELECT 1 FROM llm_score_flags WHERE score_row = ? LIMIT 1"),
                (row_id,),
            ).fetchone()
            if context.flags and not has_flags:
                _set_flags(conn, dialect, int(row_id), project_id, float(at), context.flags)


def stored_contexts(
    conn: Any, dialect: SqlDialect, events_table: str, keys: Sequence[ContextKey]
) -> dict[ContextKey, ScoreContext]:
    """Contexts of stored generations, from ``llm_events`` and the events' documents
    (``events_table``, which keeps them on SQLite and PostgreSQL alone)."""
    found: dict[ContextKey, ScoreContext] = {}
    by_project: dict[int, tuple[list[str], list[str]]] = {}
    for project_id, kind, value in keys:
        spans, traces = by_project.setdefault(project_id, ([], []))
        (spans if kind == "span" else traces).append(value)
    kinds, kind_params = dialect.in_list("l.name", sorted(PRICED_EVENTS))
    for project_id, (spans, traces) in sorted(by_project.items()):
        span_in, span_params = dialect.in_list("l.span_id", spans or [""])
        trace_in, trace_params = dialect.in_list("l.trace_id", traces or [""])
        rows = conn.execute(
            dialect.sql(
                f"SELECT l.span_id, l.trace_id, e.data FROM llm_events l "
                f"JOIN {events_table} e ON e.id = l.id "
                f"WHERE l.project_id = ? AND {kinds} AND ({span_in} OR {trace_in}) "
                "ORDER BY l.timestamp, l.id LIMIT 1000"
            ),
            (project_id, *kind_params, *span_params, *trace_params),
        ).fetchall()
        for span_id, trace_id, data in rows:
            context = document_context(data, trace_id)
            if span_id in spans:
                found.setdefault((project_id, "span", span_id), context)
            if trace_id in traces:
                found.setdefault((project_id, "trace", trace_id), context)
    return found


def document_context(data: Any, trace_id: str | None = None) -> ScoreContext:
    """The context of a generation from its stored JSON document."""
    if isinstance(data, memoryview):
        data = bytes(data)
    try:
        document = orjson.loads(data) if isinstance(data, (bytes, str)) else data
    except orjson.JSONDecodeError:
        return ScoreContext()
    props = document.get("properties") if isinstance(document, dict) else None
    if not isinstance(props, dict):
        return ScoreContext()
    return event_context(
        Event(project_id=0, event_id="", timestamp=0.0, properties=props), trace_id
    )


def _score(row: Sequence[Any], flags: tuple[tuple[str, str], ...] = ()) -> Score:
    return Score(
        project_id=int(row[1]),
        id=row[2],
        name=row[3],
        data_type=row[4],
        value=None if row[5] is None else float(row[5]),
        string_value=row[6],
        comment=row[7],
        source=row[8],
        trace_id=row[9],
        observation_id=row[10],
        session_id=row[11],
        author_id=None if row[12] is None else int(row[12]),
        distinct_id=row[13],
        environment=row[14],
        timestamp=float(row[15]),
        created_at=float(row[16]),
        context=ScoreContext(row[17], row[18], row[19], row[20], flags),
    )


class ScoreStoreMixin(Generic[DbT]):
    """Scores shared by the backends; the class using it provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]
    # The table whose rows keep the events' documents (ClickHouse's store: none here).
    score_events_table: ClassVar[str] = "events"

    def _generation_contexts(
        self, conn: Any, keys: Sequence[ContextKey]
    ) -> Mapping[ContextKey, ScoreContext]:
        """Contexts of stored generations (overridden where events live elsewhere)."""
        return stored_contexts(conn, self.dialect, self.score_events_table, keys)

    def save_scores(self, scores: Sequence[Score]) -> list[Score]:
        """Write scores now (the API, annotation): upserts by (project, id); returns
        them as stored, with the context of the generations they name."""
        if not scores:
            return []

        def write(conn: Any) -> list[int]:
            return record_scores(conn, self.dialect, scores, (), self._generation_contexts)

        ids = self.db.write(write)
        return self._scores_by_rows(ids)

    def _scores_by_rows(self, ids: Sequence[int]) -> list[Score]:
        condition, params = self.dialect.in_list("id", list(ids))
        found = self._read_scores(f"{condition} ORDER BY id", params)
        order = {row_id: n for n, row_id in enumerate(ids)}
        return [s for _, s in sorted(found, key=lambda pair: order.get(pair[0], 0))]

    def _read_scores(self, where: str, params: Sequence[Any]) -> list[tuple[int, Score]]:
        sql = self.dialect.sql(f"SELECT {_COLUMNS} FROM llm_scores WHERE {where}")

        def read(conn: Any) -> list[tuple[int, Score]]:
            rows = conn.execute(sql, tuple(params)).fetchall()
            if not rows:
                return []
            flags: dict[int, list[tuple[str, str]]] = {}
            condition, flag_params = self.dialect.in_list("score_row", [r[0] for r in rows])
            for row_id, flag, value in conn.execute(
                self.dialect.sql(
                    f"SELECT score_row, flag, value FROM llm_score_flags WHERE {condition} "
                    "ORDER BY flag"
                ),
                tuple(flag_params),
            ).fetchall():
                flags.setdefault(int(row_id), []).append((flag, value))
            return [(int(r[0]), _score(r, tuple(flags.get(int(r[0]), ())))) for r in rows]

        return self.db.read(read)

    def scores_of_traces(self, project_id: int, trace_ids: Sequence[str]) -> list[Score]:
        """Every score naming one of ``trace_ids`` (a trace or a call in it), oldest first.

        What a dataset run comparison reads: each run item's trace, its scores.
        """
        found: list[tuple[int, Score]] = []
        wanted = sorted(set(trace_ids))
        for start in range(0, len(wanted), 500):
            condition, params = self.dialect.in_list("trace_id", wanted[start : start + 500])
            found += self._read_scores(f"project_id = ? AND {condition}", (project_id, *params))
        return [score for _, score in sorted(found, key=lambda f: (f[1].timestamp, f[0]))]

    def get_score(self, project_id: int, score_id: str) -> Score | None:
        found = self._read_scores("project_id = ? AND score_id = ?", (project_id, score_id))
        return found[0][1] if found else None

    def list_scores(
        self, filters: ScoreFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Score], str | None]:
        """Scores matching ``filters``, newest first (timestamp, then row id)."""
        where = ["project_id = ?"]
        params: list[Any] = [filters.project_id]
        for column in (
            "trace_id",
            "observation_id",
            "session_id",
            "name",
            "source",
            "data_type",
            "author_id",
        ):
            value = getattr(filters, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if filters.since is not None:
            where.append("timestamp >= ?")
            params.append(filters.since)
        if filters.until is not None:
            where.append("timestamp < ?")
            params.append(filters.until)
        after = decode_cursor(cursor)
        if after is not None:
            where.append("(timestamp < ? OR (timestamp = ? AND id < ?))")
            params.extend([after[0], after[0], after[1]])
        found = self._read_scores(
            f"{' AND '.join(where)} ORDER BY timestamp DESC, id DESC LIMIT {int(limit) + 1}",
            params,
        )
        page = found[:limit]
        more = len(found) > limit and page
        return [s for _, s in page], (
            encode_cursor(page[-1][1].timestamp, page[-1][0]) if more else None
        )

    def delete_score(self, project_id: int, score_id: str) -> bool:
        def write(conn: Any) -> bool:
            row = conn.execute(
                self.dialect.sql(
                    "DELETE FROM llm_scores WHERE project_id = ? AND score_id = ? RETURNING id"
                ),
                (project_id, score_id),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                self.dialect.sql("DELETE FROM llm_score_flags WHERE score_row = ?"), (row[0],)
            )
            return True

        return bool(self.db.write(write))

    def _summary_parts(self, query: ScoreQuery) -> tuple[str, str, str, list[Any]]:
        """(group columns, join, where, parameters) of a summary or series query."""
        groups = {
            None: "'', ''",
            "model": "COALESCE(s.model, ''), ''",
            "prompt": "COALESCE(s.prompt_name, ''), COALESCE(s.prompt_version, '')",
            "source": "s.source, ''",
            "flag": "COALESCE(f.value, ''), ''",
        }
        join = ""
        params: list[Any] = []
        if query.group_by == "flag":
            join = "LEFT JOIN llm_score_flags f ON f.score_row = s.id AND f.flag = ?"
            params.append(query.flag or "")
        where = "s.project_id = ? AND s.timestamp >= ? AND s.timestamp < ?"
        params.extend([query.project_id, query.since, query.until])
        if query.name is not None:
            where += " AND s.name = ?"
            params.append(query.name)
        return groups[query.group_by], join, where, params

    def score_summary(self, query: ScoreQuery) -> list[ScoreSummary]:
        """Per score name (and group): count, mean and range of the numbers, and how many
        of each label; most frequent names first."""
        group, join, where, params = self._summary_parts(query)
        d = self.dialect
        totals_sql = d.sql(
            f"SELECT s.name, s.data_type, {group}, COUNT(*), COUNT(s.value), SUM(s.value), "
            f"MIN(s.value), MAX(s.value) FROM llm_scores s {join} WHERE {where} "
            "GROUP BY 1, 2, 3, 4"
        )
        labels_sql = d.sql(
            f"SELECT s.name, s.data_type, {group}, s.string_value, COUNT(*) "
            f"FROM llm_scores s {join} WHERE {where} AND s.string_value IS NOT NULL "
            "GROUP BY 1, 2, 3, 4, 5"
        )

        def read(conn: Any) -> tuple[list[Any], list[Any]]:
            return (
                conn.execute(totals_sql, tuple(params)).fetchall(),
                conn.execute(labels_sql, tuple(params)).fetchall(),
            )

        totals, labels = self.db.read(read)
        categories: dict[tuple[str, str, str, str], dict[str, int]] = {}
        for name, kind, key, version, label, count in labels:
            categories.setdefault((name, kind, key, version), {})[label] = int(count)
        found = [
            ScoreSummary(
                name=name,
                data_type=kind,
                group=ScoreGroup(key, version),
                count=int(count),
                numbers=int(numbers),
                total=float(total or 0.0),
                low=None if low is None else float(low),
                high=None if high is None else float(high),
                categories=dict(
                    sorted(
                        categories.get((name, kind, key, version), {}).items(),
                        key=lambda item: (-item[1], item[0]),
                    )
                ),
            )
            for name, kind, key, version, count, numbers, total, low, high in totals
        ]
        by_name: dict[str, int] = {}
        for summary in found:
            by_name[summary.name] = by_name.get(summary.name, 0) + summary.count
        return sorted(
            found,
            key=lambda s: (-by_name[s.name], s.name, s.data_type, -s.count, s.group.label),
        )

    def score_series(self, query: ScoreQuery, unit: TimeUnit) -> list[ScoreBucket]:
        """Per score name and hour (or UTC day, counted from the epoch): count and mean.
        Grouping is ignored: a series is per name."""
        _, _, where, params = self._summary_parts(ScoreQuery(**{**_query(query), "group_by": None}))
        bucket = "s.hour" if unit == "hour" else "s.hour / 24"
        sql = self.dialect.sql(
            f"SELECT s.name, {bucket}, COUNT(*), COUNT(s.value), SUM(s.value) "
            f"FROM llm_scores s WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
        )
        rows = self.db.read(lambda conn: conn.execute(sql, tuple(params)).fetchall())
        return [
            ScoreBucket(name, int(at), int(count), int(numbers), float(total or 0.0))
            for name, at, count, numbers, total in rows
        ]


def _query(query: ScoreQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in ScoreQuery.__slots__}
