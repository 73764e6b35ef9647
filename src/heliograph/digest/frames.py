"""Which frames say something about the application, and JavaScript function names.

Shared by grouping (what contributes) and titles (the culprit): a frame of
the Sentry SDK itself (``captureMessage``'s synthetic stack ends in one) or
of the browser (``[native code]``, an extension) is the same wherever the
application failed, so it must neither split nor name an issue.

JavaScript engines name one function differently: Chrome ``Foo.bar`` or
``Object.bar`` or ``async Foo.bar``, Firefox ``bar`` or ``Foo/<.bar`` or
``bar@``, Safari ``bar`` or ``?``. :func:`js_function` keeps the part they
agree on, so one error thrown by one line groups into one issue in every
browser.
"""

from __future__ import annotations

import re

from heliograph.model import Frame

__all__ = ["is_js", "is_noise_frame", "is_sdk_frame", "js_function"]

_JS_PLATFORMS = frozenset({"javascript", "node", "typescript"})
_SDK_PATH = re.compile(r"(?:^|[/\\])(?:node_modules[/\\])?@sentry(?:-internal)?[/\\]")
_BROWSER_SCHEMES = (
    "chrome-extension://",
    "moz-extension://",
    "safari-extension://",
    "safari-web-extension://",
    "webkit-masked-url://",
)
_INTERNAL_FILES = frozenset({"<anonymous>", "[native code]", "native", "<unknown>", "[eval]"})
_NO_NAME = frozenset({"", "?", "<anonymous>", "anonymous", "<unknown>", "global code", "eval code"})


def is_js(platform: str | None) -> bool:
    return (platform or "").lower() in _JS_PLATFORMS


def is_sdk_frame(frame: Frame) -> bool:
    """A frame of the Sentry SDK itself (``@sentry/browser``, ``@sentry/core``...)."""
    if frame.in_app:
        return False
    return any(
        _SDK_PATH.search(text) or text.startswith("@sentry/")
        for text in (frame.module, frame.filename, frame.abs_path)
        if text
    )


def is_noise_frame(frame: Frame) -> bool:
    """A JavaScript frame of the SDK or the browser: no file, native or an extension's."""
    if is_sdk_frame(frame):
        return True
    location = (frame.abs_path or frame.filename or "").strip()
    if not location and not (frame.module or "").strip():
        return True
    return location in _INTERNAL_FILES or location.startswith(_BROWSER_SCHEMES)


def js_function(name: str | None) -> str:
    """The function name every engine agrees on, ``""`` for an anonymous one."""
    text = (name or "").strip()
    for prefix in ("async ", "new "):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    text = text.rstrip("@").strip()
    if " [as " in text:  # V8: "Foo.bar [as baz]": the property it was called through
        text = text.split(" [as ", 1)[0]
    if text.endswith("<"):  # Firefox: "total/<" is an anonymous function inside total
        return ""
    # Firefox's nesting ("Foo/<.bar"), then any qualifier (Foo., Object., .prototype.).
    text = re.split(r"[/.]", text.replace("<", "").replace(">", ""))[-1].strip()
    return "" if text in _NO_NAME else text
