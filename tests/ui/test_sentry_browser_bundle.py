"""The Sentry browser SDK bundle the replay tests load (tests/js_clients.py) works in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.js_clients import sentry_browser_bundle

pytestmark = pytest.mark.ui


def test_the_bundle_exposes_sentry_with_replay(
    chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bundle = sentry_browser_bundle(tmp_path_factory.getbasetemp())
    assert sentry_browser_bundle(tmp_path_factory.mktemp("again")) == bundle, "built once"
    page = chromium.new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_content("<!doctype html><title>sentry</title>")
        page.add_script_tag(path=str(bundle))
        found = page.evaluate(
            """() => ({init: typeof Sentry.init, replay: typeof Sentry.replayIntegration,
                       version: Sentry.SDK_VERSION,
                       integration: Sentry.replayIntegration({maskAllText: true}).name})"""
        )
        assert errors == []
        assert found == {
            "init": "function",
            "replay": "function",
            "version": "11.12.0",
            "integration": "Replay",
        }
    finally:
        page.close()
