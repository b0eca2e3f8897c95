"""SQL side of ingest: apply one batch's `SqlPlan` in one transaction, idempotently.

Redelivered messages must not duplicate rows: events are unique on (gateway, seq, idx), quarantine on
(topic, payload sha256), equipment on (gateway, id); a state only replaces an older `state_seq`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub.db.engine import session_scope
from hub.db.models import EquipmentRecord, EventRecord, GatewayRecord, QuarantineRecord
from hub.ingest.pipeline import EventEntry, GatewayInfo, QuarantineEntry, SqlPlan, StateUpdate

_gateways = GatewayRecord.__table__  # type: ignore[attr-defined]
_equipment = EquipmentRecord.__table__  # type: ignore[attr-defined]
_events = EventRecord.__table__  # type: ignore[attr-defined]
_quarantine = QuarantineRecord.__table__  # type: ignore[attr-defined]


class IngestDb:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def gateways(self) -> dict[str, GatewayInfo]:
        """Registered gateways (for the ingest registry cache)."""
        with session_scope(self.engine) as session:
            rows = session.execute(select(_gateways.c.id, _gateways.c.site, _gateways.c.cohort)).all()
        return {r.id: GatewayInfo(r.id, r.site, r.cohort) for r in rows}

    def apply(self, plan: SqlPlan) -> None:
        """Raise DatabaseError (transient) if anything fails; nothing is committed then."""
        with session_scope(self.engine) as session:
            self._quarantine(session, plan.quarantine)
            self._last_seen(session, plan.last_seen)
            self._equipment(session, plan.equipment_seen)
            self._events(session, plan.events)
            for state in plan.states:
                self._state(session, state)

    def _insert(self, table: Any) -> Any:
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def _quarantine(self, session: Session, entries: list[QuarantineEntry]) -> None:
        if not entries:
            return
        rows = [
            {
                "received_at_ms": e.received_ms,
                "topic": e.topic,
                "gateway_id": e.gateway,
                "reason_code": e.code,
                "field": e.field,
                "reason": e.reason,
                "excerpt": e.excerpt,
                "payload_size": e.size,
                "payload_sha256": e.sha256,
            }
            for e in entries
        ]
        statement = self._insert(_quarantine).on_conflict_do_nothing(index_elements=["topic", "payload_sha256"])
        session.execute(statement, rows)

    def _last_seen(self, session: Session, last_seen: dict[str, int]) -> None:
        for gateway, ms in last_seen.items():
            column = _gateways.c.last_seen_ms
            session.execute(
                update(_gateways)
                .where(and_(_gateways.c.id == gateway, or_(column.is_(None), column < ms)))
                .values(last_seen_ms=ms)
            )

    def _equipment(self, session: Session, seen: dict[tuple[str, str], tuple[str, int]]) -> None:
        if not seen:
            return
        rows = [
            {"gateway_id": gw, "id": eq, "site": site, "first_seen_ms": ms, "last_seen_ms": ms, "status": "normal"}
            for (gw, eq), (site, ms) in seen.items()
        ]
        statement = self._insert(_equipment)
        newer = statement.excluded.last_seen_ms
        statement = statement.on_conflict_do_update(
            index_elements=["gateway_id", "id"],
            set_={"last_seen_ms": case((newer > _equipment.c.last_seen_ms, newer), else_=_equipment.c.last_seen_ms)},
        )
        session.execute(statement, rows)

    def _events(self, session: Session, events: list[EventEntry]) -> None:
        if not events:
            return
        rows = [
            {
                "gateway_id": e.gateway,
                "site": e.site,
                "seq": e.seq,
                "idx": e.idx,
                "kind": e.kind,
                "severity": e.severity,
                "ts_ms": e.ts_ms,
                "equipment": e.equipment,
                "model": e.model,
                "model_version": e.model_version,
                "score": e.score,
                "detail": e.detail,
                "received_at_ms": e.received_ms,
            }
            for e in events
        ]
        statement = self._insert(_events).on_conflict_do_nothing(index_elements=["gateway_id", "seq", "idx"])
        session.execute(statement, rows)
        for e in sorted(events, key=lambda ev: ev.ts_ms):
            if e.equipment and e.kind in ("anomaly_start", "anomaly_end"):
                status = "anomaly" if e.kind == "anomaly_start" else "normal"
                self._equipment_status(session, e.gateway, e.equipment, status, e.ts_ms)

    def _equipment_status(self, session: Session, gateway: str, equipment: str, status: str, ts_ms: int) -> None:
        since = _equipment.c.status_since_ms
        session.execute(
            update(_equipment)
            .where(_equipment.c.gateway_id == gateway, _equipment.c.id == equipment)
            .where(or_(since.is_(None), since <= ts_ms))
            .values(status=status, status_since_ms=ts_ms)
        )

    def _state(self, session: Session, state: StateUpdate) -> None:
        seq = _gateways.c.state_seq
        result = session.execute(
            update(_gateways)
            .where(_gateways.c.id == state.gateway, or_(seq.is_(None), seq < state.seq))
            .values(state_seq=state.seq, online=state.online, reported_state=state.state)
        )
        if getattr(result, "rowcount", 0) == 0:
            return  # an older or repeated state: the newer one already applied
        for equipment in state.unavailable:
            self._equipment_status(session, state.gateway, equipment, "unavailable", state.ts_ms)
        for equipment in state.available:
            self._recover(session, state.gateway, equipment, state.ts_ms)

    def _recover(self, session: Session, gateway: str, equipment: str, ts_ms: int) -> None:
        session.execute(
            update(_equipment)
            .where(_equipment.c.gateway_id == gateway, _equipment.c.id == equipment)
            .where(_equipment.c.status == "unavailable")
            .values(status="normal", status_since_ms=ts_ms)
        )
