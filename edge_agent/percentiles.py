"""Latency percentiles over a sliding window of recent samples (pure logic)."""

from __future__ import annotations

import numpy as np

from contracts.messages import ModelRef


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


class ModelLatencies:
    """Scoring time of each model that scored in the active slot (the agent feeds it the scoring thread's
    CPU time): the current one and the one before it.

    A model's window starts empty whenever it becomes the scoring model (again, after a rollback too), so
    its percentiles never mix in another model's passes, unlike the agent's overall window. Only `keep`
    models are remembered (the current one last), which bounds memory whatever the number of swaps.
    """

    def __init__(self, capacity: int = 4096, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self._capacity = capacity
        self._keep = keep
        self._models: list[tuple[ModelRef, PercentileTracker]] = []

    def add(self, model: ModelRef, value_us: float) -> None:
        """One scoring pass of `model`; a model other than the current one starts a fresh window."""
        if not self._models or self._models[-1][0] != model:
            self._models = [*self._models, (model, PercentileTracker(self._capacity))][-self._keep:]
        self._models[-1][1].add(value_us)

    def current(self) -> tuple[ModelRef, PercentileTracker] | None:
        """The model that scored last, with its window; None before any pass."""
        return self._models[-1] if self._models else None

    def models(self) -> list[tuple[ModelRef, PercentileTracker]]:
        """Every remembered model, oldest first."""
        return list(self._models)
