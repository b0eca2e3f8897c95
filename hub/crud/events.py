"""Events and alerts reported by agents, and quarantined messages: newest first, keyset pagination."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from hub.api.schemas import EventOut, QuarantineOut
from hub.db.models import EventRecord, QuarantineRecord


@dataclass(frozen=True, slots=True)
class EventFilter:
    gateway: str | None = None
    site: str | None = None
    equipment: str | None = None
    kind: str | None = None
    severity: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


def events(session: Session, f: EventFilter, limit: int, before_id: int | None) -> list[EventOut]:
    query = select(EventRecord).order_by(col(EventRecord.id).desc()).limit(limit)
    for column, value in (
        (EventRecord.gateway_id, f.gateway),
        (EventRecord.site, f.site),
        (EventRecord.equipment, f.equipment),
        (EventRecord.kind, f.kind),
        (EventRecord.severity, f.severity),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.start_ms is not None:
        query = query.where(col(EventRecord.ts_ms) >= f.start_ms)
    if f.end_ms is not None:
        query = query.where(col(EventRecord.ts_ms) < f.end_ms)
    if before_id is not None:
        query = query.where(col(EventRecord.id) < before_id)
    return [_event(r) for r in session.exec(query).all()]


def quarantine(
    session: Session, gateway: str | None, reason_code: str | None, limit: int, before_id: int | None
) -> list[QuarantineOut]:
    query = select(QuarantineRecord).order_by(col(QuarantineRecord.id).desc()).limit(limit)
    if gateway is not None:
        query = query.where(QuarantineRecord.gateway_id == gateway)
    if reason_code is not None:
        query = query.where(QuarantineRecord.reason_code == reason_code)
    if before_id is not None:
        query = query.where(col(QuarantineRecord.id) < before_id)
    return [_quarantined(r) for r in session.exec(query).all()]


def _event(r: EventRecord) -> EventOut:
    assert r.id is not None
    return EventOut(
        id=r.id,
        gateway=r.gateway_id,
        site=r.site,
        seq=r.seq,
        kind=r.kind,
        severity=r.severity,
        ts_ms=r.ts_ms,
        equipment=r.equipment,
        model=r.model,
        model_version=r.model_version,
        score=r.score,
        detail=r.detail,
        received_at_ms=r.received_at_ms,
    )


def _quarantined(r: QuarantineRecord) -> QuarantineOut:
    assert r.id is not None
    return QuarantineOut(
        id=r.id,
        received_at_ms=r.received_at_ms,
        topic=r.topic,
        gateway=r.gateway_id,
        reason_code=r.reason_code,
        field=r.field,
        reason=r.reason,
        excerpt=r.excerpt,
        payload_size=r.payload_size,
        payload_sha256=r.payload_sha256,
    )
