"""Experiments on the server: a prompt version run over a dataset, in the background.

Starting a run (API or page) only queues it: the call to the model happens in
:class:`ExperimentJob`, a thread of digest worker 0 (beside retention and
alert delivery), so a request never waits on a provider. The job claims one
queued run at a time (:meth:`Datasets.claim_dataset_run`, so that two nodes
never run the same one), and for each active item, in order:

1. compiles the prompt version with the item's input (an object's keys are
   the ``{{variables}}``; any other input is ``{{input}}``);
2. calls the configured provider (``HELIOGRAPH_AI_*``; nothing is sent
   anywhere when none is configured: the run fails saying so);
3. records the call as an ``$ai_generation`` of the dataset's project, through
   the local ingest queue like any SDK's (:func:`generation_event`), with
   ``$ai_prompt_name``/``$ai_prompt_version``, a trace of its own, and
   properties naming the dataset, run and item: the normal LLM pipeline prices
   it and measures it, and scores name its trace;
4. saves the run item (the trace id, the output, the error if any).

Bounds: ``max_items`` items (HELIOGRAPH_EXPERIMENT_MAX_ITEMS at most), 1 to
:data:`MAX_CONCURRENCY` calls at once, and a cost cap in USD estimated from
each call's tokens at the bundled prices (unpriced models count $0): past it
no new call starts and the run fails saying so (calls already in flight,
at most ``max_concurrency - 1``, still finish). Each saved item is the run's
heartbeat; a run whose runner died is claimed again after ``stale_after``
seconds and resumes where it stopped (items done are skipped).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from heliograph.ai.errors import AIError
from heliograph.ai.providers import Message, Provider, complete
from heliograph.datasets.definition import (
    MAX_ERROR,
    Dataset,
    DatasetItem,
    DatasetRun,
    RunItem,
    new_id,
)
from heliograph.digest.costs import compute_cost
from heliograph.llm_vocabulary import (
    AI_ERROR,
    AI_GENERATION,
    AI_HTTP_STATUS,
    AI_INPUT,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_LATENCY,
    AI_MODEL,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_TOKENS,
    AI_PROMPT_NAME,
    AI_PROMPT_VERSION,
    AI_PROVIDER,
    AI_SPAN_ID,
    AI_SPAN_NAME,
    AI_TRACE_ID,
)
from heliograph.prompts.definition import PromptVersion
from heliograph.protocols.posthog_capture import normalize_event
from heliograph.store.contract import Datasets, ProjectLookup, Prompts
from heliograph.store.queue import PayloadKind

__all__ = [
    "DATASET_PROPERTY",
    "ITEM_PROPERTY",
    "MAX_CONCURRENCY",
    "RUN_PROPERTY",
    "ExperimentJob",
    "ExperimentLimits",
    "compile_messages",
    "generation_event",
]

logger = logging.getLogger(__name__)

MAX_CONCURRENCY = 4
# What a recorded call says about the experiment it belongs to (filterable properties).
DATASET_PROPERTY = "heliograph_dataset"
RUN_PROPERTY = "heliograph_dataset_run"
ITEM_PROPERTY = "heliograph_dataset_item"
DISTINCT_ID = "heliograph-experiment"
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_PAGE = 500


class _Queue(Protocol):
    def append_nowait(
        self, project_id: int, kind: PayloadKind, received_at: float, body: bytes
    ) -> None: ...

    def close(self) -> None: ...


class _Store(Datasets, Prompts, ProjectLookup, Protocol):
    """What the job reads and writes: runs and their items, the prompt, the project."""


@dataclass(frozen=True, slots=True)
class ExperimentLimits:
    """The server's bounds on every run (a run may ask for less, never more)."""

    max_items: int = 500
    cost_cap_usd: float = 5.0
    model: str = ""  # the provider settings' model; a prompt's config "model" wins
    max_tokens: int = 4096
    timeout: float = 60.0


