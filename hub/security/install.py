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
    inner: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        from hub.security.deps import check_routes

        async with inner(application) as state:
            check_routes(application.routes)
            hub_context = application.state.hub
            witnesses = extra_witnesses(hub_context) if extra_witnesses is not None else []
            security = open_security(security_settings, keys, hub_context.engine, settings.data_dir, witnesses)
            application.state.security = security
            try:
                yield state
            finally:
                close_security(security)

    app.router.lifespan_context = lifespan
