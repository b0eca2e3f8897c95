"""Login throttling: after `max_failures` failed logins for one user name or from one address, refuse further
attempts for `lockout_s` seconds. In memory (per hub process); a success clears the user's counter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hub.security._errors import TooManyAttempts


class LoginThrottle:
    def __init__(self, max_failures: int, lockout_s: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, first failure time)
        self._lock = threading.Lock()

    def check(self, *keys: str) -> None:
        """Raise TooManyAttempts if any key is locked."""
        now = self._clock()
        with self._lock:
            for key in keys:
                count, since = self._failures.get(key, (0, now))
                if now - since >= self.lockout_s:
                    self._failures.pop(key, None)
                elif count >= self.max_failures:
                    raise TooManyAttempts(max(1, int(since + self.lockout_s - now)))

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max_keys:  # bounded memory under a spray of names
                self._failures.clear()
            for key in keys:
                count, since = self._failures.get(key, (0, now))
                if now - since >= self.lockout_s:
                    count, since = 0, now
                self._failures[key] = (count + 1, since)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
