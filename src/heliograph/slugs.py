"""What an organization or project slug may be, checked once for the CLI, API and UI.

Slugs are path segments (``/{org}/{project}/issues/``) and Sentry SDKs never
see them, so they follow Sentry's rule: lowercase letters, digits, ``-`` and
``_``, starting with a letter or digit. A slug with a space or a slash would
make URLs nobody can type; one starting with ``~`` is reserved for deleted
projects (see :func:`heliograph.store.account_records.tombstone_slug`).
"""

from __future__ import annotations

import re

__all__ = ["MAX_SLUG", "SlugError", "check_slug", "slug_from_name"]

MAX_SLUG = 50
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Would shadow the pages that are not per project (``/orgs/…``, ``/issues/…``).
_RESERVED = frozenset({"orgs", "issues", "account", "login", "logout", "api", "static"})


class SlugError(ValueError):
    """A slug that cannot be used; the message says why, in one line."""


def check_slug(value: str, what: str = "slug") -> str:
    """``value`` when it is a usable slug, else :class:`SlugError`."""
    if not value:
        raise SlugError(f"the {what} is empty")
    if len(value) > MAX_SLUG:
        raise SlugError(f"the {what} {value!r} is longer than {MAX_SLUG} characters")
    if not _SLUG.fullmatch(value):
        raise SlugError(
            f"the {what} {value!r} may have only lowercase letters, digits, '-' and '_', "
            "and must start with a letter or digit"
        )
    if value in _RESERVED:
        raise SlugError(f"the {what} {value!r} is reserved")
    return value


def slug_from_name(name: str) -> str:
    """A slug made from a display name (``"My App"`` -> ``my-app``), for forms left blank."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug[:MAX_SLUG].rstrip("-_")
