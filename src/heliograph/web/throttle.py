"""Login throttling: repeated wrong passwords earn a cool-down, counted in the store.

After ``max_failures`` failed logins for one email from one address within
``lockout_seconds``, that pair is refused until ``lockout_seconds`` after the
last failure, *before* the password is even checked (so guessing gets no
answers during the cool-down, right or wrong). One address failing for many
emails (password spraying) is capped the same way at ``IP_FACTOR`` times the
limit. A successful login clears its pair.

The failures are kept in the store (:class:`LoginFailures`, part of the
``Accounts`` role), not in this process: every acceptor process and every
node sees the same count, so running more of them does not give an attacker
more guesses. Stamps are wall-clock times for the same reason; the store's
retention pass forgets them after a day, which is also the longest window
that counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

IP_FACTOR = 10


class LoginFailures(Protocol):
    """Where failed logins are counted: the store (``Accounts``) in production."""

    def record_login_failure(self, keys: Sequence[str], at: float) -> None: ...

    def login_failures_since(
        self, keys: Sequence[str], since: float
    ) -> dict[str, tuple[int, float]]: ...

    def clear_login_failures(self, key: str) -> None: ...


def pair_key(email: str, address: str) -> str:
    """The key one email's failures from one address are counted under."""
    return f"pair\x00{email.lower()}\x00{address}"


def address_key(address: str) -> str:
    """The key all failures from one address are counted under (any email)."""
    return f"address\x00{address}"


class LoginThrottle:
    def __init__(
        self,
        max_failures: int,
        lockout_seconds: float,
        *,
        failures: LoginFailures,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self._failures = failures
        self._clock = clock

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until this email may try again from this address; 0: now."""
        if self.max_failures <= 0:
            return 0
        now = self._clock()
        limits = {
            pair_key(email, address): self.max_failures,
            address_key(address): self.max_failures * IP_FACTOR,
        }
        counted = self._failures.login_failures_since(list(limits), now - self.lockout_seconds)
        waits = [
            max(1, math.ceil(latest + self.lockout_seconds - now))
            for key, (count, latest) in counted.items()
            if count >= limits[key]
        ]
        return max(waits, default=0)

    def failed(self, email: str, address: str) -> None:
        if self.max_failures <= 0:
            return
        keys = [pair_key(email, address), address_key(address)]
        self._failures.record_login_failure(keys, self._clock())

    def succeeded(self, email: str, address: str) -> None:
        if self.max_failures <= 0:
            return
        self._failures.clear_login_failures(pair_key(email, address))
