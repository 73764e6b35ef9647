"""HeliographMiddleware: snippet injection rules and error capture, on real Starlette apps."""

from __future__ import annotations

import gzip
import logging
from typing import Any

import pytest

import heliograph_sdk

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.testclient import TestClient

PAGE = "<!doctype html><html><HEAD><title>t</title></HEAD><body>hi</body></html>"
ran: list[str] = []


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def page_with_snippet(request: Any) -> HTMLResponse:
    tag = '<script src="/static/heliograph.js" data-heliograph-snippet="1"></script>'
    return HTMLResponse(PAGE.replace("</HEAD>", tag + "</HEAD>"))


async def data(request: Any) -> JSONResponse:
    return JSONResponse({"html": "</head>"})


async def streamed(request: Any) -> StreamingResponse:
    async def chunks() -> Any:
        yield b"<html><head></head>"
        yield b"<body>streamed</body></html>"

    return StreamingResponse(chunks(), media_type="text/html")


async def streamed_late_head(request: Any) -> StreamingResponse:
    async def chunks() -> Any:
        yield b"<html><head><title>"
        yield b"slow</title>"
        yield b"</head>"
        for _ in range(50):
            yield b"<p>row</p>"
        yield b"</body></html>"

    return StreamingResponse(
        chunks(),
        media_type="text/html",
        background=BackgroundTask(ran.append, "background ran after streaming"),
    )


async def streamed_no_head(request: Any) -> StreamingResponse:
    async def chunks() -> Any:
        yield b"<html>"
        for _ in range(20):
            yield b"<p>row</p>"
        yield b"</html>"

    return StreamingResponse(chunks(), media_type="text/html")


async def huge(request: Any) -> HTMLResponse:
    return HTMLResponse("<html><head></head><body>" + "x" * (4 * 1024 * 1024) + "</body></html>")


async def with_background(request: Any) -> HTMLResponse:
    return HTMLResponse(PAGE, background=BackgroundTask(ran.append, "background ran"))


async def big_text(request: Any) -> PlainTextResponse:
    return PlainTextResponse("plain " * 1000)


async def signed_in(request: Any) -> HTMLResponse:
    heliograph_sdk.set_user(id="user-7", plan="pro")
    return HTMLResponse(PAGE)


async def boom(request: Any) -> None:
    raise RuntimeError("handler exploded")


ROUTES = [
    Route("/", page),
    Route("/has-snippet", page_with_snippet),
    Route("/data", data),
    Route("/stream", streamed),
    Route("/stream-late-head", streamed_late_head),
    Route("/stream-no-head", streamed_no_head),
    Route("/huge", huge),
    Route("/background", with_background),
    Route("/text", big_text),
    Route("/boom", boom),
    Route("/signed-in", signed_in),
]


def make_app(*middleware: Middleware) -> TestClient:
    return TestClient(Starlette(routes=ROUTES, middleware=list(middleware)))


def client(**options: Any) -> TestClient:
    return make_app(Middleware(heliograph_sdk.HeliographMiddleware, **options))


