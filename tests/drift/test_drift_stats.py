"""PSI / Jensen-Shannon properties, smoothing, the decision rule and the hysteresis (pure, hypothesis)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.drift._errors import IncompatibleSketch
from hub.drift.stats import (
    LN2,
    DriftRule,
    DriftState,
    Verdict,
    WindowStats,
    js_between,
    psi_between,
    step,
    verdict,
    window_stats,
)

weights = st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=2, max_size=40)
positive_weights = st.lists(st.floats(0.01, 100.0, allow_nan=False), min_size=2, max_size=40)


def normalised(values: list[float]) -> list[float]:
    total = sum(values)
    return [v / total for v in values]


def binned_normal(edges: list[float], shift: float) -> list[float]:
    """N(shift, 1) over `edges`, with the mass below and above in an underflow and an overflow bin."""

    def cdf(x: float) -> float:
        return 0.5 * (1.0 + math.erf((x - shift) / math.sqrt(2.0)))

    inner = [cdf(b) - cdf(a) for a, b in itertools.pairwise(edges)]
    return [cdf(edges[0]), *inner, 1.0 - cdf(edges[-1])]


EDGES = [-2.5 + 0.25 * i for i in range(21)]
_REF = binned_normal(EDGES, 0.0)
REFERENCE = [_REF[0] + _REF[1], *_REF[2:-2], _REF[-2] + _REF[-1]]
"""Training clips values into the outer bins, so the reference has no under/overflow mass."""


@given(positive_weights, st.integers(1, 10**6))
def test_identical_distributions_score_zero(raw: list[float], n: int) -> None:
    probs = normalised(raw)
    stats = window_stats([n * p for p in probs], probs)
    assert stats.psi == pytest.approx(0.0, abs=1e-9)
    assert stats.js == pytest.approx(0.0, abs=1e-9)
    assert psi_between(probs, probs) == 0.0 and js_between(probs, probs) == pytest.approx(0.0, abs=1e-12)


@given(weights, weights)
def test_js_is_symmetric_and_bounded_by_ln2(a: list[float], b: list[float]) -> None:
    size = min(len(a), len(b))
    assume(sum(a[:size]) > 0 and sum(b[:size]) > 0)
    p, q = normalised(a[:size]), normalised(b[:size])
    js = js_between(p, q)
    assert js == pytest.approx(js_between(q, p), abs=1e-12)
    assert 0.0 <= js <= LN2


@given(st.integers(2, 30))
def test_js_reaches_ln2_on_disjoint_supports(k: int) -> None:
    p = [1.0 / k] * k + [0.0] * k
    q = [0.0] * k + [1.0 / k] * k
    assert js_between(p, q) == pytest.approx(LN2)
    assert psi_between(p, q) == math.inf


@given(positive_weights, positive_weights)
def test_psi_is_symmetric_and_non_negative(a: list[float], b: list[float]) -> None:
    size = min(len(a), len(b))
    p, q = normalised(a[:size]), normalised(b[:size])
    assert psi_between(p, q) >= -1e-12
    assert psi_between(p, q) == pytest.approx(psi_between(q, p), rel=1e-9, abs=1e-12)


@settings(max_examples=200)
@given(st.floats(0.0, 3.0), st.floats(0.0, 3.0), st.sampled_from([50, 1000, 100_000]))
def test_both_grow_with_the_shift(s1: float, s2: float, n: int) -> None:
    """Expected counts of N(s, 1) against the N(0, 1) reference: a larger shift never scores lower."""
    small, large = sorted((s1, s2))
    low = window_stats([n * p for p in binned_normal(EDGES, small)], REFERENCE)
    high = window_stats([n * p for p in binned_normal(EDGES, large)], REFERENCE)
    assert low.psi <= high.psi + 1e-9
    assert low.js <= high.js + 1e-9
    negative = window_stats([n * p for p in binned_normal(EDGES, -large)], REFERENCE)
    assert negative.psi == pytest.approx(high.psi, rel=1e-6)  # the reference is symmetric


def test_counts_with_or_without_under_and_overflow() -> None:
    probs = [0.25, 0.25, 0.5]
    assert window_stats([25, 25, 50], probs).psi == pytest.approx(0.0)
    assert window_stats([0, 25, 25, 50, 0], probs).psi == pytest.approx(0.0)
    assert window_stats([0, 25, 25, 40, 10], probs).psi > 0.05  # mass above the last edge is drift
    for bad in ([1, 2], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6]):
        with pytest.raises(IncompatibleSketch):
            window_stats(bad, probs)
    with pytest.raises(IncompatibleSketch):
        window_stats([1, -1, 3], probs)


def test_smoothing_weighs_an_empty_bin_by_the_evidence() -> None:
    """An empty bin is weak evidence in a small window (expected 3 readings) and strong in a big one."""
    probs = [0.05] * 20
    costs = []
    for n in (60, 600, 6000):
        counts = [n / 19] * 19 + [0.0]
        costs.append(window_stats(counts, probs).psi)
    assert all(math.isfinite(c) for c in costs)
    assert costs[0] < 0.1 < 0.2 < costs[2] and costs[0] < costs[1] < costs[2]
    epsilon = [max(c / 60, 1e-4) for c in [60 / 19] * 19 + [0.0]]
    assert psi_between(probs, normalised(epsilon)) > 0.2, "a fixed epsilon would call that window drifted"
    assert window_stats([0, 0, 0], [0.2, 0.3, 0.5]) == WindowStats(psi=0.0, js=0.0, n=0)


def test_decision_rule() -> None:
    rule = DriftRule(min_count=100)
    assert verdict(WindowStats(psi=5.0, js=0.5, n=99), rule) == "insufficient"
    assert verdict(WindowStats(psi=0.21, js=0.0, n=100), rule) == "over"
    assert verdict(WindowStats(psi=0.0, js=0.11, n=100), rule) == "over"
    assert verdict(WindowStats(psi=0.05, js=0.01, n=100), rule) == "under"
    assert verdict(WindowStats(psi=0.15, js=0.01, n=100), rule) == "between"
    assert verdict(WindowStats(psi=0.05, js=0.07, n=100), rule) == "between"
    for bad in ({"psi_exit": 0.3}, {"js_exit": 0.2}, {"js_enter": 0.7, "js_exit": 0.05}, {"min_count": 0},
                {"enter_windows": 0}, {"pseudo_count": 0.0}):
        with pytest.raises(ValueError):
            DriftRule(**bad)


def run(verdicts: list[Verdict], rule: DriftRule) -> list[tuple[int, str]]:
    state, flips = DriftState(), list[tuple[int, str]]()
    for i, v in enumerate(verdicts):
        state, transition = step(state, v, rule)
        if transition is not None:
            flips.append((i, transition))
    return flips


def test_hysteresis_needs_consecutive_windows() -> None:
    rule = DriftRule(enter_windows=2, exit_windows=3)
    assert run(["over", "under", "over", "under", "over", "between"], rule) == []
    assert run(["over", "insufficient", "over"], rule) == [(2, "start")]  # too few readings: ignored
    flips = run(["over", "over", "under", "under", "over", "under", "under", "under"], rule)
    assert flips == [(1, "start"), (7, "end")]
    assert run(["over", "over", "under", "between", "under", "under", "under"], rule) == [(1, "start"), (6, "end")]


verdict_lists = st.lists(st.sampled_from(["over", "under", "between", "insufficient"]), max_size=80)


@given(verdict_lists, st.integers(1, 4), st.integers(1, 4))
def test_hysteresis_invariants(verdicts: list[Verdict], enter: int, exit_: int) -> None:
    rule = DriftRule(enter_windows=enter, exit_windows=exit_)
    flips = run(verdicts, rule)
    kinds = [k for _, k in flips]
    assert kinds == ["start", "end"] * (len(kinds) // 2) + (["start"] if len(kinds) % 2 else [])
    counted = [(i, v) for i, v in enumerate(verdicts) if v != "insufficient"]
    for index, kind in flips:
        need, wanted = (enter, "over") if kind == "start" else (exit_, "under")
        before = [v for i, v in counted if i <= index][-need:]
        assert before == [wanted] * need, f"{kind} at {index} without {need} consecutive {wanted}"


@given(st.lists(st.sampled_from(["under", "between", "insufficient"]), max_size=50), st.integers(0, 49))
def test_one_noisy_window_never_flaps(verdicts: list[Verdict], at: int) -> None:
    noisy = list(verdicts)
    noisy.insert(min(at, len(noisy)), "over")
    assert run(noisy, DriftRule(enter_windows=2)) == []
