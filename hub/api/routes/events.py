from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contracts.limits import MAX_TIMESTAMP_MS
from hub.api.deps import READER, SessionDep
from hub.api.schemas import EventPage, QuarantinePage
from hub.crud import events as crud

BeforeId = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="id from next_before_id")]

router = APIRouter(tags=["events"], dependencies=[READER])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/events")
def list_events(
    session: SessionDep,
    gateway: str | None = None,
    site: str | None = None,
    equipment: str | None = None,
    kind: str | None = None,
    severity: Annotated[str | None, Query(pattern="^(alert|warning|info)$")] = None,
    start: Annotated[int | None, Query(ge=0, le=MAX_TIMESTAMP_MS)] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_TIMESTAMP_MS)] = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> EventPage:
    """Events reported by agents (anomaly start/end, model swaps and failures...), newest first.

    `severity=alert` lists the alerts: anomaly starts and model load/verify failures.
    """
    f = crud.EventFilter(gateway, site, equipment, kind, severity, start, end)
    items = crud.events(session, f, limit, before_id)
    return EventPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)


@router.get("/quarantine", tags=["quarantine"])
def list_quarantine(
    session: SessionDep,
    gateway: str | None = None,
    reason_code: str | None = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> QuarantinePage:
    """Messages that were not ingested (malformed, over limits, unregistered or mismatched gateway), newest first."""
    items = crud.quarantine(session, gateway, reason_code, limit, before_id)
    return QuarantinePage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
