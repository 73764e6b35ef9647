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
  canvas contents unless the project keeps media (``replay_record_media``);
* inline scripts and comments are never kept (only style sheets are code the
  replay needs), and recorded network requests and responses lose their
  bodies and headers (no client is asked for them).

What no server can tell apart: with page text kept, text typed into a
contenteditable element is page text. Console messages are kept, as error
events keep console breadcrumbs.

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
# Text under these is code, not page text: style sheets are kept (the replay
# needs them to look right); script text is replaced whatever the project keeps.
_SCRIPT_PARENTS = frozenset({"script", "noscript"})
_SCRIPT_TEXT = "SCRIPT_PLACEHOLDER"  # what rrweb itself records for a script
_COMMENT_NODE = 5
_MUTATION_LISTS = ("texts", "attributes", "removes", "adds")
# What network recordings may carry that nobody asked for.
_NETWORK_PRIVATE = frozenset(
    {"requestBody", "responseBody", "requestHeaders", "responseHeaders", "body", "headers"}
)


@dataclass(frozen=True, slots=True)
class ReplayPrivacy:
    unmask_text: bool = False
    record_media: bool = False


def mask(text: Any) -> str:
    """Each visible character as ``*``; a number (a value some clients send) as text."""
    return _VISIBLE.sub("*", text if isinstance(text, str) else str(text))


def _maskable(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def apply_privacy(events: list[dict[str, Any]], privacy: ReplayPrivacy) -> list[dict[str, Any]]:
    """``events`` with what must not be kept masked or removed (changed in place).

    An event whose shape cannot be checked (a snapshot that is not an object,
    say) is dropped: what cannot be masked is not kept.
    """
    kept = []
    for event in events:
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(data, dict):
            if kind in (rrweb.FULL_SNAPSHOT, rrweb.INCREMENTAL_SNAPSHOT):
                continue
            kept.append(event)
            continue
        if kind == rrweb.FULL_SNAPSHOT:
            _mask_tree(data.get("node"), privacy)
        elif kind == rrweb.INCREMENTAL_SNAPSHOT:
            source = data.get("source")
            if source == rrweb.INPUT:
                if _maskable(data.get("text")):
                    data["text"] = mask(data["text"])
            elif source == rrweb.MUTATION:
                _mask_mutation(data, privacy)
            elif source == rrweb.CANVAS_MUTATION and not privacy.record_media:
                continue
        elif kind in (rrweb.PLUGIN, rrweb.CUSTOM):
            _strip_network(data)
        kept.append(event)
    return kept


def _strip_network(data: dict[str, Any]) -> None:
    """posthog-js's network plugin and Sentry's spans keep what was requested, not what
    was in it."""
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return
    records = [payload]
    if isinstance(payload.get("requests"), list):
        records += _dicts(payload["requests"])
    details = payload.get("data")
    if isinstance(details, dict):
        records += [details, *_dicts([details.get("request"), details.get("response")])]
    for record in records:
        for name in _NETWORK_PRIVATE & record.keys():
            del record[name]


def _mask_mutation(data: dict[str, Any], privacy: ReplayPrivacy) -> None:
    for name in _MUTATION_LISTS:
        if name in data and not isinstance(data[name], list):
            data[name] = []  # left packed, or not rrweb's shape: nothing to check, dropped
    for added in _dicts(data.get("adds")):
        _mask_tree(added.get("node"), privacy)
    if not privacy.unmask_text:
        for text in _dicts(data.get("texts")):
            if _maskable(text.get("value")):
                text["value"] = mask(text["value"])
    for change in _dicts(data.get("attributes")):
        attributes = change.get("attributes")
        if isinstance(attributes, dict):
            # The element's tag is not in a mutation: treat every element alike.
            _mask_attributes(attributes, "", privacy, any_tag=True)


def _mask_tree(root: Any, privacy: ReplayPrivacy) -> None:
    for node, parent_tag in rrweb.walk_nodes(root):
        kind = node.get("type")
        if kind in (rrweb.TEXT_NODE, _COMMENT_NODE):
            text = node.get("textContent")
            if parent_tag in _SCRIPT_PARENTS or kind == _COMMENT_NODE:
                node["textContent"] = _SCRIPT_TEXT if kind == rrweb.TEXT_NODE else ""
            elif _maskable(text) and _text_masked(node, parent_tag, privacy):
                node["textContent"] = mask(text)
        elif kind == rrweb.ELEMENT_NODE:
            attributes = node.get("attributes")
            tag = node.get("tagName")
            if isinstance(attributes, dict):
                _mask_attributes(attributes, tag.lower() if isinstance(tag, str) else "", privacy)


def _text_masked(node: dict[str, Any], parent_tag: str | None, privacy: ReplayPrivacy) -> bool:
    if parent_tag == "textarea":
        return True  # a text area's text is its value: an input, always masked
    if node.get("isStyle") or parent_tag == "style":
        return False
    return not privacy.unmask_text


def _mask_attributes(
    attributes: dict[str, Any], tag: str, privacy: ReplayPrivacy, *, any_tag: bool = False
) -> None:
    for name in list(attributes):
        lowered = name.lower() if isinstance(name, str) else ""
        if _dropped(lowered, tag, privacy, any_tag):
            del attributes[name]
        elif _maskable(attributes[name]) and _masked(lowered, tag, privacy, any_tag):
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
