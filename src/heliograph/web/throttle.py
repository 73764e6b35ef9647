"""Login throttling: repeated wrong passwords earn a cool-down, in memory.

After ``max_failures`` failed logins for one email from one address within
``lockout_seconds``, that pair is refused until ``lockout_seconds`` after the
last failure, *before* the password is even checked (so guessing gets no
answers during the cool-down, right or wrong). One address failing for many
emails (password spraying) is capped the same way at ``IP_FACTOR`` times the
limit. A successful login clears its pair. State is per server process and
bounded: the oldest entries go when ``MAX_ENTRIES`` is reached.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

IP_FACTOR = 10
MAX_ENTRIES = 100_000


class LoginThrottle:
    def __init__(
        self,
        max_failures: int,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until this email may try again from this address; 0: now."""
        if self.max_failures <= 0:
            return 0
        now = self._clock()
        with self._lock:
            waits = [
                self._wait(self._recent(key, now), limit, now)
                for key, limit in (
                    ((email.lower(), address), self.max_failures),
                    (("", address), self.max_failures * IP_FACTOR),
                )
            ]
        return max(waits)

    def failed(self, email: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in ((email.lower(), address), ("", address)):
                stamps = self._recent(key, now)
                stamps.append(now)
                del stamps[: -self.max_failures * IP_FACTOR]
                self._failures[key] = stamps
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_ENTRIES:
                self._failures.popitem(last=False)

    def succeeded(self, email: str, address: str) -> None:
        with self._lock:
            self._failures.pop((email.lower(), address), None)

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        return [t for t in self._failures.get(key, ()) if now - t < self.lockout_seconds]

    def _wait(self, stamps: list[float], limit: int, now: float) -> int:
        if len(stamps) < limit:
            return 0
        return max(1, math.ceil(stamps[-1] + self.lockout_seconds - now))
