"""Prometheus metrics of one hub instance (own registry, so several hubs can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class HubMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "vigie_hub_ingest_messages", "MQTT messages handled, by kind and outcome.", ["kind", "outcome"], registry=r
        )
        self.readings = Counter("vigie_hub_ingest_readings", "Scored readings written to the store.", registry=r)
        self.points = Counter("vigie_hub_ingest_points", "Points written to the series store.", registry=r)
        self.quarantined = Counter(
            "vigie_hub_ingest_quarantined", "Messages quarantined (validation failures), by reason.", ["reason"],
            registry=r,
        )
        self.store_write = Histogram(
            "vigie_hub_store_write_seconds", "Latency of one batch write to the series store.", ["store"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.store_errors = Counter(
            "vigie_hub_store_write_errors", "Failed batch writes, by error kind.", ["store", "error"], registry=r
        )
        self.unacked = Gauge(
            "vigie_hub_ingest_unacked", "Messages received but not yet acknowledged (backlog).", registry=r
        )
        self.batch_size = Histogram(
            "vigie_hub_ingest_batch_messages", "Messages per ingest batch.",
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000), registry=r,
        )
        self.broker_connected = Gauge("vigie_hub_broker_connected", "1 while connected to the broker.", registry=r)
        self.http_requests = Counter(
            "vigie_hub_http_requests", "API requests, by method, route and status.", ["method", "route", "status"],
            registry=r,
        )
        self.http_errors = Counter(
            "vigie_hub_http_errors", "API responses with status >= 500, by route.", ["method", "route"], registry=r
        )
        self.http_latency = Histogram(
            "vigie_hub_http_request_seconds", "API latency, by method and route.", ["method", "route"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
