"""A trained pump model and a simulated equipment that emits what an agent would: scores and drift sketches.

Sketches are built with the agent's own code (`edge_agent.sketch.SketchAccumulator`, `edge_agent.wire`),
features with `model_export.features`, scores with the trained detector.

The model leaves out the two temperature channels: they are slow random walks in the simulator, so any
window of them covers a narrow slice of the training range and looks drifted against it (true, but not
what these tests are about; see `DriftSettings.ignore_features`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import NDArray

from contracts.manifest import Manifest
from contracts.messages import Event, EventsBatch, ModelRef, Reading, ScoresBatch, Sketch
from edge_agent import wire
from edge_agent.sketch import SketchAccumulator
from model_export.features import FeatureSpec, compute_features
from model_export.simulator import CHANNELS, FaultEvent, PumpSimulator

DRIFT_CHANNELS = tuple(c for c in CHANNELS if c not in ("temperature", "thermocouple"))
SEED = 3
TRAIN_ROWS = 3000
FLOW_SIGMA = 0.40
"""Noise of the simulator's flow rate (l/min)."""


@dataclass(frozen=True)
class Model:
    manifest: Manifest
    model_bytes: bytes
    detector: object

    @property
    def ref(self) -> ModelRef:
        return ModelRef(name=self.manifest.name, version=self.manifest.version)

    @property
    def threshold(self) -> float:
        return self.manifest.threshold.value

    def score(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        scores: NDArray[np.float64] = self.detector.score(features)  # type: ignore[attr-defined]
        return scores


@functools.cache
def trained(version: str = "1.0.0") -> Model:
    """The test model (trained once per process: a fraction of a second)."""
    from model_export.train import TrainOptions, train_bundle

    result = train_bundle(None, simulate_rows=TRAIN_ROWS,
                          options=TrainOptions(seed=SEED, version=version, channels=DRIFT_CHANNELS))
    return Model(result.manifest, result.model_bytes, result.detector)


def write_bundle_tar(model: Model, out: Path, key: Ed25519PrivateKey) -> Path:
    """The model as a signed bundle .tar (what `vigie model publish` uploads)."""
    from contracts.signing import sign_bytes
    from model_export.bundle import pack_tar_bytes

    files = {"model.onnx": model.model_bytes, "manifest.json": model.manifest.canonical_bytes(),
             "manifest.sig": sign_bytes(key, model.manifest.canonical_bytes())}
    out.write_bytes(pack_tar_bytes(files))
    return out


def write_manifest_dir(model: Model, root: Path) -> Path:
    """`<root>/<name>/<version>/manifest.json`, the layout of `DriftSettings.manifest_dir`."""
    directory = root / model.manifest.name / model.manifest.version
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_bytes(model.manifest.canonical_bytes())
    return root


@dataclass
class Equipment:
    """One simulated pump on one gateway, continuing after the rows the model was trained on."""

    model: Model
    gateway: str
    equipment: str
    start_ms: int
    period_ms: int = 100
    faults: list[FaultEvent] = field(default_factory=list)
    skip: int = 0
    """Rows of the simulator left out after the training rows (another stretch of the same machine)."""
    seq: int = 0
    _sim: PumpSimulator | None = None
    _tail: NDArray[np.float64] | None = None
    _step: int = 0

    def __post_init__(self) -> None:
        self._sim = PumpSimulator(seed=SEED, faults=self.faults)
        self._sim.batch(TRAIN_ROWS + self.skip)  # the same machine, after its training data
        self.spec = FeatureSpec.from_manifest(self.model.manifest)
        warmup = self._sim.batch(self.spec.warmup).values  # fills the feature window before the first reading
        self._tail = warmup[:, [CHANNELS.index(c) for c in self.spec.channels]]

    def rows(self, n: int, shift: dict[str, float] | None = None) -> tuple[NDArray[np.int64], NDArray[np.float64],
                                                                            NDArray[np.float64]]:
        """The next `n` readings: timestamps, raw values (model channels) and feature rows."""
        assert self._sim is not None
        batch = self._sim.batch(n)
        x = batch.values[:, [CHANNELS.index(c) for c in self.spec.channels]].copy()
        for channel, delta in (shift or {}).items():
            x[:, self.spec.channels.index(channel)] += delta
        assert self._tail is not None
        history = np.concatenate([self._tail, x])
        features = compute_features(history, self.spec)
        self._tail = history[history.shape[0] - self.spec.warmup:]
        ts = self.start_ms + (self._step + np.arange(n, dtype=np.int64)) * self.period_ms
        self._step += n
        return ts, x, features

    def sketch(self, n: int, shift: dict[str, float] | None = None) -> Sketch:
        """One sketch window of `n` readings, built by the agent's accumulator (window = n readings)."""
        ts, _x, features = self.rows(n, shift)
        window_ms = n * self.period_ms
        assert ts[0] % window_ms == 0, "start_ms must be a multiple of the window (n * period_ms)"
        accumulator = _accumulator(self.model.manifest, self.spec, window_ms)
        windows = accumulator.add(self.equipment, ts, features, self.model.score(features))
        windows += accumulator.flush()
        assert len(windows) == 1, "one sketch window per call"
        return self._sketch_message(windows[0])

    def _sketch_message(self, window: object) -> Sketch:
        self.seq += 1
        raw = wire.sketch(self.gateway, self.model.ref, window)(self.seq)  # type: ignore[arg-type]
        return Sketch.model_validate_json(raw)

    def scores(self, n: int, shift: dict[str, float] | None = None, seq: int | None = None) -> ScoresBatch:
        """The next `n` readings, scored by the model (what an agent publishes on up/scores)."""
        ts, x, features = self.rows(n, shift)
        scores = self.model.score(features)
        readings = [
            Reading(equipment=self.equipment, ts=int(t), values=dict(zip(self.spec.channels, map(float, row),
                                                                           strict=True)),
                    score=float(s), is_anomaly=bool(s > self.model.threshold), threshold=self.model.threshold,
                    model=self.model.ref.name, model_version=self.model.ref.version)
            for t, row, s in zip(ts, x, scores, strict=True)
        ]
        self.seq += 1
        return ScoresBatch(gateway=self.gateway, seq=self.seq if seq is None else seq, readings=readings)


def anomaly_events(batch: ScoresBatch, seq: int) -> EventsBatch | None:
    """An `anomaly_start` at the first reading over its threshold (the agent's hysteresis, simplified)."""
    first = next((r for r in batch.readings if r.is_anomaly), None)
    if first is None:
        return None
    event = Event(kind="anomaly_start", ts=first.ts, equipment=first.equipment, model=first.model,
                  model_version=first.model_version, score=first.score, detail=f"threshold {first.threshold:.6g}")
    return EventsBatch(gateway=batch.gateway, seq=seq, events=[event])


def _accumulator(manifest: Manifest, spec: FeatureSpec, window_ms: int) -> SketchAccumulator:
    """What the agent builds for a model (`edge_agent.scorer._sketch_for`)."""
    index = {name: i for i, name in enumerate(spec.names)}
    names = [h.name for h in manifest.reference if h.name == "score" or h.name in index]
    edges = [np.array(h.edges, dtype=np.float64) for h in manifest.reference if h.name in names]
    columns = [-1 if name == "score" else index[name] for name in names]
    return SketchAccumulator(names, edges, columns, window_ms)
