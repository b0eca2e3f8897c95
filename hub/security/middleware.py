"""ASGI middleware that makes every HTTP request an audit entry and tags it with a request id.

Entry `http.request`: actor and role (from the principal the role guard resolved, else "anonymous"), method,
route template (never the query string, which could hold secrets), status, duration, request id (the
client's `X-Request-ID` if well-formed, else a new one; echoed in the response) and client address.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub._errors import HubError

log = logging.getLogger("hub.audit")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            await _record(scope, state, status, elapsed_ms, request_id)


def route_template(scope: Scope) -> str:
    """The matched route's full path template (`/api/v1/gateways/{gateway_id}`), or "unmatched".

    FastAPI >= 0.16x includes routers lazily: `scope["route"]` is the route as declared in its router (without
    the include prefix), and the effective route, with the prefix, is kept in FastAPI's part of the scope.
    """
    if scope.get("route") is None:
        return "unmatched"
    from fastapi import routing

    effective = getattr(routing, "_get_scope_effective_route_context", lambda _scope: None)(scope)
    for candidate in (getattr(effective, "starlette_route", None), effective, scope["route"]):
        path = getattr(candidate, "path", None)
        if isinstance(path, str) and path:
            return path
    return "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


async def _record(scope: Scope, state: dict[str, Any], status: int, elapsed_ms: float, request_id: str) -> None:
    from hub.security.deps import Principal
    from hub.security.service import security_of

    security = security_of(scope["app"]) if "app" in scope else None
    if security is None:
        return
    principal = state.get("principal")
    data = {
        "method": scope.get("method", ""),
        "route": route_template(scope),
        "status": status,
        "ms": elapsed_ms,
        "request_id": request_id,
        "client": scope["client"][0] if scope.get("client") else "unknown",
    }
    actor, role = ("anonymous", "")
    if isinstance(principal, Principal):
        actor, role = principal.subject, principal.role.value
    try:
        await anyio.to_thread.run_sync(security.audit.append, "http.request", actor, role, data)
    except HubError as exc:
        log.error("cannot audit a request", extra={"request_id": request_id, "error": str(exc)})
