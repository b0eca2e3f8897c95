"""Gateways: register, list, read, update."""

from __future__ import annotations

import time

from sqlmodel import Session, col, select

from hub._errors import Conflict, NotFound
from hub.api.schemas import GatewayCreate, GatewayDetail, GatewaySummary, GatewayUpdate
from hub.db.models import GatewayRecord


def register(session: Session, body: GatewayCreate) -> GatewayRecord:
    if session.get(GatewayRecord, body.id) is not None:
        raise Conflict(f"gateway {body.id!r} is already registered")
    record = GatewayRecord(
        id=body.id,
        site=body.site,
        cohort=body.cohort,
        cert_fingerprint=body.cert_fingerprint,
        registered_at_ms=int(time.time() * 1000),
    )
    session.add(record)
    session.flush()
    return record


def get(session: Session, gateway_id: str) -> GatewayRecord:
    record = session.get(GatewayRecord, gateway_id)
    if record is None:
        raise NotFound(f"gateway {gateway_id!r} is not registered")
    return record


def list_(session: Session, site: str | None = None, cohort: str | None = None) -> list[GatewayRecord]:
    query = select(GatewayRecord).order_by(col(GatewayRecord.site), col(GatewayRecord.id))
    if site is not None:
        query = query.where(GatewayRecord.site == site)
    if cohort is not None:
        query = query.where(GatewayRecord.cohort == cohort)
    return list(session.exec(query).all())


def update(session: Session, gateway_id: str, body: GatewayUpdate) -> GatewayRecord:
    record = get(session, gateway_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(record, name, value)
    session.add(record)
    session.flush()
    return record


def status(record: GatewayRecord) -> str:
    if record.last_seen_ms is None and record.online is None:
        return "never_seen"
    if record.online is None:
        return "unknown"
    return "online" if record.online else "offline"


def summary(record: GatewayRecord) -> GatewaySummary:
    return GatewaySummary(
        id=record.id,
        site=record.site,
        cohort=record.cohort,
        cert_fingerprint=record.cert_fingerprint,
        registered_at_ms=record.registered_at_ms,
        last_seen_ms=record.last_seen_ms,
        status=status(record),
        state_seq=record.state_seq,
    )


def detail(record: GatewayRecord) -> GatewayDetail:
    return GatewayDetail(**summary(record).model_dump(), reported_state=record.reported_state)
