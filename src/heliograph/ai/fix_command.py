"""What ``heliograph fix`` does, apart from parsing its arguments.

``EVENT.json`` is described and sent as is (the person running the command
already holds the data: no project policy applies, local variables stay
out). ``--issue ID`` reads the issue's latest event from the data
directory and honours its project's policy and the shared fix cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from heliograph.ai.errors import AIError, NotConfigured, PolicyRefused
from heliograph.ai.event_file import EventFileError, load_event
from heliograph.ai.fix import FixService
from heliograph.ai.policy import effective_state
from heliograph.ai.providers import make_provider
from heliograph.ai.settings import ProviderSettings
from heliograph.ai.terminal import footer, render
from heliograph.config import ConfigError, Settings
from heliograph.model import Event
from heliograph.query.trace_summary import summarize_trace
from heliograph.store import open_store
from heliograph.store.base import SchemaTooNew, StoreNotFound
from heliograph.store.contract import Store
from heliograph.store.fix_cache import FixCache, MemoryFixCache


class FixCommandError(Exception):
    """A failure to report in one line, with the exit code to leave with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def run_fix_command(
    settings: Settings,
    *,
    event_file: Path | None,
    issue_id: int | None,
    model: str | None,
    dump_prompt: bool,
    refresh: bool,
) -> int:
    try:
        ai_settings = ProviderSettings.from_env()
        provider = None if dump_prompt else make_provider(ai_settings)
    except ConfigError as exc:
        raise FixCommandError(str(exc), 2) from None
    store: Store | None = None
    try:
        cache: FixCache = MemoryFixCache()
        policy_state = "allowed"
        trace: dict[str, Any] | None = None
        if issue_id is not None:
            store = _open_store(settings)
            event, issue_key, policy_state, trace = _issue_event(store, issue_id)
            cache = store.fix_cache()
        else:
            assert event_file is not None
            try:
                event = load_event(event_file)
            except EventFileError as exc:
                raise FixCommandError(str(exc), 2) from None
            issue_key = f"file:{event.event_id}"
        service = FixService(provider, ai_settings, cache)
        if dump_prompt:
            print(service.describe(event, trace_summary=trace).to_json())
            return 0
        return await _suggest(service, event, issue_key, policy_state, model, refresh, trace)
    finally:
        if store is not None:
            store.close()


async def _suggest(
    service: FixService,
    event: Event,
    issue_key: str,
    policy_state: str,
    model: str | None,
    refresh: bool,
    trace: dict[str, Any] | None,
) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        parts = await service.open(
            event,
            issue_key=issue_key,
            policy_state=policy_state,
            consent=True,  # running the command is the consent
            pii_certified=False,
            refresh=refresh,
            model=model,
            trace_summary=trace,
        )
        done = await render(parts, Console(highlight=False))
    except NotConfigured as exc:
        raise FixCommandError(f"{exc} (--dump-prompt works without one)", 2) from None
    except PolicyRefused as exc:
        raise FixCommandError(
            f"refused by the project's AI policy ({exc.restriction}): {exc}", 3
        ) from None
    except AIError as exc:
        raise FixCommandError(f"the LLM call failed: {exc}", 1) from None
    finally:
        await service.aclose()
    if done is not None:
        err.print(footer(done), style="dim")
    return 0


def _open_store(settings: Settings) -> Store:
    try:
        return open_store(
            settings.store_url,
            events_url=settings.events_url,
            blobs_url=settings.blobs_url,
            create=False,
        )
    except (ConfigError, StoreNotFound):
        raise FixCommandError(
            f"no Heliograph data in {settings.data_dir} (use --data-dir)", 2
        ) from None
    except SchemaTooNew as exc:
        raise FixCommandError(str(exc), 2) from None


def _issue_event(store: Store, issue_id: int) -> tuple[Event, str, str, dict[str, Any] | None]:
    issue = store.get_issue(issue_id)
    stored = store.latest_event(issue_id) if issue else None
    project = store.get_project_by_id(issue.project_id) if issue else None
    if issue is None or stored is None or project is None:
        raise FixCommandError(f"issue {issue_id} not found, or it has no stored event", 2)
    org = store.get_organization_by_id(project.organization_id)
    state = effective_state(org.ai_policy if org else "allowed", project.ai_policy)
    trace = None
    if stored.event.trace_id:
        trace = summarize_trace(
            stored.event.trace_id, store.events_by_trace(project.id, stored.event.trace_id)
        )
    return stored.event, f"{project.id}:{issue_id}", state, trace
