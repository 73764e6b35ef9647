"""After os.fork() the child gets its own queue and thread, lazily."""

from __future__ import annotations

import os
import sys
import threading

import pytest

import heliograph_sdk
from heliograph_sdk import _hub


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_forked_child_captures_and_flushes(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(flush_interval=30)
    heliograph_sdk.capture("parent-before-fork")  # queued, not yet sent
    assert _hub.client is not None
    parent_anonymous = _hub.client.anonymous_id
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            client = _hub.client
            ok = (
                client is not None
                and len(client.transport._queue) == 0
                and client.transport._thread is None
                and not any(t.name == "heliograph-sdk" for t in threading.enumerate())
            )
            heliograph_sdk.capture("from-child", {"pid": os.getpid()})
            code = 0 if ok and heliograph_sdk.flush(5) else 1
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    heliograph_sdk.capture("parent-after-fork")
    assert heliograph_sdk.flush(5)
    (child_event,) = server.named("from-child")
    assert child_event["properties"]["pid"] == pid
    assert child_event["distinct_id"] != parent_anonymous  # a process has its own id
    assert len(server.named("parent-before-fork")) == 1  # not sent twice
    assert len(server.named("parent-after-fork")) == 1
