"""jobs remember the API request that created them, so its id follows the work into every stage's logs

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("request_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "request_id")
