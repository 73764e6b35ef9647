"""What datasets, their items, runs and run items are, and the checks on user input.

The model is Langfuse's: a dataset (name, description, metadata) holds items
(input, expected output, metadata, the trace or generation it came from, a
status), and each experiment is a *run* (name, metadata: the prompt version or
code it tried) of *run items*, one per dataset item it executed, each linked
to the trace that execution recorded. That trace is an ordinary LLM trace of
the dataset's project: its calls carry the cost and latency, and scores name
it (``trace_id``) like any other trace, so evaluators need nothing special.

JSON values (inputs, outputs, metadata) are stored as JSON text, bounded in
size here, before any store sees them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

__all__ = [
    "ITEM_STATUSES",
    "RUN_STATUSES",
    "Dataset",
    "DatasetError",
    "DatasetItem",
    "DatasetRun",
    "ItemDraft",
    "RunItem",
    "check_item_id",
    "check_json",
    "check_name",
    "new_id",
]

MAX_NAME = 100
MAX_DESCRIPTION = 2_000
MAX_ID = 100
# One item's input, expected output or metadata, as JSON; a run item's output.
MAX_VALUE_BYTES = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_ERROR = 2_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")

ItemStatus = Literal["active", "archived"]
ITEM_STATUSES: tuple[ItemStatus, ...] = ("active", "archived")
# queued -> running -> done | failed; an SDK run (its items sent by the caller) is "done"
# from the start: nothing on the server waits for it.
RunStatus = Literal["queued", "running", "done", "failed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("queued", "running", "done", "failed")
RunKind = Literal["prompt", "sdk"]


class DatasetError(ValueError):
    """What a user sent cannot be a dataset, an item or a run; the message says why."""


class DatasetConflict(DatasetError):
    """The name is taken (a run of that name exists already)."""


def new_id() -> str:
    return uuid.uuid4().hex


def check_name(value: Any, what: str = "name") -> str:
    if not isinstance(value, str) or not value:
        raise DatasetError(f"{what} is required")
    if len(value) > MAX_NAME or not _NAME.match(value):
        raise DatasetError(
            f"{what} must be at most {MAX_NAME} letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_item_id(value: Any) -> str:
    """An item id the sender chose (to update it later, or import twice), else a new one."""
    if value is None or value == "":
        return new_id()
    if not isinstance(value, str) or len(value) > MAX_ID or not _ID.match(value):
        raise DatasetError(f"an item id is at most {MAX_ID} letters, digits, '_', '.', ':' or '-'")
    return value


def check_text(value: Any, what: str, limit: int = MAX_DESCRIPTION) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise DatasetError(f"{what} must be text of at most {limit} characters")
    return value


def check_json(value: Any, what: str, limit: int = MAX_VALUE_BYTES) -> Any:
    """``value`` if it is JSON of at most ``limit`` bytes (None stays None)."""
    if value is None:
        return None
    try:
        size = len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        raise DatasetError(f"{what} must be JSON") from None
    if size > limit:
        raise DatasetError(f"{what} is at most {limit // 1024} KiB of JSON")
    return value


def check_metadata(value: Any, what: str = "metadata") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DatasetError(f"{what} must be a JSON object")
    checked: dict[str, Any] = check_json(value, what, MAX_METADATA_BYTES)
    return checked


def check_status(value: Any) -> ItemStatus:
    if value is None:
        return "active"
    if value not in ITEM_STATUSES:
        raise DatasetError(f"status must be one of {', '.join(ITEM_STATUSES)}")
    status: ItemStatus = value
    return status


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named set of items in a project, with how many items and runs it has."""

    id: int
    project_id: int
    name: str
    description: str
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    items: int = 0
    runs: int = 0


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """An item as written: checked fields, its id chosen by the sender or new."""

    input: Any
    expected_output: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    source_trace_id: str | None = None
    source_observation_id: str | None = None
    status: ItemStatus = "active"


@dataclass(frozen=True, slots=True)
class DatasetItem:
    """One stored item of a dataset."""

    dataset_id: int
    id: str
    input: Any
    expected_output: Any
    metadata: dict[str, Any]
    source_trace_id: str | None
    source_observation_id: str | None
    status: ItemStatus
    created_at: float
    updated_at: float

    def draft(self, **changes: Any) -> ItemDraft:
        """This item as a draft, with ``changes`` (an edit is a save of the same id)."""
        fields = {
            "input": self.input,
            "expected_output": self.expected_output,
            "metadata": self.metadata,
            "id": self.id,
            "source_trace_id": self.source_trace_id,
            "source_observation_id": self.source_observation_id,
            "status": self.status,
        }
        fields.update(changes)
        return ItemDraft(**fields)


@dataclass(frozen=True, slots=True)
class DatasetRun:
    """One experiment over a dataset.

    ``kind`` ``prompt``: the server runs ``prompt_name`` version
    ``prompt_version`` over the items (:mod:`heliograph.datasets.experiment`),
    within ``settings`` (``max_concurrency``, ``cost_cap_usd``, ``max_items``,
    ``model``); ``sdk``: a program ran its own function and sent each result.
    ``cost_usd`` is what the server's runner estimated it spent (the calls'
    recorded costs are the reference, read when runs are compared).
    """

    id: int
    dataset_id: int
    name: str
    description: str
    metadata: dict[str, Any]
    kind: RunKind
    status: RunStatus
    prompt_name: str | None
    prompt_version: int | None
    settings: dict[str, Any]
    error: str | None
    cost_usd: float
    created_by: int | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    items: int = 0


@dataclass(frozen=True, slots=True)
class RunItem:
    """What one run did with one item: the trace that recorded it, and its outcome.

    ``output`` is kept here as well as in the trace: a project may keep no LLM
    payloads, and a comparison must still show what each run answered.
    ``latency_s`` and ``cost_usd`` are the runner's (or SDK's) own measure, used
    until the trace's calls are digested.
    """

    run_id: int
    item_id: str
    trace_id: str
    observation_id: str | None = None
    output: Any = None
    error: str | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    created_at: float = 0.0
