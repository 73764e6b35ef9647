"""URLs of the LLM analytics pages, and the link from an error to its LLM trace."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from heliograph.store.base import Project

if TYPE_CHECKING:
    from heliograph.store.contract import LlmReads

__all__ = ["llm_url", "trace_url", "trace_url_if_recorded"]


def llm_url(project: Project, path: str = "", query: dict[str, str] | None = None) -> str:
    """``/{org}/{project}/llm/{path}``, with ``query`` (empty values left out)."""
    url = f"/{project.organization_slug}/{project.slug}/llm/{path}"
    params = {k: v for k, v in (query or {}).items() if v}
    return url + ("?" + urlencode(params) if params else "")


def trace_url(project: Project, trace_id: str) -> str:
    return llm_url(project, f"traces/{quote(trace_id, safe='')}/")


def trace_url_if_recorded(store: LlmReads, project: Project, trace_id: str) -> str | None:
    """The trace page for an error's trace id, if any LLM event was recorded in that trace.

    What the issue page calls to decide whether to show its "LLM trace" link.
    """
    if not trace_id or not store.llm_trace_exists(project.id, trace_id):
        return None
    return trace_url(project, trace_id)
