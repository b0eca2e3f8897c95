"""Fresh PostgreSQL databases on the local server (127.0.0.1:5432, user postgres, trust auth).

The admin DSN can be overridden with VIGIE_TEST_POSTGRES_ADMIN_DSN (libpq URL to the `postgres` db).
psycopg (hub extra) is imported lazily so that gateway-only installs can still run the other tests.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from tests.harness._util import unique_id

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True, slots=True)
class PostgresDatabase:
    """A database created for a test.

    `name`; `dsn`: libpq URL for psycopg (`postgresql://postgres@127.0.0.1:5432/<name>`);
    `url`: SQLAlchemy/SQLModel URL with the psycopg 3 driver (`postgresql+psycopg://...`).
    """

    name: str
    dsn: str
    url: str


class PostgresServer:
    """The admin connection to the test server; creates and drops databases. Never starts or stops a server."""

    def __init__(self, admin_dsn: str | None = None) -> None:
        self.admin_dsn = admin_dsn or os.environ.get("VIGIE_TEST_POSTGRES_ADMIN_DSN", DEFAULT_ADMIN_DSN)
        self.created: list[str] = []

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise RuntimeError("psycopg is not installed: `uv sync --frozen --all-extras` (hub extra)") from exc
        try:
            return psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"cannot reach PostgreSQL at {self.admin_dsn} (is the server running with trust "
                               f"auth for 127.0.0.1? check `psql -h 127.0.0.1 -U postgres -c 'select 1'`): {exc}"
                               ) from exc

    def check(self) -> str:
        """Connect once and return the server version; raises RuntimeError with a clear message if unreachable."""
        with self._connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0])

    def create_database(self, prefix: str = "vigie_test") -> PostgresDatabase:
        """CREATE DATABASE with a unique name; returns its DSN and SQLAlchemy URL."""
        name = unique_id(prefix).replace("-", "_")
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        parts = urllib.parse.urlsplit(self.admin_dsn)
        dsn = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        url = urllib.parse.urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))
        return PostgresDatabase(name=name, dsn=dsn, url=url)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ... WITH (FORCE): connections a test left open do not block the cleanup."""
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)
