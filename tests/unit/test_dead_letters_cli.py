"""``heliograph dead-letters``: an admin lists, reads, replays and purges quarantined payloads."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path

from typer.testing import CliRunner

from heliograph.cli import app
from heliograph.store import open_queue

runner = CliRunner()


def quarantine(data_dir: Path, body: bytes, reason: str, shard: int = 0) -> int:
    """Queue a gzip payload and move it to the dead letters, as digest does."""
    queue = open_queue(data_dir, shard)
    try:
        queue_id = asyncio.run(
            queue.append(1, "sentry_store", time.time(), gzip.compress(body), "gzip")
        )
        queue.remove([queue_id], dead={queue_id: reason})
        return queue_id
    finally:
        queue.close()


def run(*args: str) -> str:
    result = runner.invoke(app, ["dead-letters", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_list_show_replay_and_purge(tmp_path: Path) -> None:
    first = quarantine(tmp_path, b'{"message": "first"}', "store: TypeError: boom")
    second = quarantine(tmp_path, b'{"message": "second"}', "decode: KeyError: 'x'")
    data_dir = ("--data-dir", str(tmp_path))

    listed = run("list", *data_dir)
    assert listed.index(f"{second}\t") < listed.index(f"{first}\t")  # newest first
    assert "store: TypeError: boom" in listed and "sentry_store" in listed

    shown = run("show", str(first), *data_dir)
    assert "reason: store: TypeError: boom" in shown
    assert '{"message": "first"}' in shown  # decoded from gzip

    assert "queued 1 payload(s) again" in run("replay", str(first), *data_dir)
    queue = open_queue(tmp_path)
    try:
        (payload,) = queue.oldest(10)
        assert gzip.decompress(payload.body) == b'{"message": "first"}'
        assert [letter.id for letter in queue.dead_letters()] == [second]
    finally:
        queue.close()

    assert "deleted 1 dead letter(s)" in run("purge", "--all", *data_dir)
    assert "no dead letters" in run("list", *data_dir)


def test_wrong_data_dir_and_ambiguous_choice_are_refused(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["dead-letters", "list", "--data-dir", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no queue in" in missing.output
    quarantine(tmp_path, b"{}", "x")
    both = runner.invoke(app, ["dead-letters", "purge", "1", "--all", "--data-dir", str(tmp_path)])
    assert both.exit_code == 2 and "not both" in both.output


def test_dead_letters_of_every_queue_shard_are_one_list(tmp_path: Path) -> None:
    """Each acceptor process has its own queue shard; the admin sees one set of ids."""
    in_zero = quarantine(tmp_path, b'{"message": "zero"}', "store: zero")
    in_three = quarantine(tmp_path, b'{"message": "three"}', "store: three", shard=3)
    assert in_zero != in_three
    data_dir = ("--data-dir", str(tmp_path))

    listed = run("list", *data_dir)
    assert listed.index(f"{in_three}\t") < listed.index(f"{in_zero}\t")  # failed last, first
    assert '{"message": "three"}' in run("show", str(in_three), *data_dir)

    assert "queued 1 payload(s) again" in run("replay", str(in_three), *data_dir)
    shard = open_queue(tmp_path, 3)
    try:
        (payload,) = shard.oldest(10)  # back in its own shard, under a new id of that shard
        assert gzip.decompress(payload.body) == b'{"message": "three"}'
        assert payload.id >> 40 == 3 and payload.id != in_three
        assert shard.dead_letters() == []
    finally:
        shard.close()
    assert "deleted 1 dead letter(s)" in run("purge", str(in_zero), *data_dir)
    assert "no dead letters" in run("list", *data_dir)
