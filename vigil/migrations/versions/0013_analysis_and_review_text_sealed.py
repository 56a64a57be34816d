"""the database keeps no analysis or review text: `analyses.result` keeps what queries need (risk, categories,
severities, confidences, evidence places, scores, versions, cost, task outcomes) with every text emptied; the whole
result is in the object store's sealed `analysis/v<n>.json`, written beside every analysis since the first
revision, so nothing is lost. Reviews get a `sealed` column for their text; existing reviews are sealed by
`vigil migrate` (and `vigil up`), which hold the keyring this migration does not.

Revision ID: 0013
Revises: 0012
"""
import json

import sqlalchemy as sa
from alembic import op

from vigil.sealed_text import blank_text, has_text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("sealed", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    for row in bind.execute(sa.text("SELECT id, result FROM analyses")).mappings():
        if has_text(row["result"]):
            bind.execute(sa.text("UPDATE analyses SET result = CAST(:result AS jsonb) WHERE id = :id"),
                         {"id": row["id"], "result": json.dumps(blank_text(row["result"]))})


def downgrade() -> None:
    op.drop_column("reviews", "sealed")  # the analyses' text stays in the store; it is not copied back
