"""Alembic environment: runs on the connection :func:`committee.db.upgrade` hands in, or on
``sqlalchemy.url`` when Alembic is run by hand."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from committee.models import metadata

config = context.config


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), "sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.begin() as conn:
        run(conn)
