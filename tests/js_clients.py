"""The real PostHog JavaScript clients, installed from ``tests/js/package.json``.

``.ci/run`` installs them with ``npm ci``; a test needing one skips when they
are not installed (``cd tests/js && npm ci``) or node is missing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "js"
NODE_MODULES = JS_DIR / "node_modules"
# The real Sentry browser SDK as one script a test page can load: window.Sentry,
# replayIntegration included (its npm build is ES modules only, hence esbuild).
SENTRY_BROWSER_ENTRY = 'import * as Sentry from "@sentry/browser";\nwindow.Sentry = Sentry;\n'
_bundles: dict[str, Path] = {}


def require(package: str) -> Path:
    """The package's directory, or skip the test saying how to install it."""
    found = NODE_MODULES / package
    if shutil.which("node") is None or not found.is_dir():
        pytest.skip(f"{package} is not installed: cd tests/js && npm ci")
    return found


def sentry_browser_bundle(tmp_dir: Path) -> Path:
    """``@sentry/browser`` as an IIFE that sets ``window.Sentry``; built once per session.

    Built with the pinned esbuild into ``tmp_dir`` the first time (about a
    second), then the same file is returned; it is named after the lockfile,
    so a changed pin is a new build.
    """
    require("@sentry/browser")
    esbuild = require("esbuild").parent / ".bin" / "esbuild"
    lock = hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()[:12]
    found = _bundles.get(lock)
    if found is not None and found.is_file():
        return found
    target = Path(tmp_dir) / f"sentry-browser-{lock}.js"
    subprocess.run(
        [str(esbuild), "--bundle", "--format=iife", "--target=es2020", "--log-level=warning",
         "--sourcefile=sentry-entry.js", f"--outfile={target}"],
        input=SENTRY_BROWSER_ENTRY, text=True, cwd=JS_DIR, check=True, timeout=120,
    )  # fmt: skip
    _bundles[lock] = target
    return target
