"""LLM payload privacy: dropped unless the project keeps them, clipped when kept."""

from __future__ import annotations

import re
from typing import Any

import pytest

from heliograph.digest.payloads import PAYLOAD_KEYS, apply_payload_policy, clip_text
from heliograph.model import Event

MARKER = re.compile(r"…\[truncated (\d+) chars\]$")


def _event(properties: dict[str, Any]) -> Event:
    return Event(
        project_id=1,
        event_id="0" * 32,
        timestamp=0.0,
        kind="analytics",
        name="$ai_generation",
        properties=properties,
    )


def _generation() -> dict[str, Any]:
    return {
        "$ai_model": "gpt-4o",
        "$ai_input_tokens": 10,
        "$ai_input": [
            {"role": "system", "content": "s" * 50},
            {"role": "user", "content": [{"type": "text", "text": "u" * 100}]},
        ],
        "$ai_output_choices": [{"role": "assistant", "content": "a" * 10}],
        "$ai_input_state": {"query": "q" * 70, "n": 3},
        "$ai_output_state": "o" * 5,
        "$ai_tools": [{"name": "lookup", "description": "d" * 80}],
        "$ai_instructions": "i" * 5,
    }


def test_off_drops_every_payload() -> None:
    event = _event(_generation())
    apply_payload_policy(event, keep_payloads=False)
    assert not any(key in event.properties for key in PAYLOAD_KEYS)
    assert event.properties == {
        "$ai_model": "gpt-4o",
        "$ai_input_tokens": 10,
        "$ai_payloads_dropped": True,
    }


def test_off_without_payloads_changes_nothing() -> None:
    event = _event({"$ai_model": "gpt-4o"})
    apply_payload_policy(event, keep_payloads=False)
    assert event.properties == {"$ai_model": "gpt-4o"}


def test_on_clips_strings_everywhere_with_the_marker() -> None:
    event = _event(_generation())
    apply_payload_policy(event, keep_payloads=True, max_chars=40)
    props = event.properties
    system = props["$ai_input"][0]["content"]
    user = props["$ai_input"][1]["content"][0]["text"]
    state = props["$ai_input_state"]["query"]
    for clipped, original in ((system, 50), (user, 100), (state, 70)):
        match = MARKER.search(clipped)
        assert match, clipped
        removed = int(match.group(1))
        kept = clipped[: match.start()]
        assert len(kept) + removed == original
        assert len(clipped) <= 40
    assert props["$ai_tools"][0]["description"].endswith("chars]")
    # Short strings, other types and structure are untouched.
    assert props["$ai_output_choices"] == [{"role": "assistant", "content": "a" * 10}]
    assert props["$ai_input_state"]["n"] == 3
    assert props["$ai_input"][1]["role"] == "user"
    assert "$ai_payloads_dropped" not in props


def test_default_limit() -> None:
    event = _event({"$ai_input": "x" * 30_000, "$ai_output_choices": "y" * 30_001})
    apply_payload_policy(event, keep_payloads=True)
    assert event.properties["$ai_input"] == "x" * 30_000
    clipped = event.properties["$ai_output_choices"]
    assert len(clipped) == 30_000
    match = MARKER.search(clipped)
    assert match is not None
    assert int(match.group(1)) == 30_001 - match.start()


@pytest.mark.parametrize("max_chars", [0, 5, 25, 26, 27, 999])
def test_clip_text_accounts_for_every_character(max_chars: int) -> None:
    text = "z" * 1000 + "tail"
    clipped = clip_text(text, max_chars)
    match = MARKER.search(clipped)
    assert match is not None
    assert match.start() + int(match.group(1)) == len(text)
    assert clipped[: match.start()] == text[: match.start()]


def test_deep_nesting_does_not_recurse_forever() -> None:
    deep: Any = "w" * 100
    for _ in range(500):
        deep = [deep]
    event = _event({"$ai_input_state": deep})
    apply_payload_policy(event, keep_payloads=True, max_chars=50)
    flattened = event.properties["$ai_input_state"]
    while isinstance(flattened, list):
        flattened = flattened[0]
    assert MARKER.search(flattened)


def test_text_the_sdk_clipped_states_what_both_clips_removed() -> None:
    """heliograph-sdk clips to 30,000 characters plus its marker; digest clips again."""
    from heliograph_sdk._clip import clip_payload

    original = "x" * 40_000
    clipped_twice = clip_text(clip_payload(original, 30_000), 30_000)
    assert len(clipped_twice) == 30_000
    kept = clipped_twice.index("…")
    assert clipped_twice.endswith(f"…[truncated {len(original) - kept} chars]")
    assert clip_text("a" * 10 + "…[truncated 5 chars]" + "b" * 30, 30).endswith(
        "[truncated 51 chars]"
    )
