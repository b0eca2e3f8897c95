"""Reconnect backoff schedule (pure logic): exponential with "equal jitter".

Attempt k waits `d/2 + U(0, d/2)` with `d = min(max, min * 2**k)`: the delay grows with every failure,
never exceeds `max`, and many gateways that lost the same broker do not reconnect in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(self, min_ms: int, max_ms: int, rand: Callable[[], float] | None = None) -> None:
        if min_ms < 1 or max_ms < min_ms:
            raise ValueError("need 1 <= min_ms <= max_ms")
        self.min_ms = min_ms
        self.max_ms = max_ms
        self._rand = rand if rand is not None else random.random
        self.attempt = 0

    def ceiling(self, attempt: int) -> int:
        """The un-jittered delay of attempt `attempt` (0-based)."""
        return int(min(self.max_ms, self.min_ms * 2 ** min(attempt, 40)))

    def next_ms(self) -> int:
        """Delay before the next attempt; each call counts one more failure."""
        ceiling = self.ceiling(self.attempt)
        self.attempt += 1
        half = ceiling / 2
        return max(1, int(half + self._rand() * half))

    def reset(self) -> None:
        """After a successful connection: start again from `min_ms`."""
        self.attempt = 0
