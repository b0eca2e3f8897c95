"""Latency percentiles over a sliding window of recent samples (pure logic)."""

from __future__ import annotations

import numpy as np


class PercentileTracker:
    """Keeps the last `capacity` samples in a ring buffer; percentiles use linear interpolation."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._samples = np.zeros(capacity, dtype=np.float64)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, value: float) -> None:
        self._samples[self._next] = value
        self._next = (self._next + 1) % self._samples.size
        self._count = min(self._count + 1, self._samples.size)

    def percentiles(self, *qs: float) -> tuple[float, ...]:
        """Percentiles `qs` (0-100) of the window; zeros while empty."""
        if self._count == 0:
            return tuple(0.0 for _ in qs)
        values = np.percentile(self._samples[: self._count], list(qs))
        return tuple(float(v) for v in values)
