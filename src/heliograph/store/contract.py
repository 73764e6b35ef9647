"""The storage contract: role-sized protocols, and the whole store they make.

Callers outside :mod:`heliograph.store` are typed against the narrowest role
they use, never against a backend: digest writes through a
:class:`DigestSink`, the issue pages read through :class:`IssueStore`, the
LLM pages through :class:`LlmReads`, and so on. :class:`Store` is all of them
at once: what :func:`heliograph.store.open_store` returns and what the
composition root (the runtime, the command line) holds. A backend is a class
that satisfies :class:`Store` (mypy checks it where the registry builds it)
and passes ``tests/contract``; see ``docs/extending.md``.

Conventions every backend keeps:

* Recording a batch is idempotent by ``(project_id, event_id)``: a replayed
  event changes nothing and is not counted again.
* Lists are pages with an opaque cursor for the next one (None at the end).
* A write the backend cannot do right now (locked, full, unreachable)
  raises :class:`~heliograph.store.base.StoreUnavailable`; any other
  exception means the data itself could not be stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from heliograph.alerts.rules import AlertRule
from heliograph.datasets.definition import Dataset, DatasetItem, DatasetRun, ItemDraft, RunItem
from heliograph.evals.definition import Evaluator
from heliograph.evals.records import EvaluatorRun, EvaluatorUsage
from heliograph.flags.definition import FeatureFlag, FlagChange
from heliograph.prompts.definition import Content, PromptSummary, PromptVersion
from heliograph.store.alert_store import Delivery, NotificationRecord
from heliograph.store.base import (
    LOGIN_LINK_TTL,
    ApiTokenInfo,
    DigestBatch,
    Issue,
    IssueEventFilter,
    IssueFilter,
    Member,
    Organization,
    Outcome,
    Project,
    ProjectKey,
    RecordResult,
    SessionInfo,
    StoredEvent,
    TagCount,
    Team,
    TimeUnit,
    UserAccount,
)
from heliograph.store.blobs import BlobStore
from heliograph.store.disk_use import ProjectDiskUse
from heliograph.store.fix_cache import FixCache
from heliograph.store.health import DEFAULT_PING_TIMEOUT, SchemaState
from heliograph.store.issue_activity import Activity, Assignee, ReleaseSpan
from heliograph.store.llm_breakdown import LlmBreakdown, LlmBreakdownQuery
from heliograph.store.llm_records import (
    FlagUsageRow,
    LlmEventFilter,
    LlmEventRecord,
    SessionRecord,
    TraceError,
    TraceFilter,
    TraceRecord,
    UsageRow,
)
from heliograph.store.replay_records import ReplayFilter, ReplayRecord, SegmentRecord
from heliograph.store.retention import PurgeReport
from heliograph.store.score_records import (
    Score,
    ScoreBucket,
    ScoreFilter,
    ScoreQuery,
    ScoreSummary,
)
from heliograph.store.sourcemap_records import (
    ArtifactBundle,
    BundleFiles,
    NewArtifactBundle,
    SourceFile,
)
from heliograph.store.web_records import (
    EventBreakdown,
    EventNameCount,
    EventQuery,
    Person,
    PersonLlmUsage,
    VisitorCounts,
    WebHour,
    WebTop,
)

__all__ = [
    "Access",
    "Accounts",
    "Alerts",
    "Datasets",
    "DigestSink",
    "Evaluators",
    "Flags",
    "IssueStore",
    "IssueWork",
    "LlmReads",
    "People",
    "ProjectLookup",
    "Prompts",
    "ReplaySink",
    "Replays",
    "Retention",
    "Scores",
    "SourceMaps",
    "Store",
    "WebAnalytics",
]

# Failed logins are kept this long (seconds), then purged with expired sessions.
LOGIN_FAILURE_TTL = 24 * 3600


class ProjectLookup(Protocol):
    def get_project_by_id(self, project_id: int) -> Project | None: ...


class ReplaySink(Protocol):
    """What digest needs to keep recordings: where their blobs go, and sizes for the bounds."""

    blobs: BlobStore

    def get_replay(self, project_id: int, replay_id: str) -> ReplayRecord | None: ...

    def replay_segment_exists(self, project_id: int, replay_id: str, segment: str) -> bool: ...

    def replay_usage(self, project_id: int) -> int:
        """Compressed bytes of the recordings the project keeps."""
        ...


class DigestSink(ProjectLookup, ReplaySink, Protocol):
    """Where digest writes: batches of prepared events and recordings, and outcome counts."""

    def submit_record(self, batch: DigestBatch) -> Future[RecordResult]:
        """Start writing a batch in one transaction; the future resolves once committed.

        Each event written for the first time is counted ``accepted``; one that
        cannot be written is left out, reported in the result and counted
        ``invalid``; the rest of the batch is written.
        """
        ...

    def record(self, batch: DigestBatch) -> RecordResult:
        """:meth:`submit_record`, waited for."""
        ...

    def add_outcomes(self, outcomes: Sequence[Outcome]) -> None: ...

    def issue_hashes_present(self, project_id: int, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` name an issue of the project (digest's v1 fallback)."""
        ...


