"""Copy the pinned third-party browser assets into the Python package.

Heliograph never loads a script from a CDN: what the UI and the browser
snippet need from npm is pinned in ``frontend/package.json`` and
``package-lock.json``, installed with ``npm ci``, and copied by this script
into ``src/heliograph/web/static/vendor/``, licence texts included. The
copies are committed, so ``pip install .`` needs no node.

    cd frontend && npm ci && cd .. && python frontend/build.py          # refresh
    python frontend/build.py --check    # CI: the committed copies are what npm pinned

``--check`` exits 1 when a committed file differs from ``node_modules``, is
missing, or is left over from an asset no longer listed here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent
NODE_MODULES = FRONTEND / "node_modules"
VENDOR = FRONTEND.parent / "src" / "heliograph" / "web" / "static" / "vendor"

# (package, file inside it, where it goes under vendor/). Names are stable so
# templates and the snippet can refer to them; versions live in MANIFEST.json.
ASSETS = [
    # rrweb's UMD build holds both record() (the snippet) and Replayer (the player).
    ("rrweb", "dist/rrweb.umd.min.cjs", "rrweb.min.js"),
    ("rrweb", "dist/style.css", "rrweb.css"),
    # posthog-js fetches these from {api_host}/static/<name>.js when recording
    # starts; app.py serves them there (web/vendor.py).
    ("posthog-js", "dist/lazy-recorder.js", "posthog/lazy-recorder.js"),
    ("posthog-js", "dist/posthog-recorder.js", "posthog/posthog-recorder.js"),
    ("posthog-js", "dist/recorder.js", "posthog/recorder.js"),
]

# Licence texts that must travel with the copies: each package's own, and
# those of the packages the rrweb bundle inlines. rrweb's npm packages ship no
# LICENSE file, so its MIT text is kept here (frontend/licenses/rrweb.LICENSE).
LICENSES = [
    ("posthog-js", "LICENSE", "posthog/LICENSE"),
    (None, "licenses/rrweb.LICENSE", "licenses/rrweb.LICENSE"),
    ("@xstate/fsm", "LICENSE", "licenses/xstate-fsm.LICENSE"),
    ("base64-arraybuffer", "LICENSE", "licenses/base64-arraybuffer.LICENSE"),
    ("mitt", "LICENSE", "licenses/mitt.LICENSE"),
    ("postcss", "LICENSE", "licenses/postcss.LICENSE"),  # rrweb-snapshot's CSS rewriting
    ("nanoid", "LICENSE", "licenses/nanoid.LICENSE"),  # postcss's ids
]

MANIFEST = "MANIFEST.json"


def _version(package: str) -> str:
    data = json.loads((NODE_MODULES / package / "package.json").read_text())
    return str(data["version"])


def planned() -> dict[str, bytes]:
    """Every file vendor/ should hold, by its path there, with its content."""
    if not NODE_MODULES.is_dir():
        sys.exit(f"{NODE_MODULES} is missing: run `npm ci` in {FRONTEND} first")
    files: dict[str, bytes] = {}
    manifest: dict[str, dict[str, str]] = {}
    for package, source, target in ASSETS + LICENSES:
        origin = FRONTEND / source if package is None else NODE_MODULES / package / source
        content = origin.read_bytes()
        files[target] = content
        manifest[target] = {
            "package": package or "rrweb",
            "version": _version(package or "rrweb"),
            "source": source if package is None else f"{package}/{source}",
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    header = {"_generated_by": "frontend/build.py from frontend/package-lock.json; do not edit"}
    files[MANIFEST] = (json.dumps({**header, **manifest}, indent=2, sort_keys=True) + "\n").encode()
    return files


def present() -> set[str]:
    if not VENDOR.is_dir():
        return set()
    return {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}


def build() -> None:
    files = planned()
    for stale in present() - files.keys():
        (VENDOR / stale).unlink()
    for name, content in files.items():
        target = VENDOR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)
    print(f"vendored {len(files)} files into {VENDOR}")


def check() -> int:
    files = planned()
    problems = [f"stale: {name}" for name in sorted(present() - files.keys())]
    for name, content in sorted(files.items()):
        target = VENDOR / name
        if not target.is_file():
            problems.append(f"missing: {name}")
        elif target.read_bytes() != content:
            problems.append(f"differs from node_modules: {name}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run: (cd frontend && npm ci) && python frontend/build.py", file=sys.stderr)
        return 1
    print(f"{len(files)} vendored files match frontend/node_modules")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    if parser.parse_args().check:
        return check()
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
