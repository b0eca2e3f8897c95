"""Per-stream drift tracking (pure, no I/O): pool sketch windows, evaluate them, run the hysteresis.

A stream is one (gateway, equipment, model, version). Agents close a sketch window every
`sketch_window_ms` of sensor time, whatever the sample rate, so a window may hold far fewer readings than
the rule's `min_count` (60 s at 1 Hz = 60 readings). Consecutive windows of a stream are therefore pooled
(their counts added) until the pool holds `min_count` readings; the pool is then evaluated, feature by
feature, and emptied. A pool older than `max_pool_ms` (sensor time) is stale and dropped unevaluated.

Duplicates: MQTT delivers at least once, so a window seen again (its `seq` among the stream's recent ones
and its end not after the last end seen) is ignored. A new window with an old end (an agent that restarted
mid-window and closed the same window twice) is pooled.
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from hub.drift._errors import IncompatibleSketch
from hub.drift.stats import DriftRule, DriftState, Transition, WindowStats, step, verdict, window_stats

StreamKey = tuple[str, str, str, str]
"""(gateway, equipment, model, model_version)."""
Counts = NDArray[np.float64]
RECENT_SEQS = 64
Pending = Literal["pooled", "duplicate"]


@dataclass(frozen=True, slots=True)
class Window:
    """One sketch window of one stream: counts per feature name (the score histogram is named `score`)."""

    seq: int
    start_ms: int
    end_ms: int
    n: int
    counts: Mapping[str, Sequence[int]]


@dataclass(frozen=True, slots=True)
class FeatureResult:
    """The evaluation of one feature over one pool, after the hysteresis."""

    feature: str
    stats: WindowStats
    drifting: bool
    transition: Transition | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    start_ms: int
    end_ms: int
    n: int
    results: list[FeatureResult]
    skipped: list[str]
    """Features without a usable reference (unknown name, wrong number of counters)."""


@dataclass
class _Pool:
    start_ms: int
    end_ms: int
    n: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)


@dataclass
class _Stream:
    states: dict[str, DriftState] = field(default_factory=dict)
    pool: _Pool | None = None
    last_end: int = -1
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_SEQS))


class DriftTracker:
    """Hysteresis state and pools of every stream; bounded to `max_streams` (least recently used go)."""

    def __init__(
        self,
        rule: DriftRule,
        max_pool_ms: int = 6 * 3600 * 1000,
        ignore: Iterable[str] = (),
        max_streams: int = 50_000,
    ) -> None:
        self.rule = rule
        self.max_pool_ms = max_pool_ms
        self.ignore = tuple(ignore)
        self.max_streams = max_streams
        self._streams: OrderedDict[StreamKey, _Stream] = OrderedDict()

    def known(self, key: StreamKey) -> bool:
        return key in self._streams

    def seed(self, key: StreamKey, drifting: Mapping[str, bool]) -> None:
        """Start a stream from its last recorded states (e.g. the latest drift points after a restart)."""
        stream = self._stream(key)
        for feature, flag in drifting.items():
            stream.states.setdefault(feature, DriftState(drifting=flag))

    def drifting(self, key: StreamKey) -> dict[str, bool]:
        stream = self._streams.get(key)
        return {} if stream is None else {f: s.drifting for f, s in stream.states.items()}

    def ignored(self, feature: str) -> bool:
        return any(fnmatch.fnmatchcase(feature, pattern) for pattern in self.ignore)

    def add(self, key: StreamKey, window: Window, reference: Mapping[str, Sequence[float]]) -> Evaluation | Pending:
        """Pool one window; the evaluation if the pool reached `min_count`, else why not.

        Call `commit` with the evaluation once its results are stored: the hysteresis moves only then.
        """
        stream = self._stream(key)
        if window.seq in stream.recent and window.end_ms <= stream.last_end:
            return "duplicate"
        stream.recent.append(window.seq)
        stream.last_end = max(stream.last_end, window.end_ms)
        pool = stream.pool
        if pool is not None and window.end_ms - pool.start_ms > self.max_pool_ms:
            pool = None
        if pool is None:
            pool = _Pool(window.start_ms, window.end_ms)
        _merge(pool, window)
        if pool.n < self.rule.min_count:
            stream.pool = pool
            return "pooled"
        stream.pool = None
        return self._evaluate(stream, pool, reference)

    def commit(self, key: StreamKey, evaluation: Evaluation) -> None:
        stream = self._stream(key)
        for result in evaluation.results:
            stream.states[result.feature] = _after(stream.states.get(result.feature, DriftState()), result, self.rule)

    def _evaluate(self, stream: _Stream, pool: _Pool, reference: Mapping[str, Sequence[float]]) -> Evaluation:
        results: list[FeatureResult] = []
        skipped: list[str] = []
        for feature, counts in pool.counts.items():
            if self.ignored(feature):
                continue
            probs = reference.get(feature)
            if probs is None:
                skipped.append(feature)
                continue
            try:
                stats = window_stats(counts.tolist(), probs, self.rule.pseudo_count)
            except IncompatibleSketch:
                skipped.append(feature)
                continue
            state, transition = step(stream.states.get(feature, DriftState()), verdict(stats, self.rule), self.rule)
            results.append(FeatureResult(feature, stats, state.drifting, transition))
        return Evaluation(pool.start_ms, pool.end_ms, pool.n, results, skipped)

    def _stream(self, key: StreamKey) -> _Stream:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
            while len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)
        else:
            self._streams.move_to_end(key)
        return stream


def _merge(pool: _Pool, window: Window) -> None:
    pool.start_ms = min(pool.start_ms, window.start_ms)
    pool.end_ms = max(pool.end_ms, window.end_ms)
    pool.n += window.n
    for feature, counts in window.counts.items():
        values = np.asarray(counts, dtype=np.float64)
        current = pool.counts.get(feature)
        if current is None or current.shape != values.shape:
            pool.counts[feature] = values.copy()
        else:
            current += values


def _after(state: DriftState, result: FeatureResult, rule: DriftRule) -> DriftState:
    """Replay the step `_evaluate` computed, from the state as it is now (nothing moved in between)."""
    new_state, _transition = step(state, verdict(result.stats, rule), rule)
    return new_state
