"""Retention of persons beside a digest batch on PostgreSQL.

A digest batch updating a person holds the project's people lock (shared) and
the person's row until it commits; a retention write that deletes persons
takes that lock exclusively, so it waits, then sees the person active and
keeps them (before, it deleted their distinct ids at once and the person as
soon as the batch committed: an active person gone).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from heliograph.model import Event
from heliograph.store.base import DigestBatch
from heliograph.store.postgresql import PostgresStore
from tests.postgres import PostgresCluster

PEOPLE_LOCK = 0x48504C  # the key digest and retention share (store/postgresql/people_lock.py)


@pytest.fixture
def database(postgres: PostgresCluster | None) -> Iterator[tuple[PostgresStore, str]]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    url = postgres.new_database()
    store = PostgresStore(url)
    yield store, url
    store.close()


def test_retention_waits_for_a_batch_updating_the_person(
    database: tuple[PostgresStore, str],
) -> None:
    store, url = database
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    old = time.time() - 400 * 86400
    seen = Event(
        project_id=project.id, event_id=uuid.uuid4().hex, timestamp=old, received_at=old,
        kind="analytics", name="seen", distinct_id="ada",
    )  # fmt: skip
    store.record(DigestBatch(analytics=[seen]))
    person = store.person_by_distinct_id(project.id, "ada")
    assert person is not None
    report: list[int] = []
    with psycopg.connect(url) as batch:  # a digest batch, part-way through
        batch.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, %s)", (PEOPLE_LOCK, project.id & 0x7FFFFFFF)
        )
        batch.execute("SELECT id FROM persons WHERE id = %s FOR UPDATE", (person.id,))
        batch.execute("UPDATE persons SET last_seen = %s WHERE id = %s", (time.time(), person.id))
        purge = threading.Thread(
            target=lambda: report.append(sum(p.people for p in store.purge_expired().projects))
        )
        purge.start()
        time.sleep(1.0)
        batch.commit()
    purge.join(timeout=30)
    assert report == [0]
    kept = store.person_by_distinct_id(project.id, "ada")
    assert kept is not None and kept.id == person.id and kept.distinct_ids == ("ada",)
