"""Grouping v2: a pure function from a canonical event to an issue fingerprint.

``compute_grouping(event)`` returns a :class:`Grouping`: the hash that names
the issue, the variant that produced it and the human-readable components
that went into it (the UI's "why grouped"). Rules (``docs/protocols.md``
"Grouping"):

**Precedence.** Exceptions > bare stack trace (``Event.stacktrace``) >
message > fallback. A level contributes only when it has something to say: an
event whose exceptions yield nothing falls through to its stack trace, and so
on. The message is ignored when exceptions or a stack contribute. A log
message groups by its template (``Event.message_template``: ``logentry.message``
when it was formatted with arguments), else by the formatted text.

**Variants.** *app* takes only ``in_app`` frames, *system* takes all frames.
*app* is primary when at least one in-app frame contributes anywhere in the
event; *system* is then kept as a secondary hash (for future merging). An
exception event without any usable frame (type and value only) is reported as
*system*. Then *message* (the normalised message), *fallback* (nothing else to
go on: ``level``, ``logger`` and ``name`` of the event, so that such events at
least land in a few stable buckets) and *custom* (a fingerprint without
``{{ default }}``).

**Exceptions.** Every link of the chain contributes, outermost first (model
order): its type, then its frames, then -- only when none of its frames
contributes in this variant -- its value through ``normalize_message``.

**Exception groups.** When any exception says
``mechanism.is_exception_group``, the chain is read as the tree that
``mechanism.exception_id`` / ``parent_id`` describe. A group contributes its
type and its own frames (where it was raised) but never its value (a generic
message with a sub-exception count). Its members (children whose ``source`` is
not ``__cause__`` / ``__context__``) are grouped as a *set*: each member's
block (the member and its causes) is computed, duplicates are dropped and the
rest sorted, so neither the order nor the number of identical failures splits
an issue, but a new kind of failure inside the group does. Causes and contexts
keep their order. Incomplete trees (missing or duplicate ids) are read as a
plain chain.

**Frames.** ``module`` (else the file's basename, lower-cased, without query
string, fragment or cache-busting hash: ``main.3f2a1b9c.js`` → ``main.js``),
``function`` and the ``context_line`` with whitespace collapsed, unless that is
longer than 120 characters. Never the line number. A frame with neither
location nor function is skipped. Recursion contributes once: identical
consecutive frames collapse, and so do short repeated cycles (mutual
recursion, up to three frames long), so depth 5 and depth 50 group together.

**JavaScript** (``javascript`` / ``node`` events or frames): frames of the
browser and the SDK are skipped and function names normalised
(:mod:`heliograph.digest.frames`), and a frame with a source line contributes
the line, not the function name, so one error groups alike in every browser.
A **synthetic** outermost exception (made up by the SDK) groups by its
message alone. An **exception group** whose members are all one failure
groups as that failure.

**Fingerprints.** ``Event.fingerprint`` entries may use ``{{ var }}``
(whitespace optional, name case-insensitive): ``type`` / ``error.type`` and
``value`` / ``error.value`` (outermost exception; the value normalised),
``function`` / ``stack.function`` and ``module`` / ``stack.module`` (the crash
frame, see :func:`heliograph.digest.titles.crash_frame`), ``level``,
``logger``, ``transaction``, ``message`` (normalised) and ``tags.<key>``.
What cannot be resolved becomes ``<no-value-for-<name>>``. Without a
``{{ default }}`` entry the resolved entries are the whole key (variant
*custom*); with it, the default components are salted with the other entries
(the default variant name is kept); ``["{{ default }}"]`` alone is exactly the
default grouping.

**Hash.** SHA-256 of the JSON array of components (ASCII-escaped, compact),
hex, truncated to 32 characters (128 bits, the width of a Sentry hash). The
variant name is not hashed (component prefixes already keep kinds apart), nor
is the version: the version is stored with each issue, and whoever changes any
rule here or in ``normalize`` bumps ``GROUPING_VERSION``. A unit test pins one
hash so that an accidental change fails loudly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from heliograph.digest.frames import is_js, is_noise_frame, js_function
from heliograph.digest.normalize import normalize_message
from heliograph.digest.titles import crash_frame
from heliograph.model import Event, Exception_, Frame

__all__ = ["CONTEXT_LINE_MAX_CHARS", "GROUPING_VERSION", "Grouping", "Variant", "compute_grouping"]

GROUPING_VERSION = "v2"
CONTEXT_LINE_MAX_CHARS = 120
HASH_CHARS = 32
_MAX_CYCLE = 3
_MAX_TREE_SIZE = 256  # deeper "trees" are read as a plain chain (bounded recursion)

Variant = Literal["custom", "app", "system", "message", "fallback"]


@dataclass(frozen=True, slots=True)
class Grouping:
    """What an event groups by. ``hash`` names the issue within a project."""

    hash: str
    version: str
    variant: Variant
    components: list[str]
    secondary_hashes: list[str] = field(default_factory=list)
    # The hash grouping v1 gave the same event, when it differs: an issue
    # created before the upgrade keeps receiving its events (docs/grouping.md).
    v1_hash: str | None = None


def compute_grouping(event: Event) -> Grouping:
    """The grouping key of ``event`` under ``GROUPING_VERSION``, and its v1 hash if other."""
    salt: list[str] = []
    if event.fingerprint:
        entries, uses_default = _resolve_fingerprint(event)
        salt = [f"fingerprint: {entry}" for entry in entries]
        if not uses_default:
            return _build([("custom", salt)])
    grouping = _build(
        [(variant, parts + salt) for variant, parts in _default_candidates(event, _V2)]
    )
    if not _v2_rules_apply(event):
        return grouping  # v1 would hash it the same: skip the second pass
    v1 = _digest(_default_candidates(event, _Rules(js=False, v2=False))[0][1] + salt)
    return replace(grouping, v1_hash=v1) if v1 != grouping.hash else grouping


def _v2_rules_apply(event: Event) -> bool:
    """Whether any rule v2 added can touch ``event`` (else its v1 hash is its v2 hash)."""
    if event.message_template or is_js(event.platform):
        return True
    for exception in event.exceptions:
        if _is_group(exception) or (exception.mechanism and exception.mechanism.synthetic):
            return True
        if any(is_js(frame.platform) for frame in exception.frames):
            return True
    return any(is_js(frame.platform) for frame in event.stacktrace)


@dataclass(frozen=True, slots=True)
class _Rules:
    """What the candidates are built under: v2's rules, or v1's (the upgrade's fallback).

    ``js``: the event is JavaScript's (its frames are, whatever their own platform).
    """

    js: bool = False
    v2: bool = True


_V2 = _Rules()


# -- hashing --------------------------------------------------------------

_Candidate = tuple[Variant, list[str]]


def _digest(components: Sequence[str]) -> str:
    payload = json.dumps(list(components), ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:HASH_CHARS]


def _build(candidates: list[_Candidate]) -> Grouping:
    variant, components = candidates[0]
    primary = _digest(components)
    secondary: list[str] = []
    for _, other in candidates[1:]:
        digest = _digest(other)
        if digest != primary and digest not in secondary:
            secondary.append(digest)
    return Grouping(primary, GROUPING_VERSION, variant, list(components), secondary)


def _default_candidates(event: Event, rules: _Rules) -> list[_Candidate]:
    """Contributing variants, primary first."""
    if rules.v2:
        rules = _Rules(js=is_js(event.platform))
    outermost = event.exceptions[0] if event.exceptions else None
    if rules.v2 and outermost and outermost.mechanism and outermost.mechanism.synthetic:
        # The SDK made this exception up (captureMessage with a stack): its type
        # and frames say nothing, its message is what was captured.
        message = normalize_message(outermost.value)
        if message:
            return [("message", [f"message: {message}"])]
    if event.exceptions:
        app, app_has_frames = _chain_components(event.exceptions, app_only=True, rules=rules)
        system, _ = _chain_components(event.exceptions, app_only=False, rules=rules)
        if app_has_frames:
            return [("app", app), ("system", system)]
        if system:
            return [("system", system)]
    if event.stacktrace:
        app = _frame_components(event.stacktrace, app_only=True, rules=rules)
        system = _frame_components(event.stacktrace, app_only=False, rules=rules)
        if app:
            return [("app", app), ("system", system)]
        if system:
            return [("system", system)]
    # A log call's template when it had arguments: one issue per log call.
    template = event.message_template if rules.v2 else None
    message = normalize_message(template or event.message or "")
    if message:
        return [("message", [f"message: {message}"])]
    return [
        (
            "fallback",
            [f"level: {event.level}", f"logger: {event.logger or ''}", f"name: {event.name}"],
        )
    ]


# -- frames -----------------------------------------------------------------

# A content hash before the extension: ``main.3f2a1b9c.js`` (hex with a digit,
# 8+ chars) or ``index-BkU3jD9c.js`` (mixed-case base64-ish with a digit).
_CACHE_BUSTER = re.compile(
    r"[.-](?:(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}|(?=\w*[a-z])(?=\w*[A-Z])(?=\w*\d)[A-Za-z0-9_]{8,})(?=\.)"
)


def _file_key(path: str | None) -> str:
    if not path:
        return ""
    path = path.split("?", 1)[0].split("#", 1)[0].rstrip("/\\")
    basename = re.split(r"[/\\]", path)[-1]
    return _CACHE_BUSTER.sub("", basename).lower()


def _frame_component(frame: Frame, *, rules: _Rules = _V2) -> str | None:
    js = rules.v2 and (rules.js or is_js(frame.platform))
    if js and is_noise_frame(frame):
        return None  # the SDK's or the browser's: the same wherever the app failed
    location = (frame.module or "").strip() or _file_key(frame.filename or frame.abs_path)
    function = js_function(frame.function) if js else (frame.function or "").strip()
    context = " ".join((frame.context_line or "").split())
    if context and len(context) > CONTEXT_LINE_MAX_CHARS:
        context = ""
    if js and context:
        function = ""  # the source line says it; engines name anonymous functions differently
    if not location and not function:
        return None
    component = f"frame: {location or '?'} in {function or '?'}"
    if context:
        component += f": {context}"
    return component


def _collapse_recursion(components: list[str]) -> list[str]:
    """Drop a run (1 to ``_MAX_CYCLE`` frames) that repeats the run before it."""
    kept: list[str] = []
    for component in components:
        kept.append(component)
        for period in range(1, _MAX_CYCLE + 1):
            if len(kept) >= 2 * period and kept[-period:] == kept[-2 * period : -period]:
                del kept[-period:]
                break
    return kept


def _frame_components(frames: list[Frame], *, app_only: bool, rules: _Rules) -> list[str]:
    components = [
        component
        for frame in frames
        if frame.in_app or not app_only
        if (component := _frame_component(frame, rules=rules)) is not None
    ]
    return _collapse_recursion(components)


# -- exceptions ---------------------------------------------------------------


def _is_group(exception: Exception_) -> bool:
    return exception.mechanism is not None and exception.mechanism.is_exception_group


def _exception_block(
    exception: Exception_, *, app_only: bool, rules: _Rules
) -> tuple[list[str], bool]:
    """One exception's components, and whether any of its frames contributed."""
    frames = _frame_components(exception.frames, app_only=app_only, rules=rules)
    block = [f"type: {exception.type.strip()}"] if exception.type.strip() else []
    block.extend(frames)
    if not frames and not _is_group(exception):
        value = normalize_message(exception.value)
        if value:
            block.append(f"value: {value}")
    return block, bool(frames)


def _chain_components(
    exceptions: list[Exception_], *, app_only: bool, rules: _Rules
) -> tuple[list[str], bool]:
    blocks = [
        _exception_block(exception, app_only=app_only, rules=rules) for exception in exceptions
    ]
    has_frames = any(contributed for _, contributed in blocks)
    tree = _exception_tree(exceptions)
    if tree is None:
        return [component for block, _ in blocks for component in block], has_frames
    roots, children = tree
    visited: set[int] = set()

    def walk(index: int) -> list[str]:
        if index in visited:
            return []
        visited.add(index)
        components = list(blocks[index][0])
        members: set[tuple[str, ...]] = set()
        chained_in = False
        for child in children[index]:
            child_components = walk(child)
            mechanism = exceptions[child].mechanism
            chained = mechanism is not None and mechanism.source in ("__cause__", "__context__")
            if _is_group(exceptions[index]) and not chained:
                members.add(tuple(child_components))
            else:
                chained_in = True
                components.extend(child_components)
        if rules.v2 and len(members) == 1 and not chained_in:
            # A group of one kind of failure (an ExceptionGroup of one type, .NET's
            # AggregateException around one exception) is that failure.
            return list(next(iter(members)))
        for member in sorted(members):
            components.extend(member)
        return components

    return [component for root in roots for component in walk(root)], has_frames


def _exception_tree(exceptions: list[Exception_]) -> tuple[list[int], list[list[int]]] | None:
    """Roots and children (by list index), or ``None`` to read a plain chain."""
    if len(exceptions) > _MAX_TREE_SIZE or not any(_is_group(e) for e in exceptions):
        return None
    index_of: dict[int, int] = {}
    for index, exception in enumerate(exceptions):
        mechanism = exception.mechanism
        if mechanism is None or mechanism.exception_id is None:
            return None
        if mechanism.exception_id in index_of:
            return None
        index_of[mechanism.exception_id] = index
    roots: list[int] = []
    children: list[list[int]] = [[] for _ in exceptions]
    for index, exception in enumerate(exceptions):
        parent_id = exception.mechanism.parent_id if exception.mechanism else None
        parent = index_of.get(parent_id) if parent_id is not None else None
        if parent is None or parent == index:
            roots.append(index)
        else:
            children[parent].append(index)
    return roots, children


# -- fingerprints -----------------------------------------------------------

_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def _outermost(event: Event) -> Exception_ | None:
    return event.exceptions[0] if event.exceptions else None


def _crash_function(event: Event) -> str | None:
    frame = crash_frame(event)
    return frame.function if frame else None


def _crash_module(event: Event) -> str | None:
    frame = crash_frame(event)
    return frame.module if frame else None


def _exception_type(event: Event) -> str | None:
    exception = _outermost(event)
    return exception.type if exception else None


def _exception_value(event: Event) -> str | None:
    exception = _outermost(event)
    return normalize_message(exception.value) if exception else None


_RESOLVERS: dict[str, Callable[[Event], str | None]] = {
    "type": _exception_type,
    "error.type": _exception_type,
    "value": _exception_value,
    "error.value": _exception_value,
    "function": _crash_function,
    "stack.function": _crash_function,
    "module": _crash_module,
    "stack.module": _crash_module,
    "level": lambda event: event.level,
    "logger": lambda event: event.logger,
    "transaction": lambda event: event.transaction,
    "message": lambda event: normalize_message(event.message or ""),
}


def _variable_value(event: Event, name: str) -> str:
    key = name.strip().lower()
    value: str | None
    if key.startswith("tags."):
        tag = name.strip()[5:].strip()
        key = f"tags.{tag}"
        value = event.tags.get(tag)
        if value is None:
            folded = tag.lower()
            value = next((v for k, v in event.tags.items() if k.lower() == folded), None)
    else:
        resolver = _RESOLVERS.get(key)
        value = resolver(event) if resolver else None
    return str(value) if value else f"<no-value-for-{key}>"


def _resolve_fingerprint(event: Event) -> tuple[list[str], bool]:
    """The resolved entries other than ``{{ default }}``, and whether it was there."""
    entries: list[str] = []
    uses_default = False
    for entry in event.fingerprint or []:
        text = str(entry)
        whole = _VARIABLE.fullmatch(text.strip())
        if whole and whole.group(1).strip().lower() == "default":
            uses_default = True
            continue
        entries.append(_VARIABLE.sub(lambda match: _variable_value(event, match.group(1)), text))
    return entries, uses_default
