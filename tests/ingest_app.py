"""The ASGI app in-process, with digest run on demand: for ingest-edge tests.

No server process and no background digest: requests go through starlette's
``TestClient`` and :meth:`IngestApp.digest` drains the queue in the test's own
thread, so a test sees exactly what was queued and what got stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.digest.worker import DigestWorker
from heliograph.runtime import Runtime
from heliograph.store.base import StoredEvent


class IngestApp:
    def __init__(
        self, runtime: Runtime, client: TestClient, public_key: str, project_id: int, api_token: str
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.public_key = public_key
        self.project_id = project_id
        self.api_token = api_token
        self.worker = DigestWorker(runtime.queue, runtime.store)

    def digest(self) -> None:
        """Digest everything queued; a payload that breaks a batch fails the test."""
        self.worker.drain(timeout=60)
        assert self.runtime.queue.depth == 0, "digest left payloads in the queue"

    def stored(self, event_id: str) -> StoredEvent | None:
        return self.runtime.store.get_event(self.project_id, event_id)


@contextmanager
def ingest_app(data_dir: Path) -> Iterator[IngestApp]:
    settings = Settings(data_dir=data_dir)
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        runtime.keys.reload()
        client = TestClient(create_app(settings, runtime), raise_server_exceptions=False)
        assert welcome.api_token is not None
        yield IngestApp(runtime, client, welcome.public_key, welcome.project.id, welcome.api_token)
    finally:
        runtime.close()
