"""What every backend's accounts and access code shares: no SQL dialect, no driver.

Secret digests, scope and key-list normalisation, the project row mapping,
the columns those rows are read from, and the one visibility rule (written
once, with the placeholder spelling left to the backend), so that SQLite and
PostgreSQL cannot drift apart on who may log in or see what.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from heliograph.store.base import SCOPES, Project

TOKEN_PREFIX_CHARS = 10  # "hgp_" and six characters: enough to tell tokens apart
# A token's last use is written at most this often: not a database write per API call.
LAST_USED_GRANULARITY = 300.0

PROJECT_COLUMNS = (
    "p.id, p.organization_id, o.slug, p.slug, p.name, p.platform, p.ai_policy, "
    "p.keep_llm_payloads, p.payload_max_chars, p.retention_days, p.rate_limit, "
    "p.scrub_extra_keys, p.scrub_safe_fields, p.replay_enabled, p.replay_sample_percent, "
    "p.replay_min_seconds, p.replay_unmask_text, p.replay_record_media, "
    "p.store_ip_addresses, p.address_salt"
)
KEY_COLUMNS = "public_key, project_id, label, created_at, revoked_at, rate_limit"
PROJECT_SETTINGS = frozenset(
    {
        "name",
        "ai_policy",
        "keep_llm_payloads",
        "payload_max_chars",
        "retention_days",
        "rate_limit",
        "scrub_extra_keys",
        "scrub_safe_fields",
        "replay_enabled",
        "replay_sample_percent",
        "replay_min_seconds",
        "replay_unmask_text",
        "replay_record_media",
        "store_ip_addresses",
    }
)
KEY_SETTINGS = frozenset({"label", "rate_limit"})
ORGANIZATION_SETTINGS = frozenset({"name", "ai_policy"})

# A deleted project keeps its row (its id may still be in the queue, its data
# waits for retention) under a slug no user can give (heliograph.slugs), which
# frees its old slug at once. Every read of projects keeps to the live ones.
DELETED_SLUG_PREFIX = "~deleted-"
LIVE_PROJECT = "p.slug NOT LIKE '~%'"


def tombstone_slug(project_id: int, slug: str) -> str:
    """The slug a deleted project is kept under: unique, and saying what it was."""
    return f"{DELETED_SLUG_PREFIX}{project_id}-{slug}"


# Roles that see every project of their organization, whatever the teams.
ORG_WIDE_ROLES = ("owner", "admin")

# "May this user see project p": superusers see everything; owners and admins
# their organizations' projects; members and viewers those of their teams and
# those in no team. ``{user}`` is the backend's spelling of the user parameter.
_VISIBLE = (
    "(EXISTS (SELECT 1 FROM users su WHERE su.id = {user} AND su.is_superuser <> 0) "
    "OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = {user} "
    "AND m.organization_id = p.organization_id AND (m.role IN ('owner', 'admin') "
    "OR NOT EXISTS (SELECT 1 FROM team_projects tp WHERE tp.project_id = p.id) "
    "OR EXISTS (SELECT 1 FROM team_projects tp JOIN team_members tm ON tm.team_id = tp.team_id "
    "WHERE tp.project_id = p.id AND tm.user_id = {user}))))"
)


def visible_projects_sql(user_param: str) -> str:
    """The visibility condition on ``projects p``, its user named by ``user_param``."""
    return _VISIBLE.format(user=user_param)


def digest_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def split_words(text: str) -> tuple[str, ...]:
    """Key lists are stored one per line; commas and spaces also separate them."""
    words = text.replace(",", " ").split()
    return tuple(dict.fromkeys(word.strip().lower() for word in words if word.strip()))


def normalize_scopes(scopes: Iterable[str]) -> str:
    """Known scopes only, in a fixed order; every token can read."""
    wanted = {scope.strip().lower() for scope in scopes} | {"read"}
    return " ".join(scope for scope in SCOPES if scope in wanted)


def setting_values(changes: dict[str, object]) -> list[object]:
    """Project settings as stored: key lists (tuples of words) one word per line, flags 0/1."""
    return [
        "\n".join(value)
        if isinstance(value, (tuple, list))
        else int(value)
        if isinstance(value, bool)
        else value
        for value in changes.values()
    ]


def project_from_row(row: Sequence[Any]) -> Project:
    """A :class:`Project` from a row of :data:`PROJECT_COLUMNS`."""
    values = list(row)
    values[7] = bool(values[7])
    values[11] = split_words(values[11] or "")
    values[12] = split_words(values[12] or "")
    for flag in (13, 16, 17, 18):
        values[flag] = bool(values[flag])
    return Project(*values)
