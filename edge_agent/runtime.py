"""A loaded model: manifest + onnxruntime session (adapter; one InferenceSession per loaded model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from contracts.manifest import Manifest
from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected, ScoringError
from model_export._errors import DataError
from model_export.features import FeatureSpec


@dataclass(frozen=True)
class ModelRuntime:
    """Everything the scorer needs from one verified bundle."""

    manifest: Manifest
    spec: FeatureSpec
    session: ort.InferenceSession
    input_name: str
    output_name: str
    dtype: type[np.floating]
    threshold: float
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    ref: ModelRef

    def score(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Scores of `[N, n_features]` rows as float64 `[N]`; any onnxruntime failure is a ScoringError."""
        try:
            out = self.session.run([self.output_name], {self.input_name: features.astype(self.dtype, copy=False)})
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ScoringError(f"{self.manifest.name} {self.manifest.version}: {exc}") from exc
        return np.asarray(out[0], dtype=np.float64).reshape(-1)


def runtime_from(manifest: Manifest, model: bytes) -> ModelRuntime:
    """Build a runtime from a verified manifest and the model bytes it was verified with (never re-read)."""
    try:
        spec = FeatureSpec.from_manifest(manifest)
    except DataError as exc:
        raise BundleRejected("bad_manifest", str(exc)) from None
    session = _session(model, manifest)
    dtype: type[np.floating] = np.float32 if manifest.io.input_dtype == "float32" else np.float64
    low = np.array([c.min for c in manifest.channels], dtype=np.float64)
    high = np.array([c.max for c in manifest.channels], dtype=np.float64)
    ref = ModelRef(name=manifest.name, version=manifest.version)
    return ModelRuntime(
        manifest, spec, session, manifest.io.input, manifest.io.output, dtype, manifest.threshold.value, low, high, ref
    )


def _session(model: bytes, manifest: Manifest) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # small models: an arena mostly adds resident memory
    try:
        session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise BundleRejected("load_failed", f"onnxruntime cannot load the model: {str(exc)[:300]}") from None
    inputs = {i.name for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if manifest.io.input not in inputs or manifest.io.output not in outputs:
        raise BundleRejected("load_failed", f"graph lacks input {manifest.io.input!r} or output {manifest.io.output!r}")
    return session
