"""The counselor's own reviewed sessions (acknowledge, dispute), and the admin's link from a counselor account to the
name sessions carry."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.counseling import (
    AcknowledgementOut,
    CounselorLinkIn,
    CounselorSessionDetail,
    CounselorSessionOut,
    DisputeIn,
    DisputeOut,
    UserOut,
)
from vigil.services import counselors, disputes

router = APIRouter(prefix="/api/v1", tags=["counselors"])


@router.get("/me/sessions", response_model=list[CounselorSessionOut])
def my_sessions(db: DbDep, principal: PrincipalDep) -> list[CounselorSessionOut]:
    """The reviewed sessions the caller held (counselors; none until an admin links the account to their name)."""
    return counselors.my_sessions(db, principal)


@router.get("/me/sessions/{session_id}", response_model=CounselorSessionDetail)
def my_session(session_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> CounselorSessionDetail:
    """One of them: each field's reviewed value (the reviewer's with their comment, or the AI's they accepted), the
    caller's acknowledgement and disputes. Another counselor's session, or one not yet reviewed, is 404."""
    return counselors.my_session(ctx.store, db, principal, session_id)


@router.post("/me/sessions/{session_id}/acknowledge", response_model=AcknowledgementOut)
def acknowledge(session_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> AcknowledgementOut:
    """The caller saw the review (once; again answers the first acknowledgement). Audited."""
    return counselors.acknowledge(db, principal, session_id)


@router.post("/me/sessions/{session_id}/disputes", status_code=201, response_model=DisputeOut,
             responses={409: {"description": "the field already has an open dispute"}})
def open_dispute(session_id: uuid.UUID, body: DisputeIn, ctx: ContextDep, db: DbDep,
                 principal: PrincipalDep) -> DisputeOut:
    """Dispute one reviewed field with a note: it goes to the queue of the supervisor who made the value canonical.
    Audited (the note as a digest)."""
    return disputes.open_dispute(ctx.store, db, principal, session_id, body)


@router.get("/tenants/{tenant_id}/users", response_model=list[UserOut])
def list_users(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> list[UserOut]:
    """The tenant's accounts with their roles and counselor links (admin, own tenant)."""
    return counselors.list_users(db, principal, tenant_id)


@router.put("/tenants/{tenant_id}/users/{user_id}/counselor", response_model=UserOut,
            responses={409: {"description": "another account is linked to that name"}})
def link_counselor(tenant_id: uuid.UUID, user_id: uuid.UUID, body: CounselorLinkIn, db: DbDep,
                   principal: PrincipalDep) -> UserOut:
    """Link a counselor account to the counselor's name as sessions carry it (admin, own tenant); audited."""
    return counselors.set_counselor_label(db, principal, tenant_id, user_id, body.label)
