"""The exportable detectors (heavy: scikit-learn + onnx). Each one is a standard scaler plus a model.

Every detector maps a feature matrix `x` (float64, the feature module's output, not scaled) to an anomaly
score (higher = more anomalous). `score` is the scikit-learn reference; `to_onnx` builds a graph that
reproduces it (input `features` double [N, F], output `score` double [N], scaler inside the graph).

| name     | model                                                                               |
|----------|-------------------------------------------------------------------------------------|
| iforest  | IsolationForest, exported by our converter as one TreeEnsembleRegressor; `-score_samples` |
| pca      | PCA (95% variance): T^2 / T^2_99 + SPE / SPE_99 (Hotelling + squared prediction error) |
| ae       | MLP autoencoder (MLPRegressor, tanh, bottleneck): mean squared reconstruction error  |
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Self

import numpy as np
import onnx
from numpy.typing import NDArray
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from model_export._errors import ExportError
from model_export.onnx_graph import GraphBuilder
from model_export.onnx_iforest import iforest_to_onnx

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]
Progress = Callable[[int, int], None]
"""`progress(done, total)`: called while fitting."""

_LIMIT_QUANTILE = 0.99


def _no_progress(done: int, total: int) -> None:
    del done, total


class Detector(ABC):
    """A scaler plus one model; subclasses implement `_fit`, `_score` and `_graph`."""

    algorithm: ClassVar[str]

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.scaler = StandardScaler()

    def fit(self, x: Matrix, progress: Progress = _no_progress) -> Self:
        if x.shape[0] < 8:
            raise ExportError(f"{self.algorithm}: need at least 8 feature rows to fit, got {x.shape[0]}")
        z = self.scaler.fit_transform(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._fit(z, progress)
        return self

    def score(self, x: Matrix) -> Vector:
        """Reference (scikit-learn) anomaly scores of raw feature rows."""
        return np.asarray(self._score(self.scaler.transform(x)), dtype=np.float64)

    def to_onnx(self) -> onnx.ModelProto:
        return self._graph()

    def params(self) -> dict[str, float | str]:
        """Hyper-parameters worth recording in the manifest's threshold params / metrics."""
        return {}

    @abstractmethod
    def _fit(self, z: Matrix, progress: Progress) -> None: ...

    @abstractmethod
    def _score(self, z: Matrix) -> Vector: ...

    @abstractmethod
    def _graph(self) -> onnx.ModelProto: ...


class IForestDetector(Detector):
    algorithm = "iforest"
    trees, step = 100, 10

    def _fit(self, z: Matrix, progress: Progress) -> None:
        self.model = IsolationForest(n_estimators=self.step, random_state=self.seed, warm_start=True)
        for done in range(self.step, self.trees + 1, self.step):
            self.model.set_params(n_estimators=done)
            self.model.fit(z)
            progress(done, self.trees)

    def _score(self, z: Matrix) -> Vector:
        return np.asarray(-self.model.score_samples(z), dtype=np.float64)

    def _graph(self) -> onnx.ModelProto:
        return iforest_to_onnx(self.scaler, self.model)

    def params(self) -> dict[str, float | str]:
        return {"trees": float(self.trees), "max_samples": float(self.model.max_samples_)}


class PcaDetector(Detector):
    algorithm = "pca"
    variance = 0.95

    def _fit(self, z: Matrix, progress: Progress) -> None:
        self.model = PCA(n_components=self.variance, svd_solver="full").fit(z)
        t2, spe = self._parts(z)
        self.t2_limit = max(float(np.quantile(t2, _LIMIT_QUANTILE)), 1e-12)
        self.spe_limit = max(float(np.quantile(spe, _LIMIT_QUANTILE)), 1e-12)
        progress(1, 1)

    def _parts(self, z: Matrix) -> tuple[Vector, Vector]:
        t = self.model.transform(z)
        t2 = np.sum(t * t / self.model.explained_variance_, axis=1)
        residual = z - self.model.inverse_transform(t)
        return t2, np.sum(residual * residual, axis=1)

    def _score(self, z: Matrix) -> Vector:
        t2, spe = self._parts(z)
        return np.asarray(t2 / self.t2_limit + spe / self.spe_limit, dtype=np.float64)

    def _graph(self) -> onnx.ModelProto:
        g, pca = GraphBuilder(), self.model
        z = g.scaler("features", self.scaler.mean_, self.scaler.scale_)
        centred = g.op("Sub", [z, g.const(pca.mean_, "pca_mean")])
        t = g.op("MatMul", [centred, g.const(np.ascontiguousarray(pca.components_.T), "pca_components_t")])
        t2 = g.row_sum(g.op("Div", [g.op("Mul", [t, t]), g.const(pca.explained_variance_, "pca_variance")]))
        recon = g.op("MatMul", [t, g.const(pca.components_, "pca_components")])
        residual = g.op("Sub", [z, g.op("Add", [recon, g.const(pca.mean_, "pca_mean")])])
        spe = g.row_sum(g.op("Mul", [residual, residual]))
        t2n = g.op("Div", [t2, g.const(self.t2_limit, "t2_limit")])
        spen = g.op("Div", [spe, g.const(self.spe_limit, "spe_limit")])
        return g.model(g.op("Add", [t2n, spen]), int(self.scaler.n_features_in_), "PCA T2 + SPE")

    def params(self) -> dict[str, float | str]:
        return {"components": float(self.model.n_components_), "t2_limit": self.t2_limit, "spe_limit": self.spe_limit}


class AutoencoderDetector(Detector):
    algorithm = "ae"
    epochs = 150

    def _fit(self, z: Matrix, progress: Progress) -> None:
        n = z.shape[1]
        wide, code = max(4, (3 * n) // 4), max(2, n // 3)
        self.model = MLPRegressor(
            hidden_layer_sizes=(wide, code, wide),
            activation="tanh",
            alpha=1e-3,
            learning_rate_init=3e-3,
            batch_size=min(128, z.shape[0]),
            random_state=self.seed,
        )
        for epoch in range(1, self.epochs + 1):
            self.model.partial_fit(z, z)
            if epoch % 10 == 0:
                progress(epoch, self.epochs)

    def _score(self, z: Matrix) -> Vector:
        err = z - self.model.predict(z)
        return np.asarray(np.mean(err * err, axis=1), dtype=np.float64)

    def _graph(self) -> onnx.ModelProto:
        g, mlp = GraphBuilder(), self.model
        z = g.scaler("features", self.scaler.mean_, self.scaler.scale_)
        h = z
        last = len(mlp.coefs_) - 1
        for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
            h = g.op("Add", [g.op("MatMul", [h, g.const(w, "w")]), g.const(b, "b")])
            if i < last:
                h = g.op("Tanh", [h])
        err = g.op("Sub", [z, h])
        mean = g.op("ReduceMean", [g.op("Mul", [err, err])], axes=[1], keepdims=0)
        return g.model(mean, int(self.scaler.n_features_in_), "MLP autoencoder reconstruction error")

    def params(self) -> dict[str, float | str]:
        return {"layers": "-".join(str(s) for s in self.model.hidden_layer_sizes), "epochs": float(self.epochs)}


ALGORITHMS: dict[str, type[Detector]] = {d.algorithm: d for d in (IForestDetector, PcaDetector, AutoencoderDetector)}


def make_detector(algorithm: str, seed: int = 0) -> Detector:
    try:
        return ALGORITHMS[algorithm](seed)
    except KeyError:
        raise ExportError(f"unknown algorithm {algorithm!r}; choose from {sorted(ALGORITHMS)}") from None
