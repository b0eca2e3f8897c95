"""Alembic environment: uses the connection handed over by `hub.db.migrate.upgrade`."""

from alembic import context
from sqlmodel import SQLModel

import hub.db.models  # noqa: F401 - registers the tables on SQLModel.metadata
import hub.audit.store  # noqa: F401 - security layer: audit tables
import hub.security.models  # noqa: F401 - security layer: users, api_tokens

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `vigie hub db upgrade` (hub.db.migrate.upgrade)")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
