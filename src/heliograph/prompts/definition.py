"""A prompt version as stored and served, and the checks on what users send.

A prompt belongs to a project and is named (letters, digits, ``_ . -``).
Each version is immutable once created and numbered from 1: its content is
text or a list of chat messages (``{"role", "content"}``), with
``{{variable}}`` placeholders the application fills in; ``config`` is any
JSON object the application reads (model, temperature...). Labels
(``production``, ``staging``, any ``[a-z0-9_-]`` word) each point at exactly
one version of the prompt; ``latest`` is implicit (the newest version) and
cannot be set. The shape follows Langfuse's, so that its SDKs can fetch
prompts from Heliograph too (``api/prompt_fetch.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "LATEST",
    "PRODUCTION",
    "PromptError",
    "PromptSummary",
    "PromptVersion",
    "check_commit_message",
    "check_config",
    "check_content",
    "check_label",
    "check_labels",
    "check_name",
    "variables",
]

LATEST = "latest"
PRODUCTION = "production"
MAX_NAME = 100
MAX_LABELS = 20
MAX_PROMPT_CHARS = 100_000
MAX_MESSAGES = 200
MAX_CONFIG_BYTES = 16_384
MAX_COMMIT_MESSAGE = 500
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_LABEL = re.compile(r"[a-z0-9_-]{1,36}\Z")
# {{ name }}: what the SDKs' compile() fills in (Langfuse's and PostHog's syntax).
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class PromptError(ValueError):
    """What a user sent cannot be a prompt; the message says why."""


Content = str | list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class PromptVersion:
    """One immutable version of a prompt, with the labels pointing at it now."""

    project_id: int
    name: str
    version: int
    type: str  # "text" or "chat"
    prompt: Content
    config: dict[str, Any]
    labels: tuple[str, ...]
    commit_message: str
    created_by: int | None
    created_at: float

    @property
    def variables(self) -> list[str]:
        return variables(self.prompt)


@dataclass(frozen=True, slots=True)
class PromptSummary:
    """A prompt in a list: its newest version and where each label points."""

    project_id: int
    name: str
    latest_version: int
    labels: dict[str, int]
    created_at: float
    updated_at: float


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise PromptError("name is required")
    if len(value) > MAX_NAME or not _NAME.match(value):
        raise PromptError(
            f"name must be at most {MAX_NAME} letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_label(value: Any) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise PromptError("a label is 1 to 36 lowercase letters, digits, '_' or '-'")
    if value == LATEST:
        raise PromptError("'latest' always means the newest version; it cannot be set")
    return value


def check_labels(value: Any) -> tuple[str, ...]:
    """A list of labels, each checked, duplicates dropped, in the order given."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or len(value) > MAX_LABELS:
        raise PromptError(f"labels must be a list of at most {MAX_LABELS} labels")
    return tuple(dict.fromkeys(check_label(label) for label in value))


def _message(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PromptError("each chat message must be an object with 'role' and 'content'")
    role, content = value.get("role"), value.get("content")
    if not isinstance(role, str) or not role.strip() or len(role) > 50:
        raise PromptError("each chat message needs a 'role' (text, at most 50 characters)")
    if not isinstance(content, str):
        raise PromptError("each chat message needs a 'content' (text)")
    return {"role": role.strip(), "content": content}


def check_content(value: Any, kind: Any = None) -> tuple[str, Content]:
    """(type, content): text, or a non-empty list of chat messages.

    ``kind`` (``"text"``/``"chat"``), when given, must agree with the content.
    """
    if kind not in (None, "text", "chat"):
        raise PromptError("type must be 'text' or 'chat'")
    if isinstance(value, str):
        if kind == "chat":
            raise PromptError("a chat prompt is a list of messages")
        if not value.strip():
            raise PromptError("the prompt is empty")
        if len(value) > MAX_PROMPT_CHARS:
            raise PromptError(f"a prompt is at most {MAX_PROMPT_CHARS} characters")
        return "text", value
    if isinstance(value, list):
        if kind == "text":
            raise PromptError("a text prompt is a string")
        if not value or len(value) > MAX_MESSAGES:
            raise PromptError(f"a chat prompt has 1 to {MAX_MESSAGES} messages")
        messages = [_message(item) for item in value]
        if sum(len(m["content"]) for m in messages) > MAX_PROMPT_CHARS:
            raise PromptError(f"a prompt is at most {MAX_PROMPT_CHARS} characters")
        return "chat", messages
    raise PromptError("prompt must be text or a list of chat messages")


def check_config(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PromptError("config must be a JSON object")
    try:
        size = len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        raise PromptError("config must be a JSON object") from None
    if size > MAX_CONFIG_BYTES:
        raise PromptError(f"config is at most {MAX_CONFIG_BYTES} bytes of JSON")
    return value


def check_commit_message(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_COMMIT_MESSAGE:
        raise PromptError(f"commit message must be text of at most {MAX_COMMIT_MESSAGE} characters")
    return value.strip()


def variables(prompt: Content) -> list[str]:
    """The ``{{variable}}`` names of a prompt, in order of first use."""
    texts = [prompt] if isinstance(prompt, str) else [m.get("content", "") for m in prompt]
    found: dict[str, None] = {}
    for text in texts:
        for match in _VARIABLE.finditer(text):
            found.setdefault(match.group(1), None)
    return list(found)
