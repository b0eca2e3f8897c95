"""Malformed and unauthorised traffic is quarantined with the right reason; good traffic keeps flowing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES
from tests.harness import HarnessPki, wait_until
from tests.hub import traffic
from tests.hub.conftest import SettingsFactory, metric, register, running_hub
from tests.hub.malformed import Bad, malformed

pytestmark = pytest.mark.integration


def test_hypothesis_malformed_payloads_are_quarantined(
    hub_settings: SettingsFactory, pki: HarnessPki, mqtt_client: Any
) -> None:
    gw = pki.unique_gateway_id("paris")
    with running_hub(hub_settings()) as api, mqtt_client(pki.issue(gw)) as agent:
        register(api, gw)
        state = {"seq": 0, "handled": 0}

        def handled() -> float:
            return sum(metric(api, "vigie_hub_ingest_messages_total", kind="scores", outcome=o)
                       for o in ("stored", "quarantined"))

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(bad=malformed(gw))
        def check(bad: Bad) -> None:
            before = metric(api, "vigie_hub_ingest_quarantined_total", reason=bad.code)
            state["seq"] += 1
            good = traffic.scores(gw, state["seq"], n=1, start_ms=traffic.T0 + state["seq"])
            agent.publish(traffic.topic(gw, "scores"), bad.payload)
            agent.publish(traffic.topic(gw, "scores"), good.to_bytes())
            state["handled"] += 2
            wait_until(lambda: handled() >= state["handled"], what="both messages handled")
            entry = _quarantined(api, gw, hashlib.sha256(bad.payload).hexdigest())
            assert entry["reason_code"] == bad.code, entry
            if bad.field is not None:
                assert entry["field"] == bad.field, entry
            assert len(entry["excerpt"]) <= 4 * 512 and entry["payload_size"] == len(bad.payload)
            assert metric(api, "vigie_hub_ingest_quarantined_total", reason=bad.code) == before + 1

        check()
        stored = metric(api, "vigie_hub_ingest_messages_total", kind="scores", outcome="stored")
        assert stored == state["seq"]  # every good batch went through
        assert metric(api, "vigie_hub_ingest_readings_total") == state["seq"]


def test_limits_and_wrong_kind_are_quarantined(hub_settings: SettingsFactory, pki: HarnessPki,
                                              mqtt_client: Any) -> None:
    gw = pki.unique_gateway_id("lyon")
    too_big = b'{"pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    too_long = traffic.scores(gw, 1, n=1).model_dump(mode="json", by_alias=True)
    too_long["readings"] = too_long["readings"] * (MAX_BATCH_READINGS + 1)
    import json

    with running_hub(hub_settings()) as api, mqtt_client(pki.issue(gw)) as agent:
        register(api, gw)
        agent.publish(traffic.topic(gw, "scores"), too_big)
        agent.publish(traffic.topic(gw, "scores"), json.dumps(too_long).encode())
        agent.publish(traffic.topic(gw, "events"), traffic.scores(gw, 2).to_bytes())
        wait_until(lambda: len(_items(api, gw)) == 3, what="three quarantined messages")
        by_size = {e["payload_size"]: e for e in _items(api, gw)}
        big = by_size[len(too_big)]
        assert big["reason_code"] == "limit" and len(big["excerpt"]) == 512
        assert by_size[len(json.dumps(too_long))]["field"] == "readings"
        kinds = {e["reason_code"] for e in _items(api, gw)}
        assert kinds == {"limit", "schema"}


@given(st.binary(max_size=64))
def test_quarantine_excerpt_is_storable(payload: bytes) -> None:
    from hub.ingest.pipeline import Inbound, Rejection, quarantine_entry

    entry = quarantine_entry(Inbound("vigie/v1/gw-1/up/scores", payload, 1, 1, 1, 0), Rejection("x", "", ""), 16)
    assert "\x00" not in entry.excerpt and entry.gateway == "gw-1"


def _items(api: Any, gateway: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/api/v1/quarantine", params={"gateway": gateway}).json()["items"]
    return items


def _quarantined(api: Any, gateway: str, sha256: str) -> dict[str, Any]:
    [entry] = [e for e in _items(api, gateway) if e["payload_sha256"] == sha256]
    return entry


def test_data_the_store_refuses_is_quarantined_without_blocking(
    hub_settings: SettingsFactory, pki: HarnessPki, mqtt_client: Any, influxd: Any, influx_database: str
) -> None:
    from contracts.messages import ScoresBatch

    gw = pki.unique_gateway_id("paris")
    influxd.write(influx_database, f'sensor,gateway=other temp="text" {traffic.T0}')  # "temp" is now a string
    series = {"backend": "influxdb1", "url": influxd.url, "database": influx_database}
    refused = traffic.scores(gw, 1, n=5)
    base = traffic.scores(gw, 2, n=5, start_ms=traffic.T0 + 10_000)
    accepted = ScoresBatch(gateway=gw, seq=2, readings=[r.model_copy(update={"values": {"rpm": 3.0}})
                                                       for r in base.readings])
    with running_hub(hub_settings(series=series)) as api, mqtt_client(pki.issue(gw)) as agent:
        register(api, gw)
        agent.publish(traffic.topic(gw, "scores"), refused.to_bytes())
        agent.publish(traffic.topic(gw, "scores"), accepted.to_bytes())
        wait_until(lambda: metric(api, "vigie_hub_ingest_messages_total", kind="scores", outcome="stored") == 1,
                   what="the good batch stored")
        [entry] = _items(api, gw)
        assert entry["reason_code"] == "store_rejected" and "conflict" in entry["reason"]
        sensors = api.get("/api/v1/series/sensors", params={"gateway": gw, "equipment": "pump-1",
                                                            "start": traffic.T0, "end": traffic.T0 + 20_000})
        assert [p["values"] for p in sensors.json()["points"]] == [{"rpm": 3.0}] * 5
