"""Smoke tests of the shared service fixtures: influxd write/query/restart, PostgreSQL database lifecycle."""

from __future__ import annotations

import pytest

from tests.harness import InfluxD, InfluxError, PostgresDatabase, PostgresServer

pytestmark = pytest.mark.integration


def test_influxd_write_then_query(influxd: InfluxD, influx_database: str) -> None:
    influxd.write(influx_database, "score,gateway=paris-gw1,slot=active anomaly_score=0.25,is_anomaly=false "
                                   "1700000000123")
    doc = influxd.query('SELECT anomaly_score, is_anomaly FROM score WHERE "gateway" = \'paris-gw1\'',
                        db=influx_database)
    series = doc["results"][0]["series"][0]
    assert series["columns"] == ["time", "anomaly_score", "is_anomaly"]
    assert series["values"] == [[1700000000123, 0.25, False]]
    # same key (measurement, tags, timestamp) again overwrites: exactly-once storage of redeliveries
    influxd.write(influx_database, "score,gateway=paris-gw1,slot=active anomaly_score=0.5,is_anomaly=true "
                                   "1700000000123")
    again = influxd.query("SELECT anomaly_score FROM score", db=influx_database)
    assert again["results"][0]["series"][0]["values"] == [[1700000000123, 0.5]]
    with pytest.raises(InfluxError):
        influxd.query("SELEC nonsense", db=influx_database)


def test_influxd_restartable_keeps_data_and_port(influxd_restartable: InfluxD) -> None:
    server = influxd_restartable
    db = server.create_database("outage")
    server.write(db, "agent,gateway=g online=1i 1700000000000")
    url = server.url
    server.stop()
    assert not server.ping()
    server.start()
    assert server.url == url
    assert server.query("SELECT online FROM agent", db=db)["results"][0]["series"][0]["values"] == [
        [1700000000000, 1]]


def test_postgres_database_is_fresh_and_usable(postgres_database: PostgresDatabase, postgres_url: str) -> None:
    import psycopg

    assert postgres_url == postgres_database.url
    assert postgres_url.startswith("postgresql+psycopg://") and postgres_url.endswith(postgres_database.name)
    with psycopg.connect(postgres_database.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]


def test_postgres_server_drops_databases_even_with_open_connections(postgres_server: PostgresServer) -> None:
    import psycopg

    db = postgres_server.create_database("vigie_smoke")
    with psycopg.connect(postgres_server.admin_dsn) as admin, psycopg.connect(db.dsn):
        postgres_server.drop_database(db.name)   # WITH (FORCE) ends the other connection
        rows = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db.name,)).fetchall()
        assert rows == []
