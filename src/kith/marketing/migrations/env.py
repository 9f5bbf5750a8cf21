"""Alembic environment for the marketing database; `kith.migrate` passes the connection in."""

from alembic import context

from kith.marketing.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
