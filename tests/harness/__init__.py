"""Test harness shared by every area: real Mosquitto, influxd and PostgreSQL, and MQTT test clients.

Fixtures (defined in `tests/conftest.py`, available to every test under `tests/`):

    pki                    session   HarnessPki: .dir .paths .ca .crl .hub; .issue(id) -> ClientCert(cert, key,
                                     common_name), .issue_expired(id), .revoke(id), .unique_gateway_id(prefix)
    mosquitto              session   MosquittoBroker started on a free port: .host .port .ca .hub .pki .log_path;
                                     do not stop it (use mosquitto_restartable for outages)
    mosquitto_restartable  function  its own MosquittoBroker (same PKI, persistence on): .stop() .start() .kill()
                                     .restart() .reload(); the port never changes
    mqtt_client            function  factory: mqtt_client(cert, key=None, broker=None, **kw) -> context manager
                                     yielding MqttTestClient (.subscribe .publish .collect .wait_for .received)
    influxd                session   InfluxD: .url .query() .write() .create_database() .drop_database()
    influxd_restartable    function  its own InfluxD with .stop() .start() .kill() .restart()
    influx_database        function  name of a fresh database on the session influxd, dropped afterwards
    postgres_server        session   PostgresServer: .create_database() -> PostgresDatabase, .drop_database()
    postgres_database      function  PostgresDatabase(name, dsn, url), dropped (WITH FORCE) afterwards
    postgres_url           function  postgres_database.url (SQLAlchemy URL, driver psycopg 3)

Plain helpers for code outside fixtures: `wait_until`, `unique_id`, `free_port`, `mqtt_client`,
`connect`, `try_connect`.
"""

from tests.harness._util import free_port, unique_id, wait_until
from tests.harness.influx import InfluxD, InfluxError
from tests.harness.mosquitto import MosquittoBroker
from tests.harness.mqtt import (
    ConnectOutcome,
    MqttConnectError,
    MqttTestClient,
    Received,
    connect,
    mqtt_client,
    try_connect,
)
from tests.harness.pki import ClientCert, HarnessPki
from tests.harness.postgres import PostgresDatabase, PostgresServer

__all__ = [
    "ClientCert",
    "ConnectOutcome",
    "HarnessPki",
    "InfluxD",
    "InfluxError",
    "MosquittoBroker",
    "MqttConnectError",
    "MqttTestClient",
    "PostgresDatabase",
    "PostgresServer",
    "Received",
    "connect",
    "free_port",
    "mqtt_client",
    "try_connect",
    "unique_id",
    "wait_until",
]
