"""stage work: how much of a stage's time was its own work (ffmpeg, the recognizers, the analysis), so the rest
(scheduling, worker start, storage, database) shows as the pipeline's overhead

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stage_events", sa.Column("work_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("stage_events", "work_seconds")
