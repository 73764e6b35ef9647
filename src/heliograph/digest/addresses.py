"""Users' IP addresses: filled in where the SDK asks, kept only where the project says.

Two steps, both in digest, before anything is stored:

* :func:`fill_sender_address`: an event whose SDK asked the server to fill in
  the client's address (``{{auto}}``, :data:`~heliograph.protocols.sentry_event.AUTO_IP`)
  gets the address its payload came from, which ingest queued beside it
  (behind a trusted proxy, the address the proxy forwarded). Without one, the
  request is dropped: an unknown address is no address.
* :func:`protect_address`: unless the project keeps addresses
  (``store_ip_addresses``), the address is replaced by a keyed hash
  (:attr:`heliograph.model.User.ip_hash`), so that anonymous visitors are
  still counted as users, one per address, without their addresses being
  stored. The key is the project's random salt: the same address hashes
  differently in two projects. It is pseudonymisation, not anonymisation:
  whoever holds the database (and so the salt) can test guesses.

PostHog's ``$ip`` property is treated as the user's address.
"""

from __future__ import annotations

import hashlib
import hmac

from heliograph.model import Event, User
from heliograph.protocols.sentry_event import AUTO_IP
from heliograph.store.base import Project

__all__ = ["address_hash", "fill_sender_address", "protect_address"]

POSTHOG_IP = "$ip"
# Hex digits of the hash kept: 64 bits, no collisions among a project's visitors.
HASH_CHARS = 16


def fill_sender_address(event: Event, sender: str | None) -> None:
    """Replace an ``{{auto}}`` address with the sender's (or drop it, when unknown)."""
    user = event.user
    if user is None or user.ip_address != AUTO_IP:
        return
    user.ip_address = sender or None
    if not _identifies_anyone(user):
        event.user = None


def protect_address(event: Event, project: Project) -> None:
    """Hash the user's address (and ``$ip``) unless the project keeps addresses."""
    if project.store_ip_addresses:
        return
    user = event.user
    if user is not None and user.ip_address:
        user.ip_hash = address_hash(project, user.ip_address)
        user.ip_address = None
    raw = event.properties.get(POSTHOG_IP)
    if raw is not None:
        event.properties[POSTHOG_IP] = address_hash(project, str(raw))


def address_hash(project: Project, address: str) -> str:
    """The project's keyed hash of ``address``: stable, short, not reversible without the salt."""
    digest = hmac.new(project.address_salt.encode(), address.strip().encode(), hashlib.sha256)
    return digest.hexdigest()[:HASH_CHARS]


def _identifies_anyone(user: User) -> bool:
    return bool(user.id or user.email or user.username or user.ip_address or user.name or user.data)
