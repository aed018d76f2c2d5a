"""Alembic environment: runs on the connection handed in by reelsmith.jobs.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from reelsmith.jobs.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is None:  # `alembic` CLI use: take the URL from the config
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn2:
            context.configure(connection=conn2, target_metadata=target_metadata,
                              render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
