"""Unit tests of `vigie.broker` / `vigie broker config` (generated text; the real broker is in test_broker_acl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigie import broker, pki
from vigie._errors import BrokerConfigError
from vigie.cli import cli


def _directives(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    pki.init_pki(tmp_path / "pki")
    return tmp_path / "pki"


def test_config_has_only_an_mtls_listener(tmp_path: Path, pki_dir: Path) -> None:
    s = broker.settings_for(tmp_path / "conf", port=18883, pki_dir=pki_dir, user="root")
    files = broker.write_broker_config(tmp_path / "conf", s)
    lines = _directives(files.config.read_text())
    listeners = [line for line in lines if line.startswith("listener ")]
    assert listeners == ["listener 18883 127.0.0.1"]
    for expected in ("require_certificate true", "use_identity_as_username true", "allow_anonymous false",
                     "tls_version tlsv1.2", "set_tcp_nodelay true", f"crlfile {pki_dir.absolute()}/crl.pem",
                     f"cafile {pki_dir.absolute()}/ca.crt", "max_queued_messages 0", "user root",
                     f"acl_file {files.acl}", "persistence false"):
        assert expected in lines, expected
    assert not [line for line in lines if line.startswith("port ")]


def test_acl_confines_gateways_and_opens_hub(tmp_path: Path, pki_dir: Path) -> None:
    files = broker.write_broker_config(tmp_path, broker.settings_for(tmp_path, port=8883, pki_dir=pki_dir))
    lines = _directives(files.acl.read_text())
    assert lines == ["user vigie-hub", "topic read vigie/v1/+/up/#", "topic write vigie/v1/+/down/#",
                     "pattern write vigie/v1/%u/up/#", "pattern read vigie/v1/%u/down/#"]


def test_persistence_and_limits(tmp_path: Path, pki_dir: Path) -> None:
    s = broker.settings_for(tmp_path, port=8883, pki_dir=pki_dir, data_dir=tmp_path / "data",
                            max_queued_messages=100000, max_inflight_messages=50)
    lines = _directives(broker.write_broker_config(tmp_path, s).config.read_text())
    assert "persistence true" in lines and f"persistence_location {tmp_path / 'data'}/" in lines
    assert "max_queued_messages 100000" in lines and "max_inflight_messages 50" in lines
    assert (tmp_path / "data").is_dir()


def test_errors(tmp_path: Path, pki_dir: Path) -> None:
    with pytest.raises(BrokerConfigError, match="vigie pki init"):
        broker.write_broker_config(tmp_path, broker.settings_for(tmp_path, port=8883, pki_dir=tmp_path / "none"))
    with pytest.raises(BrokerConfigError, match="port"):
        broker.render_config(broker.settings_for(tmp_path, port=0, pki_dir=pki_dir))
    with pytest.raises(BrokerConfigError, match="spaces"):
        broker.render_config(broker.settings_for(tmp_path / "a b", port=1, pki_dir=pki_dir))


def test_cli(tmp_path: Path, pki_dir: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(cli, ["broker", "config", "--help"])
    assert help_text.exit_code == 0 and "--data-dir" in help_text.output and "--user" in help_text.output
    assert runner.invoke(cli, ["broker", "--help"]).exit_code == 0
    ok = runner.invoke(cli, ["broker", "config", str(tmp_path / "c"), "--port", "18884", "--pki", str(pki_dir),
                             "--json"])
    assert ok.exit_code == 0, ok.output
    assert Path(json.loads(ok.output)["config"]).is_file()
    missing = runner.invoke(cli, ["broker", "config", str(tmp_path / "d"), "--port", "18884"])
    assert missing.exit_code == 3
    assert runner.invoke(cli, ["broker", "config", str(tmp_path / "e"), "--port", "0"]).exit_code == 2
