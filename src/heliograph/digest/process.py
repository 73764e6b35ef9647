"""Digest worker processes: each drains its share of the node's queue shards.

Ingest and digest share nothing but the queue files, so digest runs in
processes of its own: the CPU-heavy part (decoding, scrubbing, grouping,
pricing) gets cores of its own instead of a share of the acceptors' GILs.
``heliograph serve --workers N`` starts N of them beside N acceptors
(:mod:`heliograph.node`); worker ``j`` drains every shard ``k`` with
``k % N == j`` -- its acceptor's, and any left by an earlier run with more
workers -- one thread per shard. Writes go through the store: on SQLite the
processes take turns on its write lock, one batch each; grouping stays exact
because each batch's upserts run inside one transaction.

The retention job runs in worker 0 only: it writes to the same database as
digest, in small batches, never in an acceptor. So does the experiment job
(:mod:`heliograph.datasets.experiment`), which calls the AI provider for
queued dataset runs and records each call through queue shard 0. With self-monitoring on, what
these threads log at ERROR is reported to the internal project
(:mod:`heliograph.selfmon_forward`), tagged with their role.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from heliograph.alerts.channels import SmtpSettings
from heliograph.alerts.delivery import AlertDelivery
from heliograph.config import Settings
from heliograph.digest.replays import ReplayLimits
from heliograph.digest.worker import DigestWorker
from heliograph.logs import configure_logging
from heliograph.metrics import mark_worker_up
from heliograph.node import REFUSED_EXIT_STATUS, node_settings
from heliograph.sourcemaps.resolve import SourceMapResolver
from heliograph.store import open_queue, open_store, queue_shards
from heliograph.store.base import SchemaTooNew
from heliograph.store.contract import Store
from heliograph.store.retention import RetentionJob

if TYPE_CHECKING:
    from heliograph.datasets.experiment import ExperimentJob
    from heliograph.evals.job import EvaluationJob

# Named, not __name__: run with -m, this module is "__main__" (docs/logging.md).
logger = logging.getLogger("heliograph.digest.process")

SHARD_SCAN_SECONDS = 0.5


def run_digest(
    settings: Settings, *, worker: int = 0, workers: int = 1, parent_pid: int | None = None
) -> None:
    """Digest this worker's shards until SIGTERM/SIGINT, or until the parent is gone."""
    if not 0 <= worker < workers:
        raise ValueError(f"digest worker {worker} of {workers}")
    mark_worker_up(f"digest-{worker}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(
        settings.store_url, events_url=settings.events_url, blobs_url=settings.blobs_url
    )
    if settings.self_monitoring:
        _report_errors(store, settings)
    retention = RetentionJob(store, settings.retention_interval) if worker == 0 else None
    alerts = AlertDelivery(
        store,
        base_url=settings.base_url,
        smtp=SmtpSettings.configured(settings),
        retries=settings.alert_retry_seconds,
    )
    experiments = _experiment_job(settings, store) if worker == 0 else None
    evaluations = _evaluation_job(settings, store) if worker == 0 else None
    shards = _Shards(settings, store)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if retention is not None:
        retention.start()
        alerts.start()
    if experiments is not None:
        experiments.start()
    if evaluations is not None:
        evaluations.start()
    logger.info("digest worker %d of %d started (pid %d)", worker, workers, os.getpid())
    try:
        while True:
            mine = [s for s in queue_shards(settings.data_dir) if s % workers == worker]
            shards.drain(mine)
            if stopping.wait(SHARD_SCAN_SECONDS):
                break
            if parent_pid is not None and os.getppid() != parent_pid:
                logger.warning("the server process is gone; digest stops")
                break
    finally:
        if retention is not None:
            retention.stop()
            alerts.stop()
        if experiments is not None:
            experiments.stop()
            experiments.queue.close()
        if evaluations is not None:
            evaluations.stop()
            evaluations.queue.close()
        shards.stop()  # each worker finishes the batch in flight; the rest stays queued
        store.close()
    logger.info("digest worker %d stopped", worker)


