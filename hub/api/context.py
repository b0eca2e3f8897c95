"""What the lifespan opens and the routes use: one `HubContext` per app, on `app.state.hub`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from hub.ingest import IngestService
from hub.metrics import HubMetrics
from hub.series.base import SeriesStore
from hub.settings import HubSettings


@dataclass
class HubContext:
    settings: HubSettings
    metrics: HubMetrics
    engine: Engine
    store: SeriesStore
    ingest: IngestService | None = None
