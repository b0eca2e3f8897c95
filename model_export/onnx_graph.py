"""Small helpers to build the ONNX graphs of every algorithm (heavy: needs `onnx`).

Every graph has one input `features` (tensor(double) [N, n_features], the feature module's output, not
scaled) and one output `score` (tensor(double) [N], higher = more anomalous). The standard scaler is the
first step inside the graph, in double precision, exactly as scikit-learn computes it: `(x - mean) / scale`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ML_OPSET = 3
INPUT, OUTPUT = "features", "score"


class GraphBuilder:
    """Accumulates nodes and constant initialisers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, value: NDArray[Any] | float, prefix: str = "c") -> str:
        array = np.asarray(value, dtype=np.float64) if isinstance(value, float) else np.asarray(value)
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(array, name=name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], domain: str = "", **attrs: Any) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, domain=domain, **attrs))
        return out

    def scaler(self, x: str, mean: NDArray[np.float64], scale: NDArray[np.float64]) -> str:
        """`(x - mean) / scale` in double, as sklearn's StandardScaler.transform."""
        centred = self.op("Sub", [x, self.const(mean.astype(np.float64), "scaler_mean")])
        return self.op("Div", [centred, self.const(scale.astype(np.float64), "scaler_scale")])

    def row_sum(self, x: str) -> str:
        """Sum over axis 1 of a [N, K] tensor -> [N]."""
        return self.op("ReduceSum", [x, self.const(np.array([1], dtype=np.int64), "axes")], keepdims=0)

    def _rename_output(self, score: str) -> None:
        """Let the node that computes the score write `score` itself (no Identity node at the end)."""
        for node in self.nodes:
            for i, name in enumerate(node.output):
                if name == score:
                    node.output[i] = OUTPUT

    def model(self, score: str, n_features: int, doc: str, uses_ml: bool = False) -> onnx.ModelProto:
        self._rename_output(score)
        graph = helper.make_graph(
            self.nodes,
            "vigie_detector",
            [helper.make_tensor_value_info(INPUT, TensorProto.DOUBLE, [None, n_features])],
            [helper.make_tensor_value_info(OUTPUT, TensorProto.DOUBLE, [None])],
            initializer=self.initializers,
        )
        opsets = [helper.make_opsetid("", OPSET)]
        if uses_ml:
            opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="vigie.model_export", doc_string=doc)
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model
