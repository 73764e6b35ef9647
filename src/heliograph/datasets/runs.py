"""Starting a server-side experiment: the checks, then a queued run for the job.

Shared by the API and the dataset page, so that both refuse the same things
with the same words: an unknown prompt version, a taken run name, bounds out
of range, no AI provider configured, or a project whose AI policy is
``disabled`` (an experiment sends the dataset's items to the provider; the
person starting it is choosing to, so the policy's consent states do not ask
again, but a project that sends nothing never does).
"""

from __future__ import annotations

from typing import Any, Protocol

from heliograph.ai.policy import effective_state
from heliograph.datasets.definition import (
    Dataset,
    DatasetError,
    DatasetRun,
    check_metadata,
    check_name,
    check_text,
)
from heliograph.datasets.experiment import MAX_CONCURRENCY
from heliograph.prompts.definition import LATEST, PromptError, PromptVersion, check_label
from heliograph.store.base import Project
from heliograph.store.contract import Accounts, Datasets, Prompts

__all__ = ["RunRefused", "start_prompt_run"]


class RunRefused(DatasetError):
    """The run cannot start here (no provider, AI disabled, no such prompt): ``status``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _Store(Datasets, Prompts, Accounts, Protocol):
    """What starting a run reads and writes: the prompt, the AI policy, the run."""


def _bounded(body: dict[str, Any], key: str, low: float, high: float, integer: bool) -> Any:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{key} must be a number") from None
    if not low <= number <= high:
        raise DatasetError(f"{key} must be between {low:g} and {high:g}")
    return number


def _version(store: _Store, project: Project, body: dict[str, Any]) -> PromptVersion:
    name = body.get("promptName")
    raw_version, label = body.get("promptVersion"), body.get("promptLabel")
    try:
        name = check_name(name, "promptName")
        if raw_version not in (None, ""):
            version = int(raw_version)
            if not 0 < version < 2**31:
                raise ValueError
            found = store.get_prompt_version(project.id, name, version=version)
            what = f"version {version}"
        else:
            label = LATEST if label in (None, "", LATEST) else check_label(label)
            found = store.get_prompt_version(project.id, name, label=label)
            what = f"label {label!r}"
    except (TypeError, ValueError, PromptError) as exc:
        detail = str(exc) if isinstance(exc, DatasetError | PromptError) else ""
        raise DatasetError(detail or "promptVersion must be a positive integer") from None
    if found is None:
        raise RunRefused(404, f"prompt {name!r} has no {what}")
    return found


def start_prompt_run(
    store: _Store,
    project: Project,
    dataset: Dataset,
    body: Any,
    *,
    ai_configured: bool,
    max_items: int,
    cost_cap_usd: float,
    user_id: int | None,
) -> DatasetRun:
    """Queue a run of a prompt version over ``dataset``, from a request's fields:
    ``name``, ``promptName`` with ``promptVersion`` or ``promptLabel`` (default: the
    newest), ``maxConcurrency`` (1-4), ``costCapUsd``, ``maxItems``, ``description``,
    ``metadata``. :class:`DatasetError` (400), :class:`RunRefused` or DatasetConflict."""
    if not isinstance(body, dict):
        raise DatasetError("expected a JSON object")
    name = check_name(body.get("name"), "the run's name")
    version = _version(store, project, body)
    settings = {
        "max_concurrency": _bounded(body, "maxConcurrency", 1, MAX_CONCURRENCY, True) or 1,
        "cost_cap_usd": _bounded(body, "costCapUsd", 0, cost_cap_usd, False) or cost_cap_usd,
        "max_items": _bounded(body, "maxItems", 1, max_items, True) or max_items,
    }
    description = check_text(body.get("description"), "description")
    metadata = check_metadata(body.get("metadata"))
    if not ai_configured:
        raise RunRefused(409, "no AI provider is configured: set HELIOGRAPH_AI_PROVIDER")
    org = store.get_organization_by_id(project.organization_id)
    if effective_state(org.ai_policy if org else "allowed", project.ai_policy) == "disabled":
        raise RunRefused(403, "this project's AI policy is disabled: nothing is sent to a model")
    return store.create_dataset_run(
        dataset.id,
        name,
        kind="prompt",
        status="queued",
        description=description,
        metadata={**metadata, "prompt": f"{version.name} v{version.version}"},
        prompt_name=version.name,
        prompt_version=version.version,
        settings=settings,
        user_id=user_id,
    )
