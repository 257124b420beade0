"""Alembic's environment: migrate the connection the store hands over (online only)."""

from __future__ import annotations

from alembic import context

from service.studies.store import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always passes its connection
    raise RuntimeError("run the studies' migrations through service.studies.migrations.upgrade")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
