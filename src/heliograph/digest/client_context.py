"""Which browser, OS and device an error happened on: from the SDK, else its User-Agent.

Sentry's browser SDKs send the request's ``User-Agent`` header and leave the
rest to the server; posthog-js sends ``$browser``, ``$os`` and their versions,
and ``$raw_user_agent``. Whatever the client said is kept; what it did not say
is read from the User-Agent with uap-python (``ua-parser``, the maintained
port of the ua-parser regexes). The result goes where Sentry puts it: the
``browser``, ``os`` and ``device`` contexts (cards on the issue page) and the
``browser``, ``browser.name``, ``os``, ``os.name`` and ``device`` tags, which
the issue's tag breakdown and search read.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ua_parser import parse

from heliograph.model import Event

__all__ = ["apply_client_context", "describe_user_agent", "user_agent_of", "user_agent_parts"]

# Longer User-Agent headers are cut before parsing (no real one comes close).
_MAX_USER_AGENT = 1024
_UNKNOWN = "Other"


def user_agent_of(event: Event) -> str | None:
    """The client's User-Agent: the request's header, or posthog-js's ``$raw_user_agent``."""
    headers = (event.request or {}).get("headers")
    pairs: Any = headers.items() if isinstance(headers, Mapping) else headers
    if isinstance(pairs, list | tuple) or hasattr(pairs, "__iter__"):
        for pair in pairs or ():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                name, value = pair
                if str(name).lower() == "user-agent" and isinstance(value, str) and value:
                    return value[:_MAX_USER_AGENT]
    raw = event.properties.get("$raw_user_agent")
    return raw[:_MAX_USER_AGENT] if isinstance(raw, str) and raw else None


def _version(*parts: str | None) -> str | None:
    found = [part for part in parts if part]
    return ".".join(found) or None


@lru_cache(maxsize=4096)
def _parsed(user_agent: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(browser, os, device) contexts of a User-Agent; empty where it says nothing."""
    result = parse(user_agent)
    browser: dict[str, str] = {}
    if result.user_agent and result.user_agent.family != _UNKNOWN:
        browser["name"] = result.user_agent.family
        version = _version(
            result.user_agent.major, result.user_agent.minor, result.user_agent.patch
        )
        if version:
            browser["version"] = version
    system: dict[str, str] = {}
    if result.os and result.os.family != _UNKNOWN:
        system["name"] = result.os.family
        version = _version(result.os.major, result.os.minor, result.os.patch)
        if version:
            system["version"] = version
    device: dict[str, str] = {}
    if result.device and result.device.family != _UNKNOWN:
        device["family"] = result.device.family
        if result.device.brand:
            device["brand"] = result.device.brand
        if result.device.model:
            device["model"] = result.device.model
    return browser, system, device


def describe_user_agent(user_agent: str) -> tuple[str | None, str | None, str | None]:
    """A User-Agent's browser and OS (with major versions) and device, for a replay's row."""
    browser, system, device = _parsed(user_agent[:_MAX_USER_AGENT])

    def named(context: dict[str, str]) -> str | None:
        if not context.get("name"):
            return None
        major = (context.get("version") or "").split(".")[0]
        return f"{context['name']} {major}".strip()[:100]

    return named(browser), named(system), device.get("family")


def user_agent_parts(user_agent: str) -> tuple[str | None, str | None, str | None]:
    """(browser, OS, device family) a User-Agent names, None where it names none.

    The web analytics rollups read it for events whose SDK sent no ``$browser``
    or ``$os`` (cached, like the error path's parsing).
    """
    browser, system, device = _parsed(user_agent[:_MAX_USER_AGENT])
    return browser.get("name"), system.get("name"), device.get("family")


def _from_properties(event: Event) -> tuple[dict[str, str], dict[str, str]]:
    """posthog-js's own view of the browser and OS (``$browser``, ``$os`` and versions)."""
    props = event.properties
    browser: dict[str, str] = {}
    system: dict[str, str] = {}
    if isinstance(props.get("$browser"), str) and props["$browser"]:
        browser["name"] = props["$browser"][:100]
        if props.get("$browser_version") is not None:
            browser["version"] = str(props["$browser_version"])[:50]
    if isinstance(props.get("$os"), str) and props["$os"]:
        system["name"] = props["$os"][:100]
        if props.get("$os_version") is not None:
            system["version"] = str(props["$os_version"])[:50]
    return browser, system


def apply_client_context(event: Event) -> None:
    """Fill the browser, OS and device contexts and tags the client did not send."""
    browser, system = _from_properties(event)
    device: dict[str, str] = {}
    user_agent = user_agent_of(event)
    if user_agent:
        parsed_browser, parsed_os, device = _parsed(user_agent)
        browser = browser or parsed_browser
        system = system or parsed_os
    for name, values in (("browser", browser), ("os", system), ("device", device)):
        existing = event.contexts.get(name)
        if values and not (isinstance(existing, Mapping) and existing):
            event.contexts[name] = {"type": name, **values}
    _tag(event, "browser", "browser")
    _tag(event, "os", "os")
    device_context = event.contexts.get("device")
    if isinstance(device_context, Mapping) and device_context.get("family"):
        event.tags.setdefault("device", str(device_context["family"])[:200])


def _tag(event: Event, context: str, tag: str) -> None:
    found = event.contexts.get(context)
    if not isinstance(found, Mapping) or not isinstance(found.get("name"), str):
        return
    name = found["name"][:100]
    version = found.get("version")
    event.tags.setdefault(f"{tag}.name", name)
    event.tags.setdefault(tag, f"{name} {version}"[:200] if version else name)
