"""Scores on LLM output: what one is, how one is checked, and what the reads return.

A score says how good a generation, a trace or a session was: a number (a
relevance of 0.8), a boolean (thumbs up, stored as 1 or 0) or a category (a
label such as ``"correct"``). Scores come from the SDK, the API (ours and a
Langfuse-shaped one), users' feedback (``$ai_feedback``), metrics apps send
(``$ai_metric``), annotation in the UI and, later, evaluators. Every path
builds a :class:`Score` through :func:`make_score`, so the rules are the
same whichever way a score arrives: a bad one is refused with a
:class:`ScoreError` saying why, never stored half-checked.

A score names what it scores (trace, observation (a call's span id), or
session) and carries, copied from the generation it names at write time,
that generation's model, provider, prompt and feature-flag values: what the
summaries group by (see :mod:`heliograph.store.score_store`).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DATA_TYPES",
    "SOURCES",
    "Score",
    "ScoreBucket",
    "ScoreContext",
    "ScoreError",
    "ScoreFilter",
    "ScoreGroup",
    "ScoreQuery",
    "ScoreSummary",
    "make_score",
]

DATA_TYPES = ("numeric", "boolean", "categorical")
# Where a score came from; an evaluator (LLM-as-judge) writes "evaluator".
SOURCES = ("sdk", "api", "annotation", "feedback", "evaluator")
ScoreGroupBy = Literal["model", "prompt", "flag", "source"]
GROUP_BYS: tuple[ScoreGroupBy, ...] = ("model", "prompt", "flag", "source")

MAX_NAME = 200
MAX_ID = 200
MAX_LABEL = 200
MAX_COMMENT = 2000
MAX_TARGET = 200


class ScoreError(ValueError):
    """A score that cannot be stored; the message says why (shown to the caller as a 4xx)."""


@dataclass(frozen=True, slots=True)
class ScoreContext:
    """What a scored generation was: copied onto its scores so they group without joins."""

    model: str | None = None
    provider: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    flags: tuple[tuple[str, str], ...] = ()
    # The generation's trace: given to a score that named the call alone (not kept here).
    trace_id: str | None = None

    def __bool__(self) -> bool:
        return bool(self.model or self.provider or self.prompt_name or self.flags)


@dataclass(frozen=True, slots=True)
class Score:
    """One score, as stored. ``value``: the number (boolean: 1.0 or 0.0; categorical:
    None unless a number was given too); ``string_value``: a categorical label."""

    project_id: int
    id: str
    name: str
    data_type: str
    value: float | None
    string_value: str | None
    source: str
    timestamp: float
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    comment: str | None = None
    author_id: int | None = None
    distinct_id: str | None = None
    environment: str | None = None
    context: ScoreContext = field(default_factory=ScoreContext)
    created_at: float = 0.0

    def with_context(self, context: ScoreContext) -> Score:
        """This score with ``context``'s fields where it has none of its own."""
        own = self.context
        merged = ScoreContext(
            own.model or context.model,
            own.provider or context.provider,
            own.prompt_name or context.prompt_name,
            own.prompt_version or context.prompt_version,
            own.flags or context.flags,
        )
        trace_id = self.trace_id or context.trace_id
        return Score(**{**_fields(self), "context": merged, "trace_id": trace_id})


def _fields(score: Score) -> dict[str, Any]:
    return {name: getattr(score, name) for name in Score.__slots__}