def _text(value: Any) -> str:
    """An input as a prompt's ``{{input}}``: text, the last user message, else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for message in reversed(value):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
    return orjson.dumps(value).decode()


def compile_messages(version: PromptVersion, item_input: Any) -> list[Message]:
    """The chat messages for one item: the prompt's ``{{variables}}`` filled from its input
    (unknown ones left as written, as the SDK's ``Prompt.compile`` does)."""
    if isinstance(item_input, dict):
        variables = {k: v if isinstance(v, str) else _text(v) for k, v in item_input.items()}
    else:
        variables = {"input": _text(item_input)}

    def fill(text: str) -> str:
        return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)

    if isinstance(version.prompt, str):
        return [{"role": "user", "content": fill(version.prompt)}]
    return [{"role": m["role"], "content": fill(m["content"])} for m in version.prompt]


def generation_event(
    *,
    dataset: Dataset,
    run: DatasetRun,
    item_id: str,
    trace_id: str,
    span_id: str,
    provider: str,
    model: str,
    messages: list[Message],
    output: str | None,
    input_tokens: int,
    output_tokens: int,
    latency: float,
    error: str | None,
    http_status: int | None,
) -> dict[str, Any]:
    """The ``$ai_generation`` a call records, as a PostHog capture of the dataset's project."""
    properties: dict[str, Any] = {
        AI_TRACE_ID: trace_id,
        AI_SPAN_ID: span_id,
        AI_SPAN_NAME: f"experiment {run.name}",
        AI_PROVIDER: provider,
        AI_MODEL: model,
        AI_INPUT: list(messages),
        AI_INPUT_TOKENS: input_tokens,
        AI_OUTPUT_TOKENS: output_tokens,
        AI_LATENCY: latency,
        AI_IS_ERROR: error is not None,
        AI_PROMPT_NAME: run.prompt_name,
        AI_PROMPT_VERSION: run.prompt_version,
        DATASET_PROPERTY: dataset.name,
        RUN_PROPERTY: run.name,
        ITEM_PROPERTY: item_id,
        "$process_person_profile": False,
    }
    if output is not None:
        properties[AI_OUTPUT_CHOICES] = [{"role": "assistant", "content": output}]
    if error is not None:
        properties[AI_ERROR] = error
    if http_status is not None:
        properties[AI_HTTP_STATUS] = http_status
    return normalize_event(
        {"event": AI_GENERATION, "distinct_id": DISTINCT_ID, "properties": properties},
        now=time.time(),
    )


