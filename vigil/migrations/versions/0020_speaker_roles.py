"""speaker roles: a tenant may say who speaks first in its sessions (counselor or client); the analyze stage gives
that speaker the role

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("first_speaker", sa.String(length=20), nullable=True))
    op.create_check_constraint("ck_tenants_first_speaker", "tenants",
                               "first_speaker IS NULL OR first_speaker IN ('counselor', 'client')")


def downgrade() -> None:
    op.drop_constraint("ck_tenants_first_speaker", "tenants", type_="check")
    op.drop_column("tenants", "first_speaker")
