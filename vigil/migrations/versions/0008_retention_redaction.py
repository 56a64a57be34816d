"""retention and redaction: per-tenant retention periods and when each session's media and content were purged;
per-tenant redaction settings (names to redact) and how many spans a session's transcript had redacted

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("retention_media_days", sa.Integer(), nullable=True))
    op.add_column("tenants", sa.Column("retention_content_days", sa.Integer(), nullable=True))
    op.add_column("tenants", sa.Column("redaction_names", postgresql.ARRAY(sa.String(length=200)),
                                       server_default="{}", nullable=False))
    op.add_column("sessions", sa.Column("media_purged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sessions", sa.Column("content_purged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sessions", sa.Column("redaction_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ("redaction_count", "content_purged_at", "media_purged_at"):
        op.drop_column("sessions", column)
    for column in ("redaction_names", "retention_content_days", "retention_media_days"):
        op.drop_column("tenants", column)
