"""MQTT ingest: `IngestService` wires the broker client, the gateway registry and the batching worker."""

from __future__ import annotations

import queue

from sqlalchemy.engine import Engine

from hub.ingest.mqtt import MqttSource
from hub.ingest.pipeline import Accepted, Inbound
from hub.ingest.registry import GatewayRegistry
from hub.ingest.sink import IngestDb
from hub.ingest.worker import IngestWorker
from hub.metrics import HubMetrics
from hub.series.base import SeriesStore
from hub.settings import HubSettings

__all__ = ["Accepted", "Inbound", "IngestService"]


class IngestService:
    def __init__(self, settings: HubSettings, engine: Engine, store: SeriesStore, metrics: HubMetrics) -> None:
        inbox: queue.Queue[Inbound] = queue.Queue()
        db = IngestDb(engine)
        self.registry = GatewayRegistry(db.gateways, settings.ingest.registry_refresh_s)
        self.source = MqttSource(settings.mqtt, inbox, metrics)
        self.worker = IngestWorker(inbox, self.source, store, db, self.registry, metrics, settings.ingest)

    def start(self) -> None:
        self.worker.start()
        self.source.start()

    def stop(self) -> None:
        """Stop the worker (a batch being committed is finished and acked), then disconnect.

        Whatever was received but not committed stays unacknowledged: the broker redelivers it.
        """
        self.worker.stop()
        self.source.stop()

    @property
    def healthy(self) -> bool:
        return self.source.connected and self.worker.alive