class ExperimentJob:
    """Runs queued prompt runs, one at a time, in a thread of digest worker 0.

    ``provider_factory`` builds the provider for one run (inside that run's
    event loop; None: not configured). :meth:`run_once` is the whole work of
    one wake-up, callable from tests without the thread.
    """

    def __init__(
        self,
        store: _Store,
        queue: _Queue,
        provider_factory: Callable[[], Provider | None],
        limits: ExperimentLimits,
        *,
        interval: float = 5.0,
        stale_after: float = 600.0,
    ) -> None:
        self.store = store
        self.queue = queue
        self.provider_factory = provider_factory
        self.limits = limits
        self.interval = interval
        self.stale_after = max(stale_after, limits.timeout * 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="experiments", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                while not self._stop.is_set() and self.run_once(time.time()) is not None:
                    pass
            except Exception:
                logger.exception("experiment job failed; retrying at the next interval")

    def run_once(self, now: float) -> DatasetRun | None:
        """Claim one queued run and run it to its end; the run, or None when none waited."""
        run = self.store.claim_dataset_run(now, self.stale_after)
        if run is None:
            return None
        try:
            status, error, spent = asyncio.run(self._run(run))
        except Exception as exc:
            logger.exception("experiment run %d failed", run.id)
            status, error, spent = "failed", f"internal error: {type(exc).__name__}", None
        if status == "queued":  # stopping: another wake-up (or node) takes it up again
            self.store.update_dataset_run(run.id, status="queued")
        else:
            self.store.update_dataset_run(run.id, status=status, error=error, cost_usd=spent)
        return run

    def _items(self, run: DatasetRun, limit: int) -> list[DatasetItem]:
        done = {ri.item_id for ri in self.store.run_items(run.id)}
        found: list[DatasetItem] = []
        cursor: str | None = None
        while True:
            page, cursor = self.store.dataset_items(
                run.dataset_id, limit=_PAGE, cursor=cursor, status="active"
            )
            found += page
            if cursor is None or len(found) >= limit:
                break
        return [item for item in found[:limit] if item.id not in done]

    async def _run(self, run: DatasetRun) -> tuple[str, str | None, float | None]:
        dataset = self.store.dataset_by_id(run.dataset_id)
        if dataset is None:
            return "failed", "the dataset was deleted", None
        version = (
            self.store.get_prompt_version(
                dataset.project_id, run.prompt_name, version=run.prompt_version
            )
            if run.prompt_name and run.prompt_version
            else None
        )
        if version is None:
            return "failed", f"prompt {run.prompt_name!r} has no version {run.prompt_version}", None
        settings = run.settings
        limit = min(int(settings.get("max_items") or self.limits.max_items), self.limits.max_items)
        cap = min(
            float(settings.get("cost_cap_usd") or self.limits.cost_cap_usd),
            self.limits.cost_cap_usd,
        )
        concurrency = max(1, min(int(settings.get("max_concurrency") or 1), MAX_CONCURRENCY))
        model = str(version.config.get("model") or self.limits.model)
        provider = self.provider_factory()
        if provider is None:
            return "failed", "no AI provider is configured (HELIOGRAPH_AI_PROVIDER)", None
        runner = _Runner(self, dataset, run, version, provider, model, cap, run.cost_usd)
        try:
            await runner.all(self._items(run, limit), concurrency)
        finally:
            await provider.aclose()
        if self._stop.is_set() and runner.pending:
            return "queued", None, runner.spent
        if runner.capped:
            return "failed", f"stopped at the cost cap (${cap:g})", runner.spent
        return "done", None, runner.spent


class _Runner:
    """One run's calls: bounded concurrency, a running cost, one run item per call."""

    def __init__(
        self,
        job: ExperimentJob,
        dataset: Dataset,
        run: DatasetRun,
        version: PromptVersion,
        provider: Provider,
        model: str,
        cap: float,
        spent: float,
    ) -> None:
        self.job, self.dataset, self.run, self.version = job, dataset, run, version
        self.provider, self.model, self.cap, self.spent = provider, model, cap, spent
        self.capped = False
        self.pending = 0
        self._max_tokens = int(version.config.get("max_tokens") or job.limits.max_tokens)

    async def all(self, items: list[DatasetItem], concurrency: int) -> None:
        self.pending = len(items)
        gate = asyncio.Semaphore(concurrency)

        async def guarded(item: DatasetItem) -> None:
            async with gate:
                if self.spent >= self.cap:
                    self.capped = True
                    return
                if self.job._stop.is_set():
                    return
                await self.one(item)
                self.pending -= 1

        await asyncio.gather(*(guarded(item) for item in items))

    async def one(self, item: DatasetItem) -> None:
        trace_id, span_id = new_id(), new_id()
        messages = compile_messages(self.version, item.input)
        started = time.monotonic()
        output: str | None = None
        error: str | None = None
        status: int | None = None
        tokens = (0, 0)
        model = self.model
        try:
            answer = await complete(
                self.provider,
                messages,
                model=self.model,
                max_tokens=self._max_tokens,
                timeout=self.job.limits.timeout,
            )
            output, tokens = answer.text, (answer.usage.input_tokens, answer.usage.output_tokens)
            model = answer.usage.model or self.model
        except AIError as exc:
            error, status = str(exc)[:MAX_ERROR], exc.status
        latency = time.monotonic() - started
        event = generation_event(
            dataset=self.dataset, run=self.run, item_id=item.id, trace_id=trace_id,
            span_id=span_id, provider=self.provider.name, model=model, messages=messages,
            output=output, input_tokens=tokens[0], output_tokens=tokens[1], latency=latency,
            error=error, http_status=status,
        )  # fmt: skip
        cost = compute_cost(dict(_properties(event))).total_usd
        self.spent += cost or 0.0
        self.job.queue.append_nowait(
            self.dataset.project_id, "posthog", time.time(), orjson.dumps([event])
        )
        self.job.store.save_run_items(
            [RunItem(self.run.id, item.id, trace_id, span_id, output, error, latency, cost)]
        )
        self.job.store.update_dataset_run(self.run.id, cost_usd=self.spent)


def _properties(event: Mapping[str, Any]) -> Mapping[str, Any]:
    found: Mapping[str, Any] = event.get("properties") or {}
    return found
