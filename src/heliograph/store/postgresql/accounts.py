"""Organizations, projects, ingest keys, users and their credentials (PostgreSQL).

The same rules as the SQLite backend (:mod:`heliograph.store.account_records`
holds what they share): secrets are stored only as SHA-256 digests, failed
logins are counted under digests of their keys. The reads, and the writes
every backend says alike, are :mod:`heliograph.store.account_reads`'s, in
PostgreSQL's dialect. Every write is one statement or one transaction that N
nodes may run at once: ids come from ``RETURNING`` (the writes left here), a
login link is spent by a single conditional ``UPDATE``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from heliograph.store.account_records import digest_secret
from heliograph.store.base import Organization, Project, UserAccount
from heliograph.store.postgresql.access import AccessMixin, scalar
from heliograph.store.postgresql.database import Connection


class AccountsMixin(AccessMixin):
    # -- organizations and projects --------------------------------------

    def create_organization(self, slug: str, name: str) -> Organization:
        org_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO organizations (slug, name, created_at) VALUES (%s, %s, %s) "
                "RETURNING id",
                (slug, name, time.time()),
            )
        )
        return Organization(org_id, slug, name, "allowed")

    def create_project(
        self, organization_id: int, slug: str, name: str, platform: str = "python"
    ) -> Project:
        project_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO projects (organization_id, slug, name, platform, created_at, "
                "address_salt) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (organization_id, slug, name, platform, time.time(), secrets.token_hex(16)),
            )
        )
        project = self.get_project_by_id(project_id)
        assert project is not None
        return project

    # -- users -------------------------------------------------------------

    def create_user(
        self, email: str, *, password_hash: str | None = None, is_superuser: bool = False
    ) -> UserAccount:
        user_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO users (email, password_hash, is_superuser, created_at) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (email.lower(), password_hash, int(is_superuser), time.time()),
            )
        )
        return UserAccount(user_id, email.lower(), is_superuser)

    # -- failed logins (login throttling) ----------------------------------

    def record_login_failure(self, keys: Sequence[str], at: float) -> None:
        rows = [(digest_secret(key), at) for key in dict.fromkeys(keys)]

        def write(conn: Connection) -> None:
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO login_failures (key, at) VALUES (%s, %s)", rows)

        self.db.write(write)
