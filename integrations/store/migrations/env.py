"""Alembic environment: runs on the connection `Database.migrate()` hands over."""

from alembic import context

from integrations.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through integrations.store.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # Batch mode lets later ALTERs work on SQLite, which rewrites tables to alter them.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
