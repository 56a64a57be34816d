"""direct uploads: sessions.upload_expires_at

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("upload_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_sessions_upload_expires_at"), "sessions", ["upload_expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_upload_expires_at"), table_name="sessions")
    op.drop_column("sessions", "upload_expires_at")
