"""An issue's title and culprit, the two lines the issue list shows.

* title: ``"ZeroDivisionError: division by zero"`` -- the outermost exception's
  type and the first line of its value; else the message's first line; else
  ``"<unlabeled event>"``. Clipped to ``TITLE_MAX_CHARS``.
* culprit: where it crashed, Sentry style (``"app.views in index"``): the
  crash frame of the outermost exception (or of the bare stack trace); for a
  log message without any (``logger.error("...")``), the logger's name: where
  it was logged, the same for every event of the issue; else the
  transaction; else ``""``.

Neither is normalised: titles show the values of the event that opened the
issue; grouping (``heliograph.digest.grouping``) decides what is the same.
"""

from __future__ import annotations

from heliograph.digest.frames import is_js, is_noise_frame, is_sdk_frame
from heliograph.model import Event, Frame

__all__ = ["TITLE_MAX_CHARS", "UNLABELED", "crash_frame", "event_culprit", "event_title"]

TITLE_MAX_CHARS = 200
UNLABELED = "<unlabeled event>"


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def event_title(event: Event) -> str:
    """``"Type: first line of value"`` of the outermost exception, else the message."""
    if event.exceptions:
        outermost = event.exceptions[0]
        kind = outermost.type.strip()
        if outermost.mechanism is not None and outermost.mechanism.synthetic:
            kind = ""  # made up by the SDK (captureMessage's "Error"): the message says it
        value = _first_line(outermost.value)
        title = f"{kind}: {value}" if kind and value else kind or value
        if title:
            return _clip(title)
    message = _first_line(event.message)
    return _clip(message) if message else UNLABELED


def crash_frame(event: Event) -> Frame | None:
    """The frame that crashed: the last in-app frame, else the last frame.

    Looks at the outermost exception's frames, or the bare stack trace when
    that exception has none (``Event.crash_frames``). Frames of the Sentry
    SDK (and in JavaScript, of the browser) are passed over: a synthetic
    stack ends in the SDK's own ``captureMessage``, which is no culprit.
    """
    js = is_js(event.platform)
    frames = [
        frame
        for frame in event.crash_frames
        if not (is_noise_frame(frame) if js or is_js(frame.platform) else is_sdk_frame(frame))
    ]
    for frame in reversed(frames):
        if frame.in_app:
            return frame
    return frames[-1] if frames else None


def event_culprit(event: Event) -> str:
    """``"module in function"`` of the crash frame, else the transaction, else ``""``."""
    frame = crash_frame(event)
    if frame is not None:
        where = frame.module or frame.filename or frame.abs_path
        if where and frame.function:
            return _clip(f"{where} in {frame.function}")
        if where or frame.function:
            return _clip(where or frame.function or "")
    if not event.exceptions and event.message and event.logger:
        return _clip(event.logger)
    return _clip(event.transaction or "")
