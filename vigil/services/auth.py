"""API tokens: issuing them (with the tenant and user they name) and resolving one to its principal."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import ApiToken, Tenant, User
from vigil.errors import ValidationFailure
from vigil.schemas.enums import Role
from vigil.services import audit
from vigil.services.access import Principal

TOKEN_PREFIX = "vgl_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_user(db: DbSession, tenant_name: str, email: str, role: Role) -> User:
    """Find or create the tenant and the user (keeping an existing user's role unless it differs)."""
    if not tenant_name.strip() or "@" not in email:
        raise ValidationFailure("a tenant name and a valid email are required")
    tenant = db.scalar(sa.select(Tenant).where(Tenant.name == tenant_name))
    if tenant is None:
        tenant = Tenant(name=tenant_name)
        db.add(tenant)
        db.flush()
    user = db.scalar(sa.select(User).where(User.tenant_id == tenant.id, User.email == email.lower()))
    if user is None:
        user = User(tenant_id=tenant.id, email=email.lower(), role=role.value)
        db.add(user)
        db.flush()
        audit.record(db, tenant_id=tenant.id, actor=None, action="user.created", entity_type="user",
                     entity_id=user.id, detail={"email": user.email, "role": role.value})
    elif user.role != role.value:
        audit.record(db, tenant_id=tenant.id, actor=None, action="user.role_changed", entity_type="user",
                     entity_id=user.id, detail={"email": user.email, "before": user.role, "after": role.value})
        user.role = role.value
    return user


def issue_token(db: DbSession, tenant_name: str, email: str, role: Role, label: str | None = None) -> str:
    """Create tenant and user if missing, and a new API token; only its hash is stored."""
    user = ensure_user(db, tenant_name, email, role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(tenant_id=user.tenant_id, user_id=user.id, token_hash=hash_token(token), label=label))
    db.flush()
    audit.record(db, tenant_id=user.tenant_id, actor=None, action="token.issued", entity_type="user",
                 entity_id=user.id, detail={"email": user.email, "role": user.role, "label": label})
    return token


def authenticate(db: DbSession, token: str) -> Principal | None:
    row = db.execute(
        sa.select(User.id, User.tenant_id, User.email, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None),
               User.access_revoked_at.is_(None))  # their provider groups took their access away
    ).one_or_none()
    if row is None:
        return None
    return Principal(user_id=row.id, tenant_id=row.tenant_id, email=row.email, role=Role(row.role))
