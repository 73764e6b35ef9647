"""Organizations, projects, ingest keys, users and their credentials (SQLite).

Secrets we hand out (API tokens, session ids, login links) are random and
stored only as SHA-256 digests: a copy of the database does not let anyone
log in. Failed logins (login throttling) are counted under digests of their
keys, which name an email and an address. Passwords use argon2 (see
:mod:`heliograph.auth`). The reads, and the writes every backend says alike,
are :mod:`heliograph.store.account_reads`'s; memberships and teams are in
:mod:`heliograph.store.sqlite.access`; what the backends share (digests,
scopes, the project row) in :mod:`heliograph.store.account_records`. What is
left here is what SQLite writes its own way (new ids from ``lastrowid``).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Sequence

from heliograph.store.account_records import digest_secret
from heliograph.store.base import Organization, Project, UserAccount
from heliograph.store.sqlite.access import AccessMixin


class AccountsMixin(AccessMixin):
    # -- organizations and projects --------------------------------------

    def create_organization(self, slug: str, name: str) -> Organization:
        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO organizations (slug, name, created_at) VALUES (?, ?, ?)",
                (slug, name, time.time()),
            )
            return cursor.lastrowid or 0

        org_id = self.db.write(write)
        return Organization(org_id, slug, name, "allowed")

    def create_project(
        self, organization_id: int, slug: str, name: str, platform: str = "python"
    ) -> Project:
        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO projects (organization_id, slug, name, platform, created_at, "
                "address_salt) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (organization_id, slug, name, platform, time.time(), secrets.token_hex(16)),
            )
            return cursor.lastrowid or 0

        project_id = self.db.write(write)
        project = self.get_project_by_id(project_id)
        assert project is not None
        return project

    # -- users -------------------------------------------------------------

    def create_user(
        self, email: str, *, password_hash: str | None = None, is_superuser: bool = False
    ) -> UserAccount:
        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO users (email, password_hash, is_superuser, created_at) "
                "VALUES (?, ?, ?, ?)",
                (email.lower(), password_hash, int(is_superuser), time.time()),
            )
            return cursor.lastrowid or 0

        return UserAccount(self.db.write(write), email.lower(), is_superuser)

    # -- failed logins (login throttling) ----------------------------------

    def record_login_failure(self, keys: Sequence[str], at: float) -> None:
        rows = [(digest_secret(key), at) for key in dict.fromkeys(keys)]
        self.db.write(
            lambda c: c.executemany("INSERT INTO login_failures (key, at) VALUES (?, ?)", rows)
        )
