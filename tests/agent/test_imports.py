"""The agent must stay light: after a real start, no scikit-learn, pandas, fastapi or sqlalchemy is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.agent.helpers import agent_config, desired, desired_topic, simulated, up_filter

FORBIDDEN = ("sklearn", "pandas", "fastapi", "sqlalchemy", "sqlmodel", "skl2onnx", "onnx", "hub")

SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    from pathlib import Path
    from edge_agent.agent import Agent
    from edge_agent.config import load_config
    agent = Agent(load_config(Path(sys.argv[1])))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while agent.counts.scored < 20:
        if time.monotonic() > deadline:
            sys.exit("agent did not score within 60 s")
        time.sleep(0.05)
    modules = sorted(sys.modules)
    agent.stop()
    thread.join(15)
    print(json.dumps(modules))
""")


@pytest.mark.integration
def test_running_agent_imports_no_heavy_dependency(tmp_path, pki, mosquitto, mqtt_client, keys_dir, bundles) -> None:
    gateway = pki.unique_gateway_id("imp")
    config = agent_config(tmp_path / "cfg", gateway, mosquitto, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          [simulated("p1", 1, max_readings=None)])
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        result = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], capture_output=True, text=True,
                                timeout=120, check=False)
        hub.publish(desired_topic(gateway), b"", retain=True)
    assert result.returncode == 0, result.stderr[-2000:]
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "onnxruntime" in modules and "edge_agent.transport" in modules  # it really ran
    loaded = sorted({m.split(".")[0] for m in modules} & set(FORBIDDEN))
    assert loaded == [], f"the agent imported {loaded}"
