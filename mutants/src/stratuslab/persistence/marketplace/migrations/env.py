"""Alembic environment of the marketplace database; version table `mp_alembic_version`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from stratuslab.persistence.marketplace.tables import metadata

VERSION_TABLE = "mp_alembic_version"
config = context.config


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        _migrate(conn)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        _migrate(connection)


run()
