"""The UI's read models and helpers, without a server or a browser."""

from __future__ import annotations

import pytest

from heliograph.model import Breadcrumb, Event, Exception_, Frame, Mechanism, User
from heliograph.query.event_view import event_tags, event_view, frame_views, pairs, request_view
from heliograph.query.issue_list import effective_params, split_title, without_status_tokens
from heliograph.query.issue_page import daily_totals, tag_breakdowns
from heliograph.store.base import TagCount
from heliograph.web.charts import bar_chart, day_labels, hour_labels
from heliograph.web.common import safe_next
from heliograph.web.templating import compact, reltime

pytestmark = pytest.mark.ui


def frame(name: str, *, in_app: bool, lineno: int = 10) -> Frame:
    return Frame(
        function=name,
        filename=f"{name}.py",
        lineno=lineno,
        in_app=in_app,
        context_line=f"    {name}()",
        pre_context=["a", "b"],
        post_context=["c"],
        vars={"n": 1, "s": "'x'", "d": {"k": [1, 2]}},
    )


def chained_event(source: str | None = "__cause__") -> Event:
    outer = Exception_(
        type="RuntimeError",
        value="outer",
        frames=[frame("main", in_app=True), frame("lib", in_app=False)],
    )
    inner = Exception_(
        type="KeyError",
        value="'k'",
        mechanism=Mechanism(type="chained", source=source),
        frames=[frame("json", in_app=False), frame("decode", in_app=False)],
    )
    return Event(project_id=1, event_id="e" * 32, timestamp=0.0, exceptions=[outer, inner])


def test_chain_newest_first_reads_like_sentry() -> None:
    view = event_view(chained_event(), "newest")
    assert [e.type for e in view.exceptions] == ["RuntimeError", "KeyError"]
    assert view.exceptions[0].relation == (
        "The above exception was directly caused by the following exception:"
    )
    assert view.exceptions[1].relation is None
    frames = view.exceptions[0].frames
    assert [f.function for f in frames] == ["lib", "main"]  # the raising frame first
    assert frames[0].crashed and not frames[0].expanded  # a library frame stays shut
    assert frames[1].expanded and not frames[1].crashed


def test_chain_oldest_first_reads_like_a_python_traceback() -> None:
    view = event_view(chained_event("__context__"), "oldest")
    assert [e.type for e in view.exceptions] == ["KeyError", "RuntimeError"]
    assert view.exceptions[0].relation == (
        "During handling of the above exception, another exception occurred:"
    )
    assert [f.function for f in view.exceptions[1].frames] == ["main", "lib"]


def test_an_exception_without_in_app_frames_keeps_its_raising_frame_open() -> None:
    view = event_view(chained_event(), "newest")
    inner = view.exceptions[1]
    assert [(f.function, f.expanded) for f in inner.frames] == [("decode", True), ("json", False)]
    assert inner.library_frames == 2


def test_source_lines_are_numbered_around_the_error_line() -> None:
    (view,) = frame_views([frame("f", in_app=True, lineno=20)], "newest")
    assert [(line.number, line.text, line.current) for line in view.lines] == [
        (18, "a", False),
        (19, "b", False),
        (20, "    f()", True),
        (21, "c", False),
    ]
    values = {v.key: v.value for v in view.variables}
    assert values["n"] == "1"
    assert values["s"] == "'x'"  # strings as sent (the Python SDK sends reprs)
    assert values["d"].startswith("{\n")  # structures pretty-printed
    assert {v.key: v.multiline for v in view.variables}["d"] is True


def test_frames_without_line_numbers_or_context() -> None:
    bare = Frame(function=None, module="m", context_line="x = 1")
    (view,) = frame_views([bare], "newest")
    assert view.location == "m" and view.function == "?"
    assert view.lines[0].number is None and view.lines[0].current
    assert view.expanded  # no in-app frame at all: the only frame stays open


def test_request_parts_accept_every_shape_sdks_send() -> None:
    assert [(p.key, p.value) for p in pairs("a=1&b=&a=2")] == [("a", "1"), ("b", ""), ("a", "2")]
    assert [(p.key, p.value) for p in pairs([["X-A", "1"], ["bad"]])] == [("X-A", "1")]
    assert [(p.key, p.value) for p in pairs({"k": 2})] == [("k", "2")]
    assert pairs(None) == [] and pairs(17) == []
    view = request_view(
        {"method": "GET", "url": "http://x/y", "data": {"a": 1}, "fragment": "top", "env": "junk"}
    )
    assert view is not None
    assert view.method == "GET" and view.data is not None and '"a": 1' in view.data.value
    assert [(o.key, o.value) for o in view.other] == [("fragment", "top")]
    assert view.env == []
    assert request_view(None) is None and request_view({}) is None


