"""The "Suggest a fix" button, in headless Chromium, against a local OpenAI-protocol server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from heliograph.store.base import IssueFilter
from tests.conftest import LiveServer, launch
from tests.llm_servers import FakeOpenAIServer
from tests.stores import server_store
from tests.ui.conftest import SENTRY_APP, new_context

pytestmark = pytest.mark.ui

ANSWER = (
    "## Problem description\n"
    "`parts` is zero.\n\n"
    "<script>alert('owned')</script>\n\n"
    "## Proposed solution\n"
    "```python\n"
    "def divide(total, parts):\n"
    "    return total / parts if parts else 0.0\n"
    "```\n"
)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.reply(ANSWER)
        yield server  # type: ignore[misc]


@pytest.fixture(scope="module")
def ai_server(
    tmp_path_factory: pytest.TempPathFactory, llm: FakeOpenAIServer
) -> Iterator[LiveServer]:
    server = launch(
        tmp_path_factory.mktemp("ai-ui"),
        env={
            "HELIOGRAPH_AI_PROVIDER": "openai",
            "HELIOGRAPH_AI_BASE_URL": llm.base_url,
            "HELIOGRAPH_AI_MODEL": "ui-model",
        },
    )
    for scenario in ("divide", "message"):
        subprocess.run([sys.executable, str(SENTRY_APP), server.dsn, scenario], check=True)
    server.wait_for_digest()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tab(chromium: Browser, ai_server: LiveServer) -> Iterator[Page]:
    context = new_context(chromium, ai_server)
    page = context.new_page()
    page.goto(ai_server.login_url)
    yield page
    context.close()


def open_issue(tab: Page) -> None:
    tab.goto("/default/default/issues/")
    tab.click("text=ZeroDivisionError")
    expect(tab.locator("#ai-fix")).to_be_visible()


def test_suggestion_streams_in_as_safe_markdown(tab: Page, llm: FakeOpenAIServer) -> None:
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_issue(tab)
    calls = llm.calls
    # The look-up on load found nothing cached, and cost nothing.
    expect(tab.locator("#ai-fix")).to_have_attribute("data-ai-fix-done", "none")
    assert llm.calls == calls
    expect(tab.locator("[data-ai-fix-refresh]")).to_be_hidden()
    tab.click("[data-ai-fix-button]")
    expect(tab.locator("#ai-fix")).to_have_attribute("data-ai-fix-done", "fresh")
    output = tab.locator("[data-ai-fix-output]")
    expect(output.locator("h4", has_text="Proposed solution")).to_be_visible()
    expect(output.locator("pre code")).to_contain_text("return total / parts if parts else 0.0")
    expect(output).to_contain_text("<script>alert('owned')</script>")
    assert output.locator("script").count() == 0
    expect(tab.locator("[data-ai-fix-status]")).to_contain_text("ui-model · fresh")
    assert dialogs == []
    assert llm.calls == calls + 1
    only_ask_again(tab)

    # After a reload the cached answer is there at once, without a click or a call.
    tab.reload()
    expect(tab.locator("#ai-fix")).to_have_attribute("data-ai-fix-done", "cached")
    expect(output.locator("pre code")).to_contain_text("return total / parts if parts else 0.0")
    expect(tab.locator("[data-ai-fix-status]")).to_contain_text("ui-model · cached")
    assert llm.calls == calls + 1, "a cache hit never calls the model"
    only_ask_again(tab)

    tab.click("[data-ai-fix-refresh]")
    expect(tab.locator("#ai-fix")).to_have_attribute("data-ai-fix-done", "fresh")
    assert llm.calls == calls + 2
    only_ask_again(tab)


def only_ask_again(tab: Page) -> None:
    """Once there is an answer, "Ask again" replaces "Suggest a fix": never both."""
    expect(tab.locator("[data-ai-fix-refresh]")).to_be_visible()
    expect(tab.locator("[data-ai-fix-button]")).to_be_hidden()


def test_cached_only_lookup_never_calls_the_model(
    ai_server: LiveServer, llm: FakeOpenAIServer
) -> None:
    """``cached=1``: the cached answer, or 204 with no body; never a provider call."""
    with server_store(ai_server) as store:
        project = store.get_project("default", "default")
        assert project is not None
        issues, _ = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)
        latest = {issue.title.split(":")[0]: store.latest_event(issue.id) for issue in issues}
    base = f"{ai_server.url}/api/0/projects/default/default/events"
    headers = {"Authorization": f"Bearer {ai_server.api_token}"}
    calls = llm.calls
    cached = latest["ZeroDivisionError"]  # asked for by the test above
    nothing = latest["Payment provider returned 503 for order 77"]
    assert cached is not None and nothing is not None
    hit = httpx.get(f"{base}/{cached.event_id}/ai-fix/?cached=1", headers=headers)
    assert hit.status_code == 200 and hit.json()["cached"] is True, hit.text
    miss = httpx.get(f"{base}/{nothing.event_id}/ai-fix/?cached=1", headers=headers)
    assert miss.status_code == 204 and miss.content == b""
    assert llm.calls == calls


def test_message_without_stack_says_why_there_is_no_suggestion(tab: Page) -> None:
    tab.goto("/default/default/issues/")
    tab.click("text=Payment provider returned 503")
    notice = tab.locator("[data-ai-state=no-stack]")
    expect(notice).to_contain_text("no exception or stack trace")
    assert tab.locator("[data-ai-fix-button]").count() == 0


def test_consent_policy_asks_before_sending(tab: Page, ai_server: LiveServer) -> None:
    with server_store(ai_server) as store:
        project = store.get_project("default", "default")
        assert project is not None
        store.update_project(project.id, ai_policy="consent_required")
        try:
            open_issue(tab)
            consent = tab.locator("input[name=consent]")
            expect(consent).to_be_visible()
            consent.check()
            tab.click("[data-ai-fix-button]")
            expect(tab.locator("#ai-fix")).to_have_attribute("data-ai-fix-done", "cached")
        finally:
            store.update_project(project.id, ai_policy="allowed")


def test_unconfigured_server_says_so_plainly(page: Page) -> None:
    page.goto("/default/default/issues/")
    page.click("text=ZeroDivisionError")
    notice = page.locator("[data-ai-state=unconfigured]")
    # A button, which opens on how to turn it on: no wall of variable names.
    notice.locator("summary", has_text="Suggest a fix").click()
    expect(notice).to_contain_text("none is set up on this server")
    expect(notice).to_contain_text("docs/ai-fixes.md")
    expect(notice).not_to_contain_text("HELIOGRAPH_AI_")
    assert page.locator("[data-ai-fix-button]").count() == 0
