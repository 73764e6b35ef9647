"""Searching LLM calls by the words of their prompts, completions, names and properties."""

from __future__ import annotations

from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.llm_records import LlmEventFilter
from tests.contract.builders import ai_event
from tests.contract.test_llm import T0


def _call(project: Project, n: int, prompt: str, answer: str, **properties: object) -> object:
    event = ai_event(project.id, trace=f"q{n}", at=T0 + n, event_id=f"{project.id:08x}{n:024x}")
    event.properties["$ai_input"] = [{"role": "user", "content": prompt}]
    event.properties["$ai_output_choices"] = [{"role": "assistant", "content": answer}]
    event.properties.update(properties)
    return event


def _found(store: Store, project: Project, text: str, **fields: object) -> list[int]:
    rows, _ = store.llm_events(
        LlmEventFilter(project.id, text=text, **fields),  # type: ignore[arg-type]
        limit=50,
    )
    return sorted(int(row.event_id[-4:], 16) for row in rows)


def test_every_word_must_occur_in_prompt_completion_names_or_properties(
    store: Store, project: Project, other_project: Project
) -> None:
    events = [
        _call(project, 1, "Where is my parcel?", "It left the depot today.", customer="acme"),
        _call(project, 2, "Refund my order", "The refund is on its way.", customer="globex"),
        _call(project, 3, "Résumé of the parcel policy", "Parcels ship in two days."),
        _call(other_project, 4, "Where is my parcel?", "Elsewhere."),
    ]
    assert store.record(DigestBatch(analytics=events)).rejected == ()  # type: ignore[arg-type]
    assert _found(store, project, "parcel") == [1, 3]
    assert _found(store, project, "PARCEL depot") == [1]  # words of the prompt and the answer
    assert _found(store, project, "parcel refund") == []
    assert _found(store, project, "globex") == [2]  # a property's value
    assert _found(store, project, "refund", sort="cost") == [2]
    assert _found(store, project, "") == [1, 2, 3]  # no words: no condition
    # Punctuation and query syntax are not syntax here.
    assert _found(store, project, '"parcel*" ^( -') == [1, 3]
    assert _found(store, other_project, "parcel") == [4]
