"""Scoring core: samples -> features (shared feature module) -> onnxruntime -> wire-ready readings.

Runs in one thread. A batch is whatever the sources queued; `Scorer.process` groups it by equipment,
filters readings that cannot be scored (missing or non-finite channels, values outside the manifest's
expected range, window warm-up, no model loaded), computes every remaining feature row in one
vectorised call per equipment, and runs ONE `session.run` per slot on the whole batch.
Model swaps happen between two `process` calls, so no reading is dropped or scored twice.
"""

from __future__ import annotations

import math
import operator
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contracts.messages import ModelRef
from edge_agent._errors import ScoringError
from edge_agent.hysteresis import Hysteresis
from edge_agent.runtime import ModelRuntime
from edge_agent.sketch import SketchAccumulator, WindowSketch
from edge_agent.sources.base import Sample
from model_export.features import compute_features

Wire = dict[str, Any]


@dataclass
class ScoreResult:
    """What one `process` call produced, plus counts for the agent's counters."""

    readings: list[Wire] = field(default_factory=list)
    events: list[Wire] = field(default_factory=list)
    sketches: list[tuple[ModelRef, WindowSketch]] = field(default_factory=list)
    scored: int = 0
    unscoreable: Tally[str] = field(default_factory=Tally)
    score_errors: int = 0
    shadow_scored: int = 0


@dataclass
class _Prepared:
    """Feature rows of one equipment and the samples they belong to."""

    equipment: str
    samples: list[Sample]
    features: NDArray[np.float64]


@dataclass
class _Scored:
    """Scored rows of one equipment: features and scores (for sketches) and the wire readings."""

    prepared: _Prepared
    scores: NDArray[np.float64]
    readings: list[Wire]


