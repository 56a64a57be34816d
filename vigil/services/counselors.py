"""The counselor's side: an admin links a counselor account to the name sessions carry; the counselor lists the
reviewed sessions they held, reads each one's reviewed results (vigil.services.reviewed_results says what those are)
with their own disputes, and acknowledges a review once. Every change is audited."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Dispute, Review, ReviewAcknowledgement, Session, Tenant, User, utcnow
from vigil.errors import Conflict, NotFound, ValidationFailure
from vigil.schemas.counseling import (
    AcknowledgementOut,
    CounselorSessionDetail,
    CounselorSessionOut,
    ReviewedField,
    UserOut,
)
from vigil.schemas.enums import Role
from vigil.services import audit, disputes
from vigil.services.access import Principal, own_tenant
from vigil.services.reviewed_results import (
    counselor_label,
    is_shown,
    own_reviewed_session,
    own_sessions_clause,
    reviewed_fields,
    same_name,
)
from vigil.storage.base import ObjectStore


def _user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, role=Role(user.role), counselor_label=user.counselor_label,
                   created_at=user.created_at)


def list_users(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> list[UserOut]:
    """The tenant's accounts (admins), to find a counselor's id."""
    own_tenant(db, principal, tenant_id)
    return [_user_out(u) for u in db.scalars(sa.select(User).where(User.tenant_id == tenant_id).order_by(User.email))]


def link(db: DbSession, actor: Principal | None, user: User, label: str | None) -> User:
    """Link a counselor account to a counselor's name (None unlinks it); audited, committed by the caller. One
    account per name in a tenant, or two people would see each other's sessions."""
    if user.role != Role.counselor.value:
        raise ValidationFailure(f"only a counselor account is linked to a counselor's name; this one is a {user.role}")
    cleaned = label.strip() if label is not None else None
    if cleaned == "":
        raise ValidationFailure("a counselor's name cannot be blank; send null to remove the link")
    if cleaned is not None:
        taken = db.scalar(sa.select(User.email).where(User.tenant_id == user.tenant_id, User.id != user.id,
                                                      same_name(User.counselor_label, cleaned)))
        if taken is not None:
            raise Conflict(f"{taken} is already linked to that name")
    if user.counselor_label != cleaned:
        audit.record(db, tenant_id=user.tenant_id, actor=actor, action="user.counselor_linked", entity_type="user",
                     entity_id=user.id, detail={"email": user.email, "before": user.counselor_label,
                                                "after": cleaned})
        user.counselor_label = cleaned
    return user


def set_counselor_label(db: DbSession, principal: Principal, tenant_id: uuid.UUID, user_id: uuid.UUID,
                        label: str | None) -> UserOut:
    own_tenant(db, principal, tenant_id)
    user = db.scalar(sa.select(User).where(User.id == user_id, User.tenant_id == tenant_id))
    if user is None:
        raise NotFound("user not found")
    link(db, principal, user, label)
    db.commit()
    return _user_out(user)


def link_by_email(db: DbSession, tenant_name: str, email: str, label: str | None) -> User:
    """The CLI's link (no signed-in actor), for an account `vigil token create --role counselor` made."""
    user = db.scalar(sa.select(User).join(Tenant, Tenant.id == User.tenant_id)
                     .where(Tenant.name == tenant_name, User.email == email.lower()))
    if user is None:
        raise NotFound(f"no user {email} in tenant {tenant_name}")
    return link(db, None, user, label)


def _acknowledged(principal: Principal) -> sa.Select[tuple[uuid.UUID, object]]:
    return sa.select(ReviewAcknowledgement.session_id, ReviewAcknowledgement.acknowledged_at).where(
        ReviewAcknowledgement.user_id == principal.user_id, ReviewAcknowledgement.tenant_id == principal.tenant_id)


def my_sessions(db: DbSession, principal: Principal, limit: int = 500) -> list[CounselorSessionOut]:
    """The caller's reviewed sessions, most recently reviewed first (none when their account is not linked)."""
    label = counselor_label(db, principal)
    if not label:
        return []
    acked = _acknowledged(principal).subquery()
    open_count = (sa.select(sa.func.count()).where(Dispute.session_id == Session.id, Dispute.status == "open",
                                                   Dispute.opened_by == principal.user_id)
                  .correlate(Session).scalar_subquery())
    rows = db.execute(sa.select(Session, acked.c.acknowledged_at, open_count)
                      .outerjoin(acked, acked.c.session_id == Session.id)
                      .where(own_sessions_clause(principal, label))
                      .order_by(Session.reviewed_at.desc()).limit(limit)).tuples().all()
    return [_session_out(session, acknowledged_at, count) for session, acknowledged_at, count in rows]


def _session_out(session: Session, acknowledged_at: object, open_disputes: int) -> CounselorSessionOut:
    return CounselorSessionOut(id=session.id, title=session.title, counselor=session.counselor, team=session.team,
                               created_at=session.created_at, duration_seconds=session.duration_seconds,
                               reviewed_at=session.reviewed_at, risk_level=session.risk_level,
                               acknowledged_at=acknowledged_at, open_disputes=open_disputes)


def _acknowledgement(db: DbSession, principal: Principal, session: Session) -> AcknowledgementOut | None:
    row = db.execute(_acknowledged(principal).where(ReviewAcknowledgement.session_id == session.id)).one_or_none()
    if row is None:
        return None
    changed = db.scalars(sa.select(Review.field).where(Review.session_id == session.id,
                                                       Review.tenant_id == principal.tenant_id,
                                                       Review.created_at > row.acknowledged_at)).all()
    return AcknowledgementOut(session_id=session.id, acknowledged_at=row.acknowledged_at,
                              changed_since=any(is_shown(field) for field in changed))


def my_session(store: ObjectStore, db: DbSession, principal: Principal,
               session_id: uuid.UUID) -> CounselorSessionDetail:
    """One of the caller's reviewed sessions: its reviewed values and reviewers' comments, their acknowledgement and
    their disputes with the outcomes."""
    session = own_reviewed_session(db, principal, session_id)
    fields = [ReviewedField(field=s.field, value=s.value, source=s.source, comment=s.comment,
                            reviewer_email=s.reviewer_email, reviewed_at=s.reviewed_at)
              for s in reviewed_fields(store, db, session)]
    mine = disputes.session_disputes(store, db, principal, session)
    acknowledgement = _acknowledgement(db, principal, session)
    summary = _session_out(session, acknowledgement.acknowledged_at if acknowledgement else None,
                           sum(1 for d in mine if d.status == "open"))
    return CounselorSessionDetail(**summary.model_dump(), fields=fields, acknowledgement=acknowledgement,
                                  disputes=mine)


def acknowledge(db: DbSession, principal: Principal, session_id: uuid.UUID) -> AcknowledgementOut:
    """The caller saw the review of their session. Once: acknowledging again answers the first acknowledgement.
    Audited."""
    session = own_reviewed_session(db, principal, session_id)
    inserted = db.scalar(insert(ReviewAcknowledgement)
                         .values(id=uuid.uuid4(), tenant_id=principal.tenant_id, session_id=session.id,
                                 user_id=principal.user_id, acknowledged_at=utcnow())
                         .on_conflict_do_nothing(constraint="uq_review_acknowledgements_session_user")
                         .returning(ReviewAcknowledgement.id))
    if inserted is not None:
        audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="review.acknowledged",
                     entity_type="session", entity_id=session.id, detail={"acknowledgement_id": str(inserted)})
    db.commit()
    acknowledgement = _acknowledgement(db, principal, session)
    assert acknowledgement is not None  # written above, or by an earlier call
    return acknowledgement
