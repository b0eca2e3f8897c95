"""Helpers for tests and demos that drive the API in-process: give a client a credential of some role.

    with TestClient(create_app(settings)) as client:
        authorize(client)                   # admin service account + API token in the Authorization header
"""

from __future__ import annotations

import uuid
from typing import Any

from hub.security.roles import Role
from hub.security.service import security_of


def service_token(app: Any, role: Role = Role.ADMIN, name: str | None = None) -> str:
    """Create a service account of `role` in the running app's database and return a new API token for it."""
    security = security_of(app)
    if security is None:
        raise RuntimeError("the app's lifespan is not running (use `with TestClient(app) as client:`)")
    name = name or f"test-{role.value}-{uuid.uuid4().hex[:8]}"
    if security.users.get(name) is None:
        security.users.add(name, Role(role), None, "service")
    token, _info = security.users.create_token(name, "tests")
    return token


def authorize(client: Any, role: Role = Role.ADMIN, name: str | None = None) -> str:
    """Set `Authorization: Bearer <token of a new service account of role>` on a TestClient/httpx client."""
    token = service_token(client.app, role, name)
    client.headers["Authorization"] = f"Bearer {token}"
    return token
