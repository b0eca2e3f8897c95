"""`/healthz` and Prometheus `/metrics` on localhost (adapter), from the agent's snapshot at scrape time.

prometheus_client uses its own CollectorRegistry here, never the process-global one.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("vigie.agent.health")
HealthFn = Callable[[], tuple[bool, dict[str, Any]]]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "counter" | "gauge"
    help: str
    samples: list[tuple[dict[str, str], float]]


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], list[Metric]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        for metric in self._snapshot():
            labels = sorted(metric.samples[0][0]) if metric.samples else []
            family: CounterMetricFamily | GaugeMetricFamily
            if metric.kind == "counter":
                family = CounterMetricFamily(metric.name, metric.help, labels=labels)
            else:
                family = GaugeMetricFamily(metric.name, metric.help, labels=labels)
            for values, value in metric.samples:
                family.add_metric([values[k] for k in labels], value)
            yield family


class HealthServer:
    """Serves `/healthz` (200 when `healthy()`, else 503, JSON body) and `/metrics`."""

    def __init__(
        self, bind: str, port: int, health: HealthFn, metrics: Callable[[], list[Metric]]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(metrics))
        handler = _handler(health, self.registry)
        self._server = ThreadingHTTPServer((bind, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(health: HealthFn, registry: CollectorRegistry) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok, body = health()
                self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", generate_latest(registry))
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http", extra={"request": format % args})

    return Handler
