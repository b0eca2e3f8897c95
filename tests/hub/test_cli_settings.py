"""`vigie hub` commands and settings sources (TOML file, environment, production checks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub._errors import ConfigError
from hub.settings import check_production, load_settings, production_problems
from vigie.cli import cli


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{extra}')
    return path


def test_toml_then_environment_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(tmp_path, '[series]\nbackend = "influxdb1"\ndatabase = "from_file"\n[mqtt]\nport = 1883\n')
    monkeypatch.setenv("VIGIE_HUB_SERIES__DATABASE", "from_env")
    settings = load_settings(path, mode="dev")
    assert (settings.series.backend, settings.series.database, settings.mqtt.port) == ("influxdb1", "from_env", 1883)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'data' / 'hub.db'}"


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(config(tmp_path, '[series]\nbackend = "mongodb"\n'))
    assert raised.value.field == "series.backend"
    with pytest.raises(ConfigError, match="--config"):
        load_settings(tmp_path / "missing.toml")


def test_production_refuses_dev_secrets_and_insecure_switches() -> None:
    settings = load_settings(mode="production", database_url="postgresql+psycopg://vigie:changeme@db/vigie",
                             mqtt={"tls_insecure": True}, ingest={"test_only_write_delay_ms": 5},
                             series={"backend": "influxdb1", "username": "u", "password": "vigie"})
    fields = {p.field for p in production_problems(settings)}
    assert {"mqtt.tls_insecure", "mqtt.ca_file", "database_url", "series.password",
            "ingest.test_only_write_delay_ms"} <= fields
    with pytest.raises(ConfigError):
        check_production(settings)
    assert production_problems(load_settings(mode="dev", mqtt={"tls_insecure": True})) == []


def test_gateway_add_and_list(tmp_path: Path, pki: object) -> None:
    path = str(config(tmp_path))
    runner = CliRunner()
    cert = pki.issue("paris-cli-1")  # type: ignore[attr-defined]
    added = runner.invoke(cli, ["hub", "gateway", "add", "paris-cli-1", "--site", "paris", "--cohort", "green",
                                "--cert", str(cert.cert), "--config", path, "--json"])
    assert added.exit_code == 0, added.output
    assert len(json.loads(added.output)["cert_fingerprint"]) == 64
    again = runner.invoke(cli, ["hub", "gateway", "add", "paris-cli-1", "--site", "paris", "--config", path])
    assert again.exit_code == 1 and "already registered" in again.output
    wrong_cn = runner.invoke(cli, ["hub", "gateway", "add", "lyon-cli-1", "--site", "lyon",
                                   "--cert", str(cert.cert), "--config", path])
    assert wrong_cn.exit_code == 1 and "CN" in wrong_cn.output
    listed = runner.invoke(cli, ["hub", "gateway", "list", "--config", path, "--json"])
    assert [(g["id"], g["cohort"], g["status"]) for g in json.loads(listed.output)] == [
        ("paris-cli-1", "green", "never_seen")]
    table = runner.invoke(cli, ["hub", "gateway", "list", "--config", path])
    assert "paris-cli-1" in table.output


def test_serve_refuses_insecure_production_with_exit_3(tmp_path: Path) -> None:
    path = str(config(tmp_path, 'mode = "production"\n[mqtt]\ntls_insecure = true\n'))
    result = CliRunner().invoke(cli, ["hub", "serve", "--config", path])
    assert result.exit_code == 3
    assert "refusing to start" in result.output and "mqtt." in result.output


def test_db_upgrade(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["hub", "db", "upgrade", "--config", str(config(tmp_path))])
    assert result.exit_code == 0 and "revision" in result.output
