"""supervisor dashboard: who ran a session (counselor, team), its AI risk categories, API request timings

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("counselor", sa.String(length=200), nullable=True))
    op.add_column("sessions", sa.Column("team", sa.String(length=200), nullable=True))
    op.add_column("sessions", sa.Column("risk_categories", postgresql.ARRAY(sa.String(length=50)),
                                        server_default="{}", nullable=False))
    op.create_index("ix_sessions_tenant_counselor", "sessions", ["tenant_id", "counselor"])
    # The AI's rubric scores by item key, beside the full result: trends read them for every session, and pulling
    # them out of each (large) result costs 25 times more.
    op.add_column("analyses", sa.Column("rubric_scores", postgresql.JSONB(astext_type=sa.Text()),
                                        server_default="{}", nullable=False))
    op.execute("""
        UPDATE analyses SET rubric_scores = COALESCE(
            (SELECT jsonb_object_agg(item->>'key', item->'score') FROM jsonb_array_elements(result->'rubric') item
             WHERE item ? 'key'), '{}'::jsonb)
        WHERE jsonb_typeof(result->'rubric') = 'array'
    """)
    op.create_table(
        "request_timings",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_timings_tenant_created", "request_timings", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_request_timings_tenant_created", table_name="request_timings")
    op.drop_table("request_timings")
    op.drop_column("analyses", "rubric_scores")
    op.drop_index("ix_sessions_tenant_counselor", table_name="sessions")
    op.drop_column("sessions", "risk_categories")
    op.drop_column("sessions", "team")
    op.drop_column("sessions", "counselor")
