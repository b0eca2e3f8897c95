"""The /api/v1 router: one place to add a dependency to every API route."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.routes import equipment, events, gateways, series

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(gateways.router)
api_router.include_router(equipment.router)
api_router.include_router(series.router)
api_router.include_router(events.router)
