"""The feature module: names, warm-up, streaming == batch bit for bit, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.manifest import WindowSpec
from model_export._errors import DataError
from model_export.features import FeatureSpec, FeatureStream, compute_features, compute_features_many

KINDS = ["raw", "mean", "std", "min", "max", "delta"]


def _spec(size: int = 4, kinds: list[str] | None = None, channels: int = 3) -> FeatureSpec:
    window = WindowSpec(size=size, features=kinds or ["raw", "mean", "std"])
    return FeatureSpec(tuple(f"ch{i}" for i in range(channels)), window)


def _stream_all(spec: FeatureSpec, x: np.ndarray) -> np.ndarray:
    stream = FeatureStream(spec)
    rows = [stream.push(row) for row in x]
    assert all(r is None for r in rows[: spec.warmup])
    emitted = list(rows[spec.warmup :])
    assert all(r is not None for r in emitted)
    return np.array(emitted).reshape(-1, spec.n_features)


def test_names_are_kind_major() -> None:
    spec = _spec(3, ["raw", "mean", "delta"], channels=2)
    assert spec.names == ("ch0", "ch1", "ch0__mean", "ch1__mean", "ch0__delta", "ch1__delta")


def test_values_match_definitions() -> None:
    spec = _spec(3, KINDS, channels=1)
    x = np.array([[1.0], [4.0], [2.0], [8.0]])
    f = compute_features(x, spec)
    assert f.shape == (2, 6)
    window = np.array([1.0, 4.0, 2.0])
    expected = [2.0, window.mean(), window.std(), 1.0, 4.0, 1.0]
    np.testing.assert_allclose(f[0], expected, rtol=1e-15)
    np.testing.assert_allclose(f[1, [0, 3, 4, 5]], [8.0, 2.0, 8.0, 4.0])


def test_warmup_rows_are_not_emitted() -> None:
    spec = _spec(5)
    assert spec.warmup == 4
    assert compute_features(np.zeros((4, 3)), spec).shape == (0, spec.n_features)
    assert compute_features(np.zeros((5, 3)), spec).shape == (1, spec.n_features)
    stream = FeatureStream(spec)
    assert [stream.push(np.zeros(3)) is None for _ in range(5)] == [True] * 4 + [False]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 12),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6, unique=True),
    rows=st.integers(0, 60),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-6, 1.0, 1e4]),
)
def test_streaming_equals_batch_bitwise(size: int, kinds: list[str], rows: int, seed: int, scale: float) -> None:
    spec = _spec(size, kinds)
    x = np.random.default_rng(seed).normal(size=(rows, 3)) * scale + 7.0
    batch = compute_features(x, spec)
    streamed = _stream_all(spec, x)
    assert batch.shape == streamed.shape
    assert np.array_equal(batch, streamed)


def test_reset_and_many_streams_do_not_cross() -> None:
    spec = _spec(3)
    a, b = np.arange(12.0).reshape(4, 3), np.arange(12.0, 24.0).reshape(4, 3)
    many = compute_features_many([a, b], spec)
    assert np.array_equal(many, np.concatenate([compute_features(a, spec), compute_features(b, spec)]))
    stream = FeatureStream(spec)
    for row in a:
        stream.push(row)
    stream.reset()
    assert not stream.ready
    assert [stream.push(r) for r in b][-1] is not None


def test_push_reading_orders_by_channel_name() -> None:
    spec = _spec(1, ["raw"])
    out = FeatureStream(spec).push_reading({"ch2": 3.0, "ch0": 1.0, "ch1": 2.0, "extra": 9.0})
    assert out is not None
    assert out.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(DataError, match="lacks channels"):
        FeatureStream(spec).push_reading({"ch0": 1.0})


@pytest.mark.parametrize("bad", [[1.0, float("nan"), 2.0], [1.0, 2.0], [[1.0, 2.0, 3.0]], ["a", "b", "c"]])
def test_bad_readings_are_refused_without_changing_state(bad: object) -> None:
    spec = _spec(2)
    stream = FeatureStream(spec)
    stream.push([1.0, 2.0, 3.0])
    with pytest.raises(DataError):
        stream.push(bad)  # type: ignore[arg-type]
    assert stream.push([1.0, 2.0, 3.0]) is not None


def test_batch_refuses_nan_and_bad_shape() -> None:
    spec = _spec(2)
    with pytest.raises(DataError, match="row 1, channel 2"):
        compute_features([[0.0, 0.0, 0.0], [0.0, 0.0, np.inf]], spec)
    with pytest.raises(DataError, match="shape"):
        compute_features(np.zeros((3, 2)), spec)


def test_spec_from_manifest_checks_feature_names(signed_bundle_bytes: dict[str, bytes]) -> None:
    from contracts.manifest import parse_manifest

    manifest = parse_manifest(signed_bundle_bytes["manifest.json"])
    spec = FeatureSpec.from_manifest(manifest)
    assert list(spec.names) == manifest.feature_names
    broken = manifest.model_copy(update={"feature_names": list(reversed(manifest.feature_names))})
    with pytest.raises(DataError):
        FeatureSpec.from_manifest(broken)
