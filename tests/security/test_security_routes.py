"""Every route but health, login and metrics needs the right role: walk app.routes and try each one."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from hub.security._errors import SecurityError
from hub.security.deps import PUBLIC_PATHS, RouteInfo, app_routes, check_routes
from hub.security.roles import Role
from tests.security.conftest import bearer

PUBLIC = {"/healthz", "/readyz", "/metrics", "/api/v1/auth/token", "/api/v1/auth/refresh"}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
TUF = {"/tuf", "/ui"}  # the signed TUF repository (agents), the dashboard's static files (no data)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def _routes(client: TestClient) -> list[RouteInfo]:
    return app_routes(client.app.routes)  # type: ignore[attr-defined]


def test_the_public_set_is_exactly_health_login_and_metrics() -> None:
    assert PUBLIC_PATHS == PUBLIC


def test_every_route_is_guarded_or_public(hub_client: TestClient) -> None:
    routes = _routes(hub_client)
    assert len(routes) > 15
    unguarded = {r.path for r in routes if r.dependant is not None and r.required_role is None}
    assert unguarded <= PUBLIC, f"routes without a role guard: {sorted(unguarded - PUBLIC)}"
    others = {r.path for r in routes if r.dependant is None}
    assert others <= DOCS | TUF, f"non-API routes that bypass the guard: {sorted(others - DOCS - TUF)}"
    schema_paths = set(hub_client.get("/openapi.json").json()["paths"])
    assert schema_paths <= {r.path for r in routes}


def test_every_guarded_route_refuses_no_token_and_lower_roles(hub_client: TestClient,
                                                              role_tokens: dict[Role, str]) -> None:
    checked = 0
    for route in _routes(hub_client):
        required = route.required_role
        if required is None:
            continue
        for method in sorted(route.methods):
            url = _concrete(route.path)
            response = hub_client.request(method, url)
            assert response.status_code == 401, f"{method} {route.path} without token: {response.status_code}"
            for role in Role:
                response = hub_client.request(method, url, headers=bearer(role_tokens[role]))
                if role.allows(required):
                    assert response.status_code not in (401, 403), f"{method} {route.path} as {role}"
                else:
                    assert response.status_code == 403, f"{method} {route.path} as {role}: {response.status_code}"
            checked += 1
    assert checked > 15


def test_an_unguarded_route_stops_the_app_from_starting() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/v1/leaky")
    def leaky() -> dict[str, str]:
        return {}

    with pytest.raises(SecurityError, match="/api/v1/leaky"):
        check_routes(app.routes)
