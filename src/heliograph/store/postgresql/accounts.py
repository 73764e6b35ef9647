"""Organizations, projects, keys, users, tokens, sessions (PostgreSQL)."""

from __future__ import annotations

from heliograph.store.postgresql.access import AccessMixin


class AccountsMixin(AccessMixin):
    pass
