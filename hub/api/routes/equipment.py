from __future__ import annotations

from fastapi import APIRouter

from hub.api.deps import READER, SessionDep, StoreDep
from hub.api.schemas import EquipmentOut
from hub.crud import equipment as crud

router = APIRouter(prefix="/equipment", tags=["equipment"], dependencies=[READER])


@router.get("")
def list_equipment(
    session: SessionDep, store: StoreDep, site: str | None = None, gateway: str | None = None
) -> list[EquipmentOut]:
    """Equipment seen in traffic, with status (normal / anomaly / unavailable) and latest active score."""
    records = crud.list_(session, site, gateway)
    latest = crud.latest_scores(store, site, gateway) if records else {}
    return [crud.with_latest(r, latest.get((r.gateway_id, r.id))) for r in records]


@router.get("/{gateway_id}/{equipment_id}")
def get_equipment(gateway_id: str, equipment_id: str, session: SessionDep, store: StoreDep) -> EquipmentOut:
    record = crud.get(session, gateway_id, equipment_id)
    latest = crud.latest_scores(store, gateway=gateway_id)
    return crud.with_latest(record, latest.get((gateway_id, equipment_id)))
