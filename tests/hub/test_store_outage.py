"""InfluxDB stopped under load, then restarted: ingest backs off, keeps messages unacknowledged, loses nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.harness import HarnessPki, InfluxD, wait_until
from tests.hub import traffic
from tests.hub.conftest import SettingsFactory, metric, register, running_hub
from tests.hub.helpers import influx_count

pytestmark = pytest.mark.integration
READINGS = 20


@pytest.mark.parametrize("outage_s", [20.0])  # the spec: InfluxDB stopped for 20 s under load
def test_influxdb_outage_under_load_loses_nothing(
    outage_s: float, hub_settings: SettingsFactory, influxd_restartable: InfluxD, pki: HarnessPki, mqtt_client: Any
) -> None:
    influxd, database = influxd_restartable, "vigie_outage"
    gw = pki.unique_gateway_id("lyon")
    settings = hub_settings(series={"backend": "influxdb1", "url": influxd.url, "database": database,
                                    "timeout_s": 2.0})
    seq = 0
    with running_hub(settings) as api, mqtt_client(pki.issue(gw)) as agent:
        register(api, gw, site="lyon")

        def publish() -> None:
            nonlocal seq
            batch = traffic.scores(gw, seq, n=READINGS, start_ms=traffic.T0 + seq * READINGS * 100)
            agent.publish(traffic.topic(gw, "scores"), batch.to_bytes())
            seq += 1

        for _ in range(5):
            publish()
        wait_until(lambda: influx_count(influxd, database, gw) == seq * READINGS, what="traffic before the outage")

        influxd.stop()
        outage_end = time.monotonic() + outage_s
        while time.monotonic() < outage_end:  # load during the outage, paced by the broker's PUBACKs
            publish()
            time.sleep(0.02)
        ingest = api.app.state.hub.ingest  # type: ignore[attr-defined]
        wait_until(lambda: ingest.worker.retrying, what="ingest backing off")
        assert api.get("/readyz").status_code == 503
        assert metric(api, "vigie_hub_ingest_unacked") > 0
        assert metric(api, "vigie_hub_store_write_errors_total", store="influxdb1", error="StoreUnavailable") > 0

        influxd.start()
        for _ in range(5):
            publish()
        wait_until(lambda: influx_count(influxd, database, gw) == seq * READINGS, timeout=30,
                   what="every reading stored after the outage")
        wait_until(lambda: metric(api, "vigie_hub_ingest_unacked") == 0, what="backlog drained")
        assert api.get("/api/v1/quarantine", params={"gateway": gw}).json()["items"] == []
        assert api.get("/readyz").status_code == 200
