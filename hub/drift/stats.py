"""Drift statistics (pure, no I/O): how far one window's histogram is from the training reference.

Inputs
------
`counts`: one window's counts of one feature over the manifest's reference bins, either one counter per
bin (`len(probs)`) or, as agents send them (`edge_agent/sketch.py`), with an underflow and an overflow
counter around the bins (`len(probs) + 2`). The reference gives those two probability 0: training values
lie inside the edges by construction, so mass outside them is a departure from the reference.

Smoothing
---------
A window of `n` readings over `k` bins leaves bins empty by chance, and the reference has empty bins too
(the under/overflow counters); PSI is infinite with a zero on one side. The same pseudo-count `a`
(default 0.5, Jeffreys' prior) is added to every bin of the window counts and of the reference's
*expected* counts `n * p`:

    q_i = (c_i + a) / (n + k a)        p_i = (n p_i + a) / (n + k a)

so (1) a window whose counts equal their expectation scores exactly 0, (2) an empty bin costs a bounded
amount that shrinks as `n` grows, (3) both sides are smoothed alike and the smoothing cannot create drift
by itself. A fixed epsilon instead (`q_i = max(c_i / n, 1e-4)`) makes each empty bin of a small window cost
about 0.3 of PSI: enough to raise drift on sampling noise alone.

Statistics (natural logarithm)
------------------------------
    PSI = sum_i (q_i - p_i) ln(q_i / p_i)                   symmetric, >= 0, unbounded
    JS  = 1/2 KL(p || m) + 1/2 KL(q || m),  m = (p + q)/2   symmetric, in [0, ln 2]

PSI rule of thumb: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift. Sampling noise: for a
window drawn from the reference itself, `n * PSI` is roughly chi-square with `k - 1` degrees of freedom
(E[PSI] ~ (k - 1)/n, E[JS] ~ (k - 1)/(8 n)), and window features (means, stds over W readings) are
autocorrelated, which divides the effective `n` by up to W. Hence `min_count` (default 1000): on the pump
simulator (20 bins, W = 10), 500-reading evaluations gave a false start every ~700 feature evaluations,
1000-reading ones none in 3000, while a 1-sigma flow shift was still flagged after two evaluations.

Decision and hysteresis
-----------------------
A window is `over` when PSI > psi_enter or JS > js_enter, `under` when PSI < psi_exit and JS < js_exit
(the exit thresholds are lower: the band in between is `between`), and `insufficient` when n < min_count.
A feature starts drifting after `enter_windows` consecutive `over` windows and stops after `exit_windows`
consecutive `under` windows; `between` breaks either streak; `insufficient` windows are ignored (they
neither extend nor break a streak). One noisy window therefore never flips the state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from hub.drift._errors import IncompatibleSketch

LN2 = math.log(2.0)
Vector = NDArray[np.float64]
Verdict = Literal["over", "under", "between", "insufficient"]
Transition = Literal["start", "end"]


@dataclass(frozen=True, slots=True)
class DriftRule:
    """Thresholds of the decision rule and of the hysteresis (see the module docstring)."""

    psi_enter: float = 0.2
    js_enter: float = 0.1
    psi_exit: float = 0.1
    js_exit: float = 0.05
    min_count: int = 1000
    enter_windows: int = 2
    exit_windows: int = 3
    pseudo_count: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.psi_exit <= self.psi_enter or not 0 < self.js_exit <= self.js_enter:
            raise ValueError("need 0 < exit threshold <= enter threshold for both PSI and JS")
        if self.js_enter >= LN2:
            raise ValueError("js_enter must be below ln 2 (the largest JS divergence)")
        if self.min_count < 1 or self.enter_windows < 1 or self.exit_windows < 1:
            raise ValueError("min_count, enter_windows and exit_windows must be at least 1")
        if not 0 < self.pseudo_count <= 10:
            raise ValueError("pseudo_count must be in (0, 10]")


@dataclass(frozen=True, slots=True)
class WindowStats:
    psi: float
    js: float
    n: int


@dataclass(frozen=True, slots=True)
class DriftState:
    """Hysteresis state of one feature: drifting or not, and the length of the current streak."""

    drifting: bool = False
    streak: int = 0


def reference_for_counts(probs: Sequence[float], n_counts: int) -> Vector:
    """The reference probabilities laid out like the counts (zeros for under/overflow counters)."""
    p = np.asarray(probs, dtype=np.float64)
    if n_counts == p.size:
        return p
    if n_counts == p.size + 2:
        return np.concatenate(([0.0], p, [0.0]))
    raise IncompatibleSketch(f"{n_counts} counters for a reference of {p.size} bins (need {p.size} or {p.size + 2})")


def smoothed(counts: Sequence[float], probs: Sequence[float], pseudo_count: float) -> tuple[Vector, Vector]:
    """(window distribution q, reference distribution p), both smoothed with `pseudo_count` per bin."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)) or np.any(c < 0):
        raise IncompatibleSketch("counts must be a non-empty list of non-negative numbers")
    p = reference_for_counts(probs, c.size)
    n = float(c.sum())
    q_raw = c + pseudo_count
    p_raw = n * p + pseudo_count
    return q_raw / q_raw.sum(), p_raw / p_raw.sum()


def psi_between(p: Sequence[float] | Vector, q: Sequence[float] | Vector) -> float:
    """Population stability index of two distributions (inf if one has mass where the other has none)."""
    a, b = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    both = (a > 0) & (b > 0)
    if np.any((a > 0) != (b > 0)):
        return math.inf
    return float(np.sum((b[both] - a[both]) * np.log(b[both] / a[both])))


def js_between(p: Sequence[float] | Vector, q: Sequence[float] | Vector) -> float:
    """Jensen-Shannon divergence (natural log) of two distributions, in [0, ln 2]."""
    a, b = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = (a + b) / 2.0
    value = 0.5 * _kl(a, m) + 0.5 * _kl(b, m)
    return min(max(value, 0.0), LN2)


def _kl(a: Vector, m: Vector) -> float:
    mask = a > 0
    return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))


def window_stats(counts: Sequence[float], probs: Sequence[float], pseudo_count: float = 0.5) -> WindowStats:
    """PSI and JS of one window's counts against the reference probabilities (smoothed, see above)."""
    q, p = smoothed(counts, probs, pseudo_count)
    n = round(float(np.sum(np.asarray(counts, dtype=np.float64))))
    return WindowStats(psi=max(psi_between(p, q), 0.0), js=js_between(p, q), n=n)


def verdict(stats: WindowStats, rule: DriftRule) -> Verdict:
    if stats.n < rule.min_count:
        return "insufficient"
    if stats.psi > rule.psi_enter or stats.js > rule.js_enter:
        return "over"
    if stats.psi < rule.psi_exit and stats.js < rule.js_exit:
        return "under"
    return "between"


def step(state: DriftState, window: Verdict, rule: DriftRule) -> tuple[DriftState, Transition | None]:
    """Advance the hysteresis by one window; the transition, if the state flips."""
    if window == "insufficient":
        return state, None
    if not state.drifting:
        if window != "over":
            return DriftState(False, 0), None
        streak = state.streak + 1
        if streak >= rule.enter_windows:
            return DriftState(True, 0), "start"
        return DriftState(False, streak), None
    if window != "under":
        return DriftState(True, 0), None
    streak = state.streak + 1
    if streak >= rule.exit_windows:
        return DriftState(False, 0), "end"
    return DriftState(True, streak), None
