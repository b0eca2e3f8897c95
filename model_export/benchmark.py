"""SKAB outlier-detection protocol and bundle evaluation (heavy: fits detectors).

SKAB protocol, per run file: fit on its first `TRAIN_ROWS` rows (all normal in the valve files),
calibrate the threshold on those rows' scores, score the remaining rows, and add up TP/FP/FN/TN over all
files. Our predictions come from the exported ONNX graph run by onnxruntime (what a gateway would run),
not from scikit-learn. Windows run across the fit/score cut, as on a live stream, so every scored row
has a full window. Beside our detectors: the null detector (never alarms) and the always-alarm one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from model_export._errors import DataError
from model_export.data import Table
from model_export.detectors import make_detector
from model_export.features import FeatureSpec, compute_features
from model_export.metrics import Confusion
from model_export.runtime import OnnxScorer
from model_export.train import TrainOptions, calibrate_threshold

TRAIN_ROWS = 400


@dataclass(frozen=True)
class ProtocolResult:
    """Totals and per-file confusions of one detector."""

    name: str
    total: Confusion
    per_file: dict[str, Confusion] = field(default_factory=dict)

    def row(self) -> dict[str, float | str]:
        return {"algorithm": self.name, "f1": self.total.f1, "far": self.total.far, "mar": self.total.mar}


def _scored_part(table: Table, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if table.labels is None:
        raise DataError(f"{table.source}: the SKAB protocol needs an `anomaly` column")
    if table.rows <= TRAIN_ROWS:
        raise DataError(f"{table.source}: needs more than {TRAIN_ROWS} rows")
    x = compute_features(table.values, spec)
    cut = TRAIN_ROWS - spec.warmup
    return x[:cut], x[cut:], table.labels[TRAIN_ROWS:]


def run_file(table: Table, options: TrainOptions) -> Confusion:
    """One run file under the protocol, scored by onnxruntime."""
    spec = FeatureSpec(table.channels, options.window)
    fit, test, labels = _scored_part(table, spec)
    detector = make_detector(options.algorithm, options.seed).fit(fit)
    threshold = calibrate_threshold(detector.score(fit), options.quantile, options.margin).value
    scorer = OnnxScorer(detector.to_onnx().SerializeToString(), spec.n_features, threshold)
    return Confusion.of(scorer.is_anomaly(scorer.score(test)), labels)


def run_protocol(tables: Sequence[Table], options: TrainOptions, name: str | None = None) -> ProtocolResult:
    selected = [t.select(options.channels) if options.channels else t for t in tables]
    per_file = {t.source: run_file(t, options) for t in selected}
    return ProtocolResult(name or options.algorithm, sum(per_file.values(), Confusion()), per_file)


def baselines(tables: Sequence[Table]) -> list[ProtocolResult]:
    """The null detector (never alarms) and the always-alarm detector on the same scored rows."""
    labels = [t.labels[TRAIN_ROWS:] for t in tables if t.labels is not None]
    never = sum((Confusion.of(np.zeros(len(y), dtype=bool), y) for y in labels), Confusion())
    always = sum((Confusion.of(np.ones(len(y), dtype=bool), y) for y in labels), Confusion())
    return [ProtocolResult("null (never alarm)", never), ProtocolResult("always alarm", always)]


def leaderboard(results: Sequence[ProtocolResult]) -> str:
    """A plain-text table in the style of SKAB's outlier-detection leaderboard."""
    lines = [f"{'Algorithm':<28} {'F1':>6} {'FAR, %':>8} {'MAR, %':>8}", "-" * 53]
    for r in sorted(results, key=lambda r: -r.total.f1):
        lines.append(f"{r.name:<28} {r.total.f1:6.2f} {100 * r.total.far:8.2f} {100 * r.total.mar:8.2f}")
    return "\n".join(lines)
