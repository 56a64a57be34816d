"""the counselor's voice: counselor accounts linked to the name sessions carry, acknowledgements and disputes

users.counselor_label: the name (Session.counselor, given at upload) a counselor account sees the sessions of.
review_acknowledgements: a counselor saw the review of a session they held, once.
disputes: a counselor disputes one reviewed field, with a note; the reviewing supervisor upholds or changes it, with a
reason. The note, the disputed value and the reason are sealed (the database keeps no text); one open dispute per
session and field.

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def _tenant_wall(table: str) -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_wall ON {table} USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def upgrade() -> None:
    op.add_column("users", sa.Column("counselor_label", sa.String(length=200), nullable=True))

    op.create_table(
        "review_acknowledgements",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "user_id", name="uq_review_acknowledgements_session_user"),
    )
    op.create_index("ix_review_acknowledgements_tenant_id", "review_acknowledgements", ["tenant_id"])
    op.create_index("ix_review_acknowledgements_session_id", "review_acknowledgements", ["session_id"])
    _tenant_wall("review_acknowledgements")

    op.create_table(
        "disputes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("disputed_value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("opened_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("resolved_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_id", sa.Uuid(), sa.ForeignKey("reviews.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_disputes_tenant_id", "disputes", ["tenant_id"])
    op.create_index("ix_disputes_session_id", "disputes", ["session_id"])
    op.create_index("ix_disputes_tenant_assignee_status", "disputes", ["tenant_id", "assignee_id", "status"])
    op.create_index("uq_disputes_open_field", "disputes", ["session_id", "field"], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    _tenant_wall("disputes")


def downgrade() -> None:
    op.drop_table("disputes")
    op.drop_table("review_acknowledgements")
    op.drop_column("users", "counselor_label")