class IssueStore(Protocol):
    """Issues, their events and counters, and a project's outcome counts."""

    def get_issue(self, issue_id: int) -> Issue | None: ...

    def issue_by_number(self, project_id: int, number: int) -> Issue | None:
        """The issue numbered ``number`` in the project: what ``PROJ-12`` names."""
        ...

    def list_issues(
        self, filters: IssueFilter, *, limit: int, cursor: str | None
    ) -> tuple[list[Issue], str | None]: ...

    def set_issue_status(
        self, issue_id: int, status: str, *, in_next_release: bool = False
    ) -> Issue | None: ...

    def issue_tags(self, issue_id: int, *, top: int = 10) -> list[TagCount]: ...

    def issue_trend(self, issue_ids: Sequence[int], *, hours: int) -> dict[int, list[int]]: ...

    def tag_values(self, project_id: int, key: str, *, limit: int = 100) -> list[str]: ...

    def get_event(self, project_id: int, event_id: str) -> StoredEvent | None: ...

    def issue_events(
        self,
        issue_id: int,
        *,
        limit: int,
        cursor: str | None,
        filters: IssueEventFilter | None = None,
    ) -> tuple[list[StoredEvent], str | None]:
        """The issue's events newest first (timestamp, then row id), ``limit`` at most.

        With ``filters``, only the events that match them. With ``filters.scan``
        the page may be short, even empty, with a cursor: the events scanned
        ran out before ``limit`` matched, and the cursor continues right after
        the last event scanned.
        """
        ...

    def latest_event(self, issue_id: int) -> StoredEvent | None: ...

    def oldest_event_id(self, issue_id: int) -> str | None: ...

    def event_neighbours(
        self, issue_id: int, event_id: str
    ) -> tuple[str | None, str | None] | None: ...

    def events_by_trace(self, project_id: int, trace_id: str) -> list[StoredEvent]: ...

    def outcomes(self, project_id: int, *, days: int = 30) -> list[Outcome]: ...

    def count_issues(self, filters: IssueFilter, *, cap: int) -> int:
        """Issues matching ``filters``, counted up to ``cap + 1`` (more: "``cap``+")."""
        ...

    def latest_release(self, project_id: int) -> str | None:
        """The project's newest release (whose first event came last): ``release:latest``."""
        ...

    def has_tag_key(self, project_id: int, key: str) -> bool:
        """Whether any issue of the project saw tag ``key``."""
        ...

    def issue_releases(self, issue_id: int, *, limit: int = 50) -> list[ReleaseSpan]:
        """Events, first and last seen per release of the issue, newest release first."""
        ...


class IssueWork(Protocol):
    """Who works on an issue and its activity log (status changes, regressions, comments)."""

    def add_activity(
        self,
        issue_id: int,
        kind: str,
        *,
        user_id: int | None,
        data: dict[str, Any] | None = None,
    ) -> Activity: ...

    def issue_activity(
        self, issue_id: int, *, kinds: Sequence[str] = (), limit: int = 100
    ) -> list[Activity]:
        """The issue's log, newest first; only ``kinds`` when given."""
        ...

    def count_activity(self, issue_ids: Sequence[int], kind: str) -> dict[int, int]: ...

    def assign_issue(
        self,
        issue_id: int,
        *,
        user_id: int | None = None,
        team_id: int | None = None,
        actor_id: int | None,
    ) -> Assignee | None:
        """Assign to a member or a team (neither: unassign), logged; the assignee after."""
        ...

    def issue_assignees(self, issue_ids: Sequence[int]) -> dict[int, Assignee]: ...


