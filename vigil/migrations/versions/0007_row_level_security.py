"""row-level security: a second tenant wall inside the database

The application's tenant-scoped work connects as `vigil_app`, a role that owns no table and cannot bypass
row-level security. Each transaction names its tenant (`SELECT set_config('vigil.tenant_id', ..., true)`), and a
policy on every table holding tenant data shows and accepts only that tenant's rows, so even a raw query that
forgets its `WHERE tenant_id = ...` sees nothing of another tenant. With no tenant named, it sees nothing at all.

The owner (who runs migrations, claims jobs across tenants, resolves tokens) is not restricted: policies do not
apply to a table's owner unless forced, and that work is by nature not one tenant's.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"
# Tables the application may read and add to but never change or remove rows of (beyond the trigger's own wall).
APPEND_ONLY = {"audit_log": "SELECT, INSERT"}
# Tenants are created and deleted by administration (the owner); the application reads and configures its own.
TENANTS_GRANT = "SELECT, UPDATE"


def tenant_tables(bind: sa.Connection) -> list[str]:
    """Every table of the schema with a tenant_id column: a table added later without a policy is caught by
    tests/integration/test_row_level_security.py, which asks the catalogue the same question."""
    return list(bind.execute(sa.text(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name")).scalars())


def upgrade() -> None:
    bind = op.get_bind()
    # Roles belong to the server, not the database: another Vigil database on the same server may have made it.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- made at the same moment elsewhere
        END $$""")
    database, schema = bind.execute(sa.text("SELECT current_database(), current_schema()")).one()
    op.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {APP_ROLE}')
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
    op.execute("""
        CREATE FUNCTION vigil_current_tenant() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT NULLIF(current_setting('vigil.tenant_id', true), '')::uuid $$""")
    op.execute(f"GRANT EXECUTE ON FUNCTION vigil_current_tenant() TO {APP_ROLE}")

    op.execute(f"GRANT {TENANTS_GRANT} ON tenants TO {APP_ROLE}")
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_wall ON tenants USING (id = vigil_current_tenant()) "
               "WITH CHECK (id = vigil_current_tenant())")
    for table in tenant_tables(bind):
        op.execute(f"GRANT {APPEND_ONLY.get(table, 'SELECT, INSERT, UPDATE, DELETE')} ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_wall ON {table} USING (tenant_id = vigil_current_tenant()) "
                   f"WITH CHECK (tenant_id = vigil_current_tenant())")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    for table in ["tenants", *tenant_tables(bind)]:
        op.execute(f"DROP POLICY IF EXISTS tenant_wall ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    database, schema = bind.execute(sa.text("SELECT current_database(), current_schema()")).one()
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP_ROLE}")
    op.execute("DROP FUNCTION vigil_current_tenant()")
    op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {APP_ROLE}")
    op.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM {APP_ROLE}')
    # The role stays: it is the server's, and other databases on it may still use it.
