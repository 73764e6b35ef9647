"""Message normalisation: what varies inside one bug becomes a placeholder."""

from __future__ import annotations

import time

import pytest

from heliograph.digest.normalize import MAX_LINE_CHARS, normalize_message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("User 123 not found", "User <int> not found"),
        ("mail alice.smith+tag@example.co.uk bounced", "mail <email> bounced"),
        ("GET https://api.example.com/v1/users/42?x=1#f failed", "GET <url> failed"),
        ("see (http://example.io/a).", "see (<url>)."),
        ("from 192.168.0.10:8080", "from <ip>:<int>"),
        (
            "via 2001:db8:85a3:0:0:8a2e:370:7334 and fe80::1%eth0 and ::1",
            "via <ip> and <ip> and <ip>",
        ),
        ("mapped ::ffff:192.0.2.1", "mapped <ip>"),
        ("order 123e4567-e89b-12d3-a456-426614174000 lost", "order <uuid> lost"),
        ("commit da39a3ee5e6b4b0d3255bfef95601890afd80709", "commit <sha1>"),
        ("etag d41d8cd98f00b204e9800998ecf8427e", "etag <md5>"),
        ("at 2024-01-31T10:00:00.123+02:00", "at <date>"),
        ("at 2024-01-31 10:00:00 UTC", "at <date>"),
        ("on 2024-01-31", "on <date>"),
        ("Wed, 31 Jan 2024 10:00:00 +0000", "<date>"),
        ("Wed Jan 31 10:00:00 2024", "<date>"),
        ("due January 31st, 2024", "due <date>"),
        ("due 31/01/2024 or 31.01.2024", "due <date> or <date>"),
        ("at 10:00:00.5", "at <date>"),
        ("object at 0x7f3a2b1c", "object at <hex>"),
        ("cannot reach db-1.prod.example.com:5432", "cannot reach <hostname>:<int>"),
        ("cannot reach localhost", "cannot reach <hostname>"),
        ("timed out after 30s", "timed out after <duration>"),
        ("slow: 150ms", "slow: <duration>"),
        ("waited 2.5 seconds", "waited <duration>"),
        ("retry in 1h30m", "retry in <duration>"),
        ("ratio 0.75", "ratio <float>"),
        ("big 1e10", "big <float>"),
        ("port=8080 (7) [10] #9 -5", "port=<int> (<int>) [<int>] #<int> -<int>"),
    ],
)
def test_placeholders(text: str, expected: str) -> None:
    assert normalize_message(text) == expected


def test_identifiers_are_not_mangled() -> None:
    text = "user_id utf8 ipv4 Python3 user_123 v2 sha256sum"
    assert normalize_message(text) == text


def test_dotted_names_are_not_hostnames() -> None:
    text = "app.views os.path settings.py logger.info user.name index.js"
    assert normalize_message(text) == text


def test_versions_and_cpp_scopes_stay() -> None:
    text = "needs 1.2.3 of std::vector"
    assert normalize_message(text) == text


def test_url_wins_over_email_and_hostname() -> None:
    assert normalize_message("https://bob@example.com/x") == "<url>"


def test_email_wins_over_hostname() -> None:
    assert normalize_message("to bob@example.com") == "to <email>"


def test_hostname_wins_over_int() -> None:
    assert normalize_message("123.example.com") == "<hostname>"


def test_uuid_wins_over_ints_and_hex() -> None:
    assert normalize_message("12345678-1234-1234-1234-123456789012") == "<uuid>"


def test_keeps_first_two_non_empty_lines() -> None:
    text = "\n  first 1  \n\n\t second\nthird\n"
    assert normalize_message(text) == "first <int>\nsecond"


def test_empty() -> None:
    assert normalize_message("") == ""
    assert normalize_message(" \n\t\n") == ""


def test_lines_are_clipped() -> None:
    assert normalize_message("x" * (MAX_LINE_CHARS * 3)) == "x" * MAX_LINE_CHARS


def test_idempotent() -> None:
    once = normalize_message("User 123 at 10.0.0.1 after 30s on 2024-01-31 (0x1f, 2.5)")
    assert normalize_message(once) == once


def test_pathological_input_stays_fast() -> None:
    texts = ["a." * 600, "1:" * 600, ":" * 1200, "a@" * 600, "1." * 600, "x" * 5000]
    start = time.perf_counter()
    for text in texts * 10:
        normalize_message(text)
    assert time.perf_counter() - start < 1.0  # ~0.03 s measured
