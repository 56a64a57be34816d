"""tamper-evident audit: each tenant's entries are numbered and hash-chained; the chain's head is kept apart;
UPDATE is refused, and DELETE too while the tenant exists

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from vigil.audit_chain import GENESIS, entry_hash

    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("entry_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_heads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    # Chain what is already there, per tenant in the order it was written.
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, tenant_id, actor_id, action, entity_type, entity_id, detail, created_at "
                                "FROM audit_log ORDER BY tenant_id, created_at, id")).mappings().all()
    heads: dict = {}
    for row in rows:
        seq, prev = heads.get(row["tenant_id"], (0, GENESIS))
        digest = entry_hash(prev, seq + 1, row, key=None)  # unkeyed: the audit key came with 0014
        bind.execute(sa.text("UPDATE audit_log SET seq = :seq, prev_hash = :prev, entry_hash = :hash WHERE id = :id"),
                     {"seq": seq + 1, "prev": prev, "hash": digest, "id": row["id"]})
        heads[row["tenant_id"]] = (seq + 1, digest)
    for tenant_id, (seq, digest) in heads.items():
        bind.execute(sa.text("INSERT INTO audit_heads (tenant_id, seq, entry_hash) VALUES (:t, :seq, :hash)"),
                     {"t": tenant_id, "seq": seq, "hash": digest})
    for column in ("seq", "prev_hash", "entry_hash"):
        op.alter_column("audit_log", column, nullable=False)
    op.create_unique_constraint("uq_audit_log_tenant_seq", "audit_log", ["tenant_id", "seq"])
    op.execute("""
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'audit_log is append-only: entries cannot be changed';
            END IF;
            -- Deleting a tenant removes its log with it; nothing else may delete an entry.
            IF EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
                RAISE EXCEPTION 'audit_log is append-only: entries cannot be deleted';
            END IF;
            RETURN OLD;
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log; DROP FUNCTION audit_log_append_only();")
    op.drop_constraint("uq_audit_log_tenant_seq", "audit_log", type_="unique")
    op.drop_table("audit_heads")
    op.drop_column("audit_log", "entry_hash")
    op.drop_column("audit_log", "prev_hash")
    op.drop_column("audit_log", "seq")
