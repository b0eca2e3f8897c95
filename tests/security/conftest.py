"""Security fixtures: a hub app without ingest (no broker needed), users of each role, SQL backends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.security.roles import Role
from hub.security.service import SecurityContext
from hub.settings import HubSettings, load_settings

ADMIN, ADMIN_PASSWORD = "sec-admin", "sec-admin-password-0123"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQL database of the hub: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def security_settings(tmp_path: Path, sql: str | None = None, **security: Any) -> HubSettings:
    return load_settings(
        data_dir=tmp_path / "hub",
        database_url=sql or f"sqlite:///{tmp_path / 'hub.db'}",
        log_format="text",
        series={"backend": "sqlite", "sqlite_path": tmp_path / "series.db"},
        ingest={"enabled": False},
        security={"bootstrap_admin": ADMIN, "bootstrap_admin_password": ADMIN_PASSWORD, **security},
    )


@contextlib.contextmanager
def running(settings: HubSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def security_of(client: TestClient) -> SecurityContext:
    context: SecurityContext = client.app.state.security  # type: ignore[attr-defined]
    return context


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_token(client: TestClient, role: Role, name: str | None = None) -> str:
    """A person of `role` (created if needed) and a fresh access token for them, without the argon2 login."""
    security = security_of(client)
    name = name or f"u-{role.value}"
    if security.users.get(name) is None:
        security.users.add(name, role, f"password-of-{name}-123")
    return security.tokens.issue(name, role, "access")


@pytest.fixture(scope="module")
def hub_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One hub (SQLite) per test module: tests that change users use their own user names."""
    with running(security_settings(tmp_path_factory.mktemp("sec-hub"))) as client:
        yield client


@pytest.fixture(scope="module")
def role_tokens(hub_client: TestClient) -> dict[Role, str]:
    return {role: user_token(hub_client, role) for role in Role}
