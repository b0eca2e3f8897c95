"""Pure logic of the agent (no I/O): batching, hysteresis, version policy, backoff, percentiles, sketches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.messages import ModelRef
from edge_agent.backoff import Backoff
from edge_agent.batching import Batcher
from edge_agent.hysteresis import Hysteresis
from edge_agent.percentiles import ModelLatencies, PercentileTracker
from edge_agent.policy import decide, decide_shadow, semver_key
from edge_agent.sketch import SketchAccumulator, bin_counts
from edge_agent.state import model_latency


def ref(version: str, name: str = "pump") -> ModelRef:
    return ModelRef(name=name, version=version)


# -- batching -------------------------------------------------------------------------------------------
def test_batcher_closes_on_size() -> None:
    batcher: Batcher[int] = Batcher(3, 100)
    assert batcher.add([1, 2], now_ms=0) == []
    assert batcher.add([3, 4, 5, 6, 7], now_ms=1) == [[1, 2, 3], [4, 5, 6]]
    assert len(batcher) == 1


def test_batcher_closes_on_age_of_oldest_item() -> None:
    batcher: Batcher[int] = Batcher(100, 50)
    batcher.add([1], now_ms=1000)
    batcher.add([2], now_ms=1040)
    assert batcher.deadline() == 1050
    assert batcher.due(1049) is None
    assert batcher.due(1050) == [1, 2]
    assert batcher.deadline() is None and batcher.due(5000) is None and batcher.flush() is None


@given(st.lists(st.integers(), max_size=200), st.integers(min_value=1, max_value=20))
def test_batcher_keeps_every_item_once_in_order(items: list[int], size: int) -> None:
    batcher: Batcher[int] = Batcher(size, 10)
    out = [x for batch in batcher.add(items, 0) for x in batch]
    out += batcher.flush() or []
    assert out == items


# -- hysteresis -----------------------------------------------------------------------------------------
def test_hysteresis_needs_on_then_off_consecutive_readings() -> None:
    tracker = Hysteresis(on=3, off=2)
    flags = [True, True, False, True, True, True, False, True, False, False, True]
    transitions = [tracker.update(f) for f in flags]
    assert transitions == [None, None, None, None, None, "anomaly_start", None, None, None, "anomaly_end", None]


def test_hysteresis_single_reading_thresholds() -> None:
    tracker = Hysteresis(on=1, off=1)
    assert [tracker.update(f) for f in (True, True, False)] == ["anomaly_start", None, "anomaly_end"]


# -- version policy -------------------------------------------------------------------------------------
def test_semver_precedence() -> None:
    ordered = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
    assert sorted(ordered, key=semver_key) == ordered


@pytest.mark.parametrize(("candidate", "active", "previous", "allow", "verdict"), [
    ("1.1.0", None, None, False, "load"),
    ("1.1.0", "1.0.0", None, False, "load"),
    ("1.0.0", "1.0.0", None, False, "noop"),
    ("0.9.0", "1.0.0", None, False, "reject"),
    ("0.9.0", "1.0.0", "0.9.0", False, "reject"),
    ("0.9.0", "1.0.0", "0.9.0", True, "load"),
    ("0.8.0", "1.0.0", "0.9.0", True, "reject"),
])
def test_version_policy(candidate, active, previous, allow, verdict) -> None:
    decision = decide(ref(candidate), ref(active) if active else None, ref(previous) if previous else None, allow)
    assert decision.verdict == verdict
    if verdict == "reject":
        assert "downgrade" in decision.reason


def test_version_policy_other_model_name_and_shadow() -> None:
    assert decide(ref("0.1.0", "fan"), ref("1.0.0"), None, False).verdict == "load"
    assert decide_shadow(ref("0.1.0"), ref("1.0.0")).verdict == "load"
    assert decide_shadow(ref("1.0.0"), ref("1.0.0")).verdict == "noop"


# -- backoff --------------------------------------------------------------------------------------------
def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    draws = iter([0.0, 1.0, 0.5, 0.0, 1.0, 1.0, 1.0])
    backoff = Backoff(100, 1000, rand=lambda: next(draws))
    assert [backoff.next_ms() for _ in range(7)] == [50, 200, 300, 400, 1000, 1000, 1000]
    backoff.reset()
    assert backoff.attempt == 0


@given(st.integers(1, 5000), st.integers(0, 60), st.floats(0, 1))
def test_backoff_always_within_half_ceiling_and_max(min_ms: int, attempts: int, u: float) -> None:
    backoff = Backoff(min_ms, min_ms * 64, rand=lambda: u)
    for _ in range(attempts):
        backoff.next_ms()
    ceiling = backoff.ceiling(backoff.attempt)
    delay = backoff.next_ms()
    assert max(1, ceiling // 2) <= delay <= min_ms * 64


# -- percentiles ----------------------------------------------------------------------------------------
def test_percentiles_over_a_sliding_window() -> None:
    tracker = PercentileTracker(capacity=100)
    assert tracker.percentiles(50, 99) == (0.0, 0.0)
    for v in range(1000):
        tracker.add(float(v))
    assert len(tracker) == 100
    p50, p99 = tracker.percentiles(50, 99)
    assert p50 == pytest.approx(949.5) and p99 == pytest.approx(998.01)


def test_model_latency_starts_fresh_for_each_new_active_model() -> None:
    latencies = ModelLatencies(capacity=100)
    assert latencies.current() is None and model_latency(latencies) is None
    for _ in range(50):
        latencies.add(ref("1.0.0"), 1000.0)
    for _ in range(30):
        latencies.add(ref("1.1.0"), 10.0)
    current = model_latency(latencies)
    assert current is not None and current.model == ref("1.1.0")
    assert current.samples == 30 and current.p99_us == pytest.approx(10.0)  # none of 1.0.0's passes


def test_model_latency_keeps_only_the_current_and_previous_models() -> None:
    latencies = ModelLatencies(capacity=100)
    for version, value in (("1.0.0", 1.0), ("1.1.0", 2.0), ("1.2.0", 3.0)):
        latencies.add(ref(version), value)
    assert [m.version for m, _ in latencies.models()] == ["1.1.0", "1.2.0"]
    latencies.add(ref("1.1.0"), 5.0)  # a rollback to the previous model starts it afresh
    assert [(m.version, len(t)) for m, t in latencies.models()] == [("1.2.0", 1), ("1.1.0", 1)]
    current = model_latency(latencies)
    assert current is not None and current.model == ref("1.1.0") and current.p99_us == pytest.approx(5.0)


def test_model_latency_window_is_bounded() -> None:
    latencies = ModelLatencies(capacity=10)
    for v in range(25):
        latencies.add(ref("1.0.0"), float(v))
    current = model_latency(latencies)
    assert current is not None and current.samples == 10 and current.p50_us == pytest.approx(19.5)


# -- sketches -------------------------------------------------------------------------------------------
def test_bin_counts_with_under_and_overflow() -> None:
    edges = np.array([0.0, 1.0, 2.0])
    counts = bin_counts(edges, np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]))
    assert counts.tolist() == [1, 2, 2, 1]  # below, [0,1), [1,2], above


def test_sketch_windows_close_on_the_sensor_clock() -> None:
    acc = SketchAccumulator(["f", "score"], [np.array([0.0, 1.0]), np.array([0.0, 10.0])], [0, -1], window_ms=1000)
    ts = np.array([100, 900, 1100], dtype=np.int64)
    feats = np.array([[0.5], [2.0], [0.1]])
    scores = np.array([1.0, 20.0, 5.0])
    closed = acc.add("p1", ts, feats, scores)
    assert len(closed) == 1
    first = closed[0]
    assert (first.window_start, first.window_end, first.n) == (0, 999, 2)
    assert [c.tolist() for c in first.counts] == [[0, 1, 1], [0, 1, 1]]
    [last] = acc.flush()
    assert (last.window_start, last.n) == (1000, 1)


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=300), st.integers(0, 2**31))
def test_vectorised_binning_equals_per_histogram_binning(values: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = [np.unique(np.round(rng.uniform(-4, 4, size=k), 1)) for k in (2, 5, 9)]
    edges = [e if e.size >= 2 else np.array([0.0, 1.0]) for e in edges]
    acc = SketchAccumulator(["a", "b", "score"], edges, [0, 1, -1], window_ms=10**9)
    data = np.array(values)
    data[::7] = edges[0][-1]  # exercise the closed last edge
    feats = np.column_stack([data, data[::-1]])
    acc.add("p", np.zeros(data.size, dtype=np.int64), feats, data * 0.5)
    [window] = acc.flush()
    expected = [bin_counts(edges[0], feats[:, 0]), bin_counts(edges[1], feats[:, 1]), bin_counts(edges[2], data * 0.5)]
    assert [c.tolist() for c in window.counts] == [e.tolist() for e in expected]


@given(st.lists(st.booleans(), max_size=200), st.integers(1, 5), st.integers(1, 5))
def test_hysteresis_update_many_equals_one_by_one(flags: list[bool], on: int, off: int) -> None:
    one, many = Hysteresis(on, off), Hysteresis(on, off)
    expected = [(i, t) for i, f in enumerate(flags) if (t := one.update(f)) is not None]
    half = len(flags) // 2
    got = many.update_many(flags[:half]) + [(i + half, t) for i, t in many.update_many(flags[half:])]
    assert got == expected and one.active == many.active