def _experiment_job(settings: Settings, store: Store) -> ExperimentJob | None:
    """The experiment job of worker 0, recording calls through queue shard 0; None when
    experiments are off (``HELIOGRAPH_EXPERIMENT_INTERVAL=0``)."""
    if settings.experiment_interval <= 0:
        return None
    from heliograph.ai.providers import make_provider
    from heliograph.ai.settings import ProviderSettings
    from heliograph.config import ConfigError
    from heliograph.datasets.experiment import ExperimentJob, ExperimentLimits

    try:
        ai = ProviderSettings.from_env()
        make_provider(ai)  # checked once here: a bad setting is logged, not retried per run
    except ConfigError as exc:
        logger.error("experiments cannot call the AI provider: %s", exc)
        ai = ProviderSettings()
    limits = ExperimentLimits(
        max_items=settings.experiment_max_items,
        cost_cap_usd=settings.experiment_cost_cap_usd,
        model=ai.effective_model,
        max_tokens=ai.max_output_tokens,
        timeout=ai.timeout_seconds,
    )
    return ExperimentJob(
        store,
        open_queue(settings.data_dir, 0),
        lambda: make_provider(ai),
        limits,
        interval=settings.experiment_interval,
    )


def _evaluation_job(settings: Settings, store: Store) -> EvaluationJob | None:
    """The evaluators' job (docs/evaluations.md): it appends its judge calls (to the
    internal project) and quality regressions (error events) to queue shard 0, which
    this worker drains. None when ``HELIOGRAPH_EVALUATOR_INTERVAL`` is 0."""
    if not settings.evaluator_interval:
        return None
    from heliograph.ai.settings import ProviderSettings
    from heliograph.evals.job import EvaluationJob
    from heliograph.evals.provider_judge import provider_judge
    from heliograph.selfmon import judge_recorder

    queue = open_queue(settings.data_dir, 0)
    try:
        judge = provider_judge(ProviderSettings.from_env())
    except Exception:
        logger.exception("LLM-as-judge evaluators are off: the AI provider is misconfigured")
        judge = None
    return EvaluationJob(
        store,
        queue,
        judge,
        interval=settings.evaluator_interval,
        base_url=settings.base_url,
        record_judge_call=judge_recorder(queue, store),
    )


def _report_errors(store: Store, settings: Settings) -> None:
    """Send what this process logs at ERROR (digest, retention, alerts) to the
    internal project, as the acceptors do (imported only when it is on)."""
    from heliograph import __version__
    from heliograph.selfmon import start_error_reporting

    start_error_reporting(store, settings.base_url, __version__)


class _Shards:
    """One digest thread per queue shard this process drains."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.sourcemaps = SourceMapResolver(store)
        self._workers: dict[int, DigestWorker] = {}

    def drain(self, shards: list[int]) -> None:
        """Start a worker for each shard not drained yet (shards appear, never go)."""
        for shard in shards:
            if shard not in self._workers:
                queue = open_queue(self.settings.data_dir, shard)
                worker = DigestWorker(
                    queue,
                    self.store,
                    batch_size=self.settings.digest_batch,
                    replay_limits=ReplayLimits(
                        per_project=self.settings.replay_project_mb * 1024 * 1024
                    ),
                    sourcemaps=self.sourcemaps,
                )
                worker.start()
                self._workers[shard] = worker

    def stop(self) -> None:
        for worker in self._workers.values():
            worker.stop()
        for worker in self._workers.values():
            worker.queue.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m heliograph.digest.process``: how the supervisor starts a digest worker."""
    parser = argparse.ArgumentParser(prog="python -m heliograph.digest.process")
    parser.add_argument("--worker", type=int, required=True, help="this worker's number")
    parser.add_argument("--workers", type=int, required=True, help="digest workers in all")
    parser.add_argument("--parent-pid", type=int, required=True, help="exit when it is gone")
    args, settings = node_settings(parser, argv)
    if not 0 <= args.worker < args.workers:
        parser.error(f"--worker {args.worker} of --workers {args.workers}")
    configure_logging(
        "digest", args.worker, log_format=settings.log_format, level=settings.log_level
    )
    try:
        run_digest(settings, worker=args.worker, workers=args.workers, parent_pid=args.parent_pid)
    except SchemaTooNew as exc:
        # Restarting cannot help: one line in the log, and a status that stops the node.
        logger.error("%s", exc)
        raise SystemExit(REFUSED_EXIT_STATUS) from None


if __name__ == "__main__":
    main()
