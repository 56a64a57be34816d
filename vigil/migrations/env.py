"""Alembic environment: the URL comes from the caller's config (see vigil.db.engine.run_migrations)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from vigil.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
