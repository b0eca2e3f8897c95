"""Drift sketches (pure logic): per equipment and time window, histogram counts of every feature and of
the score over the manifest's reference bin edges.

Counts layout, for edges `e0 < e1 < ... < en` (n bins): `[below e0, [e0,e1), ..., [e(n-1), en], above en]`,
i.e. `len(edges) + 1` counters; a value equal to the last edge falls in the last bin. Windows are aligned
on the sensor clock: `[k * window_ms, (k + 1) * window_ms)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Counts = NDArray[np.int64]


def bin_counts(edges: NDArray[np.float64], values: NDArray[np.float64]) -> Counts:
    """Histogram of `values` with under/overflow counters (see the module docstring)."""
    idx = np.searchsorted(edges, values, side="right")
    idx[values == edges[-1]] = edges.size - 1
    return np.bincount(idx, minlength=edges.size + 1)


@dataclass
class WindowSketch:
    """Counts of one equipment over one window; `names[i]` uses `edges[i]`."""

    equipment: str
    window_start: int
    window_end: int
    n: int
    names: list[str]
    counts: list[Counts]


@dataclass
class _Open:
    """An open window: counts so far plus rows buffered until `FOLD_ROWS` (binning is vectorised per fold)."""

    start: int
    n: int
    counts: list[Counts]
    features: list[NDArray[np.float64]] = field(default_factory=list)
    scores: list[NDArray[np.float64]] = field(default_factory=list)
    buffered: int = 0


FOLD_ROWS = 1024
FOLD_BLOCKS = 64
"""Bin the buffered rows once this many rows or blocks are waiting (bounds memory, amortises binning)."""


@dataclass
class SketchAccumulator:
    """Accumulates feature/score histograms per equipment; closed windows come out of `add` and `flush`."""

    names: list[str]
    """Histogram names (feature names and possibly `score`), one per `edges` and `columns` entry."""
    edges: list[NDArray[np.float64]]
    columns: list[int]
    """Column of the feature matrix for each histogram; -1 means the score."""
    window_ms: int
    _open: dict[str, _Open] = field(default_factory=dict)

    def __post_init__(self) -> None:
        widest = max(e.size for e in self.edges)
        self._last = np.array([e[-1] for e in self.edges])
        self._stride = widest + 1

    def add(
        self, equipment: str, ts: NDArray[np.int64], features: NDArray[np.float64], scores: NDArray[np.float64]
    ) -> list[WindowSketch]:
        """Add one equipment's rows (ts ascending); return windows that closed."""
        if ts.size == 0:
            return []
        first, last = int(ts[0]) // self.window_ms, int(ts[-1]) // self.window_ms
        if first == last:  # the common case: the whole block falls in one window
            return self._add_window(equipment, first * self.window_ms, features, scores)
        closed: list[WindowSketch] = []
        window_ids = ts // self.window_ms
        for wid in np.unique(window_ids):
            mask = window_ids == wid
            closed += self._add_window(equipment, int(wid) * self.window_ms, features[mask], scores[mask])
        return closed

    def flush(self) -> list[WindowSketch]:
        """Close every open window (model swap, shutdown)."""
        out = [self._close(eq, w) for eq, w in self._open.items()]
        self._open.clear()
        return out

    def _add_window(
        self, equipment: str, start: int, feats: NDArray[np.float64], scores: NDArray[np.float64]
    ) -> list[WindowSketch]:
        closed: list[WindowSketch] = []
        current = self._open.get(equipment)
        if current is not None and current.start != start:
            closed.append(self._close(equipment, current))
            current = None
        if current is None:
            current = _Open(start, 0, [np.zeros(e.size + 1, dtype=np.int64) for e in self.edges])
            self._open[equipment] = current
        current.features.append(feats)
        current.scores.append(scores)
        current.buffered += scores.shape[0]
        current.n += scores.shape[0]
        if current.buffered >= FOLD_ROWS or len(current.scores) >= FOLD_BLOCKS:
            self._fold(current)
        return closed

    def _fold(self, window: _Open) -> None:
        if not window.buffered:
            return
        feats = np.concatenate(window.features) if len(window.features) > 1 else window.features[0]
        scores = np.concatenate(window.scores) if len(window.scores) > 1 else window.scores[0]
        values = np.column_stack([scores if c < 0 else feats[:, c] for c in self.columns])
        for acc, counts in zip(window.counts, self._bin_all(values), strict=True):
            acc += counts[: acc.size]
        window.features, window.scores, window.buffered = [], [], 0

    def _bin_all(self, values: NDArray[np.float64]) -> NDArray[np.int64]:
        """`bin_counts` of every histogram at once: `values[n, h]` -> counts `[h, widest + 1]`."""
        columns = np.ascontiguousarray(values.T)
        idx = np.empty(columns.shape, dtype=np.intp)
        for j, edges in enumerate(self.edges):
            idx[j] = np.searchsorted(edges, columns[j], side="right")
        idx -= columns == self._last[:, None]  # the last edge closes the last bin
        idx += (np.arange(columns.shape[0]) * self._stride)[:, None]
        counts = np.bincount(idx.ravel(), minlength=columns.shape[0] * self._stride)
        return counts.reshape(columns.shape[0], self._stride)

    def _close(self, equipment: str, window: _Open) -> WindowSketch:
        self._fold(window)
        end = window.start + self.window_ms - 1
        return WindowSketch(equipment, window.start, end, window.n, self.names, window.counts)
