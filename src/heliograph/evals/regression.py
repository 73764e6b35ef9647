"""Quality regressions: when a low score opens an issue, and the event that does it.

The rule (``docs/evaluations.md`` "Quality regressions"): scores are grouped
by evaluator and by the prompt version the generation used (its model when
it used no managed prompt). A generation that fails (its score is below the
evaluator's threshold, or a deterministic check failed) becomes an error
event when the mean of its group's last ``window`` scores, its own
included, is below the threshold too. With ``window`` 1 (the default of the
deterministic checks) every failure counts: a structured-output check that
starts failing opens the issue at once. With a larger window (5 by default
for a judge) one harsh verdict among good ones opens nothing, a real drop
does, and from then on each failing generation of the group adds an event.
A group needs a full window before it can regress.

The event goes through the ordinary error pipeline (the ingest queue, as a
Sentry ``store`` payload), so everything errors get follows: grouping (its
fingerprint is ``["llm-quality", evaluator, prompt name or model]``: one
issue per evaluator and prompt, all versions, so a fixed prompt that breaks
again reopens it as a regression), alert rules, the issue page with its
trace link, and the AI-suggested fix, which reads the ``llm_quality``
context (prompt, failing output, score, the evaluator's reasons).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from heliograph.evals.definition import Evaluator
from heliograph.evals.engine import Sample, Verdict
from heliograph.llm_vocabulary import AI_MODEL, AI_PROMPT_NAME, AI_PROMPT_VERSION
from heliograph.model import Event
from heliograph.prompts.definition import Content

__all__ = ["Group", "RegressionWindows", "group_of", "regression_event"]

MAX_EXCERPT = 2000
LOGGER = "heliograph.evaluator"


@dataclass(frozen=True, slots=True)
class Group:
    """What a score is compared within: a prompt version, else a model."""

    prompt_name: str | None
    prompt_version: str | None
    model: str | None

    @property
    def label(self) -> str:
        if self.prompt_name:
            version = f" v{self.prompt_version}" if self.prompt_version else ""
            model = f" ({self.model})" if self.model else ""
            return f"prompt {self.prompt_name}{version}{model}"
        return f"model {self.model or 'unknown'}"

    @property
    def key(self) -> tuple[str, str]:
        if self.prompt_name:
            return ("prompt", f"{self.prompt_name}\x00{self.prompt_version or ''}")
        return ("model", self.model or "")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def group_of(event: Event) -> Group:
    props = event.properties
    return Group(
        _text(props.get(AI_PROMPT_NAME)),
        _text(props.get(AI_PROMPT_VERSION)),
        _text(props.get(AI_MODEL)),
    )


class RegressionWindows:
    """The last ``window`` scores of each (evaluator, group), in memory.

    A group is seeded from the store the first time this process sees it
    (``seed``: the group's stored values, newest first), so that a restart
    does not forget a drop already under way.
    """

    def __init__(self) -> None:
        self._windows: dict[tuple[int, tuple[str, str]], deque[float]] = {}

    def observe(
        self, evaluator: Evaluator, group: Group, value: float, seed: Iterable[float] = ()
    ) -> float | None:
        """Add ``value``; the group's mean when its window is full, else None."""
        key = (evaluator.id, group.key)
        window = self._windows.get(key)
        if window is None or window.maxlen != evaluator.window:
            window = deque(reversed(list(seed)[: evaluator.window - 1]), maxlen=evaluator.window)
            self._windows[key] = window
        window.append(value)
        if len(window) < evaluator.window:
            return None
        return sum(window) / len(window)

    def seen(self, evaluator: Evaluator, group: Group) -> bool:
        return (evaluator.id, group.key) in self._windows


def regresses(evaluator: Evaluator, verdict: Verdict, mean: float | None) -> bool:
    """Whether this verdict adds an event to the evaluator's quality issue."""
    if verdict.outcome != "scored" or verdict.passed is not False:
        return False
    return evaluator.threshold is not None and mean is not None and mean < evaluator.threshold


def _excerpt(text: str | None) -> str | None:
    if text is None:
        return None
    if len(text) <= MAX_EXCERPT:
        return text
    return text[:MAX_EXCERPT] + f"…[truncated {len(text) - MAX_EXCERPT} chars]"


def _event_id(evaluator: Evaluator, generation: Event) -> str:
    """The same id every time for one (evaluator, generation): a rerun adds no event."""
    seed = f"{evaluator.project_id}:{evaluator.id}:{generation.event_id}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def _prompt_text(content: Content | None) -> str | None:
    if content is None:
        return None
    if isinstance(content, str):
        return content
    return "\n\n".join(f"{m.get('role', 'message')}: {m.get('content', '')}" for m in content)


def regression_event(
    evaluator: Evaluator,
    generation: Event,
    sample: Sample,
    verdict: Verdict,
    *,
    mean: float | None,
    prompt: Content | None,
    generation_url: str,
) -> dict[str, Any]:
    """The Sentry-shaped event one failing generation adds to the quality issue."""
    group = group_of(generation)
    threshold = evaluator.threshold
    below = f" below {threshold:g}" if threshold is not None else " failing"
    title = f"Quality regression: {evaluator.name}{below} for {group.label}"
    score: Any = verdict.label if verdict.label is not None else verdict.value
    quality: dict[str, Any] = {
        "evaluator": evaluator.name,
        "kind": evaluator.kind,
        "threshold": threshold,
        "window": evaluator.window,
        "window_mean": mean,
        "score": score,
        "reasoning": verdict.reasoning,
        "prompt_name": group.prompt_name,
        "prompt_version": group.prompt_version,
        "prompt": _excerpt(_prompt_text(prompt)),
        "model": group.model,
        "input": _excerpt(sample.input),
        "output": _excerpt(sample.output),
        "generation": generation_url,
        "generation_event_id": generation.event_id,
    }
    tags = {
        "evaluator": evaluator.name,
        "prompt": group.prompt_name,
        "prompt_version": group.prompt_version,
        "model": group.model,
        "llm_trace_id": generation.trace_id,
    }
    contexts: dict[str, Any] = {"llm_quality": {k: v for k, v in quality.items() if v is not None}}
    if generation.trace_id:
        contexts["trace"] = {"trace_id": generation.trace_id}
    payload: dict[str, Any] = {
        "event_id": _event_id(evaluator, generation),
        "timestamp": generation.timestamp,
        "platform": "other",
        "level": "error",
        "logger": LOGGER,
        "message": title,
        "fingerprint": ["llm-quality", evaluator.name, group.prompt_name or group.model or ""],
        "tags": {k: str(v)[:200] for k, v in tags.items() if v},
        "contexts": contexts,
        "environment": generation.environment,
        "release": generation.release,
    }
    if generation.distinct_id:
        payload["user"] = {"id": generation.distinct_id}
    return {k: v for k, v in payload.items() if v is not None}