class LlmReads(Protocol):
    """LLM analytics: rollups over time and models, generations, traces, sessions."""

    def llm_breakdown(self, query: LlmBreakdownQuery) -> LlmBreakdown:
        """Model calls of a range grouped by a column or a property (store/llm_breakdown.py)."""
        ...

    def llm_usage_by_time(
        self, project_id: int, first_hour: int, last_hour: int, unit: TimeUnit
    ) -> list[UsageRow]: ...

    def llm_usage_by_model(
        self, project_id: int, first_hour: int, last_hour: int
    ) -> list[UsageRow]: ...

    def llm_latency_by_time(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> dict[int, dict[int, int]]: ...

    def llm_latency_by_model(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> dict[tuple[str, str], dict[int, int]]: ...

    def llm_models(self, project_id: int, since_hour: int) -> list[tuple[str, str]]: ...

    def llm_top_traces(
        self, project_id: int, since: float, until: float, *, limit: int = 10
    ) -> list[TraceRecord]: ...

    def llm_flags(self, project_id: int, since_hour: int) -> list[str]: ...

    def llm_usage_by_flag(
        self, project_id: int, flag: str, first_hour: int, last_hour: int
    ) -> list[FlagUsageRow]: ...

    def llm_events(
        self, filters: LlmEventFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[LlmEventRecord], str | None]: ...

    def llm_event(self, project_id: int, event_id: str) -> LlmEventRecord | None: ...

    def llm_traces(
        self, filters: TraceFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[TraceRecord], str | None]: ...

    def llm_trace(self, project_id: int, trace_id: str) -> TraceRecord | None: ...

    def llm_trace_events(self, project_id: int, trace_id: str) -> list[LlmEventRecord]: ...

    def llm_trace_errors(self, project_id: int, trace_id: str) -> list[TraceError]: ...

    def llm_trace_exists(self, project_id: int, trace_id: str) -> bool: ...

    def llm_sessions(
        self,
        project_id: int,
        *,
        since: float,
        limit: int,
        cursor: str | None = None,
        distinct_id: str | None = None,
        environment: str | None = None,
        release: str | None = None,
    ) -> tuple[list[SessionRecord], str | None]: ...


class Scores(Protocol):
    """Scores on LLM output: numeric, boolean or categorical, on a trace, a call or a
    session (:mod:`heliograph.store.score_records`).

    Digest writes those events give with the batch (``DigestBatch.scores``);
    the API and annotation write through :meth:`save_scores`. Either way a
    score is an upsert by (project, id), and is stored with the model,
    provider, prompt and flag values of the generation it names, looked up
    then, or copied on when that generation is digested later.
    """

    def save_scores(self, scores: Sequence[Score]) -> list[Score]:
        """Write (or replace, same id) checked scores; returns them as stored."""
        ...

    def get_score(self, project_id: int, score_id: str) -> Score | None: ...

    def list_scores(
        self, filters: ScoreFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Score], str | None]:
        """Scores matching ``filters``, newest first, ``limit`` at most."""
        ...

    def delete_score(self, project_id: int, score_id: str) -> bool: ...

    def scores_of_traces(self, project_id: int, trace_ids: Sequence[str]) -> list[Score]:
        """Every score naming one of ``trace_ids``, oldest first (run comparisons)."""
        ...

    def score_summary(self, query: ScoreQuery) -> list[ScoreSummary]:
        """Per name (and group): count, mean, range, labels over ``[since, until)``."""
        ...

    def score_series(self, query: ScoreQuery, unit: TimeUnit) -> list[ScoreBucket]:
        """Per name and hour or day: count and mean of the scores of the range."""
        ...


class Evaluators(Protocol):
    """Evaluators of a project's LLM output (:mod:`heliograph.evals`), where their
    background run is, their usage per day and their on-demand runs.

    Definitions come checked (:func:`heliograph.evals.definition.make_evaluator`);
    a name is unique in its project (:class:`~heliograph.evals.definition.EvaluatorError`
    otherwise). Usage is only ever added to: two writers' spend adds up. A queued
    run is claimed by one caller only.
    """

    def create_evaluator(self, evaluator: Evaluator) -> Evaluator: ...

    def update_evaluator(self, evaluator: Evaluator) -> Evaluator | None: ...

    def get_evaluator(self, project_id: int, evaluator_id: int) -> Evaluator | None: ...

    def list_evaluators(
        self, project_id: int | None = None, *, enabled_only: bool = False
    ) -> list[Evaluator]:
        """A project's evaluators by name; None: every project's (the job's view)."""
        ...

    def delete_evaluator(self, project_id: int, evaluator_id: int) -> bool: ...

    def move_evaluator_cursor(self, evaluator_id: int, timestamp: float, event_id: str) -> None:
        """Remember the last generation the background run looked at."""
        ...

    def add_evaluator_usage(
        self, project_id: int, evaluator_id: int, day: int, usage: EvaluatorUsage
    ) -> None: ...

    def evaluator_usage(self, evaluator_id: int, day: int) -> EvaluatorUsage: ...

    def queue_evaluator_run(
        self,
        project_id: int,
        evaluator_id: int,
        filters: Mapping[str, Any],
        limit: int,
        *,
        user_id: int | None,
    ) -> EvaluatorRun: ...

    def claim_evaluator_run(self) -> EvaluatorRun | None:
        """The oldest queued run, marked running; None when none waits."""
        ...

    def finish_evaluator_run(
        self, run_id: int, *, state: str, usage: EvaluatorUsage, message: str = ""
    ) -> None: ...

    def evaluator_runs(
        self, project_id: int, evaluator_id: int, *, limit: int = 20
    ) -> list[EvaluatorRun]: ...


class Accounts(ProjectLookup, Protocol):
    """Organizations, projects and their keys, users, API tokens, login links, sessions,
    and failed logins (what login throttling counts, shared by every server process)."""

    def create_organization(self, slug: str, name: str) -> Organization: ...

    def get_organization(self, slug: str) -> Organization | None: ...

    def get_organization_by_id(self, org_id: int) -> Organization | None: ...

    def create_project(
        self, organization_id: int, slug: str, name: str, platform: str = "python"
    ) -> Project: ...

    def get_project(self, org_slug: str, project_slug: str) -> Project | None: ...

    def list_projects(self, user_id: int | None = None) -> list[Project]: ...

    def organization_projects(self, organization_id: int) -> list[Project]: ...

    def update_project(self, project_id: int, **changes: object) -> None: ...

    def delete_project(self, project_id: int) -> bool:
        """Delete a live project as users see it; False when there is none.

        In one transaction: its keys are revoked, it leaves its teams, its alert
        rules are switched off, and it no longer appears in any read (by slug,
        by id, in lists, visibility), its slug free for a new project. Its data
        is removed by the next retention pass (see :meth:`deleted_projects`).
        """
        ...

    def deleted_projects(self) -> list[Project]:
        """Deleted projects, for retention to remove all their data."""
        ...

    def organizations(self, user_id: int | None = None) -> list[Organization]:
        """Organizations a user is a member of (superusers and ``None``: all), by slug."""
        ...

    def update_organization(self, organization_id: int, **changes: object) -> None:
        """Change an organization's ``name`` or ``ai_policy`` (values checked by the caller)."""
        ...

    def create_key(
        self, project_id: int, label: str = "Default", rate_limit: int | None = None
    ) -> ProjectKey: ...

    def project_keys(self, project_id: int) -> list[ProjectKey]: ...

    def get_key(self, project_id: int, public_key: str) -> ProjectKey | None: ...

    def update_key(self, project_id: int, public_key: str, **changes: object) -> None: ...

    def revoke_key(self, project_id: int, public_key: str) -> bool: ...

    def active_keys(self) -> dict[str, int]: ...

    def ingest_keys(self) -> dict[str, tuple[int, int | None]]:
        """Every active public key: its project and its own rate limit."""
        ...

    def project_rate_limits(self) -> dict[int, int | None]: ...

    def create_user(
        self, email: str, *, password_hash: str | None = None, is_superuser: bool = False
    ) -> UserAccount: ...

    def get_user_by_email(self, email: str) -> tuple[UserAccount, str | None] | None: ...

    def set_password(self, user_id: int, password_hash: str) -> None: ...

    def count_users(self) -> int: ...

    def create_api_token(
        self, user_id: int, label: str, scopes: str = "read write admin"
    ) -> str: ...

    def user_for_api_token(self, raw: str) -> tuple[UserAccount, frozenset[str]] | None: ...

    def list_api_tokens(self, user_id: int) -> list[ApiTokenInfo]: ...

    def revoke_api_token(self, user_id: int, token_id: int) -> bool: ...

    def create_login_link(self, user_id: int, ttl: float = LOGIN_LINK_TTL) -> str: ...

    def consume_login_link(self, raw: str) -> int | None: ...

    def create_session(self, user_id: int) -> tuple[str, str]: ...

    def get_session(self, raw: str) -> SessionInfo | None: ...

    def delete_session(self, raw: str) -> None: ...

    def delete_sessions(self, user_id: int, *, keep: str | None = None) -> None: ...

    def record_login_failure(self, keys: Sequence[str], at: float) -> None:
        """Count one failed login at ``at`` (wall clock) against each of ``keys``.

        Keys are opaque strings built by the login throttle (they name an email
        and an address); a backend may store them digested. Committed on return,
        so every server process sees it at once.
        """
        ...

    def login_failures_since(
        self, keys: Sequence[str], since: float
    ) -> dict[str, tuple[int, float]]:
        """Per key, failures later than ``since``: (how many, the latest one's time).

        Keys without such failures are left out.
        """
        ...

    def clear_login_failures(self, key: str) -> None:
        """Forget every failure counted against ``key`` (and no other key)."""
        ...


class Access(Protocol):
    """Who may see what: organization roles, teams, and the one visibility rule."""

    def add_member(self, user_id: int, organization_id: int, role: str) -> None: ...

    def remove_member(self, user_id: int, organization_id: int) -> None: ...

    def role_in(self, user: UserAccount, organization_id: int) -> str | None: ...

    def project_role(self, user: UserAccount, project: Project) -> str | None: ...

    def organization_members(self, organization_id: int) -> list[Member]: ...

    def count_owners(self, organization_id: int) -> int: ...

    def create_team(self, organization_id: int, name: str, slug: str | None = None) -> Team: ...

    def teams(self, organization_id: int) -> list[Team]: ...

    def get_team(self, organization_id: int, team_id: int) -> Team | None: ...

    def delete_team(self, team_id: int) -> None: ...

    def add_team_member(self, team_id: int, user_id: int) -> None: ...

    def remove_team_member(self, team_id: int, user_id: int) -> None: ...

    def add_team_project(self, team_id: int, project_id: int) -> None: ...

    def remove_team_project(self, team_id: int, project_id: int) -> None: ...

    def team_projects(self, organization_id: int) -> dict[int, frozenset[int]]: ...

    def visible_project_ids(self, user_id: int) -> set[int]: ...


class Flags(Protocol):
    """Feature flags of a project, and the audit log of their changes.

    Fields come checked (:mod:`heliograph.flags.definition`); a key already
    used by another live flag of the project raises
    :class:`~heliograph.flags.definition.FlagError`. Every change writes its
    audit line in the same transaction.
    """

    def create_flag(
        self,
        project_id: int,
        *,
        key: str,
        name: str,
        active: bool,
        filters: dict[str, Any],
        environments: Mapping[str, bool],
        user_id: int | None,
    ) -> FeatureFlag: ...

    def update_flag(
        self, flag_id: int, changes: Mapping[str, Any], *, user_id: int | None
    ) -> FeatureFlag | None: ...

    def delete_flag(self, flag_id: int, *, user_id: int | None) -> bool: ...

    def get_flag(self, flag_id: int) -> FeatureFlag | None: ...

    def list_flags(self, project_id: int) -> list[FeatureFlag]: ...

    def flag_changes(self, flag_id: int, *, limit: int = 100) -> list[FlagChange]: ...

    def flag_calls(self, project_id: int, flag: str, since_hour: int) -> list[tuple[str, int]]: ...


class Prompts(Protocol):
    """Versioned prompts of a project and the labels pointing at their versions.

    Fields come checked (:mod:`heliograph.prompts.definition`). A version is
    never changed once created; numbers run 1..n per prompt with no gap or
    repeat, however many writers; a label points at exactly one version of
    its prompt, and ``latest`` (the newest version) is implicit.
    """

    def create_prompt_version(
        self,
        project_id: int,
        name: str,
        *,
        type: str,
        prompt: Content,
        config: dict[str, Any],
        labels: Sequence[str],
        commit_message: str,
        user_id: int | None,
    ) -> PromptVersion: ...

    def get_prompt_version(
        self, project_id: int, name: str, *, version: int | None = None, label: str | None = None
    ) -> PromptVersion | None: ...

    def list_prompts(self, project_id: int) -> list[PromptSummary]: ...

    def prompt_versions(self, project_id: int, name: str) -> list[PromptVersion]: ...

    def set_prompt_label(
        self,
        project_id: int,
        name: str,
        label: str,
        version: int | None,
        *,
        user_id: int | None,
    ) -> bool: ...


class Datasets(Protocol):
    """Datasets of a project, their items, and the runs (experiments) over them.

    Fields come checked (:mod:`heliograph.datasets.definition`). Items are
    unique by the id their sender gave (saving one again replaces it); runs by
    name in their dataset; a run item by (run, item), naming the trace that
    recorded it (what scores, cost and latency are read by). Datasets are
    reached through their project (:meth:`get_dataset`): the methods taking a
    ``dataset_id`` trust the caller to have found it there.
    """

    def save_dataset(
        self, project_id: int, name: str, *, description: str, metadata: dict[str, Any]
    ) -> Dataset: ...

    def get_dataset(self, project_id: int, name: str) -> Dataset | None: ...

    def dataset_by_id(self, dataset_id: int) -> Dataset | None:
        """By row id, whatever its project: for the experiment job only, never a request."""
        ...

    def list_datasets(self, project_id: int) -> list[Dataset]: ...

    def delete_dataset(self, project_id: int, name: str) -> bool: ...

    def save_dataset_items(self, dataset_id: int, items: Sequence[ItemDraft]) -> int:
        """Insert or replace (same id) items; returns how many were new."""
        ...

    def dataset_items(
        self,
        dataset_id: int,
        *,
        limit: int,
        cursor: str | None = None,
        status: str | None = None,
    ) -> tuple[list[DatasetItem], str | None]: ...

    def get_dataset_item(self, dataset_id: int, item_id: str) -> DatasetItem | None: ...

    def delete_dataset_item(self, dataset_id: int, item_id: str) -> bool: ...

    def create_dataset_run(
        self,
        dataset_id: int,
        name: str,
        *,
        kind: str,
        status: str,
        description: str = "",
        metadata: dict[str, Any] | None = None,
        prompt_name: str | None = None,
        prompt_version: int | None = None,
        settings: dict[str, Any] | None = None,
        user_id: int | None = None,
        exist_ok: bool = False,
    ) -> DatasetRun: ...

    def get_dataset_run(self, dataset_id: int, name: str) -> DatasetRun | None: ...

    def list_dataset_runs(self, dataset_id: int) -> list[DatasetRun]: ...

    def delete_dataset_run(self, dataset_id: int, name: str) -> bool: ...

    def claim_dataset_run(self, now: float, stale_after: float) -> DatasetRun | None:
        """A queued (or abandoned) prompt run, now running: only one caller gets it."""
        ...

    def update_dataset_run(
        self,
        run_id: int,
        *,
        status: str | None = None,
        error: str | None = None,
        cost_usd: float | None = None,
    ) -> None: ...

    def save_run_items(self, items: Sequence[RunItem]) -> None: ...

    def run_items(self, run_id: int) -> list[RunItem]: ...


class Replays(ReplaySink, Protocol):
    """Session replays: their summaries, segments, events and the errors seen in them.

    Digest writes them with the batch (``DigestBatch.replays``); a segment
    written twice is skipped, like an event. Events come back masked as
    stored, in time order.
    """

    def list_replays(
        self, filters: ReplayFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ReplayRecord], str | None]: ...

    def replay_segments(self, project_id: int, replay_id: str) -> list[SegmentRecord]: ...

    def replay_segment_events(self, segment: SegmentRecord) -> list[dict[str, Any]]: ...

    def replay_events(self, project_id: int, replay_id: str) -> list[dict[str, Any]]: ...

    def replay_error_ids(
        self, project_id: int, replay_id: str, *, limit: int = 200
    ) -> list[str]: ...

    def issue_replays(self, issue_id: int, *, limit: int = 20) -> list[ReplayRecord]: ...

    def delete_replay(self, project_id: int, replay_id: str) -> bool: ...


