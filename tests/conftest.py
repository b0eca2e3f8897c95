"""Shared fixtures for every test area; see `tests/harness/__init__.py` for the list and their API.

Session fixtures start each service once per test run, lazily (only if a test asks for it).
Every fixture stops or drops only what it created itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.influx import InfluxD
from tests.harness.mosquitto import MosquittoBroker
from tests.harness.mqtt import BrokerAddress, MqttTestClient
from tests.harness.mqtt import mqtt_client as _mqtt_client
from tests.harness.pki import ClientCert, HarnessPki
from tests.harness.postgres import PostgresDatabase, PostgresServer

MqttClientFactory = Callable[..., contextlib.AbstractContextManager[MqttTestClient]]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> HarnessPki:
    """The session PKI (made by `vigie.pki`); issue certs for unique ids: `pki.issue(pki.unique_gateway_id())`."""
    return HarnessPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory, pki: HarnessPki) -> Iterator[MosquittoBroker]:
    """A Mosquitto shared by the session. Never stop it from a test: use `mosquitto_restartable`."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"), pki).start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_restartable(tmp_path: Path, pki: HarnessPki) -> Iterator[MosquittoBroker]:
    """A Mosquitto for this test only (persistence on), to stop/start/kill for outage tests; same PKI and port."""
    broker = MosquittoBroker(tmp_path / "mosquitto", pki, persistence=True).start()
    yield broker
    broker.stop()


@pytest.fixture
def mqtt_client(request: pytest.FixtureRequest) -> MqttClientFactory:
    """Factory: `with mqtt_client(cert, key=None, broker=None, **connect_kwargs) as client:`.

    `cert` is a ClientCert (key taken from it), a cert path with `key`, or None (no client cert).
    `broker` defaults to the session `mosquitto` (started on first use). Other keywords go to
    `tests.harness.mqtt.connect` (client_id, protocol, clean_start, session_expiry, ca, timeout).
    """

    def factory(cert: ClientCert | Path | None, key: Path | None = None, broker: BrokerAddress | None = None,
                **kwargs: Any) -> contextlib.AbstractContextManager[MqttTestClient]:
        target = broker if broker is not None else request.getfixturevalue("mosquitto")
        return _mqtt_client(target, cert, key, **kwargs)

    return factory


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxD]:
    """An influxd shared by the session; use `influx_database` for a fresh database per test."""
    server = InfluxD(tmp_path_factory.mktemp("influxd")).start()
    yield server
    server.stop()


@pytest.fixture
def influxd_restartable(tmp_path: Path) -> Iterator[InfluxD]:
    """An influxd for this test only, to stop/start for outage tests (same ports, data kept)."""
    server = InfluxD(tmp_path / "influxd").start()
    yield server
    server.stop()


@pytest.fixture
def influx_database(influxd: InfluxD, request: pytest.FixtureRequest) -> Iterator[str]:
    """Name of a database created on the session influxd for this test, dropped afterwards."""
    from tests.harness._util import unique_id

    name = influxd.create_database(unique_id("t").replace("-", "_"))
    yield name
    influxd.drop_database(name)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """Admin access to the PostgreSQL on 127.0.0.1:5432 (never started or stopped by the harness)."""
    server = PostgresServer()
    server.check()
    return server


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A fresh database for this test: `.name`, `.dsn` (psycopg), `.url` (SQLAlchemy); dropped afterwards."""
    db = postgres_server.create_database()
    yield db
    postgres_server.drop_database(db.name)


@pytest.fixture
def postgres_url(postgres_database: PostgresDatabase) -> str:
    """SQLAlchemy URL (`postgresql+psycopg://postgres@127.0.0.1:5432/<fresh db>`) of a per-test database."""
    return postgres_database.url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the log tail of every harness service a failing test used (broker, influxd) to its report."""
    outcome: Any = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        dump = getattr(value, "failure_report", None)
        if callable(dump):
            title, text = dump()
            report.sections.append((title, text))
