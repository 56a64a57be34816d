"""analyses record a key of their inputs (transcript, analyzer, prompt, rubric, risk model and sensitivity), so an
analyze request whose inputs equal the latest analysis's returns that job; POSTs with an Idempotency-Key keep their
answer for a day (sealed under the keyring, since an answer may carry text)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def upgrade() -> None:
    op.add_column("analyses", sa.Column("inputs_key", sa.String(length=64), nullable=True))
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "user_id", "key", name="uq_idempotency_keys_caller_key"),
    )
    op.create_index("ix_idempotency_keys_tenant_id", "idempotency_keys", ["tenant_id"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO {APP_ROLE}")
    op.execute("ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_wall ON idempotency_keys USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_column("analyses", "inputs_key")
