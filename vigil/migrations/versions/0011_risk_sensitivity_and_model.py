"""tenants choose the risk model's sensitivity (high = recall first, balanced) and may activate a risk model fitted
from their own reviews (a config version of kind risk_model); NULL → the deployment's default and the shipped model

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("risk_sensitivity", sa.String(length=20), nullable=True))
    op.add_column("tenants", sa.Column("active_risk_model_version", sa.String(length=100), nullable=True))
    op.create_check_constraint("tenants_risk_sensitivity", "tenants",
                               "risk_sensitivity IS NULL OR risk_sensitivity IN ('high', 'balanced')")


def downgrade() -> None:
    op.drop_constraint("tenants_risk_sensitivity", "tenants", type_="check")
    op.drop_column("tenants", "active_risk_model_version")
    op.drop_column("tenants", "risk_sensitivity")
