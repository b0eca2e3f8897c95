"""The Vigie hub: MQTT ingest into a time-series store, SQL registry, REST API.

Public entry points: `hub.app.create_app(settings)` (FastAPI app whose lifespan runs ingest),
`hub.settings.load_settings(...)`, and the `vigie hub` command group in `hub.cli`.
"""
