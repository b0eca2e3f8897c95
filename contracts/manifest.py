"""The model bundle manifest (ARCHITECTURE section 3).

A bundle is a directory (or a .tar of it) holding exactly `model.onnx`, `manifest.json` and
`manifest.sig`. The signature is an Ed25519 envelope over `canonical_json(manifest)`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from contracts._base import FiniteFloat, Identifier, SemVer, WireModel, decode_as
from contracts.limits import MAX_BINS, MAX_CHANNELS, MAX_FEATURES
from contracts.signing import canonical_json

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
BUNDLE_FILES = frozenset({MODEL_FILE, MANIFEST_FILE, SIGNATURE_FILE})

WindowFeature = Literal["raw", "mean", "std", "min", "max", "delta"]


class ChannelSpec(WireModel):
    """One raw sensor channel the model reads, in order."""

    name: Identifier
    unit: Annotated[str, Field(max_length=32)] = ""
    min: FiniteFloat
    max: FiniteFloat

    @model_validator(mode="after")
    def _range(self) -> ChannelSpec:
        if self.max < self.min:
            raise ValueError(f"expected range of {self.name} has max < min")
        return self


class WindowSpec(WireModel):
    """Windowed features over the last `size` readings of each channel, in this order."""

    size: Annotated[int, Field(ge=1, le=4096)]
    features: Annotated[list[WindowFeature], Field(min_length=1, max_length=6)]


class ThresholdSpec(WireModel):
    value: FiniteFloat
    method: Annotated[str, Field(max_length=64)]
    params: dict[str, FiniteFloat | str] = {}


class Histogram(WireModel):
    """Reference distribution: `len(edges) == len(probs) + 1`, probabilities sum to 1."""

    name: Identifier
    edges: Annotated[list[FiniteFloat], Field(min_length=2, max_length=MAX_BINS + 1)]
    probs: Annotated[list[FiniteFloat], Field(min_length=1, max_length=MAX_BINS)]

    @model_validator(mode="after")
    def _shape(self) -> Histogram:
        if len(self.edges) != len(self.probs) + 1:
            raise ValueError("edges must have one more element than probs")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must increase strictly")
        if any(p < 0 for p in self.probs) or abs(sum(self.probs) - 1.0) > 1e-6:
            raise ValueError("probs must be non-negative and sum to 1")
        return self


class DataFingerprint(WireModel):
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    rows: Annotated[int, Field(ge=0)]
    sources: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=1024)] = []


class FileDigest(WireModel):
    path: Literal["model.onnx"] = "model.onnx"
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=1)]


class OnnxIO(WireModel):
    """Names of the graph's input (float, [N, n_features]) and score output ([N] or [N, 1])."""

    input: Identifier = "features"
    output: Identifier = "score"
    input_dtype: Literal["float32", "float64"] = "float32"
    opset: Annotated[int, Field(ge=1, le=100)]


class Manifest(WireModel):
    schema_: Literal["vigie.manifest/1"] = Field("vigie.manifest/1", alias="schema")
    name: Identifier
    version: SemVer
    created_at: Annotated[str, Field(max_length=40)]
    algorithm: Identifier
    channels: Annotated[list[ChannelSpec], Field(min_length=1, max_length=MAX_CHANNELS)]
    window: WindowSpec
    feature_names: Annotated[list[Identifier], Field(min_length=1, max_length=MAX_FEATURES)]
    threshold: ThresholdSpec
    reference: Annotated[list[Histogram], Field(min_length=1, max_length=MAX_FEATURES + 1)]
    """Reference histograms per feature (by feature name) plus one named `score`."""
    training_data: DataFingerprint
    metrics: dict[Identifier, FiniteFloat] = {}
    parity: dict[Identifier, FiniteFloat] = {}
    model_file: FileDigest
    io: OnnxIO
    versions: dict[Identifier, Annotated[str, Field(max_length=64)]] = {}
    """Library versions (sklearn, skl2onnx, onnx, onnxruntime, vigie) used to build the bundle."""

    @model_validator(mode="after")
    def _reference_names(self) -> Manifest:
        known = set(self.feature_names) | {"score"}
        unknown = [h.name for h in self.reference if h.name not in known]
        if unknown:
            raise ValueError(f"reference histograms for unknown features: {unknown[:5]}")
        return self

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json", by_alias=True))

    def reference_for(self, name: str) -> Histogram | None:
        return next((h for h in self.reference if h.name == name), None)


def parse_manifest(raw: bytes) -> Manifest:
    return decode_as(Manifest, raw, max_bytes=8 * 1024 * 1024)


def manifest_document(manifest: Manifest) -> dict[str, Any]:
    return manifest.model_dump(mode="json", by_alias=True)
