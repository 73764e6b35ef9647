"""Reading settings from the environment, strictly and quietly.

A typo in a boolean flag must not silently flip a setting, and it must not
spam the log either: unknown values fall back to the default and are reported
once per variable with ``logging.warning``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

logger = logging.getLogger("heliograph_sdk")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(message, *args)


def reset_warnings() -> None:
    """Forget which warnings were given (for tests)."""
    with _warned_lock:
        _warned.clear()


def parse_bool(value: str, *, name: str, default: bool) -> bool:
    """Parse ``1/true/yes/on`` and ``0/false/no/off``; anything else warns once."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    warn_once(
        f"bool:{name}",
        "heliograph_sdk: %s=%r is not a boolean (use 1/true/yes/on or 0/false/no/off); using %s",
        name,
        value,
        "on" if default else "off",
    )
    return default


def env_str(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, or ``None`` when unset or blank (``FOO=`` means unset)."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = env_str(name, environ)
    if value is None:
        return default
    return parse_bool(value, name=name, default=default)


def env_int(
    name: str, default: int, environ: Mapping[str, str] | None = None, *, minimum: int = 0
) -> int:
    value = env_str(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        warn_once(
            f"int:{name}",
            "heliograph_sdk: %s=%r is not an integer >= %d; using %d",
            name,
            value,
            minimum,
            default,
        )
        return default
    return number


def env_choice(
    name: str, choices: tuple[str, ...], default: str, environ: Mapping[str, str] | None = None
) -> str:
    value = env_str(name, environ)
    if value is None:
        return default
    word = value.lower()
    if word in choices:
        return word
    warn_once(
        f"choice:{name}",
        "heliograph_sdk: %s=%r is not one of %s; using %r",
        name,
        value,
        "/".join(choices),
        default,
    )
    return default
