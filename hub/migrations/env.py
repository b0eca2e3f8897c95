"""Alembic environment: uses the connection handed over by `hub.db.migrate.upgrade`."""

from alembic import context
from sqlmodel import SQLModel

import hub.db.models  # noqa: F401 - registers the tables on SQLModel.metadata

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
