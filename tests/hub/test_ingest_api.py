"""Gateway traffic -> Mosquitto (mTLS) -> hub ingest -> store -> API, on every SQL x series combination."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import HarnessPki, wait_until
from tests.hub import traffic
from tests.hub.conftest import SettingsFactory, metric, register, running_hub

pytestmark = pytest.mark.integration


def test_traffic_is_stored_once_and_served(
    hub_settings: SettingsFactory, sql_url: str, series: dict[str, Any], pki: HarnessPki, mqtt_client: Any
) -> None:
    gw = pki.unique_gateway_id("paris")
    cert = pki.issue(gw)
    settings = hub_settings(sql=sql_url, series=series)
    with running_hub(settings) as api, mqtt_client(cert) as agent:
        register(api, gw, site="paris", cohort="green")
        batches = [traffic.scores(gw, seq, n=50, start_ms=traffic.T0 + seq * 5000, anomaly_every=10)
                   for seq in range(4)]
        for batch in batches:
            agent.publish(traffic.topic(gw, "scores"), batch.to_bytes())
        agent.publish(traffic.topic(gw, "events"), traffic.events(gw, 1, ts_ms=traffic.T0 + 1000).to_bytes())
        agent.publish(traffic.topic(gw, "state"), traffic.state(gw, 7).to_bytes())
        agent.publish(traffic.topic(gw, "scores"), batches[0].to_bytes())  # a duplicate: must overwrite itself

        wait_until(lambda: metric(api, "vigie_hub_ingest_messages_total", kind="scores", outcome="stored") >= 5,
                   timeout=15, what="5 score batches ingested")
        wait_until(lambda: api.get(f"/api/v1/gateways/{gw}").json()["status"] == "online", what="state applied")
        span = {"gateway": gw, "equipment": "pump-1", "start": traffic.T0, "end": traffic.T0 + 60_000}

        scores = api.get("/api/v1/series/scores", params={**span, "max_points": 1000}).json()
        assert scores["interval_ms"] is None
        assert [p["ts_ms"] for p in scores["points"]] == sorted({r.ts for b in batches for r in b.readings})
        first = scores["points"][0]["values"]
        assert first == {"anomaly_score": 0.0, "is_anomaly": 1.0, "threshold": 0.4}

        sensors = api.get("/api/v1/series/sensors", params=span).json()
        assert len(sensors["points"]) == 200
        assert sensors["points"][1]["values"] == {"temp": 20.5, "vib": pytest.approx(0.1)}

        small = api.get("/api/v1/series/scores", params={**span, "max_points": 10}).json()
        assert small["interval_ms"] is not None and 0 < len(small["points"]) <= 10
        assert max(p["values"]["anomaly_score"] for p in small["points"]) == pytest.approx(0.49)
        assert max(p["values"]["is_anomaly"] for p in small["points"]) == 1.0

        [equipment] = api.get("/api/v1/equipment", params={"gateway": gw}).json()
        assert equipment["status"] == "anomaly" and equipment["site"] == "paris"
        assert equipment["latest"]["ts_ms"] == batches[-1].readings[-1].ts
        assert equipment["latest"]["model_version"] == "1.0.0"

        events = api.get("/api/v1/events", params={"gateway": gw}).json()["items"]
        assert [e["kind"] for e in events] == ["model_swapped", "anomaly_start"]
        alerts = api.get("/api/v1/events", params={"gateway": gw, "severity": "alert"}).json()["items"]
        assert [e["kind"] for e in alerts] == ["anomaly_start"]

        detail = api.get(f"/api/v1/gateways/{gw}").json()
        assert detail["state_seq"] == 7 and detail["last_seen_ms"] is not None
        assert detail["reported_state"]["agent_version"] == "0.1.0"
        assert api.get("/api/v1/quarantine", params={"gateway": gw}).json()["items"] == []
        assert metric(api, "vigie_hub_ingest_readings_total") >= 250
        assert api.get("/readyz").status_code == 200


def test_unregistered_and_impersonating_gateways_are_quarantined(
    hub_settings: SettingsFactory, pki: HarnessPki, mqtt_client: Any
) -> None:
    good, other, stranger = (pki.unique_gateway_id(p) for p in ("lyon", "lyon", "nobody"))
    settings = hub_settings()
    with running_hub(settings) as api, mqtt_client(pki.issue(good)) as agent, \
            mqtt_client(pki.issue(stranger)) as unknown:
        register(api, good, site="lyon")
        register(api, other, site="lyon")
        # The broker ACL lets `good` write only its own topics; a payload naming another gateway is caught here.
        agent.publish(traffic.topic(good, "scores"), traffic.scores(other, 1).to_bytes())
        unknown.publish(traffic.topic(stranger, "scores"), traffic.scores(stranger, 1).to_bytes())
        agent.publish(traffic.topic(good, "scores"), traffic.scores(good, 2).to_bytes())

        wait_until(lambda: metric(api, "vigie_hub_ingest_messages_total", kind="scores", outcome="stored") >= 1,
                   what="the good batch stored")
        wait_until(lambda: metric(api, "vigie_hub_ingest_quarantined_total", reason="unregistered") >= 1,
                   what="stranger quarantined")
        [mismatch] = api.get("/api/v1/quarantine", params={"gateway": good}).json()["items"]
        assert (mismatch["reason_code"], mismatch["field"]) == ("gateway_mismatch", "gateway")
        assert other in mismatch["reason"] and mismatch["excerpt"].startswith('{"schema":"vigie.scores/1"')
        [unregistered] = api.get("/api/v1/quarantine", params={"gateway": stranger}).json()["items"]
        assert unregistered["reason_code"] == "unregistered"
        assert metric(api, "vigie_hub_ingest_quarantined_total", reason="gateway_mismatch") == 1
        points = api.get("/api/v1/series/scores", params={"gateway": good, "equipment": "pump-1",
                                                          "start": traffic.T0, "end": traffic.T0 + 10_000}).json()
        assert len(points["points"]) == 10


def test_two_hubs_in_a_shared_group_split_the_stream(
    hub_settings: SettingsFactory, pki: HarnessPki, mqtt_client: Any, tmp_path: Any
) -> None:
    from tests.harness import unique_id

    gw = pki.unique_gateway_id("lyon")
    group = unique_id("grp")
    shared = {"sql": f"sqlite:///{tmp_path / 'shared.db'}",
              "series": {"backend": "sqlite", "sqlite_path": tmp_path / "shared-series.db"}}
    first = hub_settings(**shared)
    first.mqtt.shared_group = group
    second = hub_settings(**shared)
    second.mqtt.shared_group = group
    with running_hub(first) as api_1, running_hub(second) as api_2, mqtt_client(pki.issue(gw)) as agent:
        register(api_1, gw, site="lyon")
        api_2.app.state.hub.ingest.registry.reload()  # type: ignore[attr-defined]
        for seq in range(20):
            agent.publish(traffic.topic(gw, "scores"), traffic.scores(gw, seq, n=5, start_ms=traffic.T0 + seq * 500)
                          .to_bytes())

        def stored(api: Any) -> float:
            return metric(api, "vigie_hub_ingest_messages_total", kind="scores", outcome="stored")

        wait_until(lambda: stored(api_1) + stored(api_2) == 20, what="20 batches stored by the group")
        assert stored(api_1) > 0 and stored(api_2) > 0
        span = {"gateway": gw, "equipment": "pump-1", "start": traffic.T0, "end": traffic.T0 + 20_000}
        assert len(api_2.get("/api/v1/series/scores", params=span).json()["points"]) == 100


def test_hub_server_runs_in_a_thread(hub_settings: SettingsFactory) -> None:
    import httpx

    from hub.app import HubServer

    with HubServer(hub_settings(ingest={"enabled": False}), port=0) as server:
        assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert httpx.get(f"{server.url}/api/v1/gateways").status_code == 401
