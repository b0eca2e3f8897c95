"""`vigie hub serve` killed with SIGKILL between receiving and writing: the broker redelivers, nothing is lost
and nothing is stored twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import HarnessPki, InfluxD, MosquittoBroker, free_port, unique_id, wait_until
from tests.harness._util import OwnedProcess
from tests.hub import traffic
from tests.hub.conftest import ADMIN, ADMIN_PASSWORD, login
from tests.hub.helpers import influx_count, ready, scrape

pytestmark = pytest.mark.integration
BATCHES, READINGS = 10, 100


def vigie_command() -> list[str]:
    exe = shutil.which("vigie", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "vigie"]


def write_config(path: Path, *, broker: MosquittoBroker, influxd: InfluxD, database: str, client_id: str,
                 port: int, delay_ms: int) -> Path:
    path.write_text(f"""
mode = "dev"
data_dir = "{path.parent / 'hub'}"
database_url = "sqlite:///{path.parent / 'hub.db'}"
log_format = "json"
[api]
port = {port}
[series]
backend = "influxdb1"
url = "{influxd.url}"
database = "{database}"
[mqtt]
host = "{broker.host}"
port = {broker.port}
ca_file = "{broker.ca}"
cert_file = "{broker.hub.cert}"
key_file = "{broker.hub.key}"
client_id = "{client_id}"
session_expiry_s = 300
[ingest]
batch_max_ms = 20
test_only_write_delay_ms = {delay_ms}
[security]
bootstrap_admin = "{ADMIN}"
bootstrap_admin_password = "{ADMIN_PASSWORD}"
""")
    return path


def test_kill_between_receive_and_write_loses_nothing(
    tmp_path: Path, mosquitto_restartable: MosquittoBroker, influxd: InfluxD, influx_database: str,
    pki: HarnessPki, mqtt_client: Any,
) -> None:
    # A broker of its own: the session broker holds other tests' retained messages, which this hub would also
    # receive (and hold unacknowledged), making the unacked count below depend on test order.
    mosquitto = mosquitto_restartable
    gw = pki.unique_gateway_id("toulouse")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    options: dict[str, Any] = {"broker": mosquitto, "influxd": influxd, "database": influx_database,
                               "client_id": unique_id("hub"), "port": port}
    config = write_config(tmp_path / "hub.toml", delay_ms=600_000, **options)  # never writes in time
    subprocess.run([*vigie_command(), "hub", "gateway", "add", gw, "--site", "toulouse", "--config", str(config)],
                   check=True, capture_output=True)

    hub = OwnedProcess([*vigie_command(), "hub", "serve", "--config", str(config)], tmp_path / "hub1.log")
    try:
        wait_until(lambda: ready(url), timeout=30, what="hub 1 ready")
        with mqtt_client(pki.issue(gw), broker=mosquitto) as agent:
            for seq in range(BATCHES):
                batch = traffic.scores(gw, seq, n=READINGS, start_ms=traffic.T0 + seq * READINGS * 100)
                agent.publish(traffic.topic(gw, "scores"), batch.to_bytes())
            agent.publish(traffic.topic(gw, "events"), traffic.events(gw, 1).to_bytes())
        wait_until(lambda: scrape(url).get("vigie_hub_ingest_unacked{}") == BATCHES + 1, timeout=15,
                   what="every message received and held unacknowledged")
        assert influx_count(influxd, influx_database, gw) == 0
    finally:
        hub.kill()  # SIGKILL: a crash between receive and write

    write_config(config, delay_ms=0, **options)
    hub = OwnedProcess([*vigie_command(), "hub", "serve", "--config", str(config)], tmp_path / "hub2.log")
    try:
        wait_until(lambda: influx_count(influxd, influx_database, gw) == BATCHES * READINGS, timeout=30,
                   what="every reading stored after the restart")
        wait_until(lambda: scrape(url).get("vigie_hub_ingest_unacked{}") == 0, timeout=15, what="backlog drained")
        metrics = scrape(url)
        assert metrics["vigie_hub_ingest_readings_total{}"] == BATCHES * READINGS
        assert metrics.get("vigie_hub_ingest_quarantined_total{reason=unregistered}", 0) >= 0
        events = _get(url, "/api/v1/events", gateway=gw)["items"]
        assert sorted(e["kind"] for e in events) == ["anomaly_start", "model_swapped"]
        assert influx_count(influxd, influx_database, gw, "sensor", "temp") == BATCHES * READINGS
    finally:
        hub.stop()
    assert hub.popen.returncode == 0, (tmp_path / "hub2.log").read_text()[-2000:]


def _get(url: str, path: str, **params: str) -> Any:
    import httpx

    with httpx.Client(base_url=url, timeout=5) as client:
        client.headers["Authorization"] = f"Bearer {login(client)}"
        return client.get(path, params=params).json()