class Alerts(Protocol):
    """Alert rules, issue mutes, email opt-outs, and the outbox of notifications.

    Rules fire inside digest's transaction (``DigestSink.submit_record``);
    these methods manage them, fire the ones digest cannot (heartbeats,
    tests), and let delivery threads claim, send and record notifications.
    Rule fields come checked (:func:`heliograph.alerts.rules.check_rule`).
    """

    def create_alert_rule(
        self, project_id: int, fields: dict[str, Any], *, user_id: int | None
    ) -> AlertRule: ...

    def update_alert_rule(self, rule_id: int, fields: dict[str, Any]) -> AlertRule | None: ...

    def delete_alert_rule(self, rule_id: int) -> bool: ...

    def get_alert_rule(self, rule_id: int) -> AlertRule | None: ...

    def list_alert_rules(self, project_id: int) -> list[AlertRule]: ...

    def heartbeat_rules(self) -> list[AlertRule]: ...

    def mute_issue_alerts(
        self, issue_id: int, until: float | None, *, user_id: int | None
    ) -> None: ...

    def unmute_issue_alerts(self, issue_id: int) -> None: ...

    def issue_alerts_muted(self, issue_id: int) -> tuple[bool, float | None]: ...

    def set_alert_emails(self, user_id: int, enabled: bool) -> None: ...

    def alert_emails_enabled(self, user_id: int) -> bool: ...

    def alert_email_recipients(self, project_id: int) -> list[str]: ...

    def notify(
        self, rule: AlertRule, subject: str, payload: dict[str, Any], *, test: bool
    ) -> bool: ...

    def last_event_at(self, project_id: int) -> float | None:
        """When the project's newest stored event happened: what heartbeats watch."""
        ...

    def claim_deliveries(self, *, limit: int = 50, now: float | None = None) -> list[Delivery]: ...

    def finish_delivery(
        self, delivery: Delivery, error: str | None, *, retry_at: float | None = None
    ) -> None: ...

    def alert_history(self, project_id: int, *, limit: int = 50) -> list[NotificationRecord]: ...


