from __future__ import annotations

from fastapi import APIRouter, status

from hub.api.context import HubContext
from hub.api.deps import OPERATOR, READER, ContextDep, SessionDep
from hub.api.schemas import Cohort, GatewayCreate, GatewayDetail, GatewaySummary, GatewayUpdate
from hub.crud import gateways as crud

router = APIRouter(prefix="/gateways", tags=["gateways"], dependencies=[READER])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[OPERATOR],
             responses={409: {"description": "this gateway id is already registered"}})
def register_gateway(body: GatewayCreate, session: SessionDep, context: ContextDep) -> GatewayDetail:
    """Register a gateway (its id is the CN of its client certificate) with its site and cohort."""
    record = crud.register(session, body)
    session.commit()
    _registry_changed(context)
    return crud.detail(record)


@router.get("")
def list_gateways(
    session: SessionDep, site: str | None = None, cohort: Cohort | None = None
) -> list[GatewaySummary]:
    """Registered gateways with their status (from the last reported state) and last_seen."""
    return [crud.summary(r) for r in crud.list_(session, site, cohort)]


@router.get("/{gateway_id}")
def get_gateway(gateway_id: str, session: SessionDep) -> GatewayDetail:
    """One gateway, with its full last reported state (models, outbox, counters, equipment)."""
    return crud.detail(crud.get(session, gateway_id))


@router.patch("/{gateway_id}", dependencies=[OPERATOR])
def update_gateway(gateway_id: str, body: GatewayUpdate, session: SessionDep, context: ContextDep) -> GatewayDetail:
    """Change site, cohort or certificate fingerprint."""
    record = crud.update(session, gateway_id, body)
    session.commit()
    _registry_changed(context)
    return crud.detail(record)


def _registry_changed(context: HubContext) -> None:
    """Ingest in this process sees the change at once (other replicas within `ingest.registry_refresh_s`)."""
    if context.ingest is not None:
        context.ingest.registry.invalidate()
