"""Plug the security layer into the hub app: one call in `create_app`.

    from hub.security.install import install_security
    install_security(app, settings)      # after the routers are included

It loads the keys at once (production refuses to start without them), adds the audit middleware and the
auth, users and audit routers, and wraps the app's lifespan: after the hub's own startup (which opens the
engine) it opens the users store and the audit log, refuses to start if any API route lacks a role guard,
and on shutdown signs a final checkpoint before the hub closes the engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from hub.audit.witness import Witness
from hub.security.service import build_keys, close_security, open_security
from hub.settings import HubSettings

WitnessFactory = Callable[[Any], list[Witness]]
"""Given the hub context (from app.state.hub), the extra witnesses to publish to (e.g. MQTT)."""


def install_security(app: FastAPI, settings: HubSettings, extra_witnesses: WitnessFactory | None = None) -> None:
    from hub.audit.api import router as audit_router
    from hub.security.api import router as auth_router
    from hub.security.api import users_router
    from hub.security.middleware import AuditMiddleware

    security_settings = settings.security
    keys = build_keys(security_settings, settings.data_dir, production=settings.mode == "production")
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(audit_router)
    app.add_middleware(AuditMiddleware)
    _document_auth_responses(app)
    inner: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        from hub.security.deps import check_routes

        async with inner(application) as state:
            check_routes(application.routes)
            hub_context = application.state.hub
            witnesses = extra_witnesses(hub_context) if extra_witnesses is not None else []
            security = open_security(security_settings, keys, hub_context.engine, settings.data_dir, witnesses,
                                     settings.mqtt)
            application.state.security = security
            try:
                yield state
            finally:
                close_security(security)

    app.router.lifespan_context = lifespan


_AUTH_RESPONSES = {
    "401": {"description": "Missing, invalid or expired credentials (WWW-Authenticate: Bearer)"},
    "403": {"description": "The credentials' role does not allow this route"},
}


def _document_auth_responses(app: FastAPI) -> None:
    """Declare what the framework and the guard answer on top of each route's own responses: 401 and 403
    where a bearer credential is required, 400 where a body is parsed, 404 where a path names a resource.
    Clients and schema fuzzers rely on it; the guard itself is in hub/security/deps.py."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict):
                    continue
                responses = operation.setdefault("responses", {})
                if operation.get("security"):
                    for code, body in _AUTH_RESPONSES.items():
                        responses.setdefault(code, dict(body))
                if "requestBody" in operation:  # FastAPI answers 400 to a body it cannot parse
                    responses.setdefault("400", {"description": "The request body cannot be parsed"})
                if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                    responses.setdefault("404", {"description": "No such resource"})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
