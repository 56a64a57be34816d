"""Who may do what, and the guards every service uses to reach a tenant's rows: the bottom layer of the services.
It imports no service, so every service may import it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Session, Tenant
from vigil.errors import Forbidden, Gone, NotFound
from vigil.schemas.enums import Role


class Action(StrEnum):
    upload = "upload"
    read_status = "read_status"
    read_content = "read_content"
    review = "review"
    reprocess = "reprocess"
    administer = "administer"
    adjudicate = "adjudicate"  # settle two reviewers' disagreement (vigil.services.double_review)
    counsel = "counsel"  # one's own reviewed sessions: read them, acknowledge a review, dispute a field
    calibrate = "calibrate"  # mark gold answers and run calibration rounds (vigil.services.calibration)


# A counselor may do nothing else: no session list, status, transcript, audio or analysis (those endpoints answer
# 403), only their own reviewed results through /me/sessions. Nobody else counsels: it needs a counselor link.
PERMISSIONS: dict[Role, set[Action]] = {
    Role.admin: set(Action) - {Action.counsel},
    Role.supervisor: set(Action) - {Action.administer, Action.adjudicate, Action.counsel, Action.calibrate},
    Role.lead: {Action.read_status, Action.read_content, Action.adjudicate, Action.calibrate},
    Role.uploader: {Action.upload, Action.read_status},
    Role.counselor: {Action.counsel},
}


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: Role

    def require(self, action: Action) -> None:
        if action not in PERMISSIONS[self.role]:
            raise Forbidden(f"role {self.role.value!r} may not {action.value.replace('_', ' ')}")

    def can(self, action: Action) -> bool:
        return action in PERMISSIONS[self.role]


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
