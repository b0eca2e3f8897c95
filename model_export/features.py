"""Sensor readings -> feature vectors: the one feature module used by training, the agent and the hub.

Pure numpy, no I/O, no scikit-learn. The layout is fixed by the manifest: the ordered channels and the
`WindowSpec` (window size `W` and the ordered list of feature kinds).

Feature vector (kind-major: every channel for the first kind, then every channel for the next kind):

    for kind in window.features:          # e.g. ["raw", "mean", "std"]
        for channel in channels:          # manifest order
            value(kind, channel)

over the window of the last `W` readings `x[t-W+1] .. x[t]` of that channel:

| kind  | value                                   | name                  |
|-------|-----------------------------------------|-----------------------|
| raw   | `x[t]`                                  | `<channel>`           |
| mean  | sum of the window / W                   | `<channel>__mean`     |
| std   | population std: sqrt(sum((x-mean)^2)/W) | `<channel>__std`      |
| min   | smallest value of the window            | `<channel>__min`      |
| max   | largest value of the window             | `<channel>__max`      |
| delta | `x[t] - x[t-W+1]` (change over window)  | `<channel>__delta`    |

Warm-up: a row is emitted only once the window is full. The first `W - 1` readings of a stream (of an
equipment, of a file) produce no feature row: `FeatureStream.push` returns None and `compute_features`
returns `N - W + 1` rows, the k-th of which belongs to input row `k + W - 1` (see `FeatureSpec.warmup`).
Scores therefore never come from a partial window (no false alarms after a restart), at the price of
`W - 1` unscored readings per stream start.

Streaming and batch give bit-identical results: both run the same kernel (`_window_block`), which only
uses element-wise numpy operations in a fixed order, never an order-dependent reduction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from contracts.manifest import Manifest, WindowFeature, WindowSpec
from model_export._errors import DataError

Matrix = NDArray[np.float64]
NAME_SEPARATOR = "__"


def feature_names(channels: Sequence[str], window: WindowSpec) -> list[str]:
    """Ordered feature names for `channels` under `window` (see the module docstring)."""
    return [_feature_name(ch, kind) for kind in window.features for ch in channels]


def _feature_name(channel: str, kind: WindowFeature) -> str:
    return channel if kind == "raw" else f"{channel}{NAME_SEPARATOR}{kind}"


@dataclass(frozen=True)
class FeatureSpec:
    """The feature layout of one model: ordered channel names plus the window spec."""

    channels: tuple[str, ...]
    window: WindowSpec
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise DataError("channels must be a non-empty list of distinct names")
        object.__setattr__(self, "names", tuple(feature_names(self.channels, self.window)))

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> FeatureSpec:
        """The spec a bundle was trained with; checks it matches the manifest's `feature_names`."""
        spec = cls(tuple(ch.name for ch in manifest.channels), manifest.window)
        if list(spec.names) != list(manifest.feature_names):
            raise DataError("manifest feature_names do not match its channels and window")
        return spec

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def warmup(self) -> int:
        """Readings consumed before the first feature row: `W - 1`."""
        return self.window.size - 1

    def order(self, values: Mapping[str, float]) -> Matrix:
        """One reading as a `[n_channels]` vector in channel order; missing channels are a DataError."""
        missing = [ch for ch in self.channels if ch not in values]
        if missing:
            raise DataError(f"reading lacks channels {missing[:5]}")
        return np.array([values[ch] for ch in self.channels], dtype=np.float64)


def compute_features(values: ArrayLike, spec: FeatureSpec) -> Matrix:
    """Batch API: `[N, n_channels]` readings of ONE stream -> `[max(N - W + 1, 0), n_features]`.

    Row `k` of the result is the feature vector of input row `k + spec.warmup`.
    """
    x = _as_matrix(values, spec.n_channels)
    if x.shape[0] < spec.window.size:
        return np.empty((0, spec.n_features), dtype=np.float64)
    return _window_block(x, spec.window)


