"""Local variables read as the SDK sent them: no doubled quotes, no interpreter globals."""

from __future__ import annotations

from heliograph.query.event_view import frame_variables


def test_nested_values_keep_the_reprs_the_sdk_sent() -> None:
    rows = {
        kv.key: kv.value
        for kv in frame_variables(
            {"user": {"name": "'ada'", "roles": ["'admin'", "3"]}, "total": "10", "ok": True}
        )
    }
    assert rows["user"] == "{\n  'name': 'ada',\n  'roles': [\n    'admin',\n    3\n  ]\n}"
    assert "\"'" not in rows["user"]  # no JSON quotes around the reprs
    assert (rows["total"], rows["ok"]) == ("10", "true")


def test_module_globals_are_left_out() -> None:
    names = [
        kv.key
        for kv in frame_variables(
            {
                "__name__": "'__main__'",
                "__builtins__": "<module 'builtins'>",
                "__file__": "'app.py'",
                "config": "{}",
                "_private": "1",
            }
        )
    ]
    assert names == ["config", "_private"]


def test_deep_values_stop_somewhere() -> None:
    value: object = "'leaf'"
    for _ in range(20):
        value = {"next": value}
    [row] = frame_variables({"chain": value})
    assert row.value.count("'next'") <= 7 and row.multiline
