"""The module-level functions users call: thin, never raising, no-ops when off.

Each one fetches the current client (``None`` when the SDK is off) and hands
over. Failures inside the SDK are swallowed and logged at debug level on the
``heliograph_sdk`` logger: instrumentation must never break the application.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from heliograph_sdk import _hub
from heliograph_sdk._config import resolve
from heliograph_sdk._prompts import Content, Prompt, fallback_prompt
from heliograph_sdk._scope import current_scope

logger = logging.getLogger("heliograph_sdk")


def init(
    api_key: str | None = None,
    *,
    host: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    identify: str | None = None,
    llm_payloads: bool | None = None,
    llm_payload_max_chars: int | None = None,
    opt_out: bool | None = None,
    capture_locals: bool = False,
    in_app_include: Sequence[str] = (),
    in_app_exclude: Sequence[str] = (),
    install_hooks: bool = True,
    browser_host: str | None = None,
    flags_token: str | None = None,
    flags_poll_interval: float = 30.0,
    flags_timeout: float = 1.0,
    prompts_token: str | None = None,
    prompt_cache_ttl: float = 60.0,
    prompt_timeout: float = 2.0,
    max_queue_size: int = 10_000,
    batch_size: int = 100,
    flush_interval: float = 0.5,
    request_timeout: float = 10.0,
    max_retries: int = 6,
    shutdown_timeout: float = 2.0,
    client_report_interval: float = 60.0,
) -> bool:
    """Configure the SDK; returns whether it is on.

    Arguments override the ``HELIOGRAPH_*`` environment variables. Without an
    API key (argument or ``HELIOGRAPH_API_KEY``), or with opt-out, the SDK is
    off: nothing is started and every call returns at once. Calling ``init``
    again replaces the previous configuration (flushing what it queued).
    """
    settings = resolve(
        api_key=api_key,
        host=host,
        environment=environment,
        release=release,
        identify=identify,
        llm_payloads=llm_payloads,
        llm_payload_max_chars=llm_payload_max_chars,
        opt_out=opt_out,
        capture_locals=capture_locals,
        in_app_include=in_app_include,
        in_app_exclude=in_app_exclude,
        install_hooks=install_hooks,
        browser_host=browser_host,
        flags_token=flags_token,
        flags_poll_interval=flags_poll_interval,
        flags_timeout=flags_timeout,
        prompts_token=prompts_token,
        prompt_cache_ttl=prompt_cache_ttl,
        prompt_timeout=prompt_timeout,
        max_queue_size=max_queue_size,
        batch_size=batch_size,
        flush_interval=flush_interval,
        request_timeout=request_timeout,
        max_retries=max_retries,
        shutdown_timeout=shutdown_timeout,
        client_report_interval=client_report_interval,
    )
    client = _hub.install(settings)
    if client is not None and settings.install_hooks:
        from heliograph_sdk._hooks import install_excepthooks

        install_excepthooks()
    return client is not None


def is_enabled() -> bool:
    """True when events are being sent (an API key is configured and no opt-out)."""
    return _hub.current() is not None


def capture(
    event: str, properties: Mapping[str, Any] | None = None, *, distinct_id: str | None = None
) -> None:
    """Queue an analytics event. Microseconds; never blocks, never raises."""
    client = _hub.client if _hub.resolved else _hub.current()
    if client is not None:
        try:
            client.capture(event, properties, distinct_id)
        except Exception:
            logger.debug("heliograph_sdk: capture failed", exc_info=True)


def capture_exception(
    exc: BaseException | None = None,
    *,
    level: str = "error",
    properties: Mapping[str, Any] | None = None,
    fingerprint: str | None = None,
) -> str | None:
    """Queue a ``$exception`` event for ``exc`` (default: the one being handled).

    Returns the event's uuid, or ``None`` when the SDK is off, there is no
    exception, or this exception object was already captured.
    """
    client = _hub.client if _hub.resolved else _hub.current()
    if client is None:
        return None
    try:
        if exc is None:
            import sys

            exc = sys.exc_info()[1]
            if exc is None:
                return None
        return client.capture_exception(
            exc, level=level, properties=properties, fingerprint=fingerprint
        )
    except Exception:
        logger.debug("heliograph_sdk: capture_exception failed", exc_info=True)
        return None


def capture_message(
    message: str,
    level: str = "info",
    *,
    properties: Mapping[str, Any] | None = None,
    fingerprint: str | None = None,
) -> str | None:
    """Queue a ``$exception`` event without a stack: a message worth an issue."""
    client = _hub.current()
    if client is None:
        return None
    try:
        return client.capture_message(
            message, level=level, properties=properties, fingerprint=fingerprint
        )
    except Exception:
        logger.debug("heliograph_sdk: capture_message failed", exc_info=True)
        return None


def add_breadcrumb(
    message: str | None = None,
    *,
    category: str | None = None,
    level: str = "info",
    type: str = "default",
    data: Mapping[str, Any] | None = None,
) -> None:
    """Remember something that happened; the last 100 ride on the next error event."""
    if _hub.current() is None:
        return
    crumb: dict[str, Any] = {"type": type, "level": level}
    if message is not None:
        crumb["message"] = str(message)
    if category is not None:
        crumb["category"] = category
    if data:
        crumb["data"] = dict(data)
    current_scope().add_breadcrumb(crumb)


def set_user(
    id: str | int | None = None,
    *,
    email: str | None = None,
    name: str | None = None,
    **attributes: Any,
) -> None:
    """Who is using the app now. What travels depends on ``HELIOGRAPH_IDENTIFY``.

    ``set_user(None)`` with no attributes forgets the user.
    """
    user: dict[str, Any] = {}
    if id is not None:
        user["id"] = id
    if email is not None:
        user["email"] = email
    if name is not None:
        user["name"] = name
    user.update(attributes)
    settings = _hub.settings
    current_scope().set_user(user, settings.identify if settings else "id")


def set_tag(key: str, value: object) -> None:
    """A short searchable key/value attached to error events (``$tags``)."""
    current_scope().set_tag(key, value)


def set_context(name: str, value: Mapping[str, Any] | None) -> None:
    """A named block of structured data on error events (``$contexts``); ``None`` removes it."""
    current_scope().set_context(name, value)


def flush(timeout: float = 2.0) -> bool:
    """Block until queued events are sent, at most ``timeout`` seconds. True when all went."""
    client = _hub.client
    if client is None:
        return True
    try:
        return client.flush(timeout)
    except Exception:
        logger.debug("heliograph_sdk: flush failed", exc_info=True)
        return False


def shutdown(timeout: float = 2.0) -> bool:
    """Flush and stop; the SDK is off afterwards until the next ``init``."""
    try:
        return _hub.uninstall(timeout)
    except Exception:
        logger.debug("heliograph_sdk: shutdown failed", exc_info=True)
        return False


def _flag_subject(distinct_id: str | int | None) -> str | None:
    client = _hub.current()
    if client is None:
        return None
    if distinct_id is not None:
        return str(distinct_id)
    return current_scope().distinct_id or client.anonymous_id


def get_feature_flag(
    key: str,
    distinct_id: str | int | None = None,
    *,
    person_properties: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Any:
    """The flag's value for ``distinct_id`` (default: the current user): a variant key,
    ``True`` or ``False``; ``default`` when the SDK is off, the flag does not exist
    or the server cannot say within ``flags_timeout``. Never raises."""
    subject = _flag_subject(distinct_id)
    client = _hub.current()
    if subject is None or client is None:
        return default
    try:
        return client.flags.value(key, subject, person_properties, default)
    except Exception:
        logger.debug("heliograph_sdk: flag %r failed", key, exc_info=True)
        return default


def feature_enabled(
    key: str,
    distinct_id: str | int | None = None,
    *,
    person_properties: Mapping[str, Any] | None = None,
    default: bool = False,
) -> bool:
    """Whether the flag is on (any variant counts as on) for ``distinct_id``."""
    value = get_feature_flag(key, distinct_id, person_properties=person_properties, default=default)
    return bool(value)


def get_feature_flag_payload(
    key: str,
    distinct_id: str | int | None = None,
    *,
    person_properties: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Any:
    """The JSON payload served with the flag's value for ``distinct_id`` (decoded)."""
    subject = _flag_subject(distinct_id)
    client = _hub.current()
    if subject is None or client is None:
        return default
    try:
        return client.flags.payload(key, subject, person_properties, default)
    except Exception:
        logger.debug("heliograph_sdk: flag payload %r failed", key, exc_info=True)
        return default


def get_prompt(
    name: str,
    *,
    label: str | None = None,
    version: int | None = None,
    fallback: Content | None = None,
    cache_ttl: float | None = None,
) -> Prompt | None:
    """The prompt version ``label`` (default ``production``) or ``version`` points at.

    Served from memory when cached (``prompt_cache_ttl``, refreshed in the
    background once stale); the first fetch of a prompt waits at most
    ``prompt_timeout`` seconds. When the SDK is off, has no ``prompts_token``, or
    the server cannot answer, ``fallback`` (text or chat messages) comes back
    as a :class:`Prompt` with ``version`` None; with no fallback, None. Never
    raises. See ``docs/prompts.md``.
    """
    client = _hub.current()
    try:
        if client is not None:
            return client.prompts.get(
                name, label=label, version=version, fallback=fallback, cache_ttl=cache_ttl
            )
    except Exception:
        logger.debug("heliograph_sdk: prompt %r failed", name, exc_info=True)
    return fallback_prompt(name, fallback)
