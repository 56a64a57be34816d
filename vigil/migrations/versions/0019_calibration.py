"""calibration: gold answers a lead marks on reviewed sessions, calibration rounds, and the calibration copies of a
gold session each chosen reviewer judges (sessions.purpose = calibration, kept out of production lists and KPIs)

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def _walled(table: str) -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_wall ON {table} USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def upgrade() -> None:
    op.add_column("sessions", sa.Column("purpose", sa.String(length=20), nullable=False,
                                        server_default="production"))
    op.add_column("sessions", sa.Column("calibration_of", sa.Uuid(),
                                        sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True))
    op.create_table(
        "gold_standards",
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_gold_standards_tenant_id", "gold_standards", ["tenant_id"])
    _walled("gold_standards")
    op.create_table(
        "calibration_rounds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_calibration_rounds_tenant_id", "calibration_rounds", ["tenant_id"])
    _walled("calibration_rounds")
    op.add_column("review_assignments", sa.Column("round_id", sa.Uuid(),
                                                  sa.ForeignKey("calibration_rounds.id", ondelete="CASCADE"),
                                                  nullable=True))
    op.create_index("ix_review_assignments_round_id", "review_assignments", ["round_id"])


def downgrade() -> None:
    op.drop_index("ix_review_assignments_round_id", "review_assignments")
    op.drop_column("review_assignments", "round_id")
    op.drop_table("calibration_rounds")
    op.drop_table("gold_standards")
    op.drop_column("sessions", "calibration_of")
    op.drop_column("sessions", "purpose")
