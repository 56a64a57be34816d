"""alert acknowledgement and escalation, email channels, and the events a live screen streams

alerts: which channel kind (webhook or email) and which rule (by order) a delivery is for, whether it escalates an
unacknowledged alert, and who acknowledged it, when and how. The one-per-channel constraint now counts the rule, so
the same channel may be both a first and an escalation target.

events: what a live screen streams (job progress, session ready, new flag, alert acknowledged), written in the
transaction that made it true. Each row carries its writer's transaction id, so a reader can take everything up to
the oldest transaction still running and never skip a row that commits late.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def upgrade() -> None:
    op.add_column("alerts", sa.Column("channel_type", sa.String(length=10), nullable=False,
                                      server_default="webhook"))
    op.add_column("alerts", sa.Column("rule_index", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("alerts", sa.Column("escalation", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("alerts", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_by", sa.Uuid(),
                                      sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_via", sa.String(length=20), nullable=True))
    op.drop_constraint("uq_alerts_analysis_category_channel", "alerts", type_="unique")
    op.create_unique_constraint("uq_alerts_analysis_category_rule_channel", "alerts",
                                ["analysis_id", "category", "rule_index", "channel_url"])
    op.create_index("ix_alerts_analysis_id", "alerts", ["analysis_id"])

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False,
                  server_default=sa.text("(pg_current_xact_id()::text)::bigint")),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_events_tenant_xid", "events", ["tenant_id", "xid"])
    op.create_index("ix_events_created_at", "events", ["created_at"])
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON events TO {APP_ROLE}")
    op.execute("ALTER TABLE events ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_wall ON events USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def downgrade() -> None:
    op.drop_table("events")
    op.drop_index("ix_alerts_analysis_id", "alerts")
    op.drop_constraint("uq_alerts_analysis_category_rule_channel", "alerts", type_="unique")
    op.create_unique_constraint("uq_alerts_analysis_category_channel", "alerts",
                                ["analysis_id", "category", "channel_url"])
    for column in ("acknowledged_via", "acknowledged_by", "acknowledged_at", "escalation", "rule_index",
                   "channel_type"):
        op.drop_column("alerts", column)
