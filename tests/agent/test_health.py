"""`/healthz`, Prometheus `/metrics` (own registry) and JSON logs of a running agent."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from edge_agent.logs import JsonFormatter
from tests.agent.helpers import agent_config, desired, desired_topic, running_agent, simulated, up_filter, wait_for


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.integration
def test_health_and_metrics_on_localhost(tmp_path, pki, mosquitto, mqtt_client, keys_dir, bundles) -> None:
    gateway = pki.unique_gateway_id("hlt")
    config = agent_config(tmp_path / "cfg", gateway, mosquitto, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          [simulated("p1", 1, max_readings=100)])
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config) as agent:
            wait_for(lambda: agent.counts.readings_in == 100, what="readings processed")
            status, body = _get(agent.health.port, "/healthz")
            health = json.loads(body)
            assert status == 200 and health["status"] == "ok" and health["online"] is True
            assert health["active"] == {"name": "pump", "version": "1.0.0"}
            status, text = _get(agent.health.port, "/metrics")
            metrics = text.decode()
            assert status == 200
            assert "vigie_agent_readings_total 100.0" in metrics
            assert 'vigie_agent_model_info{model="pump",slot="active",version="1.0.0"} 1.0' in metrics
            assert 'vigie_agent_model_score_latency_us{model="pump",quantile="0.99",version="1.0.0"}' in metrics
            assert 'vigie_agent_unscoreable_total{reason="warmup"}' in metrics
            assert "vigie_agent_mqtt_connected 1.0" in metrics
            assert "python_gc_objects_collected_total" not in metrics  # not the global registry
            assert _get(agent.health.port, "/nope")[0] == 404
        hub.publish(desired_topic(gateway), b"", retain=True)


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.LogRecord("vigie.agent", logging.WARNING, __file__, 1, "source unavailable", (), None)
    record.equipment = "p1"
    line = json.loads(JsonFormatter("gw-1").format(record))
    assert line["msg"] == "source unavailable" and line["equipment"] == "p1" and line["gateway"] == "gw-1"
    assert line["level"] == "warning" and line["ts"].endswith("+00:00")
