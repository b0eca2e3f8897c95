"""Size-or-age batching (pure logic, no I/O): a batch closes at `max_items` or `max_delay_ms` old."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """Accumulates items; `add` returns full batches, `due` returns the pending batch once it is old enough."""

    def __init__(self, max_items: int, max_delay_ms: int) -> None:
        if max_items < 1 or max_delay_ms < 0:
            raise ValueError("max_items must be >= 1 and max_delay_ms >= 0")
        self.max_items = max_items
        self.max_delay_ms = max_delay_ms
        self._pending: list[T] = []
        self._opened_at: int | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, items: Iterable[T], now_ms: int) -> list[list[T]]:
        """Queue `items`; return every batch that reached `max_items` (in order)."""
        pending = list(items)
        full: list[list[T]] = []
        while pending:
            if self._opened_at is None:
                self._opened_at = now_ms
            room = self.max_items - len(self._pending)
            self._pending.extend(pending[:room])
            pending = pending[room:]
            if len(self._pending) >= self.max_items:
                full.append(self._take())
        return full

    def due(self, now_ms: int) -> list[T] | None:
        """The pending batch if its oldest item waited `max_delay_ms` or more, else None."""
        if self._opened_at is None or now_ms - self._opened_at < self.max_delay_ms:
            return None
        return self._take()

    def flush(self) -> list[T] | None:
        """The pending batch whatever its age (shutdown, model swap), or None when empty."""
        return self._take() if self._pending else None

    def deadline(self) -> int | None:
        """When the pending batch becomes due, or None when nothing is pending."""
        return None if self._opened_at is None else self._opened_at + self.max_delay_ms

    def _take(self) -> list[T]:
        batch, self._pending, self._opened_at = self._pending, [], None
        return batch