def test_injects_before_head_with_correct_length(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(environment="prod", release="1.0")
    response = client().get("/")
    body = response.text
    assert body.count("data-heliograph-snippet") == 1
    before, after = body.split("<script ", 1)
    assert before == "<!doctype html><html><HEAD><title>t</title>"
    assert after.endswith("</script></HEAD><body>hi</body></html>")
    assert f'src="{server.url}/static/heliograph.js"' in body
    assert 'data-api-key="phc_test"' in body
    assert f'data-host="{server.url}"' in body
    assert 'data-environment="prod"' in body
    assert 'data-release="1.0"' in body
    assert " defer></script>" in body
    assert int(response.headers["content-length"]) == len(response.content)


def test_snippet_host_option(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    body = client(snippet_host="https://hg.example.com").get("/").text
    assert 'src="https://hg.example.com/static/heliograph.js"' in body


def test_never_twice(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    assert client().get("/has-snippet").text.count("data-heliograph-snippet") == 1
    double = make_app(
        Middleware(heliograph_sdk.HeliographMiddleware),
        Middleware(heliograph_sdk.HeliographMiddleware),
    )
    assert double.get("/").text.count("data-heliograph-snippet") == 1


def test_json_untouched(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    response = client().get("/data")
    assert response.json() == {"html": "</head>"}


def test_streamed_pages_get_the_snippet_and_keep_streaming(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    body = client().get("/stream").text
    assert body.count("data-heliograph-snippet") == 1
    before, after = body.split("<script ", 1)
    assert before == "<html><head>"
    assert after.endswith("</script></head><body>streamed</body></html>")
    late = client().get("/stream-late-head").text
    assert late.count("data-heliograph-snippet") == 1
    assert late.startswith("<html><head><title>")
    assert late.endswith("</script></head>" + "<p>row</p>" * 50 + "</body></html>")
    assert "background ran after streaming" in ran
    headless = client().get("/stream-no-head").text
    assert headless == "<html>" + "<p>row</p>" * 20 + "</html>"  # nowhere to put it


def test_a_signed_in_user_is_named_in_the_tag(sdk) -> None:  # type: ignore[no-untyped-def]
    import html
    import json
    import re

    sdk()  # identify mode "id": the id travels, the plan does not
    body = client().get("/signed-in").text
    found = re.search(r'data-user="([^"]*)"', body)
    assert found is not None
    assert json.loads(html.unescape(found.group(1))) == {"id": "user-7"}
    assert "data-user" not in client().get("/").text


def test_huge_page_untouched_with_warning(sdk, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    sdk()
    with caplog.at_level(logging.WARNING, logger="heliograph_sdk"):
        response = client().get("/huge")
    assert "data-heliograph-snippet" not in response.text
    assert int(response.headers["content-length"]) == len(response.content)
    assert any("snippet not injected" in r.getMessage() for r in caplog.records)


def test_background_task_still_runs(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    ran.clear()
    response = client().get("/background")
    assert "data-heliograph-snippet" in response.text
    assert ran == ["background ran"]


def test_inside_gzip_middleware(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    app = make_app(
        Middleware(GZipMiddleware, minimum_size=10),
        Middleware(heliograph_sdk.HeliographMiddleware),
    )
    response = app.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.count("data-heliograph-snippet") == 1  # httpx decoded it


def test_already_encoded_response_is_skipped(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    app = make_app(
        Middleware(heliograph_sdk.HeliographMiddleware),
        Middleware(GZipMiddleware, minimum_size=10),
    )
    response = app.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "data-heliograph-snippet" not in response.text
    raw = app.get("/text", headers={"accept-encoding": "gzip"})
    assert raw.text == "plain " * 1000
    assert gzip.compress(b"x")  # sanity: gzip available


def test_head_and_disabled_snippet_untouched(sdk) -> None:  # type: ignore[no-untyped-def]
    sdk()
    assert "data-heliograph-snippet" not in client(snippet=False).get("/").text
    response = client().head("/")
    assert int(response.headers["content-length"]) == len(PAGE)


def test_sdk_off_passes_through() -> None:
    assert client().get("/").text == PAGE


def test_unhandled_exception_captured_with_request_and_reraised(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with pytest.raises(RuntimeError, match="handler exploded"):
        client().get(
            "/boom?page=2&token=abc",
            headers={"Authorization": "Bearer xyz", "Cookie": "sid=1", "X-Trace": "t1"},
        )
    assert heliograph_sdk.flush(5)
    (event,) = server.named("$exception")
    props = event["properties"]
    (exc,) = props["$exception_list"]
    assert exc["type"] == "RuntimeError"
    assert exc["mechanism"]["type"] == "asgi"
    assert exc["mechanism"]["handled"] is False
    request = props["$request"]
    assert request["method"] == "GET"
    assert request["url"] == "http://testserver/boom?page=2&token=%5BFiltered%5D"
    assert request["headers"]["authorization"] == "[Filtered]"
    assert request["headers"]["cookie"] == "[Filtered]"
    assert request["headers"]["x-trace"] == "t1"


def test_500_page_still_served_when_not_raising(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    app = TestClient(
        Starlette(routes=ROUTES, middleware=[Middleware(heliograph_sdk.HeliographMiddleware)]),
        raise_server_exceptions=False,
    )
    response = app.get("/boom")
    assert response.status_code == 500
    assert heliograph_sdk.flush(5)
    assert len(server.named("$exception")) == 1


def test_user_set_in_request_does_not_leak(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()

    async def login(request: Any) -> PlainTextResponse:
        heliograph_sdk.set_user(id=request.query_params["id"])
        heliograph_sdk.capture("login")
        return PlainTextResponse("ok")

    app = TestClient(
        Starlette(
            routes=[Route("/login", login)],
            middleware=[Middleware(heliograph_sdk.HeliographMiddleware)],
        )
    )
    app.get("/login?id=alice")
    heliograph_sdk.capture("outside")
    assert heliograph_sdk.flush(5)
    assert server.named("login")[0]["distinct_id"] == "alice"
    assert server.named("outside")[0]["distinct_id"] != "alice"


def test_a_known_persons_flags_are_rendered_into_the_tag(sdk) -> None:  # type: ignore[no-untyped-def]
    import html
    import json
    import re

    from heliograph_sdk import _hub

    sdk(identify="full")
    app = client()
    assert "data-flags" not in app.get("/signed-in").text  # no definitions: the browser asks
    current = _hub.current()
    assert current is not None
    current.flags._definitions = {  # what a poll of /flags/definitions would have loaded
        "pro-only": {"key": "pro-only", "active": True, "filters": {"groups": [
            {"properties": [{"key": "plan", "operator": "exact", "value": "pro"}]}]}},
        "copy": {"key": "copy", "active": True, "filters": {
            "groups": [{"properties": [], "rollout_percentage": 100}],
            "multivariate": {"variants": [{"key": "only", "rollout_percentage": 100}]},
            "payloads": {"only": '{"headline": "Hi"}'}}},
    }  # fmt: skip
    body = app.get("/signed-in").text
    found = re.search(r'data-flags="([^"]*)"', body)
    assert found is not None
    flags = json.loads(html.unescape(found.group(1)))
    assert flags == {
        "distinctId": "user-7",
        "flags": {"pro-only": True, "copy": "only"},
        "payloads": {"copy": '{"headline": "Hi"}'},
    }
    assert "data-flags" not in app.get("/").text  # an anonymous visitor: their browser asks