class SourceMaps(Protocol):
    """JavaScript source maps uploaded by ``sentry-cli``: chunks awaiting assembly,
    artifact bundles and their files. Contents are blobs in ``blobs``; the rows
    find them by debug id, or by release, dist and URL. See ``docs/sourcemaps.md``."""

    blobs: BlobStore

    def put_upload_chunks(self, organization_id: int, chunks: Mapping[str, bytes]) -> None: ...

    def missing_upload_chunks(
        self, organization_id: int, checksums: Sequence[str]
    ) -> list[str]: ...

    def upload_chunk(self, organization_id: int, checksum: str) -> bytes | None: ...

    def drop_upload_chunks(self, organization_id: int, checksums: Iterable[str]) -> None: ...

    def get_artifact_bundle(self, organization_id: int, checksum: str) -> ArtifactBundle | None: ...

    def get_artifact_bundle_by_id(self, bundle_id: int) -> ArtifactBundle | None: ...

    def list_artifact_bundles(
        self, project_id: int, *, limit: int = 100
    ) -> list[ArtifactBundle]: ...

    def page_artifact_bundles(
        self,
        project_ids: Sequence[int],
        *,
        limit: int = 100,
        cursor: str | None = None,
        release: str | None = None,
        path: str | None = None,
        url: str | None = None,
    ) -> tuple[list[ArtifactBundle], str | None]:
        """Bundles of any of these projects, newest first, and the next page's cursor;
        only those of ``release`` / holding a file at ``path`` (of ``url``) when given."""
        ...

    def artifact_bundle_files(
        self, bundle_ids: Sequence[int], *, per_bundle: int | None = None
    ) -> dict[int, BundleFiles]:
        """Each bundle's files by path (at most ``per_bundle`` of each) and its count of
        distinct debug ids."""
        ...

    def save_artifact_bundle(self, bundle: NewArtifactBundle) -> ArtifactBundle:
        """Idempotent by (organization, checksum): the same upload again adds project links."""
        ...

    def unlink_artifact_bundle(self, bundle_id: int, project_ids: Sequence[int]) -> bool:
        """Take the bundle away from these projects; delete it once no project has it."""
        ...

    def delete_artifact_bundle(self, bundle_id: int) -> bool: ...

    def find_source_files(
        self,
        project_id: int,
        *,
        debug_id: str | None = None,
        release: str | None = None,
        dist: str | None = None,
        urls: Sequence[str] = (),
    ) -> list[SourceFile]:
        """By debug id, else by release + dist + one of ``urls``; newest bundle first."""
        ...

    def source_file_data(self, file: SourceFile) -> bytes | None: ...

    def touch_artifact_bundles(self, bundle_ids: Iterable[int], now: float | None = None) -> None:
        """These bundles resolved an event: retention counts from now (at most daily)."""
        ...


