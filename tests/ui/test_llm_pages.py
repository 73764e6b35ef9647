"""The LLM dashboard and trace tree in headless Chromium, on `heliograph demo` data.

The demo goes through the real queue and digest; pages are served under the
strict Content-Security-Policy of ``tests/ui/conftest.py``, so an inline
script or style anywhere in them fails these tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from heliograph.demo import run_demo
from heliograph.store.contract import Store
from heliograph.store.llm_records import TraceFilter, TraceRecord
from tests.conftest import LiveServer
from tests.stores import server_store
from tests.ui.conftest import PageProblems, new_context

pytestmark = pytest.mark.ui

LLM = "/default/demo/llm/"


@pytest.fixture(scope="module")
def demo_server(live_server: LiveServer) -> LiveServer:
    with server_store(live_server) as store:
        result = run_demo(store, live_server.data_dir, "demo", seed=11, traces=120)
    assert result.traces >= 120 and result.errors > 0
    return live_server


@pytest.fixture(scope="module")
def llm_session(chromium: Browser, demo_server: LiveServer) -> Iterator[BrowserContext]:
    context = new_context(chromium, demo_server)
    tab = context.new_page()
    tab.goto(demo_server.login_url)
    tab.close()
    yield context
    context.close()


@pytest.fixture
def tab(llm_session: BrowserContext) -> Iterator[Page]:
    page = llm_session.new_page()
    page.set_default_timeout(5000)
    problems = PageProblems(page)
    yield page
    page.close()
    assert problems.dialogs == [] and problems.console_errors == [], problems.console_errors


def demo_traces(store: Store, name: str) -> list[TraceRecord]:
    """Every trace of the demo project called ``name``, newest first."""
    project = store.get_project("default", "demo")
    assert project is not None
    found: list[TraceRecord] = []
    cursor = None
    while True:
        page, cursor = store.llm_traces(TraceFilter(project.id), limit=100, cursor=cursor)
        found += [trace for trace in page if trace.name == name]
        if cursor is None:
            return found


def test_dashboard_charts_tables_and_range_picker(tab: Page) -> None:
    tab.goto(LLM)
    expect(tab.locator("h1")).to_have_text("LLM analytics")
    expect(tab.locator('[data-kpi="requests"]')).not_to_have_text("0")
    expect(tab.locator('[data-kpi="cost"]')).to_contain_text("$")
    # Every LLM page opens on the last 7 days, in daily buckets.
    for chart in ("cost", "requests", "tokens"):
        assert tab.locator(f"#chart-{chart} svg g.col").count() == 7
        assert tab.locator(f"#chart-{chart} svg rect[class^='bar-']").count() > 0
    # A line through neighbouring days, or a dot for a day alone.
    p95 = "#chart-latency polyline.line-p95, #chart-latency circle.line-p95"
    assert tab.locator(p95).count() > 0
    assert tab.locator("#top-traces tbody tr").count() > 1
    # Over the demo's whole week a model without a price shows "unknown".
    unpriced = tab.locator('#by-model tr[data-model="acme-llm-7b-instruct"] td.cost')
    expect(unpriced).to_have_text("unknown")
    expect(tab.locator('#by-model tr[data-model="gpt-4.1"] td.cost')).to_contain_text("$")

    tab.get_by_role("group", name="Time range").get_by_text("24h").click()
    expect(tab).to_have_url(re.compile(r"range=24h"))
    expect(tab.locator("#chart-requests svg g.col")).to_have_count(24)
    # The tabs carry the range chosen to the other LLM pages.
    traces_tab = tab.get_by_role("navigation", name="LLM analytics").get_by_text("Traces")
    expect(traces_tab).to_have_attribute("href", re.compile(r"traces/\?range=24h"))
    tab.get_by_role("group", name="Time range").get_by_text("7d").click()
    tab.get_by_role("group", name="Bucket size").get_by_text("Hour").click()
    expect(tab).to_have_url(re.compile(r"bucket=hour"))
    expect(tab.locator("#chart-requests svg g.col")).to_have_count(168)


def test_cost_breaks_down_by_a_column_or_any_property(tab: Page) -> None:
    tab.goto(LLM)
    form = tab.locator("#breakdown-form")
    form.locator("select[name=by]").select_option("model")
    form.get_by_role("button", name="Show").click()
    rows = tab.locator("#breakdown-rows tbody tr")
    expect(rows.first).to_be_visible()
    models = rows.evaluate_all("rs => rs.map(r => r.dataset.value)")
    assert "gpt-4.1" in models and "acme-llm-7b-instruct" in models
    # Any property: the model again, read from each call's properties, same groups.
    form = tab.locator("#breakdown-form")
    form.locator("select[name=by]").select_option("property")
    form.locator("input[name=prop]").fill("$ai_model")
    form.get_by_role("button", name="Show").click()
    expect(tab).to_have_url(re.compile(r"prop=%24ai_model"))
    by_property = tab.locator("#breakdown-rows tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.value)"
    )
    assert sorted(by_property) == sorted(models)


def test_users_page_lists_spend_per_user_and_links_to_their_traces(tab: Page) -> None:
    tab.goto(f"{LLM}users/")
    expect(tab.locator("h1")).to_have_text("Users")
    rows = tab.locator("#user-spend tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 1
    first = rows.first.locator("td.name a")
    user = first.get_attribute("title")
    assert user
    first.click()
    expect(tab).to_have_url(re.compile(r"/traces/\?user="))
    expect(tab.locator("#traces tbody tr").first).to_be_visible()


def test_trace_tree_is_nested_on_a_timeline(tab: Page, demo_server: LiveServer) -> None:
    with server_store(demo_server) as store:
        busiest = max(demo_traces(store, "research-agent"), key=lambda trace: trace.events)
    trace_id = busiest.trace_id
    assert busiest.distinct_id is not None
    tab.goto(f"{LLM}traces/?user={busiest.distinct_id}")
    tab.locator(f'a[href$="/traces/{trace_id}/"]').first.click()
    expect(tab.locator("h1")).to_have_text("research-agent")
    tab.wait_for_load_state()
    rows = tab.locator("#trace-tree tr.tree-row")
    depths = [int(d) for d in rows.evaluate_all("rs => rs.map(r => r.dataset.depth)")]
    assert depths[0] == 0 and max(depths) >= 3
    assert all(b - a <= 1 for a, b in itertools.pairwise(depths))
    # Indentation grows with depth, and every child's bar starts within its parent's span.
    lefts = rows.locator(".tree-label").evaluate_all(
        "ls => ls.map(l => l.getBoundingClientRect().left)"
    )
    deepest = depths.index(max(depths))
    assert lefts[deepest] > lefts[0] + 40
    bars = rows.locator("svg.timeline rect.bar").evaluate_all(
        "rs => rs.map(r => [parseFloat(r.getAttribute('x')), parseFloat(r.getAttribute('width'))])"
    )
    assert bars[0] == [0.0, 100.0]
    for index, (x, width) in enumerate(bars):
        assert x >= 0 and x + width <= 100.001
        if depths[index]:
            parent = max(i for i in range(index) if depths[i] == depths[index] - 1)
            assert x >= bars[parent][0] - 0.01
    expect(rows.first.locator(".label-text")).to_have_text("research-agent")


def test_failed_tool_call_is_highlighted_and_linked_to_its_issue(
    tab: Page, demo_server: LiveServer
) -> None:
    with server_store(demo_server) as store:
        project = store.get_project("default", "demo")
        assert project is not None
        trace_id = next(
            trace.trace_id
            for trace in demo_traces(store, "checkout-assistant")
            if store.llm_trace_errors(project.id, trace.trace_id)
        )
    tab.goto(f"{LLM}traces/{trace_id}/")
    failed = tab.locator("tr.tree-row.is-error")
    expect(failed).to_have_count(1)
    expect(failed.locator(".error-text")).to_contain_text("PaymentGatewayError")
    background = failed.evaluate("r => getComputedStyle(r).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    tab.locator("#trace-errors a").first.click()
    expect(tab.locator("h1.issue-h1")).to_contain_text("PaymentGatewayError")
    tab.locator("#llm-trace-link a").click()
    expect(tab).to_have_url(re.compile(f"/traces/{trace_id}/$"))


def test_generations_and_sessions_pages(tab: Page) -> None:
    tab.goto(LLM + "generations/")
    expect(tab.locator("tr.generation-row")).to_have_count(50)
    tab.select_option("select[name=model]", "acme-llm-7b-instruct")  # submits by itself
    expect(tab).to_have_url(re.compile(r"model=acme-llm-7b-instruct"))
    expect(tab.locator("tr.generation-row td.num").last).to_have_text("unknown")
    tab.locator("tr.generation-row a").first.click()
    expect(tab.locator("#payloads .messages")).to_have_count(2)  # the demo keeps payloads
    expect(tab.locator("#generation-cost")).to_contain_text("unknown")
    tab.goto(LLM + "sessions/")
    assert tab.locator("tr.session-row").count() > 5
    tab.locator("tr.session-row a").first.click()
    expect(tab).to_have_url(re.compile(r"/traces/\?session="))
    expect(tab.locator("tr.trace-row").first).to_be_visible()
