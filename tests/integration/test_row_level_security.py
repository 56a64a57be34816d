"""The second tenant wall: PostgreSQL row-level security. Raw SQL under tenant B's context (the application
role, B named for the transaction) sees none of tenant A's rows in any table and cannot change or add to them,
whatever the query says; with no tenant named it sees nothing. The tables come from the catalogue, so a new
table with tenant data but no policy fails here."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from tests.conftest import SAMPLES, Tenant
from vigil.context import Context
from vigil.db.engine import APP_ROLE
from vigil.db.models import Session
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload

ROOT = Path(__file__).resolve().parents[2]
# Work that is not one tenant's by nature may use the owner's session; anything else must be tenant-scoped.
SYSTEM_DB_ALLOWED = {
    "vigil/context.py",          # defines it
    "cli/admin.py",              # administration: tokens, retention of any tenant
    "cli/audit.py",              # audit verification and checkpoints across tenants
    "cli/evaluate.py",           # resolves the tenant named on the command line
    "cli/keys.py",               # lists the tenants whose sealed reviews to re-wrap
    "cli/run.py",                # `vigil up` seeds the demo tenant's tokens
    "serve/deps.py",             # a token names its tenant: it is looked up before there is one
    "serve/timing.py",           # request timings of many tenants are written in one batch
    "serve/routes/health.py",    # SELECT 1
    "tasks/dispatcher.py",       # claims and finishes jobs of every tenant
    "vigil/services/uploads.py",  # a signed upload URL names a session, not a caller; expiry sweeps all tenants
    "vigil/services/retention.py",  # lists the tenants to sweep; each tenant's purge is tenant-scoped
    "vigil/services/audit_checkpoints.py",  # reads every tenant's audit head to checkpoint it (read only)
    "vigil/services/alerts.py",  # escalates across tenants; an acknowledge link names an alert, not a caller
    "vigil/services/alert_delivery.py",  # leases due alerts of every tenant; each outcome is written tenant-scoped
    "vigil/services/events.py",  # prunes every tenant's old events in one DELETE, by age alone
}


def tenant_tables(ctx: Context) -> list[str]:
    with ctx.system_db() as db:
        return list(db.scalars(sa.text(
            "SELECT c.table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' "
            "AND t.table_type = 'BASE TABLE' ORDER BY 1")))


def tenant_id_of(ctx: Context, tenant: Tenant) -> uuid.UUID:
    with ctx.system_db() as db:
        return authenticate(db, tenant.admin).tenant_id


@pytest.fixture
def two_tenants(ctx: Context, tenant_a: Tenant, tenant_b: Tenant) -> tuple[uuid.UUID, uuid.UUID]:
    """A and B each with an uploaded session (session, artifact, job, audit rows) besides users and tokens."""
    for tenant in (tenant_a, tenant_b):
        with ctx.system_db() as db:
            principal = authenticate(db, tenant.uploader)
        accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "a.mp3", "wall")
    return tenant_id_of(ctx, tenant_a), tenant_id_of(ctx, tenant_b)


def test_every_table_with_tenant_data_has_row_level_security_and_the_wall_policy(ctx: Context) -> None:
    tables = tenant_tables(ctx)
    assert {"sessions", "transcripts", "analyses", "reviews", "audit_log", "users", "api_tokens"} <= set(tables)
    with ctx.system_db() as db:
        for table in [*tables, "tenants"]:
            enabled = db.scalar(sa.text("SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(:t)"),
                                {"t": table})
            policies = db.scalars(sa.text("SELECT policyname FROM pg_policies WHERE tablename = :t"),
                                  {"t": table}).all()
            assert enabled, f"{table} has row-level security off"
            assert policies == ["tenant_wall"], f"{table} policies: {policies}"


def test_the_application_role_owns_nothing_and_cannot_bypass_the_policies(ctx: Context) -> None:
    with ctx.tenant_db(uuid.uuid4()) as db:
        assert db.scalar(sa.text("SELECT current_user")) == APP_ROLE
        role = db.execute(sa.text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        owned = db.scalar(sa.text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user"))
    assert tuple(role) == (False, False)
    assert owned == 0


def test_raw_sql_under_b_sees_none_of_a_in_any_table(ctx: Context, two_tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, b = two_tenants
    tried = 0
    for table in tenant_tables(ctx):
        with ctx.system_db() as db:
            a_rows = db.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id = :a"), {"a": a})
            b_rows = db.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id = :b"), {"b": b})
        with ctx.tenant_db(b) as db:
            # No WHERE on tenant at all: the policy is the only thing standing between B and A's rows.
            seen = db.execute(sa.text(f"SELECT tenant_id FROM {table}")).scalars().all()
            assert db.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id = :a"), {"a": a}) == 0
        assert set(seen) <= {b}, f"{table}: B saw rows of {set(seen) - {b}}"
        assert len(seen) == b_rows, f"{table}: B should see its own {b_rows} rows, saw {len(seen)}"
        tried += a_rows
    with ctx.tenant_db(b) as db:
        assert db.scalars(sa.text("SELECT id FROM tenants")).all() == [b]
    assert tried > 0, "tenant A has no rows: the test proved nothing"
    print(f"\nrow-level security: {tried} of A's rows across {len(tenant_tables(ctx))} tables, 0 seen by B")


def test_without_a_tenant_named_the_application_sees_nothing(ctx: Context,
                                                              two_tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    with ctx.tenant_db(two_tenants[0]) as db:  # a tenant's transaction on a pooled connection first
        assert db.scalar(sa.text("SELECT count(*) FROM sessions")) >= 1
        db.commit()
        db.info["tenant_id"] = None  # the next transaction names none: nothing carries over from the last
        assert db.scalar(sa.text("SELECT count(*) FROM sessions")) == 0
        assert db.scalar(sa.text("SELECT count(*) FROM tenants")) == 0


def test_b_cannot_change_delete_or_add_to_a_through_raw_sql(ctx: Context,
                                                            two_tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, b = two_tenants
    with ctx.system_db() as db:
        before = db.execute(sa.select(Session.id, Session.title, Session.status)
                            .where(Session.tenant_id == a)).all()
    with ctx.tenant_db(b) as db:
        assert db.execute(sa.text("UPDATE sessions SET title = 'taken' WHERE tenant_id = :a"), {"a": a}).rowcount == 0
        assert db.execute(sa.text("UPDATE tenants SET transcribers = 'x' WHERE id = :a"), {"a": a}).rowcount == 0
        assert db.execute(sa.text("DELETE FROM jobs WHERE tenant_id = :a"), {"a": a}).rowcount == 0
        db.commit()
    with pytest.raises(ProgrammingError, match="row-level security"), ctx.tenant_db(b) as db:
        db.execute(sa.text("INSERT INTO config_versions (id, tenant_id, kind, version, name, content, created_at) "
                           "VALUES (gen_random_uuid(), :a, 'prompt', 99, 'planted', '{}', now())"), {"a": a})
    with pytest.raises(ProgrammingError, match="row-level security"), ctx.tenant_db(b) as db:
        # Moving one of B's own rows into A is refused too (the policy's WITH CHECK).
        db.execute(sa.text("UPDATE sessions SET tenant_id = :a"), {"a": a})
    with ctx.system_db() as db:
        after = db.execute(sa.select(Session.id, Session.title, Session.status).where(Session.tenant_id == a)).all()
        planted = db.scalar(sa.text("SELECT count(*) FROM config_versions WHERE name = 'planted'"))
    assert after == before and planted == 0


def test_the_application_cannot_rewrite_the_audit_log_even_in_its_own_tenant(
        ctx: Context, two_tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    with pytest.raises(ProgrammingError, match="permission denied"), ctx.tenant_db(two_tenants[1]) as db:
        db.execute(sa.text("DELETE FROM audit_log"))


def test_the_api_session_is_walled_even_for_a_query_without_a_tenant_filter(
        ctx: Context, tenant_b: Tenant, two_tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    from serve.deps import get_db

    with ctx.system_db() as db:
        principal = authenticate(db, tenant_b.supervisor)
    sessions = get_db(ctx, principal)
    db = next(sessions)
    try:
        tenants = set(db.scalars(sa.select(Session.tenant_id)))  # the forgotten WHERE a wall must survive
    finally:
        sessions.close()
    assert tenants == {two_tenants[1]}


def test_only_work_that_is_no_single_tenants_uses_the_owner_session() -> None:
    users = set()
    for folder in ("vigil", "serve", "tasks", "dashboard", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            if re.search(r"\.system_db\(\)|def system_db", path.read_text()):
                users.add(str(path.relative_to(ROOT)))
    assert users <= SYSTEM_DB_ALLOWED, f"new owner-session users: {sorted(users - SYSTEM_DB_ALLOWED)}"
    assert "serve/deps.py" in users  # the scan finds what it looks for