class SlotScorer:
    """One loaded model in one slot, with the feature window of every equipment."""

    def __init__(self, runtime: ModelRuntime, slot: str, max_batch: int, range_margin: float = 0.0) -> None:
        self.runtime = runtime
        self.slot = slot
        self.max_batch = max_batch
        self._history: dict[str, NDArray[np.float64]] = {}
        channels = runtime.spec.channels
        self._pick: Callable[[dict[str, float]], Any] = (
            operator.itemgetter(*channels) if len(channels) > 1 else lambda v: (v[channels[0]],)
        )
        span = runtime.high - runtime.low
        self._low, self._high = runtime.low - range_margin * span, runtime.high + range_margin * span

    def adopt_history(self, other: SlotScorer) -> None:
        """Carry the windows over from the previous model when the feature layout is the same."""
        if other.runtime.spec == self.runtime.spec:
            self._history = dict(other._history)

    def run(self, groups: dict[str, list[Sample]], result: ScoreResult, count: bool) -> list[_Scored]:
        """Score every equipment's samples; unscoreable ones are tallied into `result` when `count`."""
        tally: Tally[str] = result.unscoreable if count else Tally()
        prepared = [self._prepare(eq, items, tally) for eq, items in groups.items()]
        prepared = [p for p in prepared if p.samples]
        if not prepared:
            return []
        scores = self._score_all(prepared, result, count)
        if scores is None:
            return []
        return self._split(prepared, scores, result, count)

    def _prepare(self, equipment: str, items: list[Sample], unscoreable: Tally[str]) -> _Prepared:
        spec = self.runtime.spec
        x = self._matrix(items)
        valid: NDArray[np.bool_] = np.asarray(((x >= self._low) & (x <= self._high)).all(axis=1))  # NaN: False
        if valid.all():
            rows, kept = x, items
        else:
            rows, kept = x[valid], self._reject(items, x, valid, unscoreable)
        history = self._history.get(equipment)
        window = rows if history is None or not history.size else np.concatenate((history, rows))
        size = spec.window.size
        features = compute_features(window, spec) if window.shape[0] >= size else np.empty((0, spec.n_features))
        fresh = min(features.shape[0], rows.shape[0])
        if fresh < rows.shape[0]:
            unscoreable["warmup"] += rows.shape[0] - fresh
        self._history[equipment] = window[-spec.warmup :] if spec.warmup else window[:0]
        if fresh == len(kept):
            return _Prepared(equipment, kept, features)
        return _Prepared(equipment, kept[len(kept) - fresh :] if fresh else [], features[features.shape[0] - fresh :])

    def _matrix(self, items: list[Sample]) -> NDArray[np.float64]:
        """Readings as `[n, channels]`; a missing channel becomes NaN (then counted non_finite)."""
        pick = self._pick
        try:
            return np.array([pick(s.values) for s in items], dtype=np.float64)
        except KeyError:
            channels = self.runtime.spec.channels
            return np.array([[s.values.get(ch, math.nan) for ch in channels] for s in items], dtype=np.float64)

    @staticmethod
    def _reject(
        items: list[Sample], x: NDArray[np.float64], valid: NDArray[np.bool_], unscoreable: Tally[str]
    ) -> list[Sample]:
        """Count why rows are unscoreable; return the scoreable samples."""
        finite = np.isfinite(x).all(axis=1)
        unscoreable["non_finite"] += int((~finite).sum())
        unscoreable["out_of_range"] += int((finite & ~valid).sum())
        flags: list[bool] = valid.tolist()
        return [s for s, ok in zip(items, flags, strict=True) if ok]

    def _score_all(self, prepared: list[_Prepared], result: ScoreResult, count: bool) -> NDArray[np.float64] | None:
        matrix = np.concatenate([p.features for p in prepared]) if len(prepared) > 1 else prepared[0].features
        try:
            parts = [self.runtime.score(matrix[i : i + self.max_batch]) for i in range(0, len(matrix), self.max_batch)]
        except ScoringError:
            if count:
                result.score_errors += len(matrix)
            return None
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _split(
        self, prepared: list[_Prepared], scores: NDArray[np.float64], result: ScoreResult, count: bool
    ) -> list[_Scored]:
        out: list[_Scored] = []
        offset = 0
        for p in prepared:
            chunk = scores[offset : offset + len(p.samples)]
            offset += len(p.samples)
            finite = np.isfinite(chunk)
            if not finite.all():
                if count:
                    result.score_errors += int((~finite).sum())
                flags: list[bool] = finite.tolist()
                kept = [s for s, ok in zip(p.samples, flags, strict=True) if ok]
                p = _Prepared(p.equipment, kept, p.features[finite])
                chunk = chunk[finite]
            if p.samples:
                out.append(_Scored(p, chunk, self._wire(p.samples, chunk)))
        return out

    def _wire(self, samples: list[Sample], scores: NDArray[np.float64]) -> list[Wire]:
        ref, threshold, slot = self.runtime.ref, self.runtime.threshold, self.slot
        n = self.runtime.spec.n_channels
        return [
            _reading(s, score, threshold, ref, slot, len(s.values) == n)
            for s, score in zip(samples, scores.tolist(), strict=True)
        ]


def _reading(s: Sample, score: float, threshold: float, ref: ModelRef, slot: str, checked: bool) -> Wire:
    """`checked`: the values are exactly the model's channels, already known finite (the JSON encoder
    would write NaN as null, so other values are filtered here)."""
    values = s.values if checked or all(math.isfinite(v) for v in s.values.values()) else _finite_only(s.values)
    return {
        "equipment": s.equipment,
        "ts": s.ts,
        "values": values,
        "score": score,
        "is_anomaly": score > threshold,
        "threshold": threshold,
        "model": ref.name,
        "model_version": ref.version,
        "slot": slot,
    }


def _finite_only(values: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in values.items() if math.isfinite(v)}