def test_breadcrumbs_follow_the_frame_order_and_tags_include_builtins() -> None:
    event = Event(
        project_id=1,
        event_id="f" * 32,
        timestamp=0.0,
        environment="prod",
        release="1.0",
        tags={"tier": "gold", "release": "custom"},
        user=User(email="a@b.c"),
        breadcrumbs=[Breadcrumb(message="first"), Breadcrumb(message="second", data={"x": 1})],
        contexts={"runtime": {"type": "runtime", "name": "CPython"}, "weird": 5},
    )
    newest = event_view(event, "newest")
    assert [b.message for b in newest.breadcrumbs] == ["second", "first"]
    assert [b.message for b in event_view(event, "oldest").breadcrumbs] == ["first", "second"]
    assert newest.breadcrumbs[0].level == "info" and newest.breadcrumbs[0].data[0].key == "x"
    tags = {t.key: t.value for t in event_tags(event)}
    assert tags == {
        "environment": "prod",
        "level": "error",
        "release": "custom",  # the event's own tag wins
        "tier": "gold",
        "user": "email:a@b.c",
    }
    contexts = {s.title: [(i.key, i.value) for i in s.items] for s in newest.contexts}
    assert contexts == {"Runtime": [("name", "CPython")], "Weird": [("value", "5")]}


def test_search_box_status_beats_the_tab_and_tabs_drop_it() -> None:
    assert effective_params({"status": "unresolved", "query": "is:resolved x"}) == {
        "query": "is:resolved x"
    }
    assert effective_params({"status": "ignored", "query": "x", "level": ""}) == {
        "status": "ignored",
        "query": "x",
    }
    assert without_status_tokens("is:resolved level:error boom") == "level:error boom"
    assert split_title("KeyError: 'k'") == ("KeyError", "'k'")
    assert split_title("Payment failed: retry later") == (None, "Payment failed: retry later")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/issues/1/?event=2", "/issues/1/?event=2"),
        ("/", "/"),
        ("", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/a\nb", "/"),
        ("issues/1/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_safe_next_keeps_only_same_site_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_tag_breakdown_percentages_and_order() -> None:
    tags = [
        TagCount("browser", "Chrome", 6),
        TagCount("browser", "Firefox", 2),
        TagCount("environment", "prod", 10),
    ]
    breakdown = tag_breakdowns(tags, times_seen=10)
    assert [b.key for b in breakdown] == ["environment", "browser"]
    browser = breakdown[1]
    assert [(v.value, v.percent) for v in browser.values] == [("Chrome", 60.0), ("Firefox", 20.0)]
    assert browser.other_percent == pytest.approx(20.0)


def test_daily_totals_group_hours_into_utc_days() -> None:
    end_hour = 100 * 24 + 5  # 05:00 on day 100
    hourly = [1] * (24 + 6)  # all of day 99 and six hours of day 100
    assert daily_totals(hourly, end_hour) == [24, 6]


def test_bar_chart_scales_and_keeps_small_counts_visible() -> None:
    chart = bar_chart([0, 1, 1000], ["a", "b", "c"], width=30, height=20)
    assert chart.peak == 1000 and chart.total == 1001
    zero, small, peak = chart.bars
    assert zero.height == 0 and small.height >= 1.5 and peak.height == 20 and peak.y == 0
    assert [b.x for b in chart.bars] == [0, 10, 20]
    assert bar_chart([], [], width=10, height=10).bars == []
    assert hour_labels(24, 2) == ["Jan 01, 23:00 UTC", "Jan 02, 00:00 UTC"]
    assert day_labels(47, 2) == ["Jan 01", "Jan 02"]


def test_relative_times_and_compact_numbers() -> None:
    now = 1_000_000.0
    assert reltime(now - 5, now) == "just now"
    assert reltime(now - 125, now) == "2 min ago"
    assert reltime(now - 3 * 3600, now) == "3h ago"
    assert reltime(now - 2 * 86400, now) == "2d ago"
    assert reltime(now + 7200, now) == "in 2h"
    assert reltime(None) == "—"
    assert [compact(n) for n in (0, 9999, 12_345, 2_500_000, 350_000)] == [
        "0",
        "9,999",
        "12.3k",
        "2.5M",
        "350k",
    ]
