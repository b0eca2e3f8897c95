"""Scoring tables with a bundle and measuring F1/FAR/MAR (LIGHT: no scikit-learn; the hub may use it).

`score_table` is the CSV-scoring path: features from the feature module, scores from onnxruntime.
The first `W - 1` rows of a table have no full window and get no score (see `model_export.features`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from contracts._errors import PayloadError
from contracts.manifest import MANIFEST_FILE, MODEL_FILE, Manifest, parse_manifest
from model_export._errors import BundleError, DataError, TamperedBundle
from model_export.bundle import read_bundle_files, sha256_hex
from model_export.data import Table
from model_export.features import FeatureSpec, compute_features
from model_export.metrics import Confusion
from model_export.runtime import OnnxScorer

OVERALL = "overall"


@dataclass(frozen=True)
class ScoredTable:
    """Scores of rows `first_row ..` of a table (earlier rows are the window warm-up)."""

    source: str
    first_row: int
    scores: NDArray[np.float64]
    is_anomaly: NDArray[np.bool_]


def load_unverified(path: Path) -> tuple[Manifest, bytes]:
    """Manifest and model of a bundle, layout- and digest-checked but NOT signature-checked."""
    files = read_bundle_files(path)
    if MANIFEST_FILE not in files or MODEL_FILE not in files:
        raise BundleError(f"{path} lacks {MANIFEST_FILE} or {MODEL_FILE}")
    try:
        manifest = parse_manifest(files[MANIFEST_FILE])
    except PayloadError as exc:
        raise BundleError(f"manifest.json is invalid: {exc}") from None
    if sha256_hex(files[MODEL_FILE]) != manifest.model_file.sha256:
        raise TamperedBundle("model.onnx SHA-256 does not match the manifest")
    return manifest, files[MODEL_FILE]


def score_table(manifest: Manifest, scorer: OnnxScorer, table: Table) -> ScoredTable:
    spec = FeatureSpec.from_manifest(manifest)
    features = compute_features(table.select(spec.channels).values, spec)
    scores = scorer.score(features) if features.shape[0] else np.empty(0)
    return ScoredTable(table.source, spec.warmup, scores, scorer.is_anomaly(scores))


def evaluate_bundle(path: Path, tables: Sequence[Table]) -> dict[str, Confusion]:
    """Confusion per labelled table plus `overall` (warm-up rows are not counted)."""
    manifest, model = load_unverified(path)
    scorer = OnnxScorer.for_manifest(model, manifest)
    results: dict[str, Confusion] = {}
    for table in tables:
        if table.labels is None:
            raise DataError(f"{table.source}: no `anomaly` column to evaluate against")
        scored = score_table(manifest, scorer, table)
        results[table.source] = Confusion.of(scored.is_anomaly, table.labels[scored.first_row :])
    results[OVERALL] = sum(results.values(), Confusion())
    return results
