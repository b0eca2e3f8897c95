"""Parity of every exported graph with scikit-learn (real onnxruntime), and the fast IForest converter."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_export._errors import ParityError
from model_export.detectors import ALGORITHMS, IForestDetector, PcaDetector
from model_export.onnx_iforest import average_path_length, round_down_float32
from model_export.parity import PARITY_TOLERANCE, check_parity
from model_export.runtime import OnnxScorer
from model_export.train import Split, TrainOptions, train_bundle

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_exports_with_parity(algorithm: str) -> None:
    result = train_bundle(None, simulate_rows=1200, options=TrainOptions(algorithm=algorithm, seed=3))
    parity = result.manifest.parity
    assert parity["max_rel_diff"] <= PARITY_TOLERANCE
    assert parity["rows_checked"] > 1000
    assert result.parity.label_mismatches_beyond_eps == 0
    m = result.manifest
    assert m.io.input_dtype == "float64" and m.algorithm == algorithm
    assert len(m.reference) == len(m.feature_names) + 1 and m.reference_for("score") is not None
    assert m.model_file.size == len(result.model_bytes)
    assert {"holdout_f1", "holdout_far", "holdout_mar", "train_alarm_rate"} <= set(m.metrics)


def _wide_data(seed: int, rows: int = 1500, cols: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1e-3, 1e3, size=cols)
    return rng.normal(size=(rows, cols)) * scale + rng.uniform(-100, 100, size=cols)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_iforest_matches_sklearn_far_out_of_range(seed: int) -> None:
    x = _wide_data(seed)
    detector = IForestDetector(seed).fit(x)
    scorer = OnnxScorer(detector.to_onnx().SerializeToString(), x.shape[1], 0.5)
    probe = np.concatenate([x, _wide_data(seed + 10) * 5.0])
    reference, got = detector.score(probe), scorer.score(probe)
    assert np.max(np.abs(reference - got)) <= 1e-6 * (reference.max() - reference.min())


def test_fast_iforest_is_one_tree_ensemble() -> None:
    detector = IForestDetector().fit(_wide_data(4, rows=300))
    ops = [n.op_type for n in detector.to_onnx().graph.node]
    assert ops.count("TreeEnsembleRegressor") == 1
    assert len(ops) <= 10


def test_fast_iforest_decisions_on_thresholds_match_exactly() -> None:
    """Rows placed exactly on (and one float32 ulp around) split thresholds take sklearn's branch."""
    x = _wide_data(5, rows=400, cols=4)
    detector = IForestDetector().fit(x)
    tree = detector.model.estimators_[0].tree_
    internal = tree.children_left != -1
    z = np.tile(np.zeros(4), (int(internal.sum()) * 3, 1))
    thresholds = tree.threshold[internal].astype(np.float32)
    for k, (f, t) in enumerate(zip(tree.feature[internal], thresholds, strict=True)):
        for j, v in enumerate((np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf))):
            z[3 * k + j, f] = v
    raw = z * detector.scaler.scale_ + detector.scaler.mean_
    scorer = OnnxScorer(detector.to_onnx().SerializeToString(), 4, 0.5)
    np.testing.assert_allclose(scorer.score(raw), detector.score(raw), rtol=0, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38))
def test_round_down_float32_is_largest_float32_not_above(value: float) -> None:
    r = round_down_float32(np.array([value]))[0]
    assert float(r) <= value
    assert float(np.nextafter(r, np.float32(np.inf))) > value


def test_average_path_length_matches_sklearn() -> None:
    from sklearn.ensemble._iforest import _average_path_length

    n = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 256.0])
    np.testing.assert_allclose(average_path_length(n), _average_path_length(n), rtol=1e-15)


def test_parity_failure_is_loud() -> None:
    x = _wide_data(6, rows=300, cols=5)
    detector = PcaDetector().fit(x)
    good = detector.to_onnx()
    bad = onnx.ModelProto()
    bad.CopyFrom(good)
    limit = next(i for i in bad.graph.initializer if i.name.startswith("t2_limit"))
    limit.CopyFrom(onnx.numpy_helper.from_array(np.array(detector.t2_limit * 1.01), limit.name))
    split = Split(x[:200], x[200:], np.full(100, -1, dtype=np.int8))
    check_parity(detector, good.SerializeToString(), split, 1.0, 0)
    with pytest.raises(ParityError, match="relative diff"):
        check_parity(detector, bad.SerializeToString(), split, 1.0, 0)
