"""``GET .../llm/export/``: generations or traces of a range as JSONL or CSV, streamed.

The rows are read a page at a time through the store's keyset cursor and
written out as they come, so an export of a month holds one page in memory,
never the month. Everything that can be wrong with the request (a format,
a filter, a time) is checked before the first byte, so it is a 400 with a
reason; the first page is read then too, so a store that cannot answer
fails the request instead of cutting a file short. At most ``limit`` rows
(default and maximum :data:`MAX_EXPORT_ROWS`) are written: a longer range
is exported in parts, each ending ``until`` where the last one began.

JSONL lines are the objects the list endpoints answer. CSV columns are
fixed (:data:`GENERATION_COLUMNS`, :data:`TRACE_COLUMNS`, in
``docs/api.md``); text cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are
prefixed with ``'``, as OWASP advises for CSV exports.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.llm_params import generation_filter, trace_filter, whole_number
from heliograph.query.llm_json import generation_json, trace_json
from heliograph.query.serialize import iso
from heliograph.store.base import Project
from heliograph.store.llm_records import LlmEventRecord, TraceRecord

__all__ = [
    "GENERATION_COLUMNS",
    "MAX_EXPORT_ROWS",
    "PAGE_ROWS",
    "TRACE_COLUMNS",
    "csv_cell",
    "llm_export",
]

MAX_EXPORT_ROWS = 100_000
PAGE_ROWS = 500  # rows per store read: one keyset page, the most held at once
FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
KINDS = ("generations", "traces")

GENERATION_COLUMNS = (
    "event_id",
    "name",
    "timestamp",
    "started_at",
    "trace_id",
    "span_id",
    "parent_id",
    "session_id",
    "distinct_id",
    "span_name",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "total_cost_usd",
    "cost_source",
    "latency_s",
    "ttft_s",
    "is_error",
    "error",
    "http_status",
    "environment",
    "release",
)
TRACE_COLUMNS = (
    "trace_id",
    "name",
    "started_at",
    "ended_at",
    "latency_s",
    "has_trace_event",
    "events",
    "generations",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced",
    "session_id",
    "distinct_id",
    "environment",
    "release",
)
# Where a spreadsheet starts a formula (OWASP's list for CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

R = TypeVar("R")
Fetch = Callable[[str | None, int], tuple[list[R], str | None]]


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: numbers as they are (floats at full precision), booleans
    as true/false, None as empty, text defused when it could start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _generation_row(row: LlmEventRecord) -> list[Any]:
    return [
        row.event_id,
        row.name,
        iso(row.timestamp),
        iso(row.started_at),
        row.trace_id,
        row.span_id,
        row.parent_id,
        row.session_id,
        row.distinct_id,
        row.span_name,
        row.model,
        row.provider,
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_creation_tokens,
        row.reasoning_tokens,
        row.total_cost_usd,
        row.cost_source,
        row.latency_s,
        row.ttft_s,
        row.is_error,
        row.error,
        row.http_status,
        row.environment,
        row.release,
    ]


def _trace_row(row: TraceRecord) -> list[Any]:
    priced = row.generations - row.unpriced
    return [
        row.trace_id,
        row.name,
        iso(row.started_at),
        iso(row.ended_at),
        row.latency_s,
        row.has_trace_event,
        row.events,
        row.generations,
        row.errors,
        row.input_tokens,
        row.output_tokens,
        row.cost_usd if priced > 0 else None,  # unknown, not $0 (as the API says it)
        row.unpriced,
        row.session_id,
        row.distinct_id,
        row.environment,
        row.release,
    ]


class _Export(Generic[R]):
    """One export's rows: a fetch through the store's cursor and two ways to write them."""

    def __init__(
        self,
        fetch: Fetch[R],
        to_json: Callable[[R], dict[str, Any]],
        columns: Sequence[str],
        to_row: Callable[[R], list[Any]],
    ) -> None:
        self.fetch, self.to_json, self.columns, self.to_row = fetch, to_json, columns, to_row

    def pages(self, cap: int) -> Iterator[list[R]]:
        """Pages of rows, newest first, ``cap`` rows in all at most.

        The first page is read now (errors belong to the request, not the
        stream); the rest as the body is written.
        """
        first, cursor = self.fetch(None, min(PAGE_ROWS, cap))

        def walk() -> Iterator[list[R]]:
            page, following, written = first, cursor, 0
            while True:
                written += len(page)
                if page:
                    yield page
                if following is None or written >= cap:
                    return
                page, following = self.fetch(following, min(PAGE_ROWS, cap - written))

        return walk()

    def jsonl(self, pages: Iterator[list[R]]) -> Iterator[bytes]:
        for page in pages:
            yield b"".join(orjson.dumps(self.to_json(row)) + b"\n" for row in page)

    def csv(self, pages: Iterator[list[R]]) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.columns)
        yield buffer.getvalue().encode()
        for page in pages:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows([csv_cell(v) for v in self.to_row(row)] for row in page)
            yield buffer.getvalue().encode()


def _export(request: Request, project: Project, kind: str) -> _Export[Any]:
    """The rows the request asks for; ApiError (400) for any filter that is wrong."""
    store = common.runtime(request).store
    now = time.time()
    if kind == "traces":
        traces = trace_filter(project.id, request.query_params, now)
        return _Export(
            lambda cursor, n: store.llm_traces(traces, limit=n, cursor=cursor),
            trace_json,
            TRACE_COLUMNS,
            _trace_row,
        )
    calls = generation_filter(project.id, request.query_params, now)
    return _Export(
        lambda cursor, n: store.llm_events(calls, limit=n, cursor=cursor),
        generation_json,
        GENERATION_COLUMNS,
        _generation_row,
    )


def llm_export(request: Request) -> Response:
    """Stream the export (see the module docstring)."""
    project, _role = common.find_project(request, common.principal(request))
    params = request.query_params
    form = params.get("format") or "jsonl"
    if form not in FORMATS:
        raise ApiError(400, f"format must be one of {', '.join(FORMATS)}")
    kind = params.get("kind") or "generations"
    if kind not in KINDS:
        raise ApiError(400, f"kind must be one of {', '.join(KINDS)}")
    cap = whole_number(params, "limit", 1, MAX_EXPORT_ROWS, MAX_EXPORT_ROWS)
    export = _export(request, project, kind)
    pages = export.pages(cap)
    body = export.csv(pages) if form == "csv" else export.jsonl(pages)
    stamp = datetime.fromtimestamp(time.time(), tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    filename = f"{project.slug}-llm-{kind}-{stamp}.{form}"
    return StreamingResponse(
        body,
        media_type=FORMATS[form],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Row-Limit": str(cap),
        },
    )
