"""Equipment seen in traffic, with status (SQL) and latest score (series store)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from hub._errors import NotFound
from hub.api.schemas import EquipmentOut, LatestScore
from hub.db.models import EquipmentRecord
from hub.series.base import Row, SeriesStore


def list_(session: Session, site: str | None = None, gateway: str | None = None) -> list[EquipmentRecord]:
    query = select(EquipmentRecord).order_by(col(EquipmentRecord.gateway_id), col(EquipmentRecord.id))
    if site is not None:
        query = query.where(EquipmentRecord.site == site)
    if gateway is not None:
        query = query.where(EquipmentRecord.gateway_id == gateway)
    return list(session.exec(query).all())


def get(session: Session, gateway: str, equipment: str) -> EquipmentRecord:
    record = session.get(EquipmentRecord, (gateway, equipment))
    if record is None:
        raise NotFound(f"no equipment {equipment!r} on gateway {gateway!r}")
    return record


def latest_scores(
    store: SeriesStore, site: str | None = None, gateway: str | None = None
) -> dict[tuple[str, ...], Row]:
    where = {"slot": "active"}
    if site is not None:
        where["site"] = site
    if gateway is not None:
        where["gateway"] = gateway
    return store.latest("score", where, ("gateway", "equipment"))


def with_latest(record: EquipmentRecord, latest: Row | None) -> EquipmentOut:
    return EquipmentOut(
        gateway=record.gateway_id,
        id=record.id,
        site=record.site,
        status=record.status,
        status_since_ms=record.status_since_ms,
        first_seen_ms=record.first_seen_ms,
        last_seen_ms=record.last_seen_ms,
        latest=None if latest is None else _latest(latest),
    )


def _latest(row: Row) -> LatestScore:
    flag = row.fields.get("is_anomaly")
    return LatestScore(
        ts_ms=row.ts_ms,
        anomaly_score=row.fields.get("anomaly_score"),
        is_anomaly=None if flag is None else bool(flag),
        threshold=row.fields.get("threshold"),
        model=row.tags.get("model"),
        model_version=row.tags.get("model_version"),
    )
