"""The Vigie edge agent: sensor sources -> features -> ONNX scores -> durable outbox -> MQTT (mTLS).

Start it with `vigie agent run --config firmware_configs/<site>/<gateway>.toml`.
The agent imports only light dependencies (no scikit-learn, pandas, fastapi or sqlalchemy).
"""

__version__ = "0.1.0"
