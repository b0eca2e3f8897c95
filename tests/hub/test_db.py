"""Migrations and the ingest SQL sink on SQLite and PostgreSQL: idempotent under redelivery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from hub.db import make_engine, session_scope, upgrade
from hub.db.migrate import current
from hub.db.models import EquipmentRecord, EventRecord, GatewayRecord, QuarantineRecord
from hub.ingest.pipeline import Accepted, GatewayInfo, Inbound, Rejection, classify, quarantine_entry, sql_plan
from hub.ingest.sink import IngestDb
from tests.hub import traffic


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    made = make_engine(sql_url)
    upgrade(made)
    yield made
    made.dispose()


def accepted(message: object, kind: str, received: int = 1000) -> Accepted:
    info = GatewayInfo("gw-1", "paris", "green")
    result = classify(Inbound(f"vigie/v1/gw-1/up/{kind}", message.to_bytes(), 1, 1, 1, received),  # type: ignore[attr-defined]
                      lambda g: info if g == "gw-1" else None)
    assert isinstance(result, Accepted)
    return result


def test_migrations_create_the_tables_and_are_repeatable(engine: Engine) -> None:
    assert current(engine) is not None
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"gateways", "equipment", "events", "quarantine", "alembic_version"} <= tables


def test_sink_is_idempotent_and_orders_states(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(GatewayRecord(id="gw-1", site="paris", cohort="green", registered_at_ms=0))
    db = IngestDb(engine)
    assert db.gateways() == {"gw-1": GatewayInfo("gw-1", "paris", "green")}
    bad = Inbound("vigie/v1/gw-1/up/scores", b"\x00not json", 2, 1, 1, 1000)
    entry = quarantine_entry(bad, Rejection("not_json", "", "not valid UTF-8 JSON"), 512)
    batch = [accepted(traffic.scores("gw-1", 1), "scores"), accepted(traffic.events("gw-1", 2), "events"),
             accepted(traffic.state("gw-1", 5, ts_ms=10), "state")]
    for _ in range(2):  # a redelivered batch changes nothing
        db.apply(sql_plan(batch, [entry]))
    db.apply(sql_plan([accepted(traffic.state("gw-1", 4, online=False), "state", received=2000)], []))

    with session_scope(engine) as session:
        assert len(session.exec(select(EventRecord)).all()) == 2  # type: ignore[call-overload]
        [quarantined] = session.exec(select(QuarantineRecord)).all()  # type: ignore[call-overload]
        gateway = session.get(GatewayRecord, "gw-1")
        equipment = session.get(EquipmentRecord, ("gw-1", "pump-1"))
    assert quarantined[0].excerpt == "\\x00not json"
    assert gateway is not None and (gateway.state_seq, gateway.online, gateway.last_seen_ms) == (5, True, 2000)
    assert equipment is not None and (equipment.status, equipment.first_seen_ms) == ("anomaly", 1000)
