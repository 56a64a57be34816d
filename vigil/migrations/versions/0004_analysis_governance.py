"""analysis governance: immutable prompt/rubric versions, model budgets, per-task outcomes, replay runs

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("active_prompt_version", sa.String(length=100), nullable=True))
    op.add_column("tenants", sa.Column("active_rubric_version", sa.String(length=100), nullable=True))
    op.add_column("tenants", sa.Column("daily_token_budget", sa.BigInteger(), nullable=True))
    op.add_column("tenants", sa.Column("daily_cost_budget_usd", sa.Float(), nullable=True))
    op.add_column("sessions", sa.Column("attention", sa.String(length=200), nullable=True))
    op.add_column("analyses", sa.Column("rubric_version", sa.String(length=100), nullable=True))
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "kind", "version"),
    )
    op.create_index("ix_config_versions_tenant_id", "config_versions", ["tenant_id"])
    # Immutable: a version is its content, so an UPDATE would make the hash lie. Deleting the tenant still works.
    op.execute("""
        CREATE FUNCTION config_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'config_versions rows are immutable (version %)', OLD.version
                USING ERRCODE = 'integrity_constraint_violation';
        END $$;
        CREATE TRIGGER config_versions_no_update BEFORE UPDATE ON config_versions
            FOR EACH ROW EXECUTE FUNCTION config_versions_immutable();
    """)
    op.create_table(
        "model_failures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("task", sa.String(length=30), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_failures_tenant_id", "model_failures", ["tenant_id"])
    op.create_index("ix_model_failures_session_id", "model_failures", ["session_id"])
    op.create_index("ix_model_failures_tenant_created", "model_failures", ["tenant_id", "created_at"])
    op.create_table(
        "replay_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("candidate", sa.String(length=200), nullable=False),
        sa.Column("baseline", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("session_count", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("predictions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_replay_runs_tenant_id", "replay_runs", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("replay_runs")
    op.drop_table("model_failures")
    op.execute("DROP TRIGGER config_versions_no_update ON config_versions; DROP FUNCTION config_versions_immutable();")
    op.drop_table("config_versions")
    op.drop_column("analyses", "rubric_version")
    op.drop_column("sessions", "attention")
    for column in ("daily_cost_budget_usd", "daily_token_budget", "active_rubric_version", "active_prompt_version"):
        op.drop_column("tenants", column)
