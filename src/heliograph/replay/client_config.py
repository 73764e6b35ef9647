"""What browser clients are told about recording, from the project's settings.

posthog-js reads ``sessionRecording`` from its remote config
(``/array/{token}/config``, and ``/decide``'s answer); the Heliograph snippet
reads the same. ``False`` means "do not record". Masking is asked of the
browser here so that nothing private leaves it; digest masks again
(:mod:`heliograph.replay.privacy`), so a client that ignores this stores
nothing more.
"""

from __future__ import annotations

from typing import Any

from heliograph.store.base import Project

RECORDING_ENDPOINT = "/s/"
# Every element that shows media, blocked (drawn as an empty box) unless kept.
MEDIA_SELECTOR = "img, image, svg, canvas, video, audio, picture, iframe, object, embed"


def session_recording(project: Project | None) -> dict[str, Any] | bool:
    """posthog-js's ``sessionRecording`` remote-config value for ``project``."""
    if project is None or not project.replay_enabled or project.replay_sample_percent <= 0:
        return False
    masking: dict[str, Any] = {"maskAllInputs": True}
    if not project.replay_unmask_text:
        masking["maskTextSelector"] = "*"
    if not project.replay_record_media:
        masking["blockSelector"] = MEDIA_SELECTOR
    return {
        "endpoint": RECORDING_ENDPOINT,
        "sampleRate": f"{project.replay_sample_percent / 100:.2f}",
        "minimumDurationMilliseconds": project.replay_min_seconds * 1000,
        "recordCanvas": project.replay_record_media,
        "consoleLogRecordingEnabled": True,
        "networkPayloadCapture": None,
        "masking": masking,
    }
