"""Prompts: immutable versions numbered 1..n, labels on one version each, per-version figures."""

from __future__ import annotations

import threading

import pytest

from heliograph.prompts.comparison import compare_versions
from heliograph.prompts.definition import PromptError
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.score_records import make_score
from tests.contract.builders import ai_event
from tests.contract.test_llm import T0

CHAT = [
    {"role": "system", "content": "You summarise for {{audience}}."},
    {"role": "user", "content": "{{text}}"},
]


def new_version(
    store: Store, project: Project, name: str = "summarise", *labels: str, text: str = "v"
) -> int:
    created = store.create_prompt_version(
        project.id, name, type="text", prompt=text, config={}, labels=labels,
        commit_message="", user_id=None,
    )  # fmt: skip
    return created.version


def test_a_version_is_stored_as_given(store: Store, project: Project) -> None:
    created = store.create_prompt_version(
        project.id, "summarise", type="chat", prompt=CHAT,
        config={"model": "gpt-4o-mini", "temperature": 0.2}, labels=["production", "staging"],
        commit_message="first cut", user_id=None,
    )  # fmt: skip
    assert (created.name, created.version, created.type) == ("summarise", 1, "chat")
    assert created.labels == ("production", "staging")
    assert created.variables == ["audience", "text"]
    found = store.get_prompt_version(project.id, "summarise", version=1)
    assert found == created
    assert found.prompt == CHAT and found.config["temperature"] == 0.2
    assert found.commit_message == "first cut"


def test_versions_are_numbered_and_latest_is_the_newest(store: Store, project: Project) -> None:
    assert [new_version(store, project, text=f"v{n}") for n in range(3)] == [1, 2, 3]
    assert new_version(store, project, "other") == 1
    latest = store.get_prompt_version(project.id, "summarise", label="latest")
    assert latest is not None and (latest.version, latest.prompt) == (3, "v2")
    assert [v.version for v in store.prompt_versions(project.id, "summarise")] == [3, 2, 1]
    assert store.get_prompt_version(project.id, "summarise", version=4) is None
    assert store.get_prompt_version(project.id, "missing", label="latest") is None
    assert store.prompt_versions(project.id, "missing") == []


def test_a_label_points_at_one_version(store: Store, project: Project) -> None:
    new_version(store, project, "summarise", "production", text="one")
    new_version(store, project, "summarise", "staging", text="two")
    assert store.get_prompt_version(project.id, "summarise", label="production").prompt == "one"
    new_version(store, project, "summarise", "production", text="three")
    by_label = {
        label: store.get_prompt_version(project.id, "summarise", label=label).version
        for label in ("production", "staging")
    }
    assert by_label == {"production": 3, "staging": 2}
    assert [v.labels for v in store.prompt_versions(project.id, "summarise")] == [
        ("production",), ("staging",), (),
    ]  # fmt: skip
    # Moved back (a rollback), then removed.
    assert store.set_prompt_label(project.id, "summarise", "production", 1, user_id=None)
    assert store.get_prompt_version(project.id, "summarise", label="production").version == 1
    assert store.set_prompt_label(project.id, "summarise", "production", None, user_id=None)
    assert store.get_prompt_version(project.id, "summarise", label="production") is None
    assert not store.set_prompt_label(project.id, "summarise", "production", 9, user_id=None)
    assert not store.set_prompt_label(project.id, "missing", "production", 1, user_id=None)
    with pytest.raises(PromptError):
        store.set_prompt_label(project.id, "summarise", "latest", 1, user_id=None)


def test_prompts_list_by_name_and_belong_to_their_project(
    store: Store, project: Project, other_project: Project
) -> None:
    for name in ("zeta", "Alpha", "beta"):
        new_version(store, project, name, "production")
    new_version(store, project, "beta", "staging")
    new_version(store, other_project, "elsewhere")
    listed = store.list_prompts(project.id)
    assert [(p.name, p.latest_version, p.labels) for p in listed] == [
        ("Alpha", 1, {"production": 1}),
        ("beta", 2, {"production": 1, "staging": 2}),
        ("zeta", 1, {"production": 1}),
    ]
    assert [p.name for p in store.list_prompts(other_project.id)] == ["elsewhere"]
    assert store.get_prompt_version(other_project.id, "beta", label="latest") is None


def test_writers_at_once_never_share_a_number(store: Store, project: Project) -> None:
    numbers: list[int] = []

    def write() -> None:
        for _ in range(5):
            numbers.append(new_version(store, project))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 21))


def test_calls_compare_by_prompt_version(store: Store, project: Project) -> None:
    """Per-version figures group calls by ``$ai_prompt_version`` on every backend."""
    calls = [(1, 0.02, 1.0, False), (2, 0.01, 3.0, False), (2, 0.01, 1.0, True), (None, 0.5, 9, 0)]
    events = []
    for n, (version, cost, latency, failed) in enumerate(calls):
        event = ai_event(
            project.id, trace=f"t{n}", at=T0 + n, cost=cost, latency=latency, is_error=failed
        )
        event.properties["$ai_prompt_name"] = "summarise"
        if version is not None:
            event.properties["$ai_prompt_version"] = version
        events.append(event)
    elsewhere = ai_event(project.id, trace="x", at=T0, cost=7.0)
    elsewhere.properties.update({"$ai_prompt_name": "other", "$ai_prompt_version": 1})
    events.append(elsewhere)
    assert store.record(DigestBatch(analytics=events)).rejected == ()
    found = compare_versions(store, project.id, "summarise", T0 - 60, T0 + 60)
    assert found.complete
    rows = [
        (v.version, v.figures.calls, v.figures.errors, round(v.figures.cost_usd, 6))
        for v in found.versions
    ]
    assert rows == [(2, 2, 1, 0.02), (1, 1, 0, 0.02), (None, 1, 0, 0.5)]
    two = found.of(2)
    assert two is not None and two.figures.mean_latency == pytest.approx(2.0)
    assert two.figures.error_rate == pytest.approx(0.5)


def test_versions_show_the_means_of_their_calls_scores(store: Store, project: Project) -> None:
    """A score carries its call's prompt version: the comparison reads their means."""
    events = []
    for n, version in enumerate((1, 2, 2)):
        event = ai_event(project.id, trace=f"s{n}", at=T0 + n)
        event.properties.update({"$ai_prompt_name": "summarise", "$ai_prompt_version": version})
        events.append(event)
    elsewhere = ai_event(project.id, trace="sx", at=T0)
    elsewhere.properties.update({"$ai_prompt_name": "other", "$ai_prompt_version": 1})
    assert store.record(DigestBatch(analytics=[*events, elsewhere])).rejected == ()
    judged = [("s0", 0.9), ("s1", 0.5), ("s2", 0.7), ("sx", 0.1)]
    store.save_scores(
        [
            make_score(project.id, id=f"q-{trace}", name="quality", value=value,
                       trace_id=trace, source="api", timestamp=T0 + 5)
            for trace, value in judged
        ]
        + [make_score(project.id, id="label", name="tone", value="friendly", trace_id="s1",
                      source="api", timestamp=T0 + 5)]
    )  # fmt: skip
    found = compare_versions(store, project.id, "summarise", T0 - 60, T0 + 60)
    one, two = found.of(1), found.of(2)
    assert one is not None and one.scores == {"quality": pytest.approx(0.9)}
    assert two is not None and two.scores == {"quality": pytest.approx(0.6)}
