"""One JSON shape for a prompt version, and one reading of a new version's body.

Both prompt APIs (``api/prompts.py`` for people and scripts,
``api/prompt_fetch.py`` for SDKs) answer and accept the same shape, which
is Langfuse's (``name``, ``version``, ``type``, ``prompt``, ``config``,
``labels``, ``tags``, ``commitMessage``), so that its SDKs read our answers
unchanged; Heliograph adds ``variables``, ``createdAt`` and ``createdBy``.
"""

from __future__ import annotations

from typing import Any

from heliograph.api.errors import ApiError
from heliograph.prompts.definition import (
    PromptError,
    PromptSummary,
    PromptVersion,
    check_commit_message,
    check_config,
    check_content,
    check_labels,
    check_name,
)
from heliograph.query.serialize import iso

__all__ = ["new_version_fields", "prompt_json", "summary_json"]


def prompt_json(version: PromptVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "type": version.type,
        "prompt": version.prompt,
        "config": version.config,
        "labels": list(version.labels),
        "tags": [],
        "commitMessage": version.commit_message or None,
        "variables": version.variables,
        "createdAt": iso(version.created_at),
        "createdBy": {"id": version.created_by} if version.created_by is not None else None,
    }


def summary_json(summary: PromptSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "latestVersion": summary.latest_version,
        "labels": summary.labels,
        "createdAt": iso(summary.created_at),
        "updatedAt": iso(summary.updated_at),
    }


def new_version_fields(body: Any, name: str | None = None) -> dict[str, Any]:
    """The fields of a new version from a request body, checked (a 400 saying what is wrong).

    ``name``: the prompt's, when the URL names it (then the body need not).
    """
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    commit = body.get("commitMessage", body.get("commit_message"))
    try:
        kind, content = check_content(body.get("prompt"), body.get("type"))
        return {
            "name": check_name(name if name is not None else body.get("name")),
            "type": kind,
            "prompt": content,
            "config": check_config(body.get("config")),
            "labels": check_labels(body.get("labels")),
            "commit_message": check_commit_message(commit),
        }
    except PromptError as exc:
        raise ApiError(400, str(exc)) from None
