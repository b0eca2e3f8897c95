"""Our own IsolationForest -> ONNX converter: the whole forest as ONE `TreeEnsembleRegressor`.

scikit-learn computes, for scaled input `z` (float64, cast to float32 before the trees):

    E(z)  = sum over trees of  depth(leaf) + c(n_samples(leaf)) - 1
    score_samples(z) = -2 ** (-E(z) / (n_trees * c(max_samples)))

where `c(n)` is the average path length of an unsuccessful BST search. We store, in each leaf, the
already normalised and negated `-(depth + c(n) - 1) / (n_trees * c(max_samples))`, let the tree ensemble
SUM them, and finish with `2 ** sum`, which is `-score_samples` (our score: higher = more anomalous).

Thresholds: sklearn compares `float32(z) <= float64(threshold)`; ONNX compares two float32 values. For
a float32 `x`, `x <= t` holds exactly when `x <= t32` with `t32` the largest float32 not above `t`, so
every threshold is rounded toward minus infinity, never to nearest. Decisions are then identical and
the only difference left is the float32 accumulation of the leaf values (~1e-7 relative).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler

from model_export.onnx_graph import GraphBuilder


def round_down_float32(values: NDArray[np.float64]) -> NDArray[np.float32]:
    """Largest float32 <= each value (exact float32 values are kept as they are)."""
    rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def average_path_length(n: NDArray[np.float64]) -> NDArray[np.float64]:
    """`c(n)`, as scikit-learn's `_average_path_length`."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _tree_attributes(forest: IsolationForest, index: int, denominator: float) -> dict[str, NDArray[Any]]:
    tree = forest.estimators_[index].tree_
    features = np.asarray(forest.estimators_features_[index], dtype=np.int64)
    left, right = tree.children_left.astype(np.int64), tree.children_right.astype(np.int64)
    leaf = left == -1
    node_ids = np.arange(tree.node_count, dtype=np.int64)
    depth = tree.compute_node_depths().astype(np.float64)
    path = depth + average_path_length(tree.n_node_samples.astype(np.float64)) - 1.0
    return {
        "nodes_nodeids": node_ids,
        "nodes_featureids": np.where(leaf, 0, features[np.maximum(tree.feature, 0)]),
        "nodes_values": np.where(leaf, np.float32(0), round_down_float32(tree.threshold)),
        "nodes_modes": np.where(leaf, "LEAF", "BRANCH_LEQ"),
        "nodes_truenodeids": np.where(leaf, 0, left),
        "nodes_falsenodeids": np.where(leaf, 0, right),
        "target_nodeids": node_ids[leaf],
        "target_weights": (-path[leaf] / denominator).astype(np.float32),
    }


def forest_attributes(forest: IsolationForest) -> dict[str, list[Any]]:
    """Attributes of the single `TreeEnsembleRegressor` holding every tree of `forest`."""
    n_trees = len(forest.estimators_)
    denominator = float(n_trees * average_path_length(np.array([float(forest.max_samples_)]))[0])
    if denominator <= 0:
        raise ValueError("IsolationForest fitted on a single sample cannot be exported")
    parts = [_tree_attributes(forest, i, denominator) for i in range(n_trees)]
    merged: dict[str, list[Any]] = {}
    for key in parts[0]:
        merged[key] = np.concatenate([p[key] for p in parts]).tolist()
    merged["nodes_treeids"] = np.concatenate(
        [np.full(len(p["nodes_nodeids"]), i, dtype=np.int64) for i, p in enumerate(parts)]
    ).tolist()
    merged["target_treeids"] = np.concatenate(
        [np.full(len(p["target_nodeids"]), i, dtype=np.int64) for i, p in enumerate(parts)]
    ).tolist()
    merged["target_ids"] = [0] * len(merged["target_nodeids"])
    return merged


def iforest_to_onnx(scaler: StandardScaler, forest: IsolationForest) -> onnx.ModelProto:
    """ONNX graph: double features -> scaler (double) -> float32 -> one tree ensemble -> `2 ** sum`."""
    g = GraphBuilder()
    z = g.scaler("features", scaler.mean_, scaler.scale_)
    z32 = g.op("Cast", [z], to=onnx.TensorProto.FLOAT)
    summed = g.op(
        "TreeEnsembleRegressor",
        [z32],
        domain="ai.onnx.ml",
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
        **forest_attributes(forest),
    )
    flat = g.op("Reshape", [summed, g.const(np.array([-1], dtype=np.int64), "shape")])
    score = g.op("Pow", [g.const(2.0, "two"), g.op("Cast", [flat], to=onnx.TensorProto.DOUBLE)])
    return g.model(score, int(scaler.n_features_in_), "IsolationForest as one TreeEnsembleRegressor", uses_ml=True)
