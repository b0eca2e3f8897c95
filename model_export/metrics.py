"""Detection metrics over per-row labels (numpy only): confusion counts, F1, FAR and MAR as SKAB defines them.

FAR = FP / (FP + TN) (false alarm rate), MAR = FN / (FN + TP) (missed alarm rate). A ratio whose
denominator is 0 is reported as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def of(cls, predicted: NDArray[np.bool_], actual: NDArray[np.integer]) -> Confusion:
        p, a = np.asarray(predicted, dtype=bool), np.asarray(actual) > 0
        return cls(int(np.sum(p & a)), int(np.sum(p & ~a)), int(np.sum(~p & a)), int(np.sum(~p & ~a)))

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def rows(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def far(self) -> float:
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def mar(self) -> float:
        return _ratio(self.fn, self.fn + self.tp)

    def as_dict(self) -> dict[str, float]:
        return {
            "f1": self.f1,
            "far": self.far,
            "mar": self.mar,
            "tp": float(self.tp),
            "fp": float(self.fp),
            "fn": float(self.fn),
            "tn": float(self.tn),
        }


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0
