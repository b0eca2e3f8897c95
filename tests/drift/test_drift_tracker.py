"""Pooling, duplicates, seeding and commit of the per-stream tracker (pure)."""

from __future__ import annotations

from hub.drift.stats import DriftRule
from hub.drift.tracker import DriftTracker, Evaluation, Window

KEY = ("gw-1", "pump-1", "pump", "1.0.0")
REFERENCE = {"flow": [0.25, 0.25, 0.25, 0.25], "score": [0.5, 0.5]}
RULE = DriftRule(min_count=400, enter_windows=2, exit_windows=2)


def window(seq: int, n: int = 400, shifted: bool = False, minute: int | None = None) -> Window:
    start = (seq if minute is None else minute) * 60_000
    flow = [0, 0, 0, n, n, 0] if shifted else [0, n // 4, n // 4, n // 4, n // 4, 0]
    return Window(seq, start, start + 59_999, n, {"flow": flow, "score": [n // 2, n // 2]})


def evaluate(tracker: DriftTracker, w: Window) -> Evaluation:
    result = tracker.add(KEY, w, REFERENCE)
    assert isinstance(result, Evaluation), result
    tracker.commit(KEY, result)
    return result


def test_small_windows_are_pooled_until_min_count() -> None:
    tracker = DriftTracker(RULE)
    assert tracker.add(KEY, window(1, n=100), REFERENCE) == "pooled"
    assert tracker.add(KEY, window(2, n=200), REFERENCE) == "pooled"
    result = tracker.add(KEY, window(3, n=100), REFERENCE)
    assert isinstance(result, Evaluation)
    assert (result.start_ms, result.end_ms, result.n) == (60_000, 3 * 60_000 + 59_999, 400)
    assert {r.feature: r.stats.n for r in result.results} == {"flow": 400, "score": 400}
    assert tracker.add(KEY, window(4, n=100), REFERENCE) == "pooled"  # the pool starts again


def test_a_stale_pool_is_dropped() -> None:
    tracker = DriftTracker(RULE, max_pool_ms=3600_000)
    assert tracker.add(KEY, window(1, n=300, minute=0), REFERENCE) == "pooled"
    assert tracker.add(KEY, window(2, n=300, minute=90), REFERENCE) == "pooled"  # 90 min later: restarted
    result = tracker.add(KEY, window(3, n=100, minute=91), REFERENCE)
    assert isinstance(result, Evaluation) and result.start_ms == 90 * 60_000 and result.n == 400


def test_duplicates_are_ignored_but_a_restarted_agent_is_not() -> None:
    tracker = DriftTracker(RULE)
    assert tracker.add(KEY, window(7, n=100), REFERENCE) == "pooled"
    assert tracker.add(KEY, window(7, n=100), REFERENCE) == "duplicate"  # redelivered
    assert tracker.add(KEY, window(8, n=100), REFERENCE) == "pooled"
    assert tracker.add(KEY, window(7, n=100), REFERENCE) == "duplicate"  # redelivered late
    # an agent whose outbox was wiped starts its seqs again, with newer windows: accepted
    result = tracker.add(KEY, window(1, n=200, minute=50), REFERENCE)
    assert isinstance(result, Evaluation) and result.n == 400


def test_state_moves_only_on_commit() -> None:
    tracker = DriftTracker(RULE)
    evaluate(tracker, window(1, shifted=True))
    uncommitted = tracker.add(KEY, window(2, shifted=True), REFERENCE)
    assert isinstance(uncommitted, Evaluation)
    assert [r.transition for r in uncommitted.results if r.feature == "flow"] == ["start"]
    assert tracker.drifting(KEY) == {"flow": False, "score": False}  # e.g. the store write failed
    again = evaluate(tracker, window(3, shifted=True))
    assert {r.feature: r.transition for r in again.results} == {"flow": "start", "score": None}
    assert tracker.drifting(KEY) == {"flow": True, "score": False}
    evaluate(tracker, window(4))
    last = evaluate(tracker, window(5))
    assert {r.feature: (r.drifting, r.transition) for r in last.results} == {"flow": (False, "end"),
                                                                             "score": (False, None)}


def test_seeded_state_survives_a_restart() -> None:
    tracker = DriftTracker(RULE)
    tracker.seed(KEY, {"flow": True})
    assert tracker.known(KEY)
    first = evaluate(tracker, window(1, shifted=True))
    assert [(r.drifting, r.transition) for r in first.results if r.feature == "flow"] == [(True, None)]


def test_ignored_and_unknown_features() -> None:
    tracker = DriftTracker(RULE, ignore=["sc*"])
    w = Window(1, 0, 59_999, 400, {"flow": [0, 100, 100, 100, 100, 0], "score": [200, 200],
                                   "mystery": [400], "flow_bad": [1, 2]})
    result = tracker.add(KEY, w, {**REFERENCE, "flow_bad": [0.1, 0.2, 0.7]})
    assert isinstance(result, Evaluation)
    assert [r.feature for r in result.results] == ["flow"]
    assert sorted(result.skipped) == ["flow_bad", "mystery"]


def test_streams_are_bounded() -> None:
    tracker = DriftTracker(RULE, max_streams=3)
    keys = [(f"gw-{i}", "pump-1", "pump", "1.0.0") for i in range(5)]
    for key in keys:
        tracker.add(key, window(1, n=10), REFERENCE)
    assert [tracker.known(k) for k in keys] == [False, False, True, True, True]
