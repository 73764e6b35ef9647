"""The evaluation job: evaluators run on new generations, and on demand, in digest worker 0.

Like the retention job and alert delivery, a thread with ``start``/``stop``
and a ``run_once(now)`` that tests call directly. Each pass:

1. **Background**, for every enabled evaluator: the generations stored since
   its cursor (time, event id), oldest first, ``batch`` at most, those older
   than ``settle`` seconds only (digest may still be writing the newest).
   Each is sampled by a hash of (evaluator, event id) against the sampling
   rate, so a restart samples exactly the same ones, then matched against the
   evaluator's filter, judged, scored (``source="evaluator"``, the reasons as
   the comment, an id fixed by evaluator and generation: a rerun replaces,
   never duplicates), and checked for a quality regression
   (:mod:`heliograph.evals.regression`), which goes to the ingest queue as an
   error event. The cursor moves as it goes.
2. **On demand**: queued runs (``limit`` generations at most over a filter,
   newest first, no sampling) are executed and their tally recorded. They
   score; they do not open quality issues (a backfill of a week should not
   page anyone at once).

The daily budget (UTC day) is checked before every judge call against the
spend recorded in the store plus this pass's: once spent, the evaluator's
generations are skipped (counted, reason ``budget``) until the next day.
A generation whose text was not kept is skipped too, with its reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from heliograph.bootstrap import INTERNAL_PROJECT
from heliograph.evals.definition import Evaluator
from heliograph.evals.engine import Judge, JudgeReply, Sample, Verdict, evaluate
from heliograph.evals.records import EvaluatorRun, EvaluatorUsage, day_of
from heliograph.evals.regression import (
    Group,
    RegressionWindows,
    group_of,
    regresses,
    regression_event,
)
from heliograph.evals.samples import generation_sample, matches
from heliograph.llm_vocabulary import AI_GENERATION, AI_PROMPT_NAME
from heliograph.metrics import EVALUATOR_COST, EVALUATOR_RUNS
from heliograph.model import Event
from heliograph.store.base import Project
from heliograph.store.contract import Store
from heliograph.store.llm_records import LlmEventFilter, LlmEventRecord
from heliograph.store.queue import PayloadQueue
from heliograph.store.score_records import Score, ScoreError, ScoreFilter, make_score
from heliograph.store.score_store import event_context

__all__ = ["EvaluationJob", "PassReport", "sampled"]

logger = logging.getLogger(__name__)

JudgeRecorder = Callable[[Evaluator, int, str, JudgeReply], None]
MAX_SCAN = 5000
SEED_SCORES = 500
# An on-demand run reads at most this many generations per one it evaluates (filters
# on prompts and properties are applied to the documents, not in the query).
SCAN_FACTOR = 20


def sampled(evaluator_id: int, event_id: str, rate: float) -> bool:
    """Whether the evaluator looks at this generation: the same answer on every run."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(f"{evaluator_id}:{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


@dataclass
class PassReport:
    """What one pass did, summed over evaluators (tests and logs)."""

    usage: EvaluatorUsage = field(default_factory=EvaluatorUsage)
    regressions: int = 0
    runs: int = 0
    budget_skipped: int = 0


class EvaluationJob:
    """Runs evaluators in the background and on demand; one per node (digest worker 0)."""

    def __init__(
        self,
        store: Store,
        queue: PayloadQueue,
        judge: Judge | None,
        *,
        interval: float = 10.0,
        batch: int = 200,
        settle: float = 2.0,
        base_url: str = "",
        record_judge_call: JudgeRecorder | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.judge = judge
        self.interval = interval
        self.batch = batch
        self.settle = settle
        self.base_url = base_url.rstrip("/")
        self.record_judge_call = record_judge_call
        self.windows = RegressionWindows()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="evaluations", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                logger.exception("the evaluation pass failed; trying again next interval")

    # -- one pass ------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> PassReport:
        """One background pass over every enabled evaluator, then the queued runs."""
        now = time.time() if now is None else now
        report = PassReport()
        for evaluator in self.store.list_evaluators(enabled_only=True):
            if self._stopping.is_set():
                break
            project = self._project(evaluator.project_id)
            if project is None:
                continue
            try:
                self._background(evaluator, project, now, report)
            except Exception:
                logger.exception("evaluator %s (id %d) failed", evaluator.name, evaluator.id)
        while not self._stopping.is_set() and (run := self.store.claim_evaluator_run()):
            report.runs += 1
            self._on_demand(run, now, report)
        return report

    def _project(self, project_id: int) -> Project | None:
        project = self.store.get_project_by_id(project_id)
        if project is None or project.slug == INTERNAL_PROJECT:
            return None  # gone, or our own judge calls: never judge the judge
        return project

    def _pending(self, evaluator: Evaluator, now: float) -> list[LlmEventRecord]:
        """Generations after the cursor and settled, oldest first, ``batch`` at most."""
        filters = LlmEventFilter(
            project_id=evaluator.project_id,
            since=evaluator.cursor_timestamp,
            until=now - self.settle,
            model=evaluator.filter.model,
            names=(AI_GENERATION,),
        )
        found: list[LlmEventRecord] = []
        cursor: str | None = None
        while len(found) < MAX_SCAN:
            page, cursor = self.store.llm_events(filters, limit=500, cursor=cursor)
            found.extend(page)
            if cursor is None:
                break
        after = (evaluator.cursor_timestamp, evaluator.cursor_event_id)
        fresh = [r for r in found if (r.timestamp, r.event_id) > after]
        fresh.sort(key=lambda r: (r.timestamp, r.event_id))
        return fresh[: self.batch]

    def _background(
        self, evaluator: Evaluator, project: Project, now: float, report: PassReport
    ) -> None:
        pending = self._pending(evaluator, now)
        if not pending:
            return
        day = day_of(now)
        spent = self.store.evaluator_usage(evaluator.id, day).cost_usd
        tally = _Tally(self.store, project.id, evaluator.id, day)
        try:
            for record in pending:
                if self._stopping.is_set():
                    break
                if sampled(evaluator.id, record.event_id, evaluator.sampling_rate):
                    usage = self._one(evaluator, project, record, spent, report, regress=True)
                    if usage is not None:
                        spent += usage.cost_usd
                        tally.add(usage)
                evaluator = evaluator.with_changes(
                    cursor_timestamp=record.timestamp, cursor_event_id=record.event_id
                )
        finally:
            tally.flush()
            self.store.move_evaluator_cursor(
                evaluator.id, evaluator.cursor_timestamp, evaluator.cursor_event_id
            )
            report.usage += tally.total

    def _on_demand(self, run: EvaluatorRun, now: float, report: PassReport) -> None:
        evaluator = self.store.get_evaluator(run.project_id, run.evaluator_id)
        project = self._project(run.project_id)
        if evaluator is None or project is None:
            self.store.finish_evaluator_run(
                run.id, state="failed", usage=EvaluatorUsage(), message="evaluator is gone"
            )
            return
        day = day_of(now)
        tally = _Tally(self.store, project.id, evaluator.id, day)
        try:
            filters = LlmEventFilter(
                project_id=run.project_id,
                since=_float(run.filters.get("since")),
                until=_float(run.filters.get("until")),
                model=run.filters.get("model") or evaluator.filter.model,
                names=(AI_GENERATION,),
            )
            wanted = run.filters.get("prompt_name")
            spent = self.store.evaluator_usage(evaluator.id, day).cost_usd
            cursor: str | None = None
            done = scanned = 0
            while done < run.limit and scanned < run.limit * SCAN_FACTOR:
                page, cursor = self.store.llm_events(filters, limit=100, cursor=cursor)
                for record in page:
                    scanned += 1
                    usage = self._one(
                        evaluator, project, record, spent, report, regress=False, prompt=wanted
                    )
                    if usage is None:
                        continue
                    done += 1
                    spent += usage.cost_usd
                    tally.add(usage)
                    if done >= run.limit:
                        break
                if cursor is None or self._stopping.is_set():
                    break
        except Exception as exc:
            logger.exception("on-demand run %d of evaluator %s failed", run.id, evaluator.name)
            tally.flush()
            self.store.finish_evaluator_run(
                run.id, state="failed", usage=tally.total, message=str(exc)
            )
            return
        tally.flush()
        self.store.finish_evaluator_run(run.id, state="done", usage=tally.total)
        report.usage += tally.total

    # -- one generation ------------------------------------------------------------

    def _one(
        self,
        evaluator: Evaluator,
        project: Project,
        record: LlmEventRecord,
        spent: float,
        report: PassReport,
        *,
        regress: bool,
        prompt: str | None = None,
    ) -> EvaluatorUsage | None:
        """Evaluate one generation; None when it is not one the evaluator looks at."""
        stored = self.store.get_event(project.id, record.event_id)
        if stored is None:
            return None
        event = stored.event
        if not matches(evaluator.filter, event.properties):
            return None
        if prompt and event.properties.get(AI_PROMPT_NAME) != prompt:
            return None
        if not evaluator.deterministic and spent >= evaluator.daily_budget_usd:
            report.budget_skipped += 1
            EVALUATOR_RUNS.labels(evaluator.kind, "skipped").inc()
            return EvaluatorUsage(skipped=1)
        sample = generation_sample(event)
        verdict = evaluate(evaluator, sample, self.judge)
        if verdict.reply is not None and self.record_judge_call is not None:
            try:
                self.record_judge_call(evaluator, project.id, record.event_id, verdict.reply)
            except Exception:
                logger.exception("could not record the judge call")
        if verdict.cost_usd:
            EVALUATOR_COST.inc(verdict.cost_usd)
        if verdict.outcome == "skipped":
            EVALUATOR_RUNS.labels(evaluator.kind, "skipped").inc()
            return EvaluatorUsage(skipped=1)
        if verdict.outcome == "error":
            logger.warning(
                "evaluator %s on generation %s: %s",
                evaluator.name,
                record.event_id,
                verdict.reasoning,
            )
            EVALUATOR_RUNS.labels(evaluator.kind, "error").inc()
            return EvaluatorUsage(errors=1, cost_usd=verdict.cost_usd)
        score = self._save_score(evaluator, project, record, event, verdict)
        outcome = {True: "passed", False: "failed", None: "scored"}[verdict.passed]
        EVALUATOR_RUNS.labels(evaluator.kind, outcome).inc()
        if regress and score is not None and verdict.value is not None:
            self._check_regression(evaluator, project, event, sample, verdict, score, report)
        return EvaluatorUsage(
            scored=1,
            passed=int(verdict.passed is True),
            failed=int(verdict.passed is False),
            cost_usd=verdict.cost_usd,
        )

    def _save_score(
        self,
        evaluator: Evaluator,
        project: Project,
        record: LlmEventRecord,
        event: Event,
        verdict: Verdict,
    ) -> Score | None:
        context = event_context(event, record.trace_id)
        try:
            score = make_score(
                project.id,
                id=f"eval-{evaluator.id}-{record.event_id}",
                name=evaluator.name,
                value=verdict.value,
                string_value=verdict.label,
                data_type=evaluator.output_type,
                source="evaluator",
                timestamp=record.timestamp,
                trace_id=record.trace_id,
                observation_id=record.span_id,
                comment=verdict.reasoning[:2000] or None,
                distinct_id=record.distinct_id,
                environment=record.environment,
                context=context,
            )
        except ScoreError as exc:
            logger.warning("evaluator %s made a score that cannot be stored: %s", evaluator, exc)
            return None
        return self.store.save_scores([score])[0]

    def _check_regression(
        self,
        evaluator: Evaluator,
        project: Project,
        event: Event,
        sample: Sample,
        verdict: Verdict,
        score: Score,
        report: PassReport,
    ) -> None:
        group = group_of(event)
        seed: list[float] = []
        if not self.windows.seen(evaluator, group) and evaluator.window > 1:
            seed = self._stored_values(evaluator, group, score.id)
        assert verdict.value is not None
        mean = self.windows.observe(evaluator, group, verdict.value, seed)
        if not regresses(evaluator, verdict, mean):
            return
        prompt = None
        if group.prompt_name and group.prompt_version and group.prompt_version.isdigit():
            found = self.store.get_prompt_version(
                project.id, group.prompt_name, version=int(group.prompt_version)
            )
            prompt = found.prompt if found else None
        url = f"{self.base_url}/{project.organization_slug}/{project.slug}/llm/generations/"
        payload = regression_event(
            evaluator,
            event,
            sample,
            verdict,
            mean=mean,
            prompt=prompt,
            generation_url=f"{url}{event.event_id}/",
        )
        # Waited for, unlike judge calls: a quality issue must not be lost to a crash.
        body = orjson.dumps(payload)
        asyncio.run(self.queue.append(project.id, "sentry_store", time.time(), body))
        report.regressions += 1

    def _stored_values(self, evaluator: Evaluator, group: Group, exclude: str) -> list[float]:
        """The group's stored scores by this evaluator, newest first (a restart's memory)."""
        scores, _ = self.store.list_scores(
            ScoreFilter(evaluator.project_id, name=evaluator.name, source="evaluator"),
            limit=SEED_SCORES,
        )
        values = []
        for score in scores:
            if score.id == exclude or score.value is None:
                continue
            c = score.context
            if Group(c.prompt_name, c.prompt_version, c.model).key == group.key:
                values.append(score.value)
        return values


class _Tally:
    """One pass's usage of one evaluator: spend written call by call (other readers of
    the budget see it at once), counts written together at the end."""

    def __init__(self, store: Store, project_id: int, evaluator_id: int, day: int) -> None:
        self.store, self.project_id, self.evaluator_id, self.day = (
            store, project_id, evaluator_id, day,
        )  # fmt: skip
        self.total = EvaluatorUsage()
        self.unsaved = EvaluatorUsage()

    def add(self, usage: EvaluatorUsage) -> None:
        self.total += usage
        if usage.cost_usd:
            self.store.add_evaluator_usage(self.project_id, self.evaluator_id, self.day, usage)
        else:
            self.unsaved += usage

    def flush(self) -> None:
        if self.unsaved != EvaluatorUsage():
            self.store.add_evaluator_usage(
                self.project_id, self.evaluator_id, self.day, self.unsaved
            )
        self.unsaved = EvaluatorUsage()


def _float(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