class Scorer:
    """The active slot (plus an optional shadow), anomaly hysteresis and drift sketches."""

    def __init__(
        self, max_batch: int, anomaly_on: int, anomaly_off: int, sketch_window_ms: int, range_margin: float = 0.0
    ) -> None:
        self.max_batch = max_batch
        self.range_margin = range_margin
        self._on, self._off = anomaly_on, anomaly_off
        self._window_ms = sketch_window_ms
        self.active: SlotScorer | None = None
        self.shadow: SlotScorer | None = None
        self._sketch: SketchAccumulator | None = None
        self._hysteresis: dict[str, Hysteresis] = {}

    def set_active(self, runtime: ModelRuntime) -> list[tuple[ModelRef, WindowSketch]]:
        """Swap the active model (between batches); return the old model's last sketches."""
        closed = self._flush_sketches()
        slot = SlotScorer(runtime, "active", self.max_batch, self.range_margin)
        if self.active is not None:
            slot.adopt_history(self.active)
        self.active = slot
        self._sketch = _sketch_for(runtime, self._window_ms)
        return closed

    def set_shadow(self, runtime: ModelRuntime | None) -> None:
        self.shadow = None if runtime is None else SlotScorer(runtime, "shadow", self.max_batch, self.range_margin)

    def flush(self) -> list[tuple[ModelRef, WindowSketch]]:
        return self._flush_sketches()

    def process(self, samples: list[Sample]) -> ScoreResult:
        """Score one batch with the active (and shadow) model."""
        result = ScoreResult()
        groups = _group(samples)
        if self.active is None:
            result.unscoreable["no_model"] += len(samples)
        else:
            scored = self.active.run(groups, result, count=True)
            for part in scored:
                result.readings += part.readings
                self._events(part, result)
            result.scored = len(result.readings)
            result.sketches += self._sketch_rows(scored)
        if self.shadow is not None:
            shadow = [r for part in self.shadow.run(groups, result, count=False) for r in part.readings]
            result.shadow_scored = len(shadow)
            result.readings += shadow
        return result

    def _events(self, part: _Scored, result: ScoreResult) -> None:
        equipment = part.prepared.equipment
        tracker = self._hysteresis.get(equipment)
        if tracker is None:
            tracker = self._hysteresis[equipment] = Hysteresis(self._on, self._off)
        flags: list[bool] = (part.scores > self.active_threshold()).tolist()
        for index, transition in tracker.update_many(flags):
            result.events.append(_anomaly_event(transition, part.readings[index]))

    def active_threshold(self) -> float:
        return self.active.runtime.threshold if self.active is not None else math.inf

    def _sketch_rows(self, scored: list[_Scored]) -> list[tuple[ModelRef, WindowSketch]]:
        if self._sketch is None or self.active is None:
            return []
        ref = self.active.runtime.ref
        closed: list[tuple[ModelRef, WindowSketch]] = []
        for part in scored:
            ts = np.fromiter((s.ts for s in part.prepared.samples), dtype=np.int64, count=len(part.prepared.samples))
            windows = self._sketch.add(part.prepared.equipment, ts, part.prepared.features, part.scores)
            closed += [(ref, w) for w in windows]
        return closed

    def _flush_sketches(self) -> list[tuple[ModelRef, WindowSketch]]:
        if self._sketch is None or self.active is None:
            return []
        return [(self.active.runtime.ref, w) for w in self._sketch.flush()]


def _group(samples: list[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.equipment, []).append(s)
    return groups


def _anomaly_event(kind: str, reading: Wire) -> Wire:
    return {
        "kind": kind,
        "ts": reading["ts"],
        "equipment": reading["equipment"],
        "model": reading["model"],
        "model_version": reading["model_version"],
        "score": reading["score"],
        "detail": f"threshold {reading['threshold']:.6g}",
    }


def _sketch_for(runtime: ModelRuntime, window_ms: int) -> SketchAccumulator | None:
    names: list[str] = []
    edges: list[NDArray[np.float64]] = []
    columns: list[int] = []
    index = {name: i for i, name in enumerate(runtime.spec.names)}
    for hist in runtime.manifest.reference:
        column = -1 if hist.name == "score" else index.get(hist.name)
        if column is None:
            continue
        names.append(hist.name)
        edges.append(np.array(hist.edges, dtype=np.float64))
        columns.append(column)
    return SketchAccumulator(names, edges, columns, window_ms) if names else None
