"""The Jinja environment and the small filters the templates use.

Autoescaping is on for every template (all of them are ``.html``) and no
template uses ``|safe``: event data is attacker-controlled, so it is only
ever rendered as text. Times are shown relative ("3 min ago") with the exact
UTC time in a ``title`` attribute.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import orjson
from starlette.templating import Jinja2Templates

from heliograph import __version__

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

_UNITS = (("y", 365 * 86400), ("mo", 30 * 86400), ("d", 86400), ("h", 3600), ("min", 60))


def reltime(ts: float | None, now: float | None = None) -> str:
    """``"5 min ago"``, ``"3d ago"``; ``"just now"`` under a minute."""
    if ts is None:
        return "—"
    delta = (time.time() if now is None else now) - ts
    future = delta < 0
    delta = abs(delta)
    if delta < 60:
        return "just now"
    for unit, seconds in _UNITS:
        if delta >= seconds:
            amount = int(delta // seconds)
            text = f"{amount} {unit}" if unit == "min" else f"{amount}{unit}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"  # pragma: no cover - the loop always returns


def abstime(ts: float | None, precise: bool = False) -> str:
    """``"2024-05-01 14:03:22 UTC"`` (milliseconds when ``precise``)."""
    if ts is None:
        return ""
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    if precise:
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def isotime(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


def clocktime(ts: float | None) -> str:
    """``"14:03:22.123"``: breadcrumb times, where the date is the event's."""
    if ts is None:
        return ""
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def compact(number: int | None) -> str:
    """``1234`` -> ``"1.2k"``, ``2_500_000`` -> ``"2.5M"``; exact below 10 000."""
    if number is None:
        return "0"
    if number < 10_000:
        return f"{number:,}"
    for suffix, size in (("B", 1_000_000_000), ("M", 1_000_000), ("k", 1_000)):
        if number >= size:
            value = number / size
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return str(number)  # pragma: no cover


def to_json(value: Any, pretty: bool = True) -> str:
    """Any stored value as JSON text (non-JSON values fall back to ``str``)."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS, default=str).decode()


@cache
def static_version(name: str) -> str:
    """A short content hash, so browsers may cache ``/static`` files forever-ish."""
    path = STATIC_DIR / name
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return __version__


def static_url(name: str) -> str:
    return f"/static/{name}?v={static_version(name)}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        reltime=reltime,
        abstime=abstime,
        isotime=isotime,
        clocktime=clocktime,
        compact=compact,
        to_json=to_json,
    )
    # heliograph_version: the footer's, under a name no page's own variables take.
    env.globals.update(static_url=static_url, version=__version__, heliograph_version=__version__)
    return env


templates = Jinja2Templates(env=_environment())