def _text(value: Any, limit: int, what: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise ScoreError(f"{what} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ScoreError(f"{what} must be a string")
    text = str(value).strip()
    if not text:
        if required:
            raise ScoreError(f"{what} is required")
        return None
    if len(text) > limit:
        raise ScoreError(f"{what} is longer than {limit} characters")
    if "\x00" in text:
        raise ScoreError(f"{what} must not contain NUL characters")
    return text


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


_TRUE = {"true", "1", "yes", "y", "1.0"}
_FALSE = {"false", "0", "no", "n", "0.0"}


def _boolean(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return 1.0 if value.strip().lower() in _TRUE else 0.0
    raise ScoreError("a boolean score's value must be true or false (or 1 or 0)")


def _data_type(given: Any, value: Any, label: Any) -> str:
    if given is not None:
        if not isinstance(given, str) or given.strip().lower() not in DATA_TYPES:
            raise ScoreError(f"data type must be one of {', '.join(DATA_TYPES)}")
        return given.strip().lower()
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "numeric"
    if isinstance(value, str) or label is not None:
        return "numeric" if _number(value) is not None and label is None else "categorical"
    raise ScoreError("value is required: a number, a boolean or a category label")


def _values(data_type: str, value: Any, label: Any) -> tuple[float | None, str | None]:
    """(value, string_value) of a score of ``data_type``."""
    if data_type == "boolean":
        return _boolean(value if value is not None else label), None
    if data_type == "numeric":
        number = _number(value)
        if number is None or isinstance(value, bool):
            raise ScoreError("a numeric score's value must be a finite number")
        return number, None
    text = label if label is not None else value
    if isinstance(text, bool):
        text = "true" if text else "false"
    elif isinstance(text, float) and text.is_integer():
        text = int(text)
    category = _text(text, MAX_LABEL, "a categorical score's value", required=True)
    number = None if isinstance(value, str) or value is None else _number(value)
    return number, category


def make_score(
    project_id: int,
    *,
    name: Any,
    value: Any = None,
    string_value: Any = None,
    data_type: Any = None,
    source: str,
    timestamp: float,
    id: Any = None,
    trace_id: Any = None,
    observation_id: Any = None,
    session_id: Any = None,
    comment: Any = None,
    author_id: int | None = None,
    distinct_id: Any = None,
    environment: Any = None,
    context: ScoreContext | None = None,
) -> Score:
    """A checked :class:`Score`; raises :class:`ScoreError` saying what is wrong.

    The type is inferred when not given: a boolean value makes a boolean
    score, a number a numeric one, text a categorical one. Without ``id``,
    one is made up (a retry then stores the score twice: send an id).
    """
    if source not in SOURCES:
        raise ScoreError(f"source must be one of {', '.join(SOURCES)}")
    checked_name = _text(name, MAX_NAME, "name", required=True)
    kind = _data_type(data_type, value, string_value)
    number, label = _values(kind, value, string_value)
    trace = _text(trace_id, MAX_TARGET, "trace id")
    observation = _text(observation_id, MAX_TARGET, "observation id")
    session = _text(session_id, MAX_TARGET, "session id")
    if not (trace or observation or session):
        raise ScoreError("a score needs a target: a trace id, an observation id or a session id")
    if not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
        raise ScoreError("timestamp must be a time")
    return Score(
        project_id=project_id,
        id=_text(id, MAX_ID, "id") or uuid.uuid4().hex,
        name=str(checked_name),
        data_type=kind,
        value=number,
        string_value=label,
        source=source,
        timestamp=float(timestamp),
        comment=_text(comment, MAX_COMMENT, "comment"),
        author_id=author_id,
        distinct_id=_text(distinct_id, MAX_TARGET, "distinct id"),
        environment=_text(environment, MAX_TARGET, "environment"),
        context=context or ScoreContext(),
        trace_id=trace,
        observation_id=observation,
        session_id=session,
    )


@dataclass(frozen=True, slots=True)
class ScoreFilter:
    """Which scores a list returns: all of a project's, or those matching every field given."""

    project_id: int
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    name: str | None = None
    source: str | None = None
    data_type: str | None = None
    author_id: int | None = None
    since: float | None = None  # timestamp bounds, inclusive / exclusive
    until: float | None = None


@dataclass(frozen=True, slots=True)
class ScoreQuery:
    """A summary's range ``[since, until)``, optionally one score name, and a grouping:
    by the scored generation's model, prompt (name and version), a feature flag's
    variant (``flag`` names the flag), or the scores' source."""

    project_id: int
    since: float
    until: float
    name: str | None = None
    group_by: ScoreGroupBy | None = None
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreGroup:
    """What a summary row is grouped under: a model, a prompt, a variant, a source.

    Empty when the query was not grouped, or the score had no such thing
    (a score on a trace whose generation was never seen, a variant not set).
    """

    key: str = ""
    version: str = ""  # a prompt's version

    @property
    def label(self) -> str:
        if self.version:
            return f"{self.key or '(no prompt)'} v{self.version}"
        return self.key


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """One score name (and group) over a range: how many, the mean of the numbers
    (a boolean's mean is its share of true), their range, and how many of each label."""

    name: str
    data_type: str
    group: ScoreGroup
    count: int
    numbers: int
    total: float
    low: float | None
    high: float | None
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def mean(self) -> float | None:
        return self.total / self.numbers if self.numbers else None


@dataclass(frozen=True, slots=True)
class ScoreBucket:
    """One score name's scores of one hour or day (counted from the epoch)."""

    name: str
    bucket: int
    count: int
    numbers: int
    total: float

    @property
    def mean(self) -> float | None:
        return self.total / self.numbers if self.numbers else None
