"""A span and its logged messages in two concurrent batches still meet on PostgreSQL.

Without the generation's advisory lock, the span's batch would look for held
messages while the messages' batch had not committed, find none, and the
messages would wait forever for a span already stored. With it, the span's
batch waits for the other to commit and then finds them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from heliograph.llm_messages import GenerationMessages, span_event_id
from heliograph.store.base import DigestBatch
from heliograph.store.held_messages import hold
from heliograph.store.postgresql import PostgresStore
from heliograph.store.postgresql.message_locks import lock_generations
from heliograph.store.sql_dialect import POSTGRESQL
from tests.contract.builders import ai_event
from tests.postgres import PostgresCluster


@pytest.fixture
def url(postgres: PostgresCluster | None) -> Iterator[str]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    yield postgres.new_database()


def test_a_span_batch_waits_for_a_concurrent_messages_batch(url: str) -> None:
    store = PostgresStore(url)
    try:
        org = store.create_organization("acme", "Acme")
        project = store.create_project(org.id, "shop", "Shop")
        trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        event_id = span_event_id(trace_id, span_id)
        generation = ai_event(project.id, trace=trace_id, at=time.time(), event_id=event_id)
        generation.span_id = span_id
        group = GenerationMessages(
            project_id=project.id,
            trace_id=trace_id,
            span_id=span_id,
            received_at=time.time(),
            inputs=[{"role": "user", "content": "hello"}],
        )
        recorded = threading.Event()
        with psycopg.connect(url) as other, other.transaction():
            # The messages' batch, mid-transaction: locked, held, not committed.
            lock_generations(other, [(project.id, event_id)])
            hold(other, POSTGRESQL, [group])
            writer = threading.Thread(
                target=lambda: (store.record(DigestBatch(analytics=[generation])), recorded.set())
            )
            writer.start()
            assert not recorded.wait(1.0), "the span's batch did not wait for the lock"
        writer.join(timeout=30)
        assert recorded.is_set()
        stored = store.get_event(project.id, event_id)
        assert stored is not None
        assert stored.event.properties["$ai_input"] == [{"role": "user", "content": "hello"}]
    finally:
        store.close()
