"""The guards every service uses to reach a tenant's rows, and who may do what (vigil.principal, re-exported here
where the services import it): the bottom layer of the services. It imports no service, so every service may
import it."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Session, Tenant
from vigil.errors import Gone, NotFound
from vigil.principal import Action, Principal

__all__ = ["Action", "Principal", "content_session", "own_tenant", "owned_session"]


def owned_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> Session:
    """The caller's tenant's session; any other is not found."""
    session = db.scalar(sa.select(Session).where(Session.id == session_id,
                                                 Session.tenant_id == principal.tenant_id))
    if session is None:
        raise NotFound("session not found")
    return session


def content_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> Session:
    """The caller's session whose content (audio, transcripts) is asked for: 410 once retention deleted it."""
    session = owned_session(db, principal, session_id)
    if session.content_purged_at is not None:
        raise Gone(f"the audio and transcripts were deleted on {session.content_purged_at:%Y-%m-%d} "
                   "by the tenant's retention policy")
    return session


def own_tenant(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
               action: Action = Action.administer) -> Tenant:
    """The caller's own tenant, if their role allows `action`; any other tenant is not found."""
    principal.require(action)
    tenant = db.get(Tenant, tenant_id) if tenant_id == principal.tenant_id else None
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant
