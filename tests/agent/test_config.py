"""Config validation: every wrong value names the file, the field and the reason (exit code 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent._errors import ConfigError
from edge_agent.config import load_config
from tests.agent.helpers import render_toml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "firmware_configs").glob("*/*.toml"))


def _base(tmp_path: Path) -> dict:
    for name in ("ca.crt", "gw.crt", "gw.key", "release.pub"):
        (tmp_path / name).write_text("x")
    return {
        "gateway": {"id": "paris-gw-09", "site": "paris"},
        "broker": {"url": "mqtts://localhost:8883", "ca": "ca.crt", "cert": "gw.crt", "key": "gw.key"},
        "models": {"release_keys": ["release.pub"]},
        "equipment": [{"id": "pump-1", "source": {"type": "simulator", "seed": 1}}],
    }


def _write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(render_toml(document))
    return path


def test_valid_config_resolves_paths(tmp_path: Path) -> None:
    loaded = load_config(_write(tmp_path, _base(tmp_path)))
    cfg = loaded.agent
    assert cfg.broker.ca == tmp_path / "ca.crt"  # provisioned files: relative to the config file
    assert loaded.state_dir == tmp_path / "state" / "paris-gw-09"  # written files: in the state dir
    assert cfg.outbox.path == loaded.state_dir / "outbox.sqlite"
    assert cfg.broker.host == "localhost" and cfg.broker.port == 8883
    override = load_config(_write(tmp_path, _base(tmp_path)), state_dir=tmp_path / "var")
    assert override.agent.models.store == (tmp_path / "var" / "models").resolve()


CASES = [
    (lambda d: d["broker"].update(url="mqtt://localhost:1883"), "broker.url", "mqtts"),
    (lambda d: d["broker"].update(url="mqtts://localhost"), "broker.url", "port"),
    (lambda d: d["gateway"].update(id="bad id!"), "gateway.id", "pattern"),
    (lambda d: d["gateway"].pop("site"), "gateway.site", "required"),
    (lambda d: d["outbox"].update(strategy="keep_all") if "outbox" in d else d.update(outbox={"strategy": "x"}),
     "outbox.strategy", "reject_new"),
    (lambda d: d.update(health={"bind": "0.0.0.0"}), "health.bind", "localhost"),
    (lambda d: d["equipment"][0].update(sample_period_ms=0), "equipment[pump-1].sample_period_ms", "greater"),
    (lambda d: d["equipment"][0]["source"].update(type="opcua"), "equipment[pump-1].source", "type"),
    (lambda d: d["equipment"][0]["source"].update(faults=[{"kind": "meteor", "start": 1, "duration": 2}]),
     "equipment[pump-1].source.faults[0].kind", "valve_closure"),
    (lambda d: d["equipment"].append({"id": "pump-1", "source": {"type": "simulator"}}), "", "unique"),
    (lambda d: d["gateway"].update(colour="blue"), "gateway.colour", "Extra inputs"),
    (lambda d: d["broker"].update(ca="missing.crt"), "broker.ca", "file not found"),
]


@pytest.mark.parametrize(("mutate", "field", "reason"), CASES)
def test_bad_values_name_field_and_reason(tmp_path: Path, mutate, field: str, reason: str) -> None:
    document = _base(tmp_path)
    mutate(document)
    path = _write(tmp_path, document)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def _vigie(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigie", "agent", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_exit_code_3_with_file_field_reason(tmp_path: Path) -> None:
    document = _base(tmp_path)
    document["broker"]["url"] = "tcp://x:1"
    path = _write(tmp_path, document)
    result = _vigie("check-config", str(path))
    assert result.returncode == 3
    assert f"{path}: broker.url:" in result.stderr and "mqtts" in result.stderr
    as_json = json.loads(_vigie("check-config", "--json", str(path)).stdout)
    assert as_json == {"ok": False, "file": str(path), "field": "broker.url", "reason": as_json["reason"]}
    run = _vigie("run", "--config", str(path))
    assert run.returncode == 3 and "broker.url" in run.stderr


def test_shipped_firmware_configs_are_valid() -> None:
    assert len(SHIPPED) == 4
    total = 0
    for path in SHIPPED:
        loaded = load_config(path, check_files=False)
        total += len(loaded.agent.equipment)
        assert path.stem == loaded.agent.gateway.id and path.parent.name == loaded.agent.gateway.site
    assert 45 <= total <= 55
    result = _vigie("check-config", "--no-files", "--json", str(SHIPPED[0]))
    assert result.returncode == 0 and json.loads(result.stdout)["ok"] is True
