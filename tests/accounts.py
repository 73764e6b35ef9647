"""Helpers for tests about accounts and access: users, sessions, CSRF tokens, tokens.

Users, organizations and teams are written straight into a live server's
store through the storage contract, as an admin tool would (the server sees
them at once: it reads the same database). :func:`server_store` is
:func:`tests.stores.server_store`, kept here for the tests that import it from here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from heliograph.auth import hash_password
from heliograph.store.base import UserAccount
from heliograph.store.contract import Store
from tests.conftest import LiveServer
from tests.stores import server_store

__all__ = [
    "PASSWORD",
    "admin_session",
    "bearer",
    "csrf_token",
    "login",
    "make_user",
    "server_store",
]

PASSWORD = "correct horse battery staple"
_HASH: list[str] = []


def make_user(store: Store, email: str, org_id: int | None, role: str = "member") -> UserAccount:
    """A user with the shared test password (hashed once: argon2 is slow on purpose)."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    user = store.create_user(email, password_hash=_HASH[0])
    if org_id is not None:
        store.add_member(user.id, org_id, role)
    return user


def login(server: LiveServer, email: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10)
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303, response.text
    return client


def admin_session(server: LiveServer) -> httpx.Client:
    """A cookie session for the first-start admin, through a fresh one-time login link."""
    result = subprocess.run(
        [sys.executable, "-m", "heliograph", "login-link", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    client = httpx.Client(base_url=server.url, timeout=10)
    response = client.get("/login/link/" + result.stdout.strip().rsplit("/", 1)[1])
    assert response.status_code == 303, response.text
    return client


def csrf_token(client: httpx.Client, path: str = "/account/") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def bearer(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