class Retention(Protocol):
    def purge_expired(
        self,
        *,
        now: float | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
    ) -> PurgeReport:
        """Delete what each project keeps no longer (``dry_run``: only count), in small
        batches, stopping early when ``stop`` is set; also expired sessions and links,
        and failed logins older than :data:`LOGIN_FAILURE_TTL`."""
        ...


class DiskUse(Protocol):
    def disk_use(self) -> list[ProjectDiskUse]:
        """Each project's stored events (count, document bytes), LLM rows and replay
        bytes, the largest first; deleted projects' too until purged. One grouped
        scan per table: cache it (the status page keeps it a minute)."""
        ...


class WebAnalytics(Protocol):
    """Web analytics (hourly rollups digest writes) and the events explorer (raw events).

    Hours and days are counted from the epoch (``timestamp // 3600``, UTC
    days); ranges include both ends. Visitors are HyperLogLog estimates
    (``store/hll.py``). Explorer reads take an :class:`EventQuery`; a backend
    that cannot count a whole range says so in ``EventBreakdown.complete``.
    """

    def web_traffic(self, project_id: int, first_hour: int, last_hour: int) -> list[WebHour]: ...

    def web_top(
        self, project_id: int, dimension: str, first_hour: int, last_hour: int, *, limit: int = 10
    ) -> list[WebTop]: ...

    def web_visitors(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> VisitorCounts: ...

    def event_names(
        self, project_id: int, first_hour: int, last_hour: int, *, limit: int = 200
    ) -> list[EventNameCount]: ...

    def find_events(
        self, query: EventQuery, *, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredEvent], str | None]: ...

    def event_breakdown(
        self, query: EventQuery, prop: str | None, unit: TimeUnit, *, top: int = 10
    ) -> EventBreakdown: ...


