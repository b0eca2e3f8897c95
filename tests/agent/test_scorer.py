"""Scoring core with real onnxruntime: features, unscoreable readings, batching, swap, events, wire format."""

from __future__ import annotations

import math

import numpy as np
import pytest

from contracts import codec
from contracts.messages import ModelRef
from edge_agent import wire
from edge_agent.runtime import runtime_from
from edge_agent.scorer import Scorer
from edge_agent.sources.base import Sample
from model_export.features import compute_features
from model_export.simulator import Fault, FaultEvent, PumpSimulator


def samples(equipment: str, n: int, seed: int = 1, faults=()) -> list[Sample]:
    sim = PumpSimulator(seed=seed, faults=list(faults), start_ms=1_000_000, period_ms=100)
    return [Sample(equipment, r.ts_ms, r.values) for r in (sim.next_reading() for _ in range(n))]


@pytest.fixture
def scorer(trained) -> Scorer:
    s = Scorer(max_batch=64, anomaly_on=2, anomaly_off=2, sketch_window_ms=10_000, range_margin=3.0)
    s.set_active(runtime_from(trained.manifest, trained.model_bytes))
    return s


def test_scores_match_the_batch_feature_module(trained, scorer: Scorer) -> None:
    rows = samples("p1", 100)
    result = scorer.process(rows[:37])
    result2 = scorer.process(rows[37:])  # the window continues across batches
    scores = [r["score"] for r in result.readings + result2.readings]
    runtime = scorer.active.runtime  # type: ignore[union-attr]
    matrix = np.array([[s.values[c] for c in runtime.spec.channels] for s in rows])
    expected = runtime.score(compute_features(matrix, runtime.spec))
    assert np.allclose(scores, expected, rtol=0, atol=1e-12)
    warmup = trained.manifest.window.size - 1
    assert result.unscoreable["warmup"] == warmup and result.scored == 37 - warmup


def test_unscoreable_readings_are_counted_never_scored(scorer: Scorer) -> None:
    rows = samples("p1", 30)
    rows[15] = Sample("p1", rows[15].ts, {**rows[15].values, "current": math.nan})
    rows[16] = Sample("p1", rows[16].ts, {k: v for k, v in rows[16].values.items() if k != "voltage"})
    rows[17] = Sample("p1", rows[17].ts, {**rows[17].values, "temperature": 1e9})
    result = scorer.process(rows)
    assert result.unscoreable["non_finite"] == 2 and result.unscoreable["out_of_range"] == 1
    assert {r["ts"] for r in result.readings}.isdisjoint({rows[i].ts for i in (15, 16, 17)})
    assert result.scored + sum(result.unscoreable.values()) == 30


def test_no_model_counts_no_model(trained) -> None:
    s = Scorer(64, 2, 2, 10_000)
    assert s.process(samples("p1", 5)).unscoreable["no_model"] == 5


def test_fault_raises_anomaly_events_and_payloads_validate(trained, scorer: Scorer) -> None:
    rows = samples("p1", 400, faults=[FaultEvent(Fault.VALVE_CLOSURE, 150, 150, 2.0)])
    result = scorer.process(rows)
    kinds = [e["kind"] for e in result.events]
    assert "anomaly_start" in kinds
    start = next(e for e in result.events if e["kind"] == "anomaly_start")
    assert start["ts"] >= rows[150].ts
    topic = "vigie/v1/gw-1/up/scores"
    _, batch = codec.decode_up(topic, wire.scores("gw-1", result.readings[:100])(7))
    assert batch.seq == 7 and len(batch.readings) == 100  # type: ignore[union-attr]
    _, events = codec.decode_up("vigie/v1/gw-1/up/events", wire.events("gw-1", result.events)(0))
    assert len(events.events) == len(result.events)  # type: ignore[union-attr]


def test_sketches_use_manifest_bins_and_validate(trained, scorer: Scorer) -> None:
    result = scorer.process(samples("p1", 300))  # 30 s of readings, 10 s windows
    assert len(result.sketches) >= 2
    ref, window = result.sketches[0]
    assert ref == ModelRef(name="pump", version="1.0.0")
    _, sketch = codec.decode_up("vigie/v1/gw-1/up/sketch", wire.sketch("gw-1", ref, window)(3))
    names = {h.name for h in trained.manifest.reference}
    assert {f.name for f in sketch.features} == names  # type: ignore[union-attr]
    for f in sketch.features:  # type: ignore[union-attr]
        assert len(f.counts) == len(trained.manifest.reference_for(f.name).edges) + 1
        assert sum(f.counts) == sketch.n  # type: ignore[union-attr]


def test_swap_between_batches_keeps_window_and_scores_each_reading_once(trained, scorer: Scorer) -> None:
    rows = samples("p1", 60)
    first = scorer.process(rows[:30])
    manifest = trained.manifest.model_copy(update={"version": "1.1.0"})
    closed = scorer.set_active(runtime_from(manifest, trained.model_bytes))
    assert all(ref.version == "1.0.0" for ref, _ in closed)
    second = scorer.process(rows[30:])
    assert second.unscoreable["warmup"] == 0  # same feature layout: the window carries over
    assert {r["model_version"] for r in second.readings} == {"1.1.0"}
    ts = [r["ts"] for r in first.readings + second.readings]
    assert len(ts) == len(set(ts)) == 60 - (trained.manifest.window.size - 1)


def test_shadow_scores_the_same_readings(trained, scorer: Scorer) -> None:
    scorer.set_shadow(runtime_from(trained.manifest.model_copy(update={"version": "2.0.0"}), trained.model_bytes))
    result = scorer.process(samples("p1", 40))
    active = [r for r in result.readings if r["slot"] == "active"]
    shadow = [r for r in result.readings if r["slot"] == "shadow"]
    assert [r["ts"] for r in active] == [r["ts"] for r in shadow]
    assert result.shadow_scored == len(shadow) and result.scored == len(active)
