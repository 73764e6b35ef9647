"""PostgreSQL schema migrations: once, whoever starts first, and without superuser rights.

N nodes start at once against one database; each runs the migrations at
open, under an advisory lock. Deployments often hand Heliograph a role that
owns its tables but may not add extensions: the schema must still come up.
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from heliograph.store.base import IssueFilter, SchemaTooNew
from heliograph.store.postgresql import PostgresStore
from heliograph.store.postgresql.schema import MIGRATIONS
from tests.contract.builders import error, record_errors
from tests.postgres import PostgresCluster


def test_nodes_opening_a_new_database_at_once_migrate_it_once(
    postgres: PostgresCluster | None,
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    url = postgres.new_database()
    opened: list[PostgresStore] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresStore(url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert failures == [] and len(opened) == 4
        with psycopg.connect(url) as conn:
            versions = conn.execute("SELECT version FROM heliograph_schema").fetchall()
        assert versions == [(len(MIGRATIONS),)]
    finally:
        for store in opened:
            store.close()


def test_a_role_that_may_not_add_extensions_still_gets_a_working_store(
    postgres: PostgresCluster | None,
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    admin_url = postgres.new_database()
    database = admin_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE app LOGIN")
        conn.execute(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC')
        conn.execute("GRANT ALL ON SCHEMA public TO app")
    store = PostgresStore(admin_url.replace("heliograph@", "app@", 1))
    try:
        org = store.create_organization("acme", "Acme")
        project = store.create_project(org.id, "shop", "Shop")
        record_errors(store, error(project.id, "g", title="KeyError: 'user_id'"))
        issues, _ = store.list_issues(
            IssueFilter(project.id, query="keyerror"), limit=10, cursor=None
        )
        assert [issue.group_hash for issue in issues] == ["g"]
    finally:
        store.close()
    with psycopg.connect(admin_url) as conn:
        extensions = conn.execute("SELECT extname FROM pg_extension").fetchall()
    assert ("pg_trgm",) not in extensions  # it could not be added, and nothing broke


def test_a_database_a_newer_release_migrated_is_refused(postgres: PostgresCluster | None) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    url = postgres.new_database()
    PostgresStore(url).close()
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE heliograph_schema SET version = %s", (len(MIGRATIONS) + 1,))
    with pytest.raises(SchemaTooNew) as refused:
        PostgresStore(url)
    message = str(refused.value)
    assert f"schema {len(MIGRATIONS) + 1}" in message
    assert f"which knows up to {len(MIGRATIONS)}" in message and "upgrade heliograph" in message
    assert "PostgreSQL" in message and url.split("@")[-1] in message
    assert url.split("@")[0] not in message  # the user (and a password) stay out of it
    with psycopg.connect(url) as conn:
        versions = conn.execute("SELECT version FROM heliograph_schema").fetchall()
    assert versions == [(len(MIGRATIONS) + 1,)]
