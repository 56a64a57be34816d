"""double review: a tenant's share of sessions (and optionally every high-risk one) judged by two supervisors, blind
to each other until both are in; their answer sheets, and what kind of review each canonical review is

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def upgrade() -> None:
    op.add_column("tenants", sa.Column("double_review_share", sa.Float(), nullable=True))
    op.add_column("tenants", sa.Column("double_review_high_risk", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    # override: a supervisor's own review; double: what two reviewers agreed on; adjudication: a lead's or an
    # admin's settling of a disagreement.
    op.add_column("reviews", sa.Column("kind", sa.String(length=20), nullable=False, server_default="override"))
    op.create_table(
        "review_assignments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("ai_answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("session_id", "purpose", "slot", name="uq_review_assignments_slot"),
        sa.UniqueConstraint("session_id", "purpose", "reviewer_id", name="uq_review_assignments_reviewer"),
    )
    op.create_index("ix_review_assignments_tenant_id", "review_assignments", ["tenant_id"])
    op.create_index("ix_review_assignments_session_id", "review_assignments", ["session_id"])
    op.create_index("ix_review_assignments_reviewer_status", "review_assignments", ["reviewer_id", "status"])
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON review_assignments TO {APP_ROLE}")
    op.execute("ALTER TABLE review_assignments ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_wall ON review_assignments USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def downgrade() -> None:
    op.drop_table("review_assignments")
    op.drop_column("reviews", "kind")
    op.drop_column("tenants", "double_review_high_risk")
    op.drop_column("tenants", "double_review_share")
