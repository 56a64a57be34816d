"""transcript text lives only in the object store, sealed with envelope keys: the display-text copy in
`transcripts.text` is dropped (the same text is in the store's transcript artifacts, so nothing is lost)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("transcripts", "text")


def downgrade() -> None:
    op.add_column("transcripts", sa.Column("text", sa.Text(), server_default="", nullable=False))
