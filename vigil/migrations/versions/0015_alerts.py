"""alerts: per-tenant alert rules (which flags alert, through which webhooks; channel secrets sealed, never read
back), and one outbox row per delivery, written in the same transaction as the analysis that flagged

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def upgrade() -> None:
    op.add_column("tenants", sa.Column("alert_config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                       nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("analysis_id", sa.Uuid(), sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("channel_url", sa.String(length=2000), nullable=False),
        sa.Column("channel_secret", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("analysis_id", "category", "channel_url", name="uq_alerts_analysis_category_channel"),
    )
    op.create_index("ix_alerts_tenant_id", "alerts", ["tenant_id"])
    op.create_index("ix_alerts_session_id", "alerts", ["session_id"])
    op.create_index("ix_alerts_due", "alerts", ["status", "next_attempt_at"])
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON alerts TO {APP_ROLE}")
    op.execute("ALTER TABLE alerts ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_wall ON alerts USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_column("tenants", "alert_config")
