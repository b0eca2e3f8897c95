"""Alembic environment: uses the connection handed over by `hub.db.migrate.upgrade`."""

from alembic import context
from sqlmodel import SQLModel

# Imported for their side effect: each registers its tables on SQLModel.metadata.
import hub.audit.store  # security layer: audit tables
import hub.db.models  # hub: gateways, equipment, events, quarantine
import hub.registry.models  # model lifecycle: model_versions
import hub.rollout.store  # model lifecycle: rollouts, rollout_gates, desired_states
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
