"""Shared fixtures: a clean SDK per test and a local capture server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sdk_testing import CaptureServer

from heliograph_sdk import _env, _hub


@pytest.fixture(autouse=True)
def clean_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("HELIOGRAPH_"):
            monkeypatch.delenv(name)
    _hub.reset_for_tests()
    _env.reset_warnings()
    yield
    _hub.reset_for_tests()


@pytest.fixture
def server() -> Iterator[CaptureServer]:
    capture = CaptureServer()
    yield capture
    capture.close()


@pytest.fixture
def sdk(server: CaptureServer) -> Callable[..., CaptureServer]:
    """``sdk(**init_kwargs)``: init against the capture server; returns the server."""
    import heliograph_sdk

    def start(**kwargs: Any) -> CaptureServer:
        kwargs.setdefault("api_key", "phc_test")
        kwargs.setdefault("host", server.url)
        kwargs.setdefault("flush_interval", 0.05)
        kwargs.setdefault("install_hooks", False)
        assert heliograph_sdk.init(**kwargs)
        return server

    return start
