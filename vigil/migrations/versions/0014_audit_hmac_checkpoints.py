"""audit entries are sealed with HMAC-SHA256 under a key kept outside the database; each entry records the key's
id. Entries already there keep their plain SHA-256 and no key id: they are verified, and reported, as unkeyed
(the first keyed entry after them and the first checkpoint anchor them). No row is rewritten: the log stays
append-only, and a rewrite could not add authenticity the old entries never had.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("key_id", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # Keyed entries would then read as unkeyed ones whose hashes do not match: verify them before going down.
    op.drop_column("audit_log", "key_id")
