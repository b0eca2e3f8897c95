"""Scoring speed of the exported detectors (run by hand: `.venv/bin/python bench/export_speed.py`).

For each algorithm, on simulator features (W=10, raw+mean+std over 8 channels = 24 features, 3000 rows):
per-row latency at batch 1 and rows/s at batch 1000, for scikit-learn, our ONNX graph (onnxruntime,
1 thread) and, for IsolationForest, skl2onnx's default converter (same fitted model, same process).
Ratios are printed against the baseline measured in the same run, never against remembered figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from model_export.detectors import ALGORITHMS, Detector
from model_export.runtime import OnnxScorer
from model_export.train import TrainOptions, train_bundle


def _per_call(fn: Callable[[], object], seconds: float) -> float:
    """Median seconds per call over ~`seconds` of repeated calls (after a warm-up)."""
    for _ in range(20):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        t0 = time.perf_counter()
        for _ in range(10):
            fn()
        samples.append((time.perf_counter() - t0) / 10)
    return statistics.median(samples)


def _skl2onnx_iforest(detector: Detector) -> Callable[[np.ndarray], object]:
    from skl2onnx import to_onnx
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(detector.scaler, detector.model)  # type: ignore[attr-defined]
    x0 = np.zeros((1, detector.scaler.n_features_in_), dtype=np.float32)
    onx = to_onnx(pipe, x0, target_opset={"": 17, "ai.onnx.ml": 3})
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onx.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.astype(np.float32)})


def bench_algorithm(algorithm: str, seconds: float) -> dict[str, float]:
    result = train_bundle(None, simulate_rows=3000, options=TrainOptions(algorithm=algorithm))
    detector, n = result.detector, len(result.manifest.feature_names)
    scorer = OnnxScorer(result.model_bytes, n, result.manifest.threshold.value)
    x = np.random.default_rng(0).normal(size=(1000, n)) + detector.scaler.mean_
    row = x[:1]
    out = {
        "sklearn_us_b1": 1e6 * _per_call(lambda: detector.score(row), seconds),
        "onnx_us_b1": 1e6 * _per_call(lambda: scorer.score(row), seconds),
        "sklearn_rows_s_b1000": 1000 / _per_call(lambda: detector.score(x), seconds),
        "onnx_rows_s_b1000": 1000 / _per_call(lambda: scorer.score(x), seconds),
        "parity_max_rel": result.manifest.parity["max_rel_diff"],
        "model_bytes": float(len(result.model_bytes)),
    }
    if algorithm == "iforest":
        skl2onnx_run = _skl2onnx_iforest(detector)
        out["skl2onnx_us_b1"] = 1e6 * _per_call(lambda: skl2onnx_run(row), seconds)
        out["skl2onnx_rows_s_b1000"] = 1000 / _per_call(lambda: skl2onnx_run(x), seconds)
    return out


def _print(algorithm: str, r: dict[str, float]) -> None:
    size = r["model_bytes"] / 1024
    print(f"\n{algorithm}  (parity max rel diff {r['parity_max_rel']:.2g}, model.onnx {size:.0f} KiB)")
    print(f"  {'engine':<22} {'us/row b=1':>12} {'rows/s b=1000':>15}")
    engines = [("scikit-learn", "sklearn"), ("ours (onnxruntime)", "onnx"), ("skl2onnx default", "skl2onnx")]
    for label, key in engines:
        if f"{key}_us_b1" in r:
            print(f"  {label:<22} {r[f'{key}_us_b1']:12.1f} {r[f'{key}_rows_s_b1000']:15,.0f}")
    print(
        f"  ours vs scikit-learn: {r['sklearn_us_b1'] / r['onnx_us_b1']:.0f}x faster at batch 1, "
        f"{r['onnx_rows_s_b1000'] / r['sklearn_rows_s_b1000']:.1f}x at batch 1000"
    )
    if "skl2onnx_us_b1" in r:
        print(
            f"  ours vs skl2onnx:     {r['skl2onnx_us_b1'] / r['onnx_us_b1']:.0f}x faster at batch 1, "
            f"{r['onnx_rows_s_b1000'] / r['skl2onnx_rows_s_b1000']:.1f}x at batch 1000"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default=",".join(sorted(ALGORITHMS)))
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {a: bench_algorithm(a, args.seconds) for a in args.algorithms.split(",")}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"onnxruntime {ort.__version__}, 1 intra-op thread; features: 24 (W=10, raw+mean+std, 8 channels)")
    for algorithm, r in results.items():
        _print(algorithm, r)


if __name__ == "__main__":
    main()
