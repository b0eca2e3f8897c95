"""Agent sketches -> Mosquitto (mTLS) -> hub ingest -> drift monitor -> drift points, events and /api/v1/drift.

Two pumps on one gateway, from the simulator the model was trained on: one keeps running clean, the other
gets a 1-sigma offset on its flow sensor for two windows, then recovers. The shifted one must start and
then stop drifting on its flow features; the clean one must never drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import topics
from contracts.signing import save_public_key
from hub.settings import HubSettings, load_settings
from tests.drift.helpers import FLOW_SIGMA, Equipment, trained, write_bundle_tar, write_manifest_dir
from tests.harness import HarnessPki, MosquittoBroker, unique_id, wait_until
from tests.hub.conftest import SECURITY, metric, mqtt_settings, register, running_hub

pytestmark = pytest.mark.integration
T0 = 1_700_000_000_000 // 100_000 * 100_000
SHIFT = {"flow_rate_rms": FLOW_SIGMA}


def settings_for(tmp_path: Path, broker: MosquittoBroker, case: str, request: pytest.FixtureRequest) -> HubSettings:
    common: dict[str, Any] = {
        "data_dir": tmp_path / "hub", "log_format": "text", "security": SECURITY,
        "mqtt": mqtt_settings(broker, unique_id("hub")), "ingest": {"batch_max_ms": 20},
    }
    if case == "postgres+influxdb1+registry":
        influxd = request.getfixturevalue("influxd")
        key = Ed25519PrivateKey.generate()
        save_public_key(key.public_key(), tmp_path / "release.pub")
        request.node.release_key = key
        return load_settings(
            **common, database_url=request.getfixturevalue("postgres_url"),
            series={"backend": "influxdb1", "url": influxd.url, "database": request.getfixturevalue("influx_database")},
            registry={"release_keys": [tmp_path / "release.pub"]},
        )
    return load_settings(
        **common, database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        series={"backend": "sqlite", "sqlite_path": tmp_path / "series.db"},
        drift={"manifest_dir": write_manifest_dir(trained(), tmp_path / "manifests")},
    )


@pytest.mark.parametrize("case", ["sqlite+sqlite+manifest_dir", "postgres+influxdb1+registry"])
def test_shifted_stream_drifts_and_recovers_clean_stream_does_not(
    case: str, tmp_path: Path, pki: HarnessPki, mosquitto: MosquittoBroker, mqtt_client: Any,
    request: pytest.FixtureRequest,
) -> None:
    model = trained()
    gw = pki.unique_gateway_id("drift")
    settings = settings_for(tmp_path, mosquitto, case, request)
    clean, shifted = (Equipment(model, gw, name, start_ms=T0) for name in ("pump-clean", "pump-shifted"))
    shifted.seq = 10_000  # one seq counter per gateway on a real agent: keep the two apart
    topic = topics.up(gw, topics.UpKind.SKETCH)

    with running_hub(settings) as api, mqtt_client(pki.issue(gw)) as agent:
        register(api, gw, site="lyon")
        if case.endswith("registry"):
            tar = write_bundle_tar(model, tmp_path / "pump.tar", request.node.release_key)
            published = api.post("/api/v1/models", content=tar.read_bytes())
            assert published.status_code == 201, published.text

        def publish(windows: int, shift: dict[str, float] | None) -> None:
            for _ in range(windows):
                agent.publish(topic, clean.sketch(1000).to_bytes())
                agent.publish(topic, shifted.sketch(1000, shift).to_bytes())

        def drifting() -> set[tuple[str, str]]:
            rows = api.get("/api/v1/drift", params={"gateway": gw, "drifting": True}).json()
            return {(r["equipment"], r["feature"]) for r in rows}

        def evaluated() -> float:
            return metric(api, "vigie_hub_drift_windows_total", outcome="evaluated")

        publish(2, None)
        publish(2, SHIFT)
        wait_until(lambda: evaluated() >= 8, timeout=20, what="8 sketch windows evaluated")
        flagged = drifting()
        assert ("pump-shifted", "flow_rate_rms") in flagged
        assert {eq for eq, _f in flagged} == {"pump-shifted"}
        assert all(f.startswith(("flow_rate_rms", "score")) for _eq, f in flagged)

        status = api.get("/api/v1/drift", params={"gateway": gw, "equipment": "pump-shifted"}).json()
        flow = next(s for s in status if s["feature"] == "flow_rate_rms")
        assert flow["drifting"] and flow["psi"] > 0.2 and flow["n"] == 1000 and flow["site"] == "lyon"
        assert flow["model_version"] == "1.0.0" and status[0]["drifting"]  # drifting first

        publish(3, None)
        wait_until(lambda: evaluated() >= 14, timeout=20, what="14 sketch windows evaluated")
        assert drifting() == set()

        events = api.get("/api/v1/events", params={"gateway": gw, "limit": 200}).json()["items"]
        kinds = {(e["kind"], e["equipment"], e["detail"].split(" ")[1]) for e in events}
        starts = {(eq, f) for k, eq, f in kinds if k == "drift_start"}
        ends = {(eq, f) for k, eq, f in kinds if k == "drift_end"}
        assert starts == ends == flagged
        assert {e["severity"] for e in events if e["kind"] == "drift_start"} == {"warning"}
        assert api.get("/api/v1/quarantine", params={"gateway": gw}).json()["items"] == []
