"""Scoring a bundle's ONNX model with onnxruntime (LIGHT: numpy + onnxruntime; the agent and hub use it).

Feed the feature module's rows (float64, unscaled); the graph scales them itself.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from numpy.typing import ArrayLike, NDArray

from contracts.manifest import Manifest, OnnxIO
from model_export._errors import BundleError, DataError

OPSET_DEFAULT = 17


class OnnxScorer:
    """One onnxruntime session (single-threaded by default) scoring `[N, n_features]` -> `[N]`."""

    def __init__(
        self,
        model_bytes: bytes,
        n_features: int,
        threshold: float,
        io: OnnxIO | None = None,
        threads: int = 1,
    ) -> None:
        io = io or OnnxIO(input_dtype="float64", opset=OPSET_DEFAULT)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise BundleError(f"onnxruntime cannot load the model: {str(exc)[:300]}") from None
        self._input, self._output = io.input, io.output
        self._dtype = np.float64 if io.input_dtype == "float64" else np.float32
        self.n_features = n_features
        self.threshold = threshold

    @classmethod
    def for_manifest(cls, model_bytes: bytes, manifest: Manifest, threads: int = 1) -> OnnxScorer:
        """The scorer of a (verified) bundle: input/output names, dtype and threshold from its manifest."""
        return cls(model_bytes, len(manifest.feature_names), manifest.threshold.value, manifest.io, threads)

    def score(self, features: ArrayLike) -> NDArray[np.float64]:
        """Anomaly scores of feature rows (higher = more anomalous)."""
        x = np.ascontiguousarray(features, dtype=self._dtype)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise DataError(f"features must have shape [N, {self.n_features}], got {list(x.shape)}")
        out = self._session.run([self._output], {self._input: x})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def is_anomaly(self, scores: NDArray[np.float64]) -> NDArray[np.bool_]:
        """`score > threshold` (the manifest's calibrated threshold)."""
        return np.asarray(scores > self.threshold)
