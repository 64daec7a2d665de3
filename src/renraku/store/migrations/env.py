"""Alembic environment: runs on the connection renraku hands it (see renraku.store.engine.migrate)."""

from __future__ import annotations

from alembic import context

from renraku.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - renraku always passes a connection
    raise RuntimeError("renraku migrations run through renraku.store.engine.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
