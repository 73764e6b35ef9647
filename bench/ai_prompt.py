"""AI-fix prompt benchmark: description size, crash-frame survival, describe time.

    python bench/ai_prompt.py [--repeat 50] [--budget 2000]

Raises real Python exceptions of many shapes (shallow app errors, deep and
mutual recursion, ten-link chains, 50 KB messages, library-heavy stacks from
json, re, asyncio, concurrent.futures, jinja2, sqlite3, pydantic and a
Starlette app behind its test client, an exception group, a 6 000-character
source line), turns each traceback into a canonical Event with a small helper,
and describes every event at the given budget (and at a tight 500 tokens).
Prints, per budget, the description tokens p50/max, the whole prompt (system +
user message) tokens p50/max, the share of descriptions that keep the crash
frame with its context line (target 100 %), and describe time p50/p99; then
compares with the previous run stored in ``bench/results/ai_prompt.json``.
Not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import concurrent.futures
import importlib
import json
import linecache
import re
import sqlite3
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from heliograph.ai.describe import Description, build_messages, describe_event
from heliograph.ai.tokens import count_tokens
from heliograph.model import Event, Exception_, Frame, Mechanism

RESULTS = Path(__file__).parent / "results" / "ai_prompt.json"
_GROUPS: Any = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+
_LIBRARY_PATHS = tuple(
    {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)

# -- tracebacks into canonical events --------------------------------------------------


def _frames(tb: TracebackType | None) -> list[Frame]:
    frames: list[Frame] = []
    while tb is not None:
        code, lineno = tb.tb_frame.f_code, tb.tb_lineno
        path = code.co_filename
        lines = [linecache.getline(path, n).rstrip("\n") for n in range(lineno - 5, lineno + 6)]
        frames.append(
            Frame(
                function=code.co_name,
                module=tb.tb_frame.f_globals.get("__name__"),
                filename=path,
                abs_path=path,
                lineno=lineno,
                in_app=not path.startswith(_LIBRARY_PATHS) and not path.startswith("<"),
                context_line=lines[5] if lines[5] else None,
                pre_context=lines[:5],
                post_context=lines[6:],
                vars={k: _repr(v) for k, v in list(tb.tb_frame.f_locals.items())[:30]},
            )
        )
        tb = tb.tb_next
    return frames


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unrepresentable>"
    return text[:512]  # what sentry-sdk keeps


def to_event(error: BaseException) -> Event:
    """Outermost first, like the canonical model; ids and sources like sentry-sdk."""
    chain: list[Exception_] = []

    def walk(exc: BaseException, source: str | None, parent: int | None) -> None:
        if len(chain) >= 50:
            return
        exception_id = len(chain)
        is_group = isinstance(exc, _GROUPS)
        chain.append(
            Exception_(
                type=type(exc).__name__,
                value=str(exc),
                module=type(exc).__module__,
                mechanism=Mechanism(
                    type="chained" if parent is not None else "excepthook",
                    handled=None if parent is not None else False,
                    exception_id=exception_id,
                    parent_id=parent,
                    source=source,
                    is_exception_group=is_group,
                ),
                frames=_frames(exc.__traceback__),
            )
        )
        if is_group:
            for index, member in enumerate(getattr(exc, "exceptions", ())):
                walk(member, f"exceptions[{index}]", exception_id)
        if exc.__cause__ is not None:
            walk(exc.__cause__, "__cause__", exception_id)
        elif exc.__context__ is not None and not exc.__suppress_context__:
            walk(exc.__context__, "__context__", exception_id)

    walk(error, None, None)
    return Event(
        project_id=1,
        event_id="0" * 32,
        timestamp=time.time(),
        platform="python",
        exceptions=chain,
    )


def capture(fn: Callable[[], object]) -> Event:
    try:
        fn()
    except BaseException as error:
        return to_event(error)
    raise AssertionError(f"{fn.__name__} did not raise")


# -- the shapes ------------------------------------------------------------------------


def shallow() -> None:
    cart: list[float] = []
    print(sum(cart) / len(cart))


def nested_lookup(depth: int = 10) -> None:
    settings: dict[str, Any] = {"db": {"host": "localhost"}, "user": "[Filtered]"}
    if depth == 0:
        print(settings["cache"]["ttl"])
    nested_lookup(depth - 1)


def direct_recursion(n: int = 0) -> int:
    return direct_recursion(n + 1) + 1


def ping(n: int) -> None:
    if n == 0:
        raise ValueError("ping-pong reached the bottom: " + "state " * 40)
    pong(n)


def pong(n: int) -> None:
    ping(n - 1)


def three_links() -> None:
    try:
        try:
            profile: dict[str, int] = {}
            print(profile["user_id"])
        except KeyError as error:
            raise ValueError("cannot load the profile") from error
    except ValueError:
        raise RuntimeError("request failed")  # noqa: B904 - the implicit chain is the point


def ten_links(k: int = 9) -> None:
    if k == 0:
        raise ConnectionError("database unreachable at 10.0.0.5:5432 " + "x" * 300)
    try:
        ten_links(k - 1)
    except Exception as error:
        raise RuntimeError(f"layer {k} failed while retrying: " + "detail " * 60) from error


def long_message() -> None:
    raise ValueError("unexpected payload: " + json.dumps({"items": list(range(12000))}))


def json_library() -> None:
    json.loads('{"items": [1, 2, 3,, 4]}')


def regex_library() -> None:
    re.compile(r"(?P<name>[a-z]+(?P=missing)")


def asyncio_stack() -> None:
    async def fetch(n: int) -> int:
        if n == 3:
            raise TimeoutError(f"upstream {n} timed out")
        await asyncio.sleep(0)
        return n

    async def gather() -> list[int]:
        return list(await asyncio.gather(*(fetch(n) for n in range(5))))

    asyncio.run(gather())


def thread_pool() -> None:
    def work(n: int) -> float:
        return 1 / (n - 2)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        print([f.result() for f in [pool.submit(work, n) for n in range(4)]])


def exception_group() -> None:
    async def job(n: int) -> None:
        await asyncio.sleep(0)
        if n % 2:
            raise ValueError(f"job {n} failed")

    async def main() -> None:
        async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined,unused-ignore]
            for n in range(4):
                group.create_task(job(n))

    asyncio.run(main())


def jinja_template() -> None:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.from_string("{% for item in order.items %}{{ item.price * item.qty }}{% endfor %}").render(
        order={"items": [{"price": 3}]}
    )


def sqlite_error() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE issues (id INTEGER PRIMARY KEY, title TEXT)")
    connection.execute("INSERT INTO issues (id, titel) VALUES (1, 'x')")


def pydantic_model() -> None:
    import pydantic

    class Order(pydantic.BaseModel):
        id: int
        email: str
        lines: list[dict[str, int]]

    Order.model_validate({"id": "abc", "lines": [{"qty": "many"}] * 30})


def starlette_app() -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def checkout(request: Request) -> JSONResponse:
        body = await request.json()
        total = sum(line["price"] * line["qty"] for line in body["lines"])
        return JSONResponse({"total": total / body["discount"]})

    app = Starlette(routes=[Route("/checkout", checkout, methods=["POST"])],
                    middleware=[Middleware(GZipMiddleware)])  # fmt: skip
    with TestClient(app) as client:
        client.post("/checkout", json={"lines": [{"price": 2, "qty": 1}], "discount": 0})


def long_source_line(directory: Path) -> Callable[[], None]:
    path = directory / "minified_bundle.py"
    filler = "; ".join(f"v{i} = {i}" for i in range(700))
    path.write_text(f"def render(data):\n    {filler}; return data['missing'] + v1\n")
    sys.path.insert(0, str(directory))
    module = importlib.import_module("minified_bundle")
    return lambda: module.render({})


def huge_locals() -> None:
    rows = [{"id": i, "name": f"user {i}", "tags": ["a"] * 20} for i in range(2000)]
    index = {row["id"]: row for row in rows}
    blob = "z" * 100_000
    print(index[5000], blob)


def scenarios(directory: Path) -> dict[str, Event]:
    shapes: dict[str, Callable[[], object]] = {
        "shallow ZeroDivisionError": shallow,
        "KeyError 10 frames deep": nested_lookup,
        "RecursionError (direct)": direct_recursion,
        "mutual recursion 300 frames": lambda: ping(150),
        "3-link chain": three_links,
        "10-link chain, long values": ten_links,
        "60 KB message": long_message,
        "json.loads (library crash)": json_library,
        "re.compile (library crash)": regex_library,
        "asyncio.gather": asyncio_stack,
        "ThreadPoolExecutor": thread_pool,
        "jinja2 template": jinja_template,
        "sqlite3": sqlite_error,
        "pydantic validation": pydantic_model,
        "starlette + TestClient": starlette_app,
        "6 000-char source line": long_source_line(directory),
        "huge locals": huge_locals,
    }
    if sys.version_info >= (3, 11):
        shapes["ExceptionGroup (TaskGroup)"] = exception_group
    return {name: capture(fn) for name, fn in shapes.items()}


# -- measuring -------------------------------------------------------------------------


def keeps_crash_line(description: Description, event: Event) -> bool:
    """The first frame listed is the crash frame, with (a piece of) its context line."""
    original = (event.crash_frames[-1].context_line or "").strip()
    container = description.data.get("exceptions", [description.data])[0]
    frames = container.get("frames") or []
    if not frames or not frames[0].get("crash"):
        return False
    line = str(frames[0].get("context_line", "")).strip()
    if not original:
        return True  # nothing to keep (no source)
    pieces = [p for p in line.replace("…", "\n").split("\n") if p.strip()]
    return bool(pieces) and all(p.strip() in original for p in pieces)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def measure(events: dict[str, Event], budget: int, repeat: int) -> dict[str, Any]:
    tokens: list[int] = []
    prompt_tokens: list[int] = []
    kept = 0
    times: list[float] = []
    rows = []
    for name, event in events.items():
        for _ in range(repeat):
            started = time.perf_counter()
            description = describe_event(event, budget_tokens=budget, include_locals=True)
            times.append(time.perf_counter() - started)
        messages = build_messages(description)
        prompt = sum(count_tokens(m["content"]) for m in messages)
        tokens.append(description.tokens)
        prompt_tokens.append(prompt)
        ok = keeps_crash_line(description, event)
        kept += ok
        frames = sum(len(e.frames) for e in event.exceptions)
        rows.append((name, frames, len(event.exceptions), description.tokens, ok, description))
    return {
        "budget": budget,
        "events": len(events),
        "tokens_p50": statistics.median(tokens),
        "tokens_max": max(tokens),
        "prompt_tokens_p50": statistics.median(prompt_tokens),
        "prompt_tokens_max": max(prompt_tokens),
        "over_budget": sum(t > budget for t in tokens),
        "crash_line_kept": kept / len(events),
        "describe_ms_p50": statistics.median(times) * 1000,
        "describe_ms_p99": percentile(times, 0.99) * 1000,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="describes per event")
    parser.add_argument("--budget", type=int, default=2000, help="token budget")
    parser.add_argument("--verbose", action="store_true", help="print every event's steps")
    args = parser.parse_args()

    count_tokens("warm up the encoder")
    with tempfile.TemporaryDirectory() as directory:
        events = scenarios(Path(directory))
    results: dict[str, Any] = {}
    for budget in sorted({args.budget, 500}, reverse=True):
        figures = measure(events, budget, args.repeat)
        rows = figures.pop("rows")
        results[str(budget)] = figures
        print(f"\nbudget {budget} tokens, {len(events)} events x {args.repeat} describes")
        print(f"  {'event':<30} {'frames':>6} {'links':>5} {'tokens':>6}  crash line")
        for name, frames, links, tokens, ok, description in rows:
            print(f"  {name:<30} {frames:>6} {links:>5} {tokens:>6}  {'kept' if ok else 'LOST'}")
            if args.verbose:
                print(f"      steps: {', '.join(description.steps) or '-'}")
        print(
            f"  description tokens p50 {figures['tokens_p50']:.0f} max {figures['tokens_max']}"
            f" (over budget: {figures['over_budget']})\n"
            f"  prompt tokens (system + user) p50 {figures['prompt_tokens_p50']:.0f}"
            f" max {figures['prompt_tokens_max']}\n"
            f"  crash frame + context line kept: {figures['crash_line_kept']:.0%}\n"
            f"  describe time p50 {figures['describe_ms_p50']:.2f} ms"
            f" p99 {figures['describe_ms_p99']:.2f} ms"
        )
    if RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
        print("\ncompared with the previous run:")
        for budget, figures in results.items():
            before = previous.get(budget)
            if not before:
                continue
            for key in ("tokens_p50", "tokens_max", "describe_ms_p50", "describe_ms_p99"):
                print(f"  budget {budget} {key:<16} {before[key]:>9.2f} -> {figures[key]:>9.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
