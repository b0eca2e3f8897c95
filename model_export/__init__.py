"""Model export: the feature module, the pump simulator and bundle verification (light), and training,
ONNX export, parity proof, evaluation and the SKAB benchmark (heavy, imported lazily).

Light modules (numpy, contracts, onnxruntime only; the edge agent and the hub import these):
`features`, `simulator`, `data`, `bundle`, `runtime`, `metrics`, `evaluate`, `_errors`.
Heavy modules (scikit-learn, onnx): `train`, `detectors`, `onnx_iforest`, `onnx_graph`, `parity`,
`benchmark`, `cli` (whose commands import them lazily).
"""
