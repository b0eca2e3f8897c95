"""Training and export (heavy): tables -> features -> detector -> threshold -> ONNX -> parity -> bundle.

`train_bundle` is the Python API (tests of the agent, hub and demo call it with simulator data);
`vigie model train` is a thin wrapper around it.

Split: in every table the last `holdout` fraction of rows is held out (never fitted, never used for the
threshold); windows run across the split, as they would on a live stream. Rows labelled anomalous
(`anomaly = 1`) are excluded from the fit. The threshold is calibrated on the fitted rows' scores
(`quantile_extrapolation`: `Q_q + k * (Q_q - median)`). The ONNX graph must reproduce the scikit-learn
scores on the fitted, held-out and out-of-range probe rows within `PARITY_TOLERANCE` of the score range,
or the export fails with ParityError and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import NDArray

from contracts.manifest import (
    ChannelSpec,
    DataFingerprint,
    FileDigest,
    Histogram,
    Manifest,
    OnnxIO,
    ThresholdSpec,
    WindowSpec,
)
from contracts.signing import sign_bytes
from model_export._errors import DataError, ExportError
from model_export.bundle import pack_tar_bytes, sha256_hex, write_bundle
from model_export.data import Table, common_channels, fingerprint, table_from_simulation
from model_export.detectors import Detector, Progress, make_detector
from model_export.features import FeatureSpec, compute_features
from model_export.metrics import Confusion
from model_export.onnx_graph import ML_OPSET, OPSET
from model_export.parity import ParityReport, check_parity
from model_export.simulator import UNITS, Fault, FaultEvent, PumpSimulator

Matrix = NDArray[np.float64]
DEFAULT_WINDOW = WindowSpec(size=10, features=["raw", "mean", "std"])


@dataclass(frozen=True)
class TrainOptions:
    """Everything that decides a bundle besides the data."""

    algorithm: str = "pca"
    name: str = "pump"
    version: str = "1.0.0"
    window: WindowSpec = DEFAULT_WINDOW
    channels: tuple[str, ...] | None = None
    holdout: float = 0.2
    quantile: float = 0.99
    margin: float = 1.0
    seed: int = 0
    bins: int = 20
    created_at: str | None = None


@dataclass(frozen=True)
class Split:
    """Feature rows of every table, cut into fitted and held-out parts (labels: 0/1, -1 = unknown)."""

    fit: Matrix
    holdout: Matrix
    holdout_labels: NDArray[np.int8]


@dataclass(frozen=True)
class TrainResult:
    manifest: Manifest
    model_bytes: bytes
    detector: Detector
    parity: ParityReport
    path: Path | None = None
    signature: bytes | None = None
    extra: dict[str, float] = field(default_factory=dict)


def split_features(tables: Sequence[Table], spec: FeatureSpec, holdout: float) -> Split:
    """Features per table (windows never cross tables), then the fit/holdout cut (see module docstring)."""
    fit, hold, hold_y = [], [], []
    for table in tables:
        x = compute_features(table.values, spec)
        labels = _labels(table)[spec.warmup :]
        cut = max(0, round(table.rows * (1.0 - holdout)) - spec.warmup)
        fit.append(x[:cut][labels[:cut] != 1])
        hold.append(x[cut:])
        hold_y.append(labels[cut:])
    return Split(np.concatenate(fit), np.concatenate(hold), np.concatenate(hold_y).astype(np.int8))


def _labels(table: Table) -> NDArray[np.int8]:
    if table.labels is None:
        return np.full(table.rows, -1, dtype=np.int8)
    return table.labels.astype(np.int8)


def calibrate_threshold(scores: Matrix, quantile: float, margin: float) -> ThresholdSpec:
    """`Q_q + k * (Q_q - median)` of the training scores: a robust extrapolation past the training tail."""
    q_hi, median = float(np.quantile(scores, quantile)), float(np.median(scores))
    value = q_hi + margin * max(q_hi - median, 0.0)
    params: dict[str, float | str] = {"q": quantile, "k": margin, "train_quantile": q_hi, "train_median": median}
    return ThresholdSpec(value=value, method="quantile_extrapolation", params=params)


def histogram(name: str, values: Matrix, bins: int) -> Histogram:
    """Reference histogram with quantile edges (deduplicated; a constant gets one bin of width 1)."""
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    probs = counts / max(int(counts.sum()), 1)
    return Histogram(name=name, edges=edges.tolist(), probs=probs.tolist())


def simulated_table(rows: int, seed: int, holdout: float = 0.2) -> Table:
    """Simulator rows: clean in the fitted part, one labelled fault of each kind in the held-out part."""
    start = int(rows * (1.0 - holdout))
    span = max(1, (rows - start) // (2 * len(Fault)))
    faults = [FaultEvent(kind, start + (2 * i + 1) * span, span) for i, kind in enumerate(Fault)]
    sim = PumpSimulator(seed=seed, faults=faults if span >= 10 else [])
    return table_from_simulation(sim.batch(rows), source=f"simulator:seed={seed},rows={rows}")


def train_bundle(
    out: Path | None = None,
    data: Sequence[Table] | None = None,
    *,
    simulate_rows: int = 3000,
    options: TrainOptions | None = None,
    sign_key: Ed25519PrivateKey | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit, calibrate, export and check a model; write the bundle to `out` (a directory, or a `.tar`).

    Without `data`, `simulate_rows` simulator rows (seed `options.seed`) are used. With `sign_key` the
    bundle is signed too. With `out=None` nothing is written (the result still holds every part).
    """
    opts = options or TrainOptions()
    tables = list(data) if data is not None else [simulated_table(simulate_rows, opts.seed, opts.holdout)]
    channels = opts.channels or common_channels(tables)
    tables = [t.select(channels) for t in tables]
    spec = FeatureSpec(tuple(channels), opts.window)
    split = split_features(tables, spec, opts.holdout)
    if split.fit.shape[0] < 8:
        raise DataError(f"only {split.fit.shape[0]} feature rows to fit on (window {opts.window.size})")
    detector, seconds = _fit(opts, split.fit, progress)
    fit_scores = detector.score(split.fit)
    threshold = calibrate_threshold(fit_scores, opts.quantile, opts.margin)
    model_bytes = detector.to_onnx().SerializeToString()
    report = check_parity(detector, model_bytes, split, threshold.value, opts.seed)
    manifest = _manifest(opts, tables, spec, split, detector, threshold, model_bytes, report, fit_scores, seconds)
    signature = sign_bytes(sign_key, manifest.canonical_bytes()) if sign_key else None
    path = _write(out, model_bytes, manifest, signature) if out is not None else None
    return TrainResult(manifest, model_bytes, detector, report, path, signature)