class People(Protocol):
    """Person profiles merged from identify, alias and $set events (digest writes them)."""

    def list_persons(
        self, project_id: int, *, search: str | None = None, limit: int, cursor: str | None = None
    ) -> tuple[list[Person], str | None]: ...

    def get_person(self, project_id: int, person_id: int) -> Person | None: ...

    def person_by_distinct_id(self, project_id: int, distinct_id: str) -> Person | None: ...

    def person_issues(
        self, project_id: int, distinct_ids: Sequence[str], *, limit: int = 20
    ) -> list[Issue]: ...

    def person_llm_usage(
        self, project_id: int, distinct_ids: Sequence[str], since: float
    ) -> PersonLlmUsage: ...


class Health(Protocol):
    """Whether the store answers at all: what readiness probes ask (``/readyz``)."""

    def ping(self, timeout: float = DEFAULT_PING_TIMEOUT) -> list[SchemaState]:
        """A trivial read on every database the store uses, each bounded by ``timeout``
        seconds where the driver allows; returns their schema versions.

        Raises (:class:`~heliograph.store.base.StoreUnavailable` or the driver's
        error) when a database cannot be read. Never writes.
        """
        ...


class Store(
    Health,
    DigestSink,
    IssueStore,
    IssueWork,
    LlmReads,
    Scores,
    Evaluators,
    Accounts,
    Access,
    Flags,
    Prompts,
    Datasets,
    Replays,
    Retention,
    DiskUse,
    WebAnalytics,
    People,
    Alerts,
    SourceMaps,
    Protocol,
):
    """Every role at once: one backend, opened from configuration."""

    def fix_cache(self) -> FixCache:
        """The durable cache of AI-suggested fixes."""
        ...

    def close(self) -> None:
        """Finish pending writes and let go of connections."""
        ...
