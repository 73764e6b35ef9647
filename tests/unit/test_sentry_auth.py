"""Sentry authentication parsing."""

from __future__ import annotations

import pytest
from sentry_sdk.utils import Dsn

from heliograph.protocols.errors import AuthError, BadRequest
from heliograph.protocols.sentry_auth import parse_auth, parse_auth_header, parse_dsn

KEY = "e12d836b15bb49d7bbf99e64295d995b"


def test_header_sent_by_the_real_sdk() -> None:
    header = Dsn(f"https://{KEY}@o1.ingest.example.com/42").to_auth("sentry.python/2.0").to_header()
    assert header.startswith("Sentry ")
    assert parse_auth(header, {}) == KEY


@pytest.mark.parametrize(
    "header",
    [
        f"Sentry sentry_version=7, sentry_client=raven-js/3.0, sentry_key={KEY}, sentry_secret=s3",
        f"sentry sentry_key={KEY},sentry_version=7",
        f"sentry_version=7, sentry_key={KEY}",  # no "Sentry " scheme word
        f'Sentry sentry_key="{KEY}", sentry_version="7"',
        f"  Sentry  sentry_key = {KEY} ,",
    ],
)
def test_header_variants(header: str) -> None:
    assert parse_auth(header, {}) == KEY


def test_header_fields_are_parsed_without_the_sentry_prefix() -> None:
    fields = parse_auth_header("Sentry sentry_version=7, sentry_client=x/1, sentry_key=k, junk")
    assert fields == {"version": "7", "client": "x/1", "key": "k"}


def test_query_string() -> None:
    assert parse_auth(None, {"sentry_key": KEY, "sentry_version": "7"}) == KEY


def test_envelope_dsn() -> None:
    assert parse_auth(None, {}, f"https://{KEY}@sentry.example.com/42") == KEY


def test_secret_is_never_required_and_never_returned() -> None:
    assert parse_auth(None, {}, f"https://{KEY}:oldsecret@sentry.example.com/42") == KEY


def test_same_key_from_several_sources_is_fine() -> None:
    header = f"Sentry sentry_key={KEY}"
    assert parse_auth(header, {"sentry_key": KEY}, f"https://{KEY}@h/1") == KEY


@pytest.mark.parametrize(
    ("header", "query", "dsn"),
    [
        (f"Sentry sentry_key={KEY}", {"sentry_key": "other"}, None),
        (None, {"sentry_key": KEY}, "https://other@h/1"),
        (f"Sentry sentry_key={KEY}", {}, "https://other@h/1"),
    ],
)
def test_conflicting_sources_are_rejected(
    header: str | None, query: dict[str, str], dsn: str | None
) -> None:
    with pytest.raises(BadRequest) as info:
        parse_auth(header, query, dsn)
    assert info.value.detail.startswith("conflicting authentication")
    assert info.value.status == 400
    assert KEY not in info.value.detail


@pytest.mark.parametrize(
    ("header", "query"),
    [
        (None, {}),
        ("", {"sentry_key": ""}),
        ("Bearer abc.def", {}),  # another scheme: no sentry_key in it
        ("Sentry sentry_version=7, sentry_client=x/1", {}),
    ],
)
def test_missing_authentication(header: str | None, query: dict[str, str]) -> None:
    with pytest.raises(AuthError) as info:
        parse_auth(header, query)
    assert info.value.status == 401
    assert info.value.detail.startswith("missing authentication")


@pytest.mark.parametrize("key", ["a b", "x" * 200, "k;drop", "<script>"])
def test_malformed_keys(key: str) -> None:
    with pytest.raises(AuthError, match="malformed sentry_key in query string"):
        parse_auth(None, {"sentry_key": key})


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (f"https://{KEY}@o1.ingest.sentry.io/42", (KEY, 42)),
        (f"http://{KEY}:secret@localhost:8000/7", (KEY, 7)),
        (f"https://{KEY}@example.com/sentry/prefix/99/", (KEY, 99)),
        (f"  https://{KEY}@[::1]:9000/3  ", (KEY, 3)),
    ],
)
def test_parse_dsn(dsn: str, expected: tuple[str, int]) -> None:
    assert parse_dsn(dsn) == expected


@pytest.mark.parametrize(
    "dsn",
    [
        "",
        "not a url",
        "ftp://key@host/1",
        "https://host/1",
        "https://key@/1",
        "https://key@host/",
        "https://key@host/project",
        "https://key@host/１２",  # full-width digits are not a project id
        "https://key@[::1/1",
    ],
)
def test_invalid_dsn(dsn: str) -> None:
    with pytest.raises(AuthError, match="invalid DSN"):
        parse_dsn(dsn)
