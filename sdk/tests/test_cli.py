"""wrap_cli: a real Typer/Click program in a subprocess reports its crash before exiting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import heliograph_sdk

TYPER_APP = """
import sys
import typer
import heliograph_sdk

heliograph_sdk.init(api_key="k", host=sys.argv.pop(1), flush_interval=30)
app = heliograph_sdk.wrap_cli(typer.Typer(pretty_exceptions_enable=False))

@app.command()
def sync(count: int) -> None:
    raise RuntimeError(f"sync failed after {count}")

@app.command()
def ok() -> None:
    heliograph_sdk.capture("cli-ok")

@app.command()
def stop() -> None:
    raise typer.Exit(code=3)

@app.command()
def interrupted() -> None:
    raise KeyboardInterrupt

if __name__ == "__main__":
    app()
"""

CLICK_APP = """
import sys
import click
import heliograph_sdk

heliograph_sdk.init(api_key="k", host=sys.argv.pop(1), flush_interval=30)

@heliograph_sdk.wrap_cli
@click.group()
def tool() -> None:
    pass

@tool.command()
def crash() -> None:
    {}.missing

@tool.command()
def abort() -> None:
    raise click.Abort()

if __name__ == "__main__":
    tool()
"""


def run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60
    )


def test_typer_crash_is_sent_before_exit(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(tmp_path, TYPER_APP, server.url, "sync", "3")
    assert result.returncode == 1
    assert "sync failed after 3" in result.stderr
    # flush_interval=30: the event is there only because the wrapper flushed.
    (event,) = server.named("$exception")
    props = event["properties"]
    assert props["$tags"] == {"cli.command": "prog.py sync"}
    assert props["$exception_list"][0]["mechanism"]["type"] == "cli"
    assert props["$exception_list"][0]["value"] == "sync failed after 3"


@pytest.mark.parametrize(
    ("args", "code"), [(["ok"], 0), (["stop"], 3), (["interrupted"], 130), (["nope"], 2)]
)
def test_typer_normal_exits_are_not_errors(server, tmp_path: Path, args, code) -> None:  # type: ignore[no-untyped-def]
    result = run(tmp_path, TYPER_APP, server.url, *args)
    assert result.returncode in (code, 1), result.stderr
    assert not server.named("$exception")
    if args == ["ok"]:
        assert server.named("cli-ok")  # flushed on the way out too


def test_click_group_decorated(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(tmp_path, CLICK_APP, server.url, "crash")
    assert result.returncode == 1
    (event,) = server.named("$exception")
    assert event["properties"]["$tags"] == {"cli.command": "prog.py crash"}
    assert event["properties"]["$exception_list"][0]["type"] == "AttributeError"
    result = run(tmp_path, CLICK_APP, server.url, "abort")
    assert result.returncode == 1
    assert len(server.named("$exception")) == 1


def test_plain_function_in_process(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(flush_interval=30)

    @heliograph_sdk.wrap_cli
    def main(value: int) -> int:
        if value:
            raise ValueError("bad value")
        return 7

    assert main(0) == 7
    assert main.__name__ == "main"
    with pytest.raises(ValueError):
        main(1)
    events: list[dict[str, Any]] = server.named("$exception")
    assert events[0]["properties"]["$tags"] == {"cli.command": "main"}
    with pytest.raises(SystemExit):
        heliograph_sdk.wrap_cli(sys.exit)(0)
    assert len(server.named("$exception")) == 1
