"""What the server refuses to keep of a recording, whatever the client sent.

Clients mask in the browser (posthog-js, the Heliograph snippet and Sentry
Replay all do by default); digest applies the project's settings again before
anything is stored, so a client configured to send more than the project
allows changes nothing:

* input values are always masked (typed text, the ``value`` of inputs,
  text areas and selects);
* page text, and text-bearing attributes (placeholder, title, alt, labels),
  are masked unless the project keeps text (``replay_unmask_text``);
* images, video, audio, canvas and embedded frames lose their sources and
  canvas contents unless the project keeps media (``replay_record_media``).

Masking keeps the text's shape (each visible character becomes ``*``), so the
replayed layout still looks like the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from heliograph.replay import rrweb

_VISIBLE = re.compile(r"\S")
_INPUT_TAGS = frozenset({"input", "textarea", "select", "option"})
_TEXT_ATTRIBUTES = frozenset(
    {"placeholder", "title", "alt", "aria-label", "aria-description", "label", "value"}
)
_MEDIA_TAGS = frozenset(
    {
        "img",
        "image",
        "video",
        "audio",
        "source",
        "picture",
        "canvas",
        "iframe",
        "object",
        "embed",
        "track",
    }
)
_MEDIA_ATTRIBUTES = frozenset({"src", "srcset", "poster", "data", "href", "xlink:href"})
# In a mutation the element's tag is unknown: only what names media content anywhere.
_CHANGED_MEDIA_ATTRIBUTES = frozenset({"src", "srcset", "poster", "xlink:href"})
# Not page text: what rrweb needs to rebuild the page's look.
_CODE_PARENTS = frozenset({"style", "script", "noscript"})


@dataclass(frozen=True, slots=True)
class ReplayPrivacy:
    unmask_text: bool = False
    record_media: bool = False


def mask(text: str) -> str:
    return _VISIBLE.sub("*", text)


def apply_privacy(events: list[dict[str, Any]], privacy: ReplayPrivacy) -> list[dict[str, Any]]:
    """``events`` with what must not be kept masked or removed (changed in place)."""
    kept = []
    for event in events:
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(data, dict):
            kept.append(event)
            continue
        if kind == rrweb.FULL_SNAPSHOT:
            _mask_tree(data.get("node"), privacy)
        elif kind == rrweb.INCREMENTAL_SNAPSHOT:
            source = data.get("source")
            if source == rrweb.INPUT:
                if isinstance(data.get("text"), str):
                    data["text"] = mask(data["text"])
            elif source == rrweb.MUTATION:
                _mask_mutation(data, privacy)
            elif source == rrweb.CANVAS_MUTATION and not privacy.record_media:
                continue
        kept.append(event)
    return kept


def _mask_mutation(data: dict[str, Any], privacy: ReplayPrivacy) -> None:
    for added in _dicts(data.get("adds")):
        _mask_tree(added.get("node"), privacy)
    if not privacy.unmask_text:
        for text in _dicts(data.get("texts")):
            if isinstance(text.get("value"), str):
                text["value"] = mask(text["value"])
    for change in _dicts(data.get("attributes")):
        attributes = change.get("attributes")
        if isinstance(attributes, dict):
            # The element's tag is not in a mutation: treat every element alike.
            _mask_attributes(attributes, "", privacy, any_tag=True)


def _mask_tree(root: Any, privacy: ReplayPrivacy) -> None:
    for node, parent_tag in rrweb.walk_nodes(root):
        kind = node.get("type")
        if kind == rrweb.TEXT_NODE:
            text = node.get("textContent")
            if isinstance(text, str) and _text_masked(node, parent_tag, privacy):
                node["textContent"] = mask(text)
        elif kind == rrweb.ELEMENT_NODE:
            attributes = node.get("attributes")
            tag = node.get("tagName")
            if isinstance(attributes, dict):
                _mask_attributes(attributes, tag.lower() if isinstance(tag, str) else "", privacy)


def _text_masked(node: dict[str, Any], parent_tag: str | None, privacy: ReplayPrivacy) -> bool:
    if parent_tag == "textarea":
        return True  # a text area's text is its value: an input, always masked
    if node.get("isStyle") or parent_tag in _CODE_PARENTS:
        return False
    return not privacy.unmask_text


def _mask_attributes(
    attributes: dict[str, Any], tag: str, privacy: ReplayPrivacy, *, any_tag: bool = False
) -> None:
    for name in list(attributes):
        lowered = name.lower() if isinstance(name, str) else ""
        if _dropped(lowered, tag, privacy, any_tag):
            del attributes[name]
        elif isinstance(attributes[name], str) and _masked(lowered, tag, privacy, any_tag):
            attributes[name] = mask(attributes[name])


def _masked(name: str, tag: str, privacy: ReplayPrivacy, any_tag: bool) -> bool:
    if name == "value" and (any_tag or tag in _INPUT_TAGS):
        return True
    return name in _TEXT_ATTRIBUTES and not privacy.unmask_text


def _dropped(name: str, tag: str, privacy: ReplayPrivacy, any_tag: bool) -> bool:
    if privacy.record_media:
        return False
    if name == "rr_dataurl":  # a canvas's pixels, as an image
        return True
    if any_tag:
        return name in _CHANGED_MEDIA_ATTRIBUTES
    return tag in _MEDIA_TAGS and name in _MEDIA_ATTRIBUTES


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
