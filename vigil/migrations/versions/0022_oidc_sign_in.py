"""oidc sign-in: each tenant's mapping of an OpenID Connect provider (issuer and/or email domains, groups to roles),
and the provider identity, newest token and revocation of the users who sign in through it

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

APP_ROLE = "vigil_app"


def _walled(table: str) -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_wall ON {table} USING (tenant_id = vigil_current_tenant()) "
               "WITH CHECK (tenant_id = vigil_current_tenant())")


def upgrade() -> None:
    op.create_table(
        "sign_in_mappings",
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("issuer", sa.String(length=500), nullable=True),
        sa.Column("email_domains", postgresql.ARRAY(sa.String(length=253)), server_default="{}", nullable=False),
        sa.Column("groups_claim", sa.String(length=100), server_default="groups", nullable=False),
        sa.Column("group_roles", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("default_role", sa.String(length=20), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_mappings_issuer", "sign_in_mappings", ["issuer"])
    op.create_index("ix_sign_in_mappings_email_domains", "sign_in_mappings", ["email_domains"],
                    postgresql_using="gin")
    _walled("sign_in_mappings")
    op.add_column("users", sa.Column("oidc_issuer", sa.String(length=500), nullable=True))
    op.add_column("users", sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("idp_token_issued_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("access_revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_unique_constraint("uq_users_oidc_identity", "users", ["tenant_id", "oidc_issuer", "oidc_subject"])


def downgrade() -> None:
    op.drop_constraint("uq_users_oidc_identity", "users", type_="unique")
    for column in ("access_revoked_at", "idp_token_issued_at", "oidc_subject", "oidc_issuer"):
        op.drop_column("users", column)
    op.drop_table("sign_in_mappings")
