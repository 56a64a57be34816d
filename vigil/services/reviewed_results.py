"""What a counselor may see of a session: the reviewed results of a session they held, and nothing else.

A counselor account is linked to a counselor's name (users.counselor_label, set by an admin) and reaches only the
sessions carrying that name (Session.counselor, given at upload; compared trimmed and case-blind) that a supervisor
has reviewed (Session.reviewed_at). Any other session, of their tenant or another, is not found.

Of such a session they see each reviewable field's canonical value: the reviewer's, with the reviewer's reason, or the
AI's value the reviewer left as it was (accepted). Not the AI's value the reviewer replaced, not the evidence quotes,
rationales, confidences or severities behind the flags, not the transcript or audio: a review's outcome is what is
shared with the counselor, not the machine's working or the client's words it picked out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Analysis, Review, Session, User
from vigil.errors import NotFound
from vigil.services.access import Action, Principal
from vigil.services.analysis_content import full_result, review_text
from vigil.services.reviews import ai_values
from vigil.storage.base import ObjectStore

SHOWN_FIELDS = frozenset({"risk_level", "summary", "action_items", "mi_quality"})
SHOWN_PREFIXES = ("rubric.", "flag.")


def is_shown(field: str) -> bool:
    """A field of the reviewed result a counselor sees and may dispute (not speaker corrections or redactions)."""
    return field in SHOWN_FIELDS or field.startswith(SHOWN_PREFIXES)


@dataclass(frozen=True)
class FieldState:
    field: str
    value: Any
    source: str  # reviewer | accepted
    comment: str | None
    reviewer_id: uuid.UUID | None
    reviewer_email: str | None
    reviewed_at: datetime | None


def counselor_label(db: DbSession, principal: Principal) -> str | None:
    """The name the caller's counselor account is linked to (None: not linked, so nothing is theirs)."""
    principal.require(Action.counsel)
    return db.scalar(sa.select(User.counselor_label).where(User.id == principal.user_id,
                                                           User.tenant_id == principal.tenant_id))


def same_name(column: sa.ColumnElement[str | None], label: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(sa.func.btrim(column)) == label.strip().lower()


def own_sessions_clause(principal: Principal, label: str) -> sa.ColumnElement[bool]:
    """The caller's reviewed sessions."""
    return sa.and_(Session.tenant_id == principal.tenant_id, same_name(Session.counselor, label),
                   Session.reviewed_at.is_not(None))


def own_reviewed_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> Session:
    """The caller's reviewed session; another counselor's, an unreviewed one or another tenant's is not found."""
    label = counselor_label(db, principal)
    session = None
    if label:
        session = db.scalar(sa.select(Session).where(Session.id == session_id, own_sessions_clause(principal, label)))
    if session is None:
        raise NotFound("session not found")
    return session


def reviewed_fields(store: ObjectStore, db: DbSession, session: Session) -> list[FieldState]:
    """Each shown field's canonical value: the newest review of it, else the AI's value (accepted by whoever reviewed
    the session last, to whom a dispute of it goes)."""
    analysis = db.scalar(sa.select(Analysis).where(Analysis.session_id == session.id,
                                                   Analysis.tenant_id == session.tenant_id)
                         .order_by(Analysis.analysis_version.desc()).limit(1))
    if analysis is None:
        return []
    result, _ = full_result(store, analysis)
    rows = db.execute(sa.select(Review, User.email).join(User, User.id == Review.reviewer_id)
                      .where(Review.session_id == session.id, Review.tenant_id == session.tenant_id)
                      .order_by(Review.created_at)).all()
    latest: dict[str, tuple[Review, str]] = {}
    session_reviewer: tuple[Review, str] | None = None
    for review, email in rows:
        if review.field.startswith("redaction."):  # not a review of the session (it leaves reviewed_at alone)
            continue
        session_reviewer = (review, email)
        if is_shown(review.field):
            latest[review.field] = (review, email)
    states = []
    for field, ai in ai_values(result).items():
        if not is_shown(field):
            continue
        if field in latest:
            review, email = latest[field]
            text = review_text(store, review)
            states.append(FieldState(field, text.human, "reviewer", text.reason, review.reviewer_id, email,
                                     review.created_at))
        else:
            by, email = (session_reviewer[0].reviewer_id, session_reviewer[1]) if session_reviewer else (None, None)
            states.append(FieldState(field, ai, "accepted", None, by, email, session.reviewed_at))
    return states