def compute_features_many(streams: Iterable[ArrayLike], spec: FeatureSpec) -> Matrix:
    """Batch API over several independent streams (files, equipment): windows never cross streams."""
    blocks = [compute_features(s, spec) for s in streams]
    if not blocks:
        return np.empty((0, spec.n_features), dtype=np.float64)
    return np.concatenate(blocks, axis=0)


class FeatureStream:
    """Streaming API for ONE stream (one equipment): push readings in time order, get feature rows.

    Keep one instance per equipment. Not thread-safe. `push` returns None during the warm-up
    (the first `W - 1` readings after creation or `reset`).
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._buffer = np.zeros((spec.window.size, spec.n_channels), dtype=np.float64)
        self._count = 0

    @property
    def ready(self) -> bool:
        """True once the window is full, i.e. the next `push` returns a feature row."""
        return self._count >= self.spec.window.size - 1

    def reset(self) -> None:
        """Forget the window (after a gap, a sensor restart or a model swap with another spec)."""
        self._count = 0

    def push(self, values: ArrayLike) -> Matrix | None:
        """Add one reading (`[n_channels]`, channel order) -> `[n_features]` or None during warm-up.

        A reading with a wrong length or a non-finite value raises DataError and leaves the window as is.
        """
        row = _as_row(values, self.spec.n_channels)
        size = self.spec.window.size
        if self._count < size:
            self._buffer[self._count] = row
            self._count += 1
            if self._count < size:
                return None
        else:
            self._buffer[:-1] = self._buffer[1:]
            self._buffer[-1] = row
        features: Matrix = _window_block(self._buffer, self.spec.window)[0]
        return features

    def push_reading(self, values: Mapping[str, float]) -> Matrix | None:
        """Like `push`, with a reading given as `{channel: value}` (extra channels are ignored)."""
        return self.push(self.spec.order(values))


def _as_matrix(values: ArrayLike, n_channels: int) -> Matrix:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"readings are not numeric: {exc}") from None
    if x.ndim != 2 or x.shape[1] != n_channels:
        raise DataError(f"readings must have shape [N, {n_channels}], got {list(x.shape)}")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"non-finite reading at row {row}, channel {col}")
    return x


def _as_row(values: ArrayLike, n_channels: int) -> Matrix:
    try:
        row = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"reading is not numeric: {exc}") from None
    if row.shape != (n_channels,):
        raise DataError(f"reading must have {n_channels} values, got shape {list(row.shape)}")
    if not np.isfinite(row).all():
        raise DataError("reading has a non-finite value")
    return row


def _window_block(x: Matrix, window: WindowSpec) -> Matrix:
    """The kernel shared by batch and streaming: `[M, C]` -> `[M - W + 1, C * len(kinds)]`."""
    size = window.size
    n = x.shape[0] - size + 1
    mean = _window_sum(x, size, n) / size if {"mean", "std"} & set(window.features) else None
    parts = [_one_kind(kind, x, size, n, mean) for kind in window.features]
    return np.concatenate(parts, axis=1)


def _one_kind(kind: WindowFeature, x: Matrix, size: int, n: int, mean: Matrix | None) -> Matrix:
    if kind == "raw":
        return x[size - 1 :]
    if kind == "delta":
        return x[size - 1 :] - x[:n]
    if kind == "min":
        return _window_extreme(x, size, n, np.minimum)
    if kind == "max":
        return _window_extreme(x, size, n, np.maximum)
    assert mean is not None
    return mean if kind == "mean" else _window_std(x, size, n, mean)


def _window_sum(x: Matrix, size: int, n: int) -> Matrix:
    acc = x[0:n].copy()
    for k in range(1, size):
        acc += x[k : k + n]
    return acc


def _window_std(x: Matrix, size: int, n: int, mean: Matrix) -> Matrix:
    dev = x[0:n] - mean
    acc = dev * dev
    for k in range(1, size):
        dev = x[k : k + n] - mean
        acc += dev * dev
    result: Matrix = np.sqrt(acc / size)
    return result


def _window_extreme(x: Matrix, size: int, n: int, op: np.ufunc) -> Matrix:
    acc = x[0:n].copy()
    for k in range(1, size):
        op(acc, x[k : k + n], out=acc)
    return acc
