"""Desired states reach the broker even when it is down when they are written: they stay in SQL unacknowledged
and the controller republishes them, retained, once the broker is back. Real Mosquitto, real hub."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from contracts.codec import decode_desired
from contracts.messages import ModelRef, ModelSlots, ReportedState
from tests.rollout._fleet import FAST_GATES, hub_settings, running_hub, wait_for

pytestmark = pytest.mark.integration


def _report(gateway: str, seq: int) -> bytes:
    state = ReportedState(gateway=gateway, seq=seq, ts=int(time.time() * 1000), online=True,
                          models=ModelSlots(active=ModelRef(name="pump", version="1.0.0")))
    return state.to_bytes()


def test_unacknowledged_desired_states_are_republished(
    tmp_path: Path, mosquitto_restartable: Any, pki: Any, mqtt_client: Any, release_pub: Path,
    bundle_tars: dict[str, Path],
) -> None:
    broker = mosquitto_restartable
    green, blue = pki.unique_gateway_id("lille"), pki.unique_gateway_id("lille")
    green, blue = sorted((green, blue))
    with running_hub(hub_settings(tmp_path, broker, release_pub)) as hub:
        hub.call("POST", "/api/v1/models", 201, content=bundle_tars["1.1.0"].read_bytes(),
                 headers={"Content-Type": "application/x-tar"})
        for gateway in (green, blue):
            hub.call("POST", "/api/v1/gateways", 201, json={"id": gateway, "site": "lille", "cohort": "blue"})
            with mqtt_client(pki.issue(gateway), broker=broker, client_id=gateway) as client:
                client.publish(f"vigie/v1/{gateway}/up/state", _report(gateway, 1), qos=1, retain=True)
        wait_for(lambda: all(r["state_seq"] == 1 for r in hub.call("GET", "/api/v1/gateways")), 20, "states")
        broker.stop()
        detail = hub.call("POST", "/api/v1/rollouts", 201, json={"model": "pump", "version": "1.1.0",
                                                                  "gates": FAST_GATES})
        assert detail["green"] == [green] and detail["phase"] == "green_rolling"
        sent = {g["gateway"]: g for g in detail["gateways"]}
        assert sent[green]["desired_published"] is False and sent[blue]["desired_seq"] is None
        broker.start()
        rollout = f"/api/v1/rollouts/{detail['id']}"
        wait_for(lambda: hub.call("GET", rollout)["gateways"][_index(detail, green)]["desired_published"], 60,
                 "the desired state to be republished once the broker is back")
        with mqtt_client(pki.issue(green), broker=broker) as client:
            client.subscribe(f"vigie/v1/{green}/down/desired")
            retained = client.collect(f"vigie/v1/{green}/down/desired", count=1, timeout=10)[0]
        desired = decode_desired(green, retained.payload)
        assert desired.seq == sent[green]["desired_seq"] and desired.rollout_id == detail["id"]
        assert desired.shadow == ModelRef(name="pump", version="1.1.0")
        assert desired.active == ModelRef(name="pump", version="1.0.0")


def _index(detail: dict[str, Any], gateway: str) -> int:
    return [g["gateway"] for g in detail["gateways"]].index(gateway)


def test_a_wave_is_sent_whole_and_only_acknowledged_states_count(
    mosquitto_restartable: Any, pki: Any, mqtt_client: Any,
) -> None:
    """The publisher hands a whole wave to the broker before waiting for acknowledgements: with the broker
    hung (SIGSTOP) none is acknowledged within the deadline, and once it answers every state of the wave is
    there, retained, although `publish` was called once."""
    from contracts.messages import DesiredState
    from hub.rollout.publisher import MqttDesiredPublisher
    from hub.settings import MqttSettings

    broker = mosquitto_restartable
    hub_cert = pki.hub
    settings = MqttSettings(host=broker.host, port=broker.port, ca_file=broker.ca, cert_file=hub_cert.cert,
                            key_file=hub_cert.key, client_id=pki.unique_gateway_id("desired-test"))
    gateways = sorted(pki.unique_gateway_id("wave") for _ in range(30))
    now = int(time.time() * 1000)
    wave = [DesiredState(gateway=g, seq=7, issued_at=now, active=ModelRef(name="pump", version="1.1.0"))
            for g in gateways]
    publisher = MqttDesiredPublisher(settings, timeout_s=1.0)
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        broker.pause()
        try:
            assert publisher.publish(wave) == []  # nothing acknowledged: the controller keeps them to retry
        finally:
            broker.resume()
        for gateway in gateways:  # each gateway may only read its own down/ topics
            with mqtt_client(pki.issue(gateway), broker=broker, client_id=gateway) as device:
                device.subscribe(f"vigie/v1/{gateway}/down/desired")
                got = device.wait_for(bool, what=f"{gateway}'s retained desired state")
                assert decode_desired(gateway, got[0].payload).seq == 7
        assert publisher.publish(wave[:3]) == wave[:3]  # acknowledged once the broker answers
    finally:
        publisher.stop()
