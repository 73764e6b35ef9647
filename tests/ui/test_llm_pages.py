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
from heliograph.store.sqlite import SQLiteStore
from tests.conftest import LiveServer
from tests.ui.conftest import PageProblems, new_context

pytestmark = pytest.mark.ui

LLM = "/default/demo/llm/"


@pytest.fixture(scope="module")
def demo_server(live_server: LiveServer) -> LiveServer:
    store = SQLiteStore(live_server.data_dir / "heliograph.sqlite3")
    try:
        result = run_demo(
            store, live_server.data_dir / "queue.sqlite3", "demo", seed=11, traces=120
        )
    finally:
        store.close()
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


def one(server: LiveServer, sql: str) -> str:
    store = SQLiteStore(server.data_dir / "heliograph.sqlite3")
    try:
        row = store.db.read(lambda c: c.execute(sql).fetchone())
    finally:
        store.close()
    assert row is not None, sql
    return str(row[0])


def test_dashboard_charts_tables_and_range_picker(tab: Page) -> None:
    tab.goto(LLM)
    expect(tab.locator("h1")).to_have_text("LLM analytics")
    expect(tab.locator('[data-kpi="requests"]')).not_to_have_text("0")
    expect(tab.locator('[data-kpi="cost"]')).to_contain_text("$")
    for chart in ("cost", "requests", "tokens"):
        assert tab.locator(f"#chart-{chart} svg g.col").count() == 24
        assert tab.locator(f"#chart-{chart} svg rect[class^='bar-']").count() > 0
    # A line through neighbouring hours, or a dot for an hour alone: which one
    # depends on when the demo's sessions fell, i.e. on the time of day.
    p95 = "#chart-latency polyline.line-p95, #chart-latency circle.line-p95"
    assert tab.locator(p95).count() > 0
    unpriced = tab.locator('#by-model tr[data-model="acme-llm-7b-instruct"] td.cost')
    expect(unpriced).to_have_text("unknown")
    expect(tab.locator('#by-model tr[data-model="gpt-4.1"] td.cost')).to_contain_text("$")
    assert tab.locator("#top-traces tbody tr").count() > 1

    tab.get_by_role("group", name="Time range").get_by_text("7d").click()
    expect(tab).to_have_url(re.compile(r"range=7d"))
    expect(tab.locator("#chart-requests svg g.col")).to_have_count(7)
    tab.get_by_role("group", name="Bucket size").get_by_text("Hour").click()
    expect(tab).to_have_url(re.compile(r"bucket=hour"))
    expect(tab.locator("#chart-requests svg g.col")).to_have_count(168)


def test_trace_tree_is_nested_on_a_timeline(tab: Page, demo_server: LiveServer) -> None:
    trace_id = one(
        demo_server,
        "SELECT trace_id FROM llm_traces WHERE name = 'research-agent' ORDER BY events DESC",
    )
    tab.goto(
        f"{LLM}traces/?user="
        + one(demo_server, f"SELECT distinct_id FROM llm_traces WHERE trace_id = '{trace_id}'")
    )
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
    trace_id = one(
        demo_server,
        "SELECT t.trace_id FROM llm_traces t JOIN events e ON e.trace_id = t.trace_id "
        "AND e.kind = 'error' WHERE t.name = 'checkout-assistant'",
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
