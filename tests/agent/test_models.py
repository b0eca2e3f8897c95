"""Model hot swap over a real broker: refused bundles keep the old model serving; a valid one swaps cleanly."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.manifest import MODEL_FILE
from tests.agent.helpers import (
    agent_config,
    decoded,
    desired,
    desired_topic,
    readings,
    running_agent,
    simulated,
    states,
    up_filter,
    wait_for,
    write_signed_bundle,
)

pytestmark = pytest.mark.integration


def _config(tmp_path, pki, broker, keys_dir, bundles, equipment, gateway):
    cert = pki.issue(gateway)
    return agent_config(tmp_path / "cfg", gateway, broker, cert, keys_dir / "release.pub", bundles, equipment)


def _tamper(bundles: Path, version: str, source: str = "1.1.0") -> None:
    target = bundles / "pump" / version
    shutil.copytree(bundles / "pump" / source, target)
    manifest = (target / "manifest.json").read_bytes().replace(f'"version":"{source}"'.encode(),
                                                              f'"version":"{version}"'.encode())
    (target / "manifest.json").write_bytes(manifest)  # signature no longer matches


def _model_bytes_flipped(bundles: Path, version: str) -> None:
    path = bundles / "pump" / version / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _last_update(hub, gateway, seq):
    def find():
        done = [s for s in states(hub.received(up_filter(gateway)))
                if s.update is not None and s.update.desired_seq == seq and s.update.outcome != "pending"]
        return done[-1] if done else None
    return wait_for(find, what=f"update status of desired seq {seq}")


@pytest.mark.parametrize("case", ["tampered_manifest", "tampered_model", "wrong_key", "downgrade"])
def test_refused_bundle_keeps_serving(case, tmp_path, pki, mosquitto, mqtt_client, trained, keys_dir, bundles,
                                      release_key) -> None:
    gateway = pki.unique_gateway_id("mdl")
    version = {"tampered_manifest": "2.0.0", "tampered_model": "2.0.0", "wrong_key": "2.0.0", "downgrade": "0.9.0"}
    bad = version[case]
    if case == "tampered_manifest":
        _tamper(bundles, bad)
    elif case == "tampered_model":
        write_signed_bundle(bundles, trained, bad, release_key)
        _model_bytes_flipped(bundles, bad)
    elif case == "wrong_key":
        write_signed_bundle(bundles, trained, bad, Ed25519PrivateKey.generate())
    else:
        write_signed_bundle(bundles, trained, bad, release_key)
    config = _config(tmp_path, pki, mosquitto, keys_dir, bundles, [simulated("p1", 1, max_readings=None)], gateway)
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config):
            hub.wait_for(lambda ms: len(readings(ms)) > 5, what="readings from 1.0.0")
            hub.publish(desired_topic(gateway), desired(gateway, 2, bad), retain=True)
            state = _last_update(hub, gateway, 2)
            assert state.update.outcome == "rejected", state.update
            expected = {"tampered_manifest": "bad_signature", "tampered_model": "tampered",
                        "wrong_key": "bad_signature", "downgrade": "version_policy"}[case]
            assert state.update.reason.startswith(expected), state.update.reason
            assert state.models.active.version == "1.0.0"
            events = [e for b in decoded(hub.received(up_filter(gateway)), "events") for e in b.events]
            assert any(e.kind == "model_rejected" and expected in e.detail for e in events)
            count = len(readings(hub.received(up_filter(gateway))))
            hub.wait_for(lambda ms: len(readings(ms)) > count + 20, what="1.0.0 still serving")
            assert {v for _, _, v in readings(hub.received(up_filter(gateway)))} == {"1.0.0"}
        hub.publish(desired_topic(gateway), b"", retain=True)


def test_valid_bundle_swaps_without_losing_a_reading(tmp_path, pki, mosquitto, mqtt_client, trained, keys_dir,
                                                     bundles) -> None:
    gateway = pki.unique_gateway_id("swp")
    n = 600
    equipment = [simulated("p1", 1, max_readings=n, period_ms=3), simulated("p2", 2, max_readings=n, period_ms=3)]
    config = _config(tmp_path, pki, mosquitto, keys_dir, bundles, equipment, gateway)
    warmup = trained.manifest.window.size - 1
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config) as agent:
            hub.wait_for(lambda ms: len(readings(ms)) > 50, what="readings from 1.0.0")
            hub.publish(desired_topic(gateway), desired(gateway, 2, "1.1.0", shadow="1.0.0"), retain=True)
            hub.wait_for(lambda ms: len(readings(ms)) >= 2 * (n - warmup), timeout=60, what="every reading")
            got = readings(hub.received(up_filter(gateway)))
            assert agent.counts.readings_in == 2 * n
            assert agent.counts.scored + sum(agent.counts.unscoreable.values()) == agent.counts.readings_in
            per_model = [(m.version, len(t)) for m, t in agent.model_latency.models()]
            assert [v for v, _ in per_model] == ["1.0.0", "1.1.0"]  # each pass counted for its own model only
            assert sum(n for _, n in per_model) == len(agent.latency) < 4096
        state = _last_update(hub, gateway, 2)
        assert state.update.outcome == "applied"
        assert state.models.active.version == "1.1.0" and state.models.previous.version == "1.0.0"
        per_equipment: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for equipment_id, ts, version in got:
            per_equipment[equipment_id].append((ts, version))
        for rows in per_equipment.values():
            ts = [t for t, _ in rows]
            assert len(ts) == n - warmup and len(set(ts)) == len(ts) and ts == sorted(ts)  # in == out, once each
            versions = [v for _, v in rows]
            switch = versions.index("1.1.0")
            assert set(versions[:switch]) == {"1.0.0"} and set(versions[switch:]) == {"1.1.0"}
        shadow = readings(hub.received(up_filter(gateway)), slot="shadow")
        assert shadow and {v for _, _, v in shadow} == {"1.0.0"}
        events = [e for b in decoded(hub.received(up_filter(gateway)), "events") for e in b.events]
        assert any(e.kind == "model_swapped" and e.model_version == "1.1.0" for e in events)
        hub.publish(desired_topic(gateway), b"", retain=True)


def test_rollback_to_previous_is_allowed_only_with_allow_downgrade(tmp_path, pki, mosquitto, mqtt_client, keys_dir,
                                                                   bundles) -> None:
    gateway = pki.unique_gateway_id("rbk")
    config = _config(tmp_path, pki, mosquitto, keys_dir, bundles, [simulated("p1", 1, max_readings=None)], gateway)
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config):
            hub.wait_for(lambda ms: len(readings(ms)) > 5, what="1.0.0 serving")
            hub.publish(desired_topic(gateway), desired(gateway, 2, "1.1.0"), retain=True)
            assert _last_update(hub, gateway, 2).update.outcome == "applied"
            shutil.rmtree(bundles / "pump" / "1.0.0")  # a rollback must not need a download
            hub.publish(desired_topic(gateway), desired(gateway, 3, "1.0.0"), retain=True)
            assert _last_update(hub, gateway, 3).update.outcome == "rejected"
            hub.publish(desired_topic(gateway), desired(gateway, 4, "1.0.0", allow_downgrade=True), retain=True)
            state = _last_update(hub, gateway, 4)
            assert state.update.outcome == "applied", state.update
            assert state.models.active.version == "1.0.0" and state.models.previous.version == "1.1.0"
        hub.publish(desired_topic(gateway), b"", retain=True)
