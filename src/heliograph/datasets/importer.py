"""Dataset items from a file: JSON Lines or CSV, checked line by line.

A file is untrusted input: it is bounded (:data:`MAX_BYTES`, :data:`MAX_ITEMS`),
decoded as UTF-8 (a byte-order mark is dropped), and every problem is a
:class:`~heliograph.datasets.definition.DatasetError` naming its line, which
the API answers as a 400. Nothing here raises anything else.

* **JSONL**: one JSON object per non-blank line, with ``input`` (required),
  ``expected_output`` (or Langfuse's ``expectedOutput``), ``metadata`` (an
  object) and ``id`` (to replace that item when imported again).
* **CSV**: a header row, then one item per row. An ``input`` column is the
  input (text); without one, the other columns make the input an object, one
  variable per column (what a prompt's ``{{variables}}`` are filled from).
  ``expected_output``, ``id`` and ``metadata`` (JSON text) columns are read as
  such.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, Literal

import orjson

from heliograph.datasets.definition import (
    DatasetError,
    ItemDraft,
    check_item_id,
    check_json,
    check_metadata,
)

__all__ = ["MAX_BYTES", "MAX_ITEMS", "FileFormat", "parse_items"]

MAX_BYTES = 5 * 1024 * 1024
MAX_ITEMS = 5_000
FileFormat = Literal["jsonl", "csv"]
_SPECIAL = ("input", "expected_output", "id", "metadata")


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise DatasetError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DatasetError(f"line {line}: a NUL byte; the file is not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(f"line {line}: the file is not UTF-8 text") from None


def _draft(line: int, fields: dict[str, Any]) -> ItemDraft:
    try:
        if "input" not in fields or fields["input"] is None:
            raise DatasetError("an item needs an 'input'")
        expected = fields.get("expected_output", fields.get("expectedOutput"))
        return ItemDraft(
            input=check_json(fields["input"], "input"),
            expected_output=check_json(expected, "expected_output"),
            metadata=check_metadata(fields.get("metadata")),
            id=check_item_id(fields.get("id")),
        )
    except DatasetError as exc:
        raise DatasetError(f"line {line}: {exc}") from None


def _jsonl(text: str) -> Iterator[ItemDraft]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise DatasetError(f"line {number}: not JSON") from None
        if not isinstance(value, dict):
            raise DatasetError(f"line {number}: each line must be a JSON object")
        yield _draft(number, value)


def _cell_json(line: int, column: str, text: str) -> Any:
    try:
        return orjson.loads(text) if text.strip() else None
    except orjson.JSONDecodeError:
        raise DatasetError(f"line {line}: column {column!r} is not JSON") from None


def _csv(text: str) -> Iterator[ItemDraft]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise DatasetError("line 1: a CSV file starts with a header row")
        names = [name.strip() for name in header]
        if len(set(names)) != len(names) or "" in names:
            raise DatasetError("line 1: the header's column names must be distinct, none empty")
        variables = [n for n in names if n not in _SPECIAL]
        if "input" not in names and not variables:
            raise DatasetError("line 1: no 'input' column, and no other column to make one of")
        for row in reader:
            number = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise DatasetError(
                    f"line {number}: {len(row)} columns where the header has {len(names)}"
                )
            cells = dict(zip(names, row, strict=True))
            fields: dict[str, Any] = {
                "input": cells["input"]
                if "input" in cells
                else {name: cells[name] for name in variables},
                "expected_output": cells.get("expected_output") or None,
                "id": cells.get("id") or None,
                "metadata": _cell_json(number, "metadata", cells.get("metadata", "")),
            }
            yield _draft(number, fields)
    except csv.Error as exc:
        raise DatasetError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def parse_items(data: bytes, file_format: FileFormat) -> list[ItemDraft]:
    """The file's items, in order; :class:`DatasetError` (with the line) at the first problem."""
    text = _text(data)
    found: list[ItemDraft] = []
    for draft in _jsonl(text) if file_format == "jsonl" else _csv(text):
        found.append(draft)
        if len(found) > MAX_ITEMS:
            raise DatasetError(f"a file holds at most {MAX_ITEMS} items")
    if not found:
        raise DatasetError("the file holds no items")
    return found
