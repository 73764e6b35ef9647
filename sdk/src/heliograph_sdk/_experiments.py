"""``run_experiment()``: run your own function over a dataset, one trace per item.

For each active item of the dataset (fetched from the server with the
project key and an API token, as prompts are: ``prompts_token``, else
``flags_token``), the task is called with the item's input inside a trace
(``trace("experiment <run>")``), so the LLM calls it makes through the
wrapped OpenAI/Anthropic clients, ``trace_generation`` or ``@observe`` land in
that trace, with their cost and latency. Evaluators then score the output
(``heliograph_sdk.score`` on the trace, ``source="evaluator"``), and the item
is linked to the trace in the run (``POST /api/public/dataset-run-items``),
with the output and the error if the task raised. Compare runs on the
dataset's page or ``GET .../llm/datasets/<name>/compare/``.

Unlike the rest of the SDK, this raises (:class:`ExperimentError`) when the
dataset cannot be read: it is run by a person or a CI job who must know.
A task or evaluator that raises is recorded, and the next item runs.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from heliograph_sdk import _hub
from heliograph_sdk._client import Client
from heliograph_sdk._scores import score
from heliograph_sdk._sender import USER_AGENT
from heliograph_sdk._tracing import error_text, trace

logger = logging.getLogger("heliograph_sdk")

_PAGE = 100
_MAX_OUTPUT_CHARS = 60_000
Evaluator = Callable[[Any, Any, Any], Any]


class ExperimentError(RuntimeError):
    """The experiment could not run: SDK off, no token, no such dataset, server refused."""


@dataclass(frozen=True)
class DatasetItem:
    """One item as the task and evaluators see it."""

    id: str
    input: Any
    expected_output: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ItemResult:
    item: DatasetItem
    trace_id: str
    output: Any = None
    error: str | None = None
    latency: float = 0.0
    scores: dict[str, Any] = field(default_factory=dict)
    linked: bool = False  # the server recorded the run item


@dataclass
class ExperimentResult:
    dataset: str
    run: str
    items: list[ItemResult]

    @property
    def errors(self) -> int:
        return sum(1 for r in self.items if r.error)

    def mean(self, name: str) -> float | None:
        """The mean of a numeric (or boolean) score over the items that have it."""
        values = [
            float(r.scores[name])
            for r in self.items
            if isinstance(r.scores.get(name), int | float | bool)
        ]
        return sum(values) / len(values) if values else None


class _Server:
    """The dataset endpoints, with the SDK's Basic credentials."""

    def __init__(self, client: Client, timeout: float) -> None:
        settings = client.settings
        token = settings.prompts_token or settings.flags_token
        if not token:
            raise ExperimentError(
                "run_experiment needs prompts_token (a Heliograph API token that may write "
                "to the project): init(..., prompts_token=...) or HELIOGRAPH_PROMPTS_TOKEN"
            )
        raw = f"{settings.api_key}:{token}".encode()
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(raw).decode(),
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
        }
        self.host = settings.host
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, default=str).encode()
        request = urllib.request.Request(
            self.host + path, data=data, method=method, headers=self.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", "")
            except (ValueError, AttributeError, OSError):
                detail = ""
            raise ExperimentError(f"{method} {path}: HTTP {exc.code} {detail}".strip()) from None
        except (OSError, ValueError) as exc:
            raise ExperimentError(f"{method} {path}: {exc}") from None

    def items(self, dataset: str) -> Iterator[DatasetItem]:
        cursor: str | None = None
        while True:
            query = {"datasetName": dataset, "limit": str(_PAGE)}
            if cursor:
                query["cursor"] = cursor
            page = self.call("GET", "/api/public/dataset-items?" + urllib.parse.urlencode(query))
            for raw in page.get("data", []):
                yield DatasetItem(
                    id=raw["id"],
                    input=raw.get("input"),
                    expected_output=raw.get("expectedOutput"),
                    metadata=raw.get("metadata") or {},
                )
            cursor = (page.get("meta") or {}).get("nextCursor")
            if not cursor:
                return


def _jsonable(value: Any) -> Any:
    """The output as the run item keeps it: JSON as is when small, else clipped text."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        value = text = str(value)
    if len(text) > _MAX_OUTPUT_CHARS:
        return text[:_MAX_OUTPUT_CHARS] + "…"
    return value


def _call(task: Callable[[Any], Any], value: Any) -> Any:
    result = task(value)
    if inspect.isawaitable(result):

        async def wait() -> Any:
            return await result

        return asyncio.run(wait())
    return result


def _evaluate(evaluators: Iterable[Evaluator], result: ItemResult) -> None:
    for evaluator in evaluators:
        name = getattr(evaluator, "__name__", "evaluator")
        try:
            found = evaluator(result.item.input, result.output, result.item.expected_output)
        except Exception:
            logger.warning("heliograph_sdk: evaluator %s failed", name, exc_info=True)
            continue
        values = found if isinstance(found, dict) else {name: found}
        for key, value in values.items():
            if value is None:
                continue
            if score(str(key), value, trace_id=result.trace_id, source="evaluator"):
                result.scores[str(key)] = value


def run_experiment(
    *,
    dataset: str,
    run: str,
    task: Callable[[Any], Any],
    evaluators: Iterable[Evaluator] = (),
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    max_items: int | None = None,
    timeout: float = 10.0,
) -> ExperimentResult:
    """Run ``task(item.input)`` for each active item of ``dataset``, as the run ``run``.

    Each call is a trace (``experiment <run>``) holding the task's LLM calls;
    each ``evaluators`` callable, ``fn(input, output, expected)``, returns a
    score value (number, bool or label; or a dict of name -> value; None: no
    score), recorded on the trace under the function's name. The items are
    linked to their traces in the run (created on its first item), which the
    dataset's page compares with other runs. Events are flushed at the end.
    ``timeout`` bounds each request to the server, not the task.
    """
    client = _hub.current()
    if client is None:
        raise ExperimentError("heliograph_sdk is off: call heliograph_sdk.init(...) first")
    server = _Server(client, timeout)
    results: list[ItemResult] = []
    for index, item in enumerate(server.items(dataset)):
        if max_items is not None and index >= max_items:
            break
        with trace(
            f"experiment {run}",
            heliograph_dataset=dataset,
            heliograph_dataset_run=run,
            heliograph_dataset_item=item.id,
        ) as span:
            span.set_input(item.input)
            result = ItemResult(item, span.trace_id)
            started = time.perf_counter()
            try:
                result.output = _call(task, item.input)
                span.set_output(result.output)
            except Exception as exc:
                result.error = error_text(exc)
                span.set_error(exc)
            result.latency = time.perf_counter() - started
        _evaluate(evaluators, result)
        link = {
            "runName": run,
            "runDescription": description,
            "metadata": metadata,
            "datasetName": dataset,
            "datasetItemId": item.id,
            "traceId": result.trace_id,
            "output": _jsonable(result.output),
            "error": result.error,
            "latencySeconds": result.latency,
        }
        try:
            server.call("POST", "/api/public/dataset-run-items", link)
            result.linked = True
        except ExperimentError as exc:
            logger.warning("heliograph_sdk: run item %s not linked: %s", item.id, exc)
        results.append(result)
    client.flush(timeout)
    return ExperimentResult(dataset, run, results)
