"""The real PostHog JavaScript clients, installed from ``tests/js/package.json``.

``.ci/run`` installs them with ``npm ci``; a test needing one skips when they
are not installed (``cd tests/js && npm ci``) or node is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "js"
NODE_MODULES = JS_DIR / "node_modules"


def require(package: str) -> Path:
    """The package's directory, or skip the test saying how to install it."""
    found = NODE_MODULES / package
    if shutil.which("node") is None or not found.is_dir():
        pytest.skip(f"{package} is not installed: cd tests/js && npm ci")
    return found
