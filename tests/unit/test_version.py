"""One version, written once (``heliograph.__version__``), shown everywhere it is asked for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from heliograph import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_version_is_read_from_heliograph_version() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    source = ROOT / project["tool"]["hatch"]["version"]["path"]
    assert re.search(rf'^__version__ = "{re.escape(__version__)}"$', source.read_text(), re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_heliograph_version_prints_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "heliograph", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout == f"heliograph {__version__}\n"


def test_every_page_has_it_in_its_footer() -> None:
    from heliograph.web.templating import templates

    page = templates.env.get_template("base.html").render(user=None)
    assert f'<footer class="site-footer">Heliograph {__version__}</footer>' in page
