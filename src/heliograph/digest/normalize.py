"""Message normalisation for grouping.

``normalize_message`` turns "User 123 not found (took 0.25s)" into
"User <int> not found (took <duration>)" so that one bug is one issue no
matter which id, address or timestamp it happened to carry.

Rules (``docs/protocols.md`` "Message normalisation"):

1. Keep the first two non-empty lines (each stripped, each clipped to
   ``MAX_LINE_CHARS`` before anything else, so a 1 MB SQL error costs the
   same as a short one).
2. Replace variable parts with placeholders, in this priority order:
   ``<url>``, ``<email>``, ``<uuid>``, ``<sha256>`` (64 hex; an extra),
   ``<sha1>`` (40 hex), ``<md5>`` (32 hex), ``<ip>`` (IPv6, then IPv4),
   ``<date>`` (ISO 8601, RFC 2822, ctime, month names, numeric dates with a
   four-digit year, ``HH:MM:SS`` times), ``<hex>`` (``0x…``), ``<hostname>``,
   ``<duration>``, ``<float>``, ``<int>``.

All patterns live in one precompiled alternation scanned once, left to right.
At a given position the first alternative in the order above wins, so an
e-mail is never half-eaten by the hostname rule and ``123.example.com`` is a
hostname, not an int. Every pattern starts only at a token boundary (a
negative look-behind), which keeps the scan linear and keeps identifiers
intact: ``user_id``, ``utf8``, ``ipv4``, ``Python3``, ``user_123`` and
``v2`` are left alone; numbers are replaced only as standalone tokens.

Deliberate non-goals: dotted versions (``1.2.3``) stay as they are (they are
rarely what varies within one bug); hostnames need a known top-level domain
(lower case) so that ``app.views``, ``os.path``, ``settings.py`` or
``logger.info`` are not mistaken for hosts.

Changing any of this changes grouping hashes: bump ``GROUPING_VERSION`` in
``heliograph.digest.grouping``.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LINE_CHARS", "normalize_message"]

MAX_LINE_CHARS = 1024
"""Each kept line is clipped to this many characters before normalising."""

_HEX = "[0-9a-fA-F]"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_H16 = f"{_HEX}{{1,4}}"
_IPV6 = (
    # Must contain a digit (keeps ``a::b`` and ``Foo::Bar`` out) and either be
    # the full eight groups or use ``::`` compression (keeps ``12:30:45`` out).
    rf"(?=[0-9a-fA-F:]*\d)"
    rf"(?:(?:{_H16}:){{7}}{_H16}"
    rf"|(?:{_H16}(?::{_H16})*)?::(?:(?:{_H16}:)*(?:{_IPV4}|{_H16}))?)"
    r"(?:%[\w.]+)?"
)

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_WEEKDAY = (
    r"(?:Mon(?:day)?|Tue(?:s(?:day)?)?|Wed(?:nesday)?|Thu(?:r(?:s(?:day)?)?)?"
    r"|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)"
)
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?(?:\s?[AaPp]\.?[Mm]\.?)?"
_TZ = r"(?:\s?(?:Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT|[A-Z]{2,4}T))?"
_OPT_TIME = rf"(?:(?:[T ]|,\s|\s+at\s){_TIME}{_TZ})?"
_DATE = (
    "(?:"
    # 2024-01-31, 2024-01-31T10:00:00.123+02:00, 2024-01-31 10:00:00 UTC
    rf"\d{{4}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]){_OPT_TIME}"
    # Wed Jan 31 10:00:00 2024 (ctime)
    rf"|{_WEEKDAY}\s+{_MONTH}\s+\d{{1,2}}\s+{_TIME}(?:\s+[A-Z]{{3,4}})?\s+\d{{4}}"
    # Wed, 31 Jan 2024 10:00:00 +0000 (RFC 2822 / 1123), 31 January 2024
    rf"|(?:{_WEEKDAY},?\s+)?\d{{1,2}}\s+{_MONTH}\s+\d{{4}}{_OPT_TIME}"
    # January 31st, 2024 / Jan 31 2024 10:00
    rf"|(?:{_WEEKDAY},?\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}{_OPT_TIME}"
    # 2024/01/31, 31/01/2024, 01-31-2024, 31.01.2024 (four-digit year only)
    rf"|\d{{4}}/\d{{1,2}}/\d{{1,2}}{_OPT_TIME}"
    rf"|\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{4}}{_OPT_TIME}"
    # a bare time of day with seconds: 10:00:00, 10:00:00.123
    rf"|(?:[01]?\d|2[0-3]):[0-5]\d:[0-5]\d(?:[.,]\d+)?(?:\s?[AaPp]\.?[Mm]\.?)?{_TZ}"
    ")"
)

# Lower-case TLDs only; deliberately missing ones that double as file
# extensions or attribute names (py, js, rs, sh, md, pl, cc, so, in, id, info,
# name, app, zip, mov, int).
_TLD = (
    r"(?:com|net|org|edu|gov|mil|io|dev|co|ai|me|tv|xyz|cloud|local|internal|lan"
    r"|localdomain|uk|de|fr|nl|eu|ch|at|be|se|dk|fi|no|it|es|pt|cz|jp|cn|ru|br|au"
    r"|ca|us|kr|tw|mx|ar|nz|za|ie|sg|hk)"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

_COMPACT_UNIT = r"(?:ns|us|µs|ms|secs?|s|mins?|m|hrs?|h|d)"
_LONG_UNIT = (
    r"(?:nanoseconds?|microseconds?|milliseconds?|seconds?|secs?|minutes?|mins?"
    r"|hours?|hrs?|days?|weeks?)"
)
_NUM = r"\d+(?:\.\d+)?"

_PATTERNS: tuple[tuple[str, str], ...] = (
    ("url", r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]"),
    ("email", r"(?<![\w.%+-])[\w.%+-]+@" + _LABEL + r"(?:\." + _LABEL + r")+"),
    ("uuid", rf"(?<![\w-]){_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![\w-])"),
    ("sha256", rf"(?<!\w){_HEX}{{64}}(?!\w)"),
    ("sha1", rf"(?<!\w){_HEX}{{40}}(?!\w)"),
    ("md5", rf"(?<!\w){_HEX}{{32}}(?!\w)"),
    ("ip", rf"(?<![\w:.]){_IPV6}(?![\w:])|(?<![\w.]){_IPV4}(?!\w|\.\d)"),
    ("date", rf"(?<![\w.:/-]){_DATE}(?![\w:]|\.\d)"),
    ("hex", r"(?<!\w)0[xX][0-9a-fA-F]+(?!\w)"),
    (
        "hostname",
        rf"(?<![\w.@-])(?:(?:{_LABEL}\.)+{_TLD}|localhost)(?![\w-]|\.[A-Za-z0-9])",
    ),
    (
        "duration",
        rf"(?<![\w.])(?:(?:{_NUM}{_COMPACT_UNIT})+|{_NUM}\s*{_LONG_UNIT})(?!\w|\.\d)",
    ),
    ("float", r"(?<![\w.])(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)(?!\w|\.\d)"),
    ("int", r"(?<![\w.])\d+(?!\w|\.\d)"),
)

# Every pattern starts at a token start: checking that once up front lets the
# scanner skip the middle of words without trying thirteen alternatives.
_SCANNER = re.compile(
    r"(?<!\w)(?=[\w:])(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS) + ")"
)
_PLACEHOLDERS = {name: f"<{name}>" for name, _ in _PATTERNS}


def _placeholder(match: re.Match[str]) -> str:
    return _PLACEHOLDERS[match.lastgroup or ""]


def _first_lines(text: str, count: int = 2) -> list[str]:
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            lines.append(stripped[:MAX_LINE_CHARS])
            if len(lines) == count:
                break
    return lines


def normalize_message(text: str) -> str:
    """The first two non-empty lines of ``text`` with variable parts replaced.

    >>> normalize_message("User 123 not found\\n\\n  at 2024-01-31T10:00:00Z\\nmore")
    'User <int> not found\\nat <date>'
    """
    if not text:
        return ""
    return "\n".join(_SCANNER.sub(_placeholder, line) for line in _first_lines(text))
