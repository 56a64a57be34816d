"""vocabulary: each tenant's custom vocabulary (names of programs, medications, places) handed to the speech
recognizers as hints

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("vocabulary", postgresql.ARRAY(sa.String(length=100)),
                                       server_default="{}", nullable=False))


def downgrade() -> None:
    op.drop_column("tenants", "vocabulary")
