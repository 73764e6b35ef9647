"""Who and where: user, tags, contexts, breadcrumbs and the current request.

One global scope serves scripts and workers; ``isolated_scope()`` forks it for
a block (the ASGI middleware gives each request its own) through a
``ContextVar``, so it follows asyncio tasks and copied contexts.

Fields are replaced, never mutated in place (except the bounded breadcrumb
deque), so a capture takes a consistent snapshot by reading references: the
hot path pays for attribute loads, not copies.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from heliograph_sdk._scrub import scrub

MAX_BREADCRUMBS = 100
# Flag values a scope remembers for its errors (the most recent; as Sentry keeps).
MAX_FLAGS = 100

_EMPTY: Mapping[str, Any] = {}


def filter_user(user: Mapping[str, Any], mode: str) -> tuple[str | None, dict[str, Any] | None]:
    """The distinct id and the ``$user`` object allowed to travel under ``mode``.

    ``none``: nothing; ``id``: the id; ``email``: id and email; ``full``: every
    attribute given to ``set_user`` (secret-looking ones scrubbed).
    """
    if mode == "none" or not user:
        return None, None
    user_id = user.get("id")
    view: dict[str, Any] = {}
    if user_id is not None:
        view["id"] = str(user_id)
    if mode in ("email", "full") and user.get("email"):
        view["email"] = str(user["email"])
    if mode == "full":
        for key, value in user.items():
            if key not in ("id", "email") and value is not None:
                view[key] = value
        view = scrub(view)
    distinct = view.get("id") or view.get("email")
    return distinct, (view or None)


class Scope:
    """Mutable holder of immutable snapshots; see the module docstring."""

    __slots__ = (
        "breadcrumbs",
        "contexts",
        "distinct_id",
        "flags",
        "request",
        "tags",
        "user",
        "user_raw",
    )

    def __init__(self, parent: Scope | None = None) -> None:
        self.breadcrumbs: deque[dict[str, Any]] = deque(
            parent.breadcrumbs if parent else (), maxlen=MAX_BREADCRUMBS
        )
        self.user_raw: Mapping[str, Any] = parent.user_raw if parent else _EMPTY
        self.distinct_id: str | None = parent.distinct_id if parent else None
        self.user: dict[str, Any] | None = parent.user if parent else None
        self.tags: Mapping[str, str] = parent.tags if parent else _EMPTY
        self.contexts: Mapping[str, Any] = parent.contexts if parent else _EMPTY
        # Feature flag values evaluated here, the most recent MAX_FLAGS: errors carry them.
        self.flags: Mapping[str, Any] = parent.flags if parent else _EMPTY
        # A mapping, or an object with ``to_dict()`` rendered only if an error is sent.
        self.request: Any = parent.request if parent else None

    def set_user(self, user: Mapping[str, Any], mode: str) -> None:
        self.user_raw = dict(user)
        self.distinct_id, self.user = filter_user(self.user_raw, mode)

    def refilter(self, mode: str) -> None:
        self.distinct_id, self.user = filter_user(self.user_raw, mode)

    def set_tag(self, key: str, value: object) -> None:
        self.tags = {**self.tags, str(key): str(value)}

    def set_context(self, name: str, value: Mapping[str, Any] | None) -> None:
        contexts = dict(self.contexts)
        if value is None:
            contexts.pop(name, None)
        else:
            contexts[name] = dict(value)
        self.contexts = contexts

    def record_flag(self, key: str, value: Any) -> None:
        flags = {name: found for name, found in self.flags.items() if name != key}
        flags[key] = value
        while len(flags) > MAX_FLAGS:
            flags.pop(next(iter(flags)))
        self.flags = flags

    def add_breadcrumb(self, crumb: dict[str, Any]) -> None:
        crumb.setdefault("timestamp", time.time())
        self.breadcrumbs.append(crumb)

    def clear(self) -> None:
        self.breadcrumbs.clear()
        self.user_raw = _EMPTY
        self.distinct_id = None
        self.user = None
        self.tags = _EMPTY
        self.contexts = _EMPTY
        self.flags = _EMPTY
        self.request = None


global_scope = Scope()
_current: ContextVar[Scope | None] = ContextVar("heliograph_scope", default=None)


def current_scope() -> Scope:
    """The innermost isolated scope, or the global one."""
    return _current.get() or global_scope


@contextmanager
def isolated_scope() -> Iterator[Scope]:
    """Run a block with its own copy of the scope (user, tags, breadcrumbs…).

    Changes made inside (``set_user``, ``set_tag``…) stay inside; the
    enclosing scope is untouched. The ASGI middleware wraps every request in
    one, so one user's identity never leaks into another's events.
    """
    scope = Scope(current_scope())
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
