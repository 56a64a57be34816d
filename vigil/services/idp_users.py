"""Who a person signed in through an OpenID Connect provider is in Vigil: the tenant whose sign-in mapping their
token matches, and the role their provider groups give there. They appear on first sign-in; each newer token's
groups then set their role again, or take their access away (both audited). A token older than the newest seen
cannot bring back what a newer one took away: the newest word from the provider wins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import SignInMapping, User
from vigil.errors import Forbidden
from vigil.oidc.tokens import VerifiedIdentity
from vigil.schemas.enums import Role
from vigil.services import audit
from vigil.services.access import Principal
from vigil.services.sign_in_mappings import mappings_for

ROLE_ORDER = [Role.admin, Role.supervisor, Role.lead, Role.uploader, Role.counselor]


def role_from(mapping: SignInMapping, claims: dict[str, Any]) -> Role | None:
    """The first role (in ROLE_ORDER) any of the person's groups maps to, else the mapping's default role."""
    groups = claims.get(mapping.groups_claim) or []
    groups = [groups] if isinstance(groups, str) else groups
    roles = {Role(mapping.group_roles[g]) for g in groups if isinstance(g, str) and g in mapping.group_roles}
    chosen = next((role for role in ROLE_ORDER if role in roles), None)
    return chosen or (Role(mapping.default_role) if mapping.default_role else None)


def principal_for(db: DbSession, identity: VerifiedIdentity) -> Principal:
    """The signed-in person's principal, provisioning or updating their user first (on the owner's session: the
    tenant is not known before the mapping is found). Raises Forbidden with a code saying why they may not in."""
    try:
        return _principal_for(db, identity)
    except IntegrityError:  # two first requests of one person at once: the other one made the user
        db.rollback()
        return _principal_for(db, identity)


def _principal_for(db: DbSession, identity: VerifiedIdentity) -> Principal:
    mapping = _mapping(db, identity)
    role = role_from(mapping, identity.claims)
    user = _user(db, mapping.tenant_id, identity)
    issued = datetime.fromtimestamp(identity.issued_at, UTC)
    if user is None:
        if role is None:
            raise Forbidden(f"none of your groups at {identity.issuer} gives you a role here; ask an administrator",
                            code="no_role")
        user = _create(db, mapping.tenant_id, identity, role)
    if user.idp_token_issued_at is None or issued >= user.idp_token_issued_at:
        _follow_groups(db, user, role)
        user.idp_token_issued_at = issued
    db.commit()
    if user.access_revoked_at is not None:
        raise Forbidden(f"your groups at {identity.issuer} no longer give you a role here (since "
                        f"{user.access_revoked_at:%Y-%m-%d %H:%M} UTC)", code="access_revoked")
    return Principal(user_id=user.id, tenant_id=user.tenant_id, email=user.email, role=Role(user.role))


def _mapping(db: DbSession, identity: VerifiedIdentity) -> SignInMapping:
    if identity.email is None:
        raise Forbidden(f"{identity.issuer} sent no verified email address for you", code="email_missing")
    found = mappings_for(db, identity.issuer, identity.email)
    if not found:
        raise Forbidden(f"no tenant takes sign-ins of {identity.email.rpartition('@')[2]} from {identity.issuer}",
                        code="no_tenant")
    if len(found) > 1:
        raise Forbidden("more than one tenant takes your sign-ins; an administrator must settle which",
                        code="tenant_ambiguous")
    return found[0]


def _user(db: DbSession, tenant_id: Any, identity: VerifiedIdentity) -> User | None:
    """The person's user: by their identity at the provider, else (first sign-in) an unlinked user of their email,
    which is linked now (e.g. one made for an API token)."""
    user = db.scalar(sa.select(User).where(User.tenant_id == tenant_id, User.oidc_issuer == identity.issuer,
                                           User.oidc_subject == identity.subject).with_for_update())
    if user is not None:
        return user
    user = db.scalar(sa.select(User).where(User.tenant_id == tenant_id, User.email == identity.email)
                     .with_for_update())
    if user is None:
        return None
    if user.oidc_subject is not None:
        raise Forbidden(f"{identity.email} already signs in here through another account", code="email_taken")
    user.oidc_issuer, user.oidc_subject = identity.issuer, identity.subject
    audit.record(db, tenant_id=tenant_id, actor=None, action="user.linked", entity_type="user", entity_id=user.id,
                 detail={"email": user.email, "issuer": identity.issuer})
    return user


def _create(db: DbSession, tenant_id: Any, identity: VerifiedIdentity, role: Role) -> User:
    user = User(tenant_id=tenant_id, email=identity.email, role=role.value, oidc_issuer=identity.issuer,
                oidc_subject=identity.subject)
    db.add(user)
    db.flush()
    audit.record(db, tenant_id=tenant_id, actor=None, action="user.created", entity_type="user", entity_id=user.id,
                 detail={"email": user.email, "role": role.value, "source": "identity_provider",
                         "issuer": identity.issuer})
    return user


def _follow_groups(db: DbSession, user: User, role: Role | None) -> None:
    """Make the user what their newest token's groups say, auditing each change."""
    entry = {"email": user.email, "source": "identity_provider"}
    if role is None:
        if user.access_revoked_at is None:
            user.access_revoked_at = datetime.now(UTC)
            audit.record(db, tenant_id=user.tenant_id, actor=None, action="user.access_revoked", entity_type="user",
                         entity_id=user.id, detail={**entry, "role": user.role})
        return
    if user.access_revoked_at is not None:
        user.access_revoked_at = None
        audit.record(db, tenant_id=user.tenant_id, actor=None, action="user.access_restored", entity_type="user",
                     entity_id=user.id, detail={**entry, "role": role.value})
    if user.role != role.value:
        audit.record(db, tenant_id=user.tenant_id, actor=None, action="user.role_changed", entity_type="user",
                     entity_id=user.id, detail={**entry, "before": user.role, "after": role.value})
        user.role = role.value
