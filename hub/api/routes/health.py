"""Liveness, readiness and Prometheus metrics (outside /api/v1, no role: scraped by infrastructure)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from hub._errors import HubError
from hub.api.deps import ContextDep
from hub.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Health}})
def readyz(context: ContextDep, response: Response) -> Health:
    """Ready when the database, the series store and (if ingest runs) the broker are reachable."""
    checks = {"database": _check_database(context), "series": _check_store(context)}
    if context.ingest is not None:
        checks["broker"] = "ok" if context.ingest.source.connected else "not connected"
        checks["ingest"] = "ok" if context.ingest.worker.alive else "worker stopped"
    ok = all(v == "ok" for v in checks.values())
    response.status_code = 200 if ok else 503
    return Health(status="ok" if ok else "unavailable", checks=checks)


@router.get("/metrics", response_class=Response)
def metrics(context: ContextDep) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _check_database(context: ContextDep) -> str:
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_store(context: ContextDep) -> str:
    try:
        context.store.ping()
    except HubError as exc:
        return f"error: {str(exc)[:200]}"
    return "ok"
