"""A ``$pageview`` event as the facts the web analytics rollups count.

posthog-js sends ``$pathname``, ``$current_url``, ``$referrer``,
``$referring_domain``, ``$browser``, ``$os``, ``$device_type`` and
``$session_id``; the Heliograph snippet sends the page's URL, path and
referrer but no browser (nor session); server SDKs often send only a URL.
``$geoip_country_code`` is set at ingest when a GeoIP database is configured
(:mod:`heliograph.ingest.geoip`), or by a server SDK itself.
:func:`pageview_of` reads what there is, falls back on the User-Agent
(``$raw_user_agent``, parsed as error events are,
:func:`heliograph.digest.client_context.user_agent_parts`) and gives every
pageview a visitor and a session key, so that every backend counts the
same thing. Every value is cut to a bounded length: a hostile client can
add rows, never long ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from heliograph.digest.client_context import user_agent_of, user_agent_parts
from heliograph.model import Event
from heliograph.store.web_records import MAX_VALUE_TEXT

__all__ = ["DIRECT", "PAGEVIEW", "UNKNOWN", "Pageview", "pageview_of"]

PAGEVIEW = "$pageview"
DIRECT = "$direct"
UNKNOWN = "Unknown"
# Longer URLs are cut before parsing: no real page address comes close.
_MAX_URL = 2048
_SECONDS_PER_DAY = 86400


@dataclass(frozen=True, slots=True)
class Pageview:
    """What one pageview adds to the rollups."""

    project_id: int
    timestamp: float
    visitor: str
    session: str
    path: str
    referrer: str
    browser: str
    os: str
    device: str
    # ISO 3166 alpha-2, upper case; None when unknown (no row: the dashboard
    # shows countries only where some are known).
    country: str | None = None

    def dimensions(self) -> tuple[tuple[str, str], ...]:
        """(dimension, value) pairs, in :data:`~heliograph.store.web_records.WEB_DIMENSIONS`."""
        found = (
            ("page", self.path),
            ("referrer", self.referrer),
            ("browser", self.browser),
            ("os", self.os),
            ("device", self.device),
        )
        return found if self.country is None else (*found, ("country", self.country))


def _text(value: Any) -> str | None:
    """A non-empty string property, cut, NULs as U+FFFD (how PostgreSQL stores them)."""
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_VALUE_TEXT].replace("\x00", "\ufffd")
    return None


def _url(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return None
    try:
        return urlsplit(value[:_MAX_URL])
    except ValueError:  # an invalid IPv6 host, say
        return None


def _path(properties: dict[str, Any]) -> str:
    path = _text(properties.get("$pathname"))
    if path is None:
        parts = _url(properties.get("$current_url"))
        path = parts.path if parts is not None else None
    if not path:
        return "/"
    return path[:MAX_VALUE_TEXT].replace("\x00", "\ufffd")


def _referrer(properties: dict[str, Any]) -> str:
    domain = _text(properties.get("$referring_domain"))
    if domain and domain != DIRECT:
        return domain.lower()
    referrer = properties.get("$referrer")
    if referrer == DIRECT or domain == DIRECT:
        return DIRECT
    parts = _url(referrer)
    host = (parts.hostname if parts is not None else None) or None
    return host[:MAX_VALUE_TEXT].replace("\x00", "\ufffd") if host else DIRECT


def _country(properties: dict[str, Any]) -> str | None:
    """``$geoip_country_code`` if it is two letters (a client may send anything)."""
    code = properties.get("$geoip_country_code")
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return code.upper()
    return None


def _device_type(browser: str | None, system: str | None, family: str | None) -> str:
    if family and ("ipad" in family.lower() or "tablet" in family.lower()):
        return "Tablet"
    if system in ("iOS", "Android") or (
        family and family.lower() in ("iphone", "generic smartphone")
    ):
        return "Mobile"
    return "Desktop" if browser else UNKNOWN


def _client(event: Event) -> tuple[str, str, str]:
    properties = event.properties
    browser = _text(properties.get("$browser"))
    system = _text(properties.get("$os"))
    device = _text(properties.get("$device_type"))
    if browser is None or system is None or device is None:
        user_agent = user_agent_of(event)
        if user_agent:
            parsed_browser, parsed_os, family = user_agent_parts(user_agent)
            browser = browser or parsed_browser
            system = system or parsed_os
            device = device or _device_type(browser, system, family)
    return browser or UNKNOWN, system or UNKNOWN, device or UNKNOWN


def pageview_of(event: Event) -> Pageview | None:
    """The facts of a ``$pageview`` event; None for any other event.

    The visitor is the distinct id (a visitor who logs in part-way counts
    twice: the rollups are written once, before any merge). The session is
    ``$session_id``; without one, the visitor's UTC day; without a distinct
    id either, the event alone.
    """
    if event.kind != "analytics" or event.name != PAGEVIEW:
        return None
    properties = event.properties
    distinct_id = _text(event.distinct_id)
    visitor = distinct_id or event.event_id
    session = _text(properties.get("$session_id")) or _text(event.session_id)
    if session:
        session_key = f"s:{session}"
    elif distinct_id:
        session_key = f"d:{distinct_id}:{int(event.timestamp // _SECONDS_PER_DAY)}"
    else:
        session_key = f"e:{event.event_id}"
    browser, system, device = _client(event)
    return Pageview(
        project_id=event.project_id,
        timestamp=event.timestamp,
        visitor=visitor,
        session=session_key,
        path=_path(properties),
        referrer=_referrer(properties),
        browser=browser,
        os=system,
        device=device,
        country=_country(properties),
    )