def _fit(opts: TrainOptions, x: Matrix, progress: Progress | None) -> tuple[Detector, float]:
    detector = make_detector(opts.algorithm, opts.seed)
    started = time.perf_counter()
    if progress is None:
        detector.fit(x)
    else:
        detector.fit(x, progress)
    return detector, time.perf_counter() - started


def _write(out: Path, model_bytes: bytes, manifest: Manifest, signature: bytes | None) -> Path:
    if out.suffix == ".tar":
        from contracts._files import write_atomic

        files = {"model.onnx": model_bytes, "manifest.json": manifest.canonical_bytes()}
        if signature is not None:
            files["manifest.sig"] = signature
        write_atomic(out, pack_tar_bytes(files))
        return out
    return write_bundle(out, model_bytes, manifest, signature)


def _manifest(
    opts: TrainOptions,
    tables: Sequence[Table],
    spec: FeatureSpec,
    split: Split,
    detector: Detector,
    threshold: ThresholdSpec,
    model_bytes: bytes,
    report: ParityReport,
    fit_scores: Matrix,
    seconds: float,
) -> Manifest:
    reference = [histogram(n, split.fit[:, i], opts.bins) for i, n in enumerate(spec.names)]
    reference.append(histogram("score", fit_scores, opts.bins))
    try:
        return Manifest(
            name=opts.name,
            version=opts.version,
            created_at=opts.created_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            algorithm=opts.algorithm,
            channels=_channel_specs(tables, spec),
            window=opts.window,
            feature_names=list(spec.names),
            threshold=threshold,
            reference=reference,
            training_data=_fingerprint(tables),
            metrics=_metrics(detector, split, threshold.value, fit_scores, seconds),
            parity=report.as_dict(),
            model_file=FileDigest(sha256=sha256_hex(model_bytes), size=len(model_bytes)),
            io=OnnxIO(input="features", output="score", input_dtype="float64", opset=OPSET),
            versions=_versions(),
        )
    except ValueError as exc:
        raise ExportError(f"cannot build the manifest: {str(exc)[:500]}") from None


def _channel_specs(tables: Sequence[Table], spec: FeatureSpec) -> list[ChannelSpec]:
    values = np.concatenate([t.values for t in tables])
    return [
        ChannelSpec(name=ch, unit=UNITS.get(ch, ""), min=float(values[:, i].min()), max=float(values[:, i].max()))
        for i, ch in enumerate(spec.channels)
    ]


def _fingerprint(tables: Sequence[Table]) -> DataFingerprint:
    sources = ["/".join(Path(t.source).parts[-2:])[-256:] for t in tables][:1024]
    return DataFingerprint(sha256=fingerprint(tables), rows=sum(t.rows for t in tables), sources=sources)


def _metrics(
    detector: Detector, split: Split, threshold: float, fit_scores: Matrix, seconds: float
) -> dict[str, float]:
    metrics = {
        "fit_rows": float(split.fit.shape[0]),
        "holdout_rows": float(split.holdout.shape[0]),
        "fit_seconds": round(seconds, 3),
        "train_alarm_rate": float(np.mean(fit_scores > threshold)),
    }
    metrics.update({k: v for k, v in detector.params().items() if isinstance(v, float)})
    if split.holdout.shape[0]:
        predicted = detector.score(split.holdout) > threshold
        metrics["holdout_alarm_rate"] = float(np.mean(predicted))
        known = split.holdout_labels >= 0
        if known.any():
            confusion = Confusion.of(predicted[known], split.holdout_labels[known])
            metrics.update({f"holdout_{k}": v for k, v in confusion.as_dict().items()})
    return metrics


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import sklearn

    from vigie import __version__

    return {
        "vigie": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnx_opset": str(OPSET),
        "ai.onnx.ml_opset": str(ML_OPSET),
    }
