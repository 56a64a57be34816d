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

__all__ = ["Action", "Principal", "content_wall", "own_tenant", "owned_session"]


def owned_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> Session:
    """The caller's tenant's session; any other is not found."""
    session = db.scalar(sa.select(Session).where(Session.id == session_id,
                                                 Session.tenant_id == principal.tenant_id))
    if session is None:
        raise NotFound("session not found")
    return session


# Built once: the content wall stands before every transcript and audio read, the hottest reads there are.
_CONTENT_WALL = sa.select(Session.content_purged_at).where(Session.id == sa.bindparam("session_id"),
                                                           Session.tenant_id == sa.bindparam("tenant_id"))


def content_wall(db: DbSession, principal: Principal, session_id: uuid.UUID) -> None:
    """The wall before the caller's session's content (audio, transcripts): not found for any other tenant's,
    410 once retention deleted it. One column is read, not the session, by a statement built once and run on the
    session's connection (the tenant set, without the ORM's per-statement work)."""
    row = db.connection().execute(_CONTENT_WALL, {"session_id": session_id,
                                                  "tenant_id": principal.tenant_id}).first()
    if row is None:
        raise NotFound("session not found")
    if row.content_purged_at is not None:
        raise Gone(f"the audio and transcripts were deleted on {row.content_purged_at:%Y-%m-%d} "
                   "by the tenant's retention policy")


def own_tenant(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
               action: Action = Action.administer) -> Tenant:
    """The caller's own tenant, if their role allows `action`; any other tenant is not found."""
    principal.require(action)
    tenant = db.get(Tenant, tenant_id) if tenant_id == principal.tenant_id else None
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant
