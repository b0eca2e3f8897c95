"""Hub fixtures: settings for a hub wired to the harness services, parametrised SQL and series backends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.settings import HubSettings, load_settings
from tests.harness import ClientCert, MosquittoBroker, wait_until

SettingsFactory = Callable[..., HubSettings]
ADMIN, ADMIN_PASSWORD = "hub-test-admin", "hub-test-password-0123"
SECURITY = {"bootstrap_admin": ADMIN, "bootstrap_admin_password": ADMIN_PASSWORD}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQL database of the hub: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", pytest.param("influxdb1", marks=pytest.mark.integration)])
def series(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Series store settings: the embedded SQLite store, or a fresh database on the session influxd."""
    if request.param == "sqlite":
        return {"backend": "sqlite", "sqlite_path": tmp_path / "series.db"}
    influxd = request.getfixturevalue("influxd")
    return {"backend": "influxdb1", "url": influxd.url, "database": request.getfixturevalue("influx_database")}


def mqtt_settings(broker: MosquittoBroker, client_id: str, hub: ClientCert | None = None) -> dict[str, Any]:
    cert = hub or broker.hub
    return {
        "host": broker.host,
        "port": broker.port,
        "ca_file": broker.ca,
        "cert_file": cert.cert,
        "key_file": cert.key,
        "client_id": client_id,
        "session_expiry_s": 120,
    }


@pytest.fixture
def hub_settings(tmp_path: Path, request: pytest.FixtureRequest) -> SettingsFactory:
    """`hub_settings(broker=..., sql=..., series=..., ingest={...})` -> HubSettings for this test."""

    def factory(*, broker: MosquittoBroker | None = None, sql: str | None = None,
                series: dict[str, Any] | None = None, ingest: dict[str, Any] | None = None,
                client_id: str | None = None, **extra: Any) -> HubSettings:
        from tests.harness import unique_id

        if broker is None and (ingest or {}).get("enabled", True):
            broker = request.getfixturevalue("mosquitto")
        return load_settings(
            data_dir=tmp_path / "hub",
            database_url=sql or f"sqlite:///{tmp_path / 'hub.db'}",
            log_format="text",
            series=series or {"backend": "sqlite", "sqlite_path": tmp_path / "series.db"},
            mqtt=mqtt_settings(broker, client_id or unique_id("hub")) if broker else {},
            ingest={"batch_max_ms": 20, "backoff_initial_ms": 50, "backoff_max_ms": 500, **(ingest or {})},
            security=extra.pop("security", SECURITY),
            **extra,
        )

    return factory


@contextlib.contextmanager
def running_hub(settings: HubSettings) -> Iterator[TestClient]:
    """The app with its lifespan running (ingest connected and subscribed when ingest is enabled), logged in
    as the bootstrap admin."""
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {login(client)}"
        ingest = client.app.state.hub.ingest  # type: ignore[attr-defined]
        if ingest is not None:
            wait_until(lambda: ingest.source.connected, timeout=15, what="hub subscribed to the broker")
        yield client


def login(client: Any, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
    response = client.post("/api/v1/auth/token", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def register(client: TestClient, gateway: str, site: str = "paris", cohort: str = "green") -> None:
    response = client.post("/api/v1/gateways", json={"id": gateway, "site": site, "cohort": cohort})
    assert response.status_code == 201, response.text


def metric(client: TestClient, name: str, **labels: str) -> float:
    registry = client.app.state.hub.metrics.registry  # type: ignore[attr-defined]
    value = registry.get_sample_value(name, labels)
    return float(value or 0.0)
