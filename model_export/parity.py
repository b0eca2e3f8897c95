"""The parity proof of an export (heavy): scikit-learn reference scores vs onnxruntime on the same rows.

Rows checked: the fitted rows, the held-out rows and `PROBES` random rows drawn uniformly in a box twice
as wide as the fitted range of each feature (anomalies live outside the training range). With
`eps = PARITY_TOLERANCE * (max - min of the reference scores on fitted + held-out rows)`:
every |onnx - sklearn| must be <= eps, and the labels (`score > threshold`) must agree on every row whose
reference score is farther than eps from the threshold. Otherwise ParityError, and no bundle is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from model_export._errors import ParityError
from model_export.runtime import OnnxScorer

if TYPE_CHECKING:
    from model_export.detectors import Detector
    from model_export.train import Split

PARITY_TOLERANCE = 1e-5
PROBES = 512
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class ParityReport:
    rows: int
    score_range: float
    max_abs_diff: float
    max_rel_diff: float
    label_mismatches: int
    label_mismatches_beyond_eps: int

    def as_dict(self) -> dict[str, float]:
        return {
            "rows_checked": float(self.rows),
            "score_range": self.score_range,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "tolerance_rel": PARITY_TOLERANCE,
            "label_mismatches": float(self.label_mismatches),
        }


def probe_rows(fit: Matrix, seed: int, n: int = PROBES) -> Matrix:
    lo, hi = fit.min(axis=0), fit.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    rng = np.random.default_rng([seed, 7])
    return rng.uniform(lo - 0.5 * span, hi + 0.5 * span, size=(n, fit.shape[1]))


def compare(reference: Matrix, onnx_scores: Matrix, threshold: float, score_range: float) -> ParityReport:
    diff = np.abs(onnx_scores - reference)
    eps = PARITY_TOLERANCE * score_range
    mismatch = (reference > threshold) != (onnx_scores > threshold)
    beyond = mismatch & (np.abs(reference - threshold) > eps)
    max_abs = float(diff.max()) if diff.size else 0.0
    return ParityReport(
        rows=int(reference.size),
        score_range=score_range,
        max_abs_diff=max_abs,
        max_rel_diff=max_abs / score_range,
        label_mismatches=int(mismatch.sum()),
        label_mismatches_beyond_eps=int(beyond.sum()),
    )


def check_parity(detector: Detector, model_bytes: bytes, split: Split, threshold: float, seed: int) -> ParityReport:
    """Run the proof (see module docstring); return the figures or raise ParityError."""
    in_range = np.concatenate([split.fit, split.holdout])
    rows = np.concatenate([in_range, probe_rows(split.fit, seed)])
    reference = detector.score(rows)
    base = reference[: in_range.shape[0]]
    score_range = max(float(base.max() - base.min()), 1e-12)
    scorer = OnnxScorer(model_bytes, rows.shape[1], threshold)
    report = compare(reference, scorer.score(rows), threshold, score_range)
    if report.max_rel_diff > PARITY_TOLERANCE or report.label_mismatches_beyond_eps:
        raise ParityError(
            f"ONNX differs from scikit-learn: max relative diff {report.max_rel_diff:.3g} "
            f"(tolerance {PARITY_TOLERANCE:g}), {report.label_mismatches_beyond_eps} label mismatches beyond eps"
        )
    return report
