"""Disputes: a counselor disagrees with one reviewed field of a session they held, with a note; the supervisor who
made that value canonical (or who reviewed the session, for a value left at the AI's) upholds it or changes it, with
a reason. A change is a new review of the field through the review path, so it is canonical everywhere at once.

The note, the disputed value and the reason are sealed in the row like a review's text; the clear columns and the
audit log keep a digest of the note and reason and, for a text field, of the values (vigil.sealed_text)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.crypto import DecryptionError
from vigil.db.models import Dispute, Session, User, utcnow
from vigil.errors import Conflict, Forbidden, NotFound, ValidationFailure
from vigil.schemas.api import ReviewIn
from vigil.schemas.counseling import DisputeIn, DisputeOut, DisputeResolutionIn
from vigil.schemas.enums import Role
from vigil.sealed_text import digest
from vigil.services import audit, reviews
from vigil.services.access import Action, Principal, owned_session
from vigil.services.analysis_content import clear_value, full_result
from vigil.services.reviewed_results import FieldState, own_reviewed_session, reviewed_fields
from vigil.storage.base import ObjectStore
from vigil.storage.encrypted import open_value, rewrap_value, seal_value

STATUSES = ("open", "upheld", "changed")


def _place(dispute_id: uuid.UUID) -> str:
    return f"dispute/{dispute_id}"


def _seal(store: ObjectStore, dispute: Dispute, text: dict[str, Any]) -> None:
    dispute.sealed = seal_value(store, json.dumps(text).encode(), _place(dispute.id))


def opened(store: ObjectStore, dispute: Dispute) -> dict[str, Any]:
    """A dispute's sealed text (note, disputed value, and once resolved its reason and value), opened."""
    return json.loads(open_value(store, dispute.sealed, _place(dispute.id)))


def _cleaned(text: str, what: str) -> str:
    cleaned = text.strip()
    if len(cleaned) < 3:
        raise ValidationFailure(f"a {what} of at least 3 characters is required")
    return cleaned


def _emails(db: DbSession, disputes: list[Dispute]) -> dict[uuid.UUID, str]:
    ids = {i for d in disputes for i in (d.opened_by, d.assignee_id, d.resolved_by) if i is not None}
    return dict(db.execute(sa.select(User.id, User.email).where(User.id.in_(ids))).tuples().all()) if ids else {}


def _outs(store: ObjectStore, db: DbSession, rows: list[tuple[Dispute, str | None, str | None]]) -> list[DisputeOut]:
    emails = _emails(db, [dispute for dispute, _, _ in rows])
    outs = []
    for dispute, title, counselor in rows:
        text = opened(store, dispute)
        outs.append(DisputeOut(
            id=dispute.id, session_id=dispute.session_id, session_title=title, counselor=counselor,
            field=dispute.field, disputed_value=text["value"], note=text["note"], status=dispute.status,
            opened_by_email=emails.get(dispute.opened_by, ""), assignee_email=emails.get(dispute.assignee_id),
            created_at=dispute.created_at, reason=text.get("reason"), resolved_value=text.get("resolved_value"),
            resolved_by_email=emails.get(dispute.resolved_by), resolved_at=dispute.resolved_at))
    return outs


def _select() -> sa.Select[tuple[Dispute, str | None, str | None]]:
    return sa.select(Dispute, Session.title, Session.counselor).join(Session, Session.id == Dispute.session_id)


def _field_state(store: ObjectStore, db: DbSession, session: Session, field: str) -> FieldState:
    states = {state.field: state for state in reviewed_fields(store, db, session)}
    if field not in states:
        raise ValidationFailure(f"unknown field {field!r}; fields of this session: {', '.join(sorted(states))}")
    return states[field]


def open_dispute(store: ObjectStore, db: DbSession, principal: Principal, session_id: uuid.UUID,
                 body: DisputeIn) -> DisputeOut:
    """The caller (the session's counselor) disputes one reviewed field; it goes to its reviewer's queue. Audited."""
    session = own_reviewed_session(db, principal, session_id)
    state = _field_state(store, db, session, body.field)
    note = _cleaned(body.note, "note")
    if db.scalar(sa.select(Dispute.id).where(Dispute.session_id == session.id, Dispute.field == body.field,
                                             Dispute.status == "open")):
        raise Conflict(f"{body.field!r} of this session already has an open dispute")
    dispute = Dispute(id=uuid.uuid4(), tenant_id=principal.tenant_id, session_id=session.id, field=body.field,
                      disputed_value=clear_value(body.field, state.value), opened_by=principal.user_id,
                      assignee_id=state.reviewer_id, status="open", created_at=utcnow())
    _seal(store, dispute, {"note": note, "value": state.value})
    db.add(dispute)
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="dispute.opened", entity_type="session",
                 entity_id=session.id,
                 detail={"dispute_id": str(dispute.id), "field": body.field,  # text: digests only
                         "disputed_value": dispute.disputed_value["value"], "note": digest(note),
                         "assignee_id": str(state.reviewer_id) if state.reviewer_id else None})
    try:
        db.commit()
    except sa_exc.IntegrityError as exc:  # another request opened one for this field first
        db.rollback()
        raise Conflict(f"{body.field!r} of this session already has an open dispute") from exc
    return _outs(store, db, [(dispute, session.title, session.counselor)])[0]


def session_disputes(store: ObjectStore, db: DbSession, principal: Principal, session: Session) -> list[DisputeOut]:
    """The caller's own disputes of their session, newest first."""
    rows = db.execute(_select().where(Dispute.session_id == session.id, Dispute.tenant_id == principal.tenant_id,
                                      Dispute.opened_by == principal.user_id)
                      .order_by(Dispute.created_at.desc())).tuples().all()
    return _outs(store, db, list(rows))


def list_disputes(store: ObjectStore, db: DbSession, principal: Principal, *, status: str | None = None,
                  session_id: uuid.UUID | None = None, limit: int = 200) -> list[DisputeOut]:
    """A supervisor's queue (disputes of values they made canonical); admins and leads see all of the tenant's.
    Open ones first, newest first."""
    principal.require(Action.read_content)
    if status is not None and status not in STATUSES:
        raise ValidationFailure(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    query = _select().where(Dispute.tenant_id == principal.tenant_id)
    if principal.role is Role.supervisor:
        query = query.where(Dispute.assignee_id == principal.user_id)
    if status is not None:
        query = query.where(Dispute.status == status)
    if session_id is not None:
        query = query.where(Dispute.session_id == session_id)
    rows = db.execute(query.order_by(Dispute.status != "open", Dispute.created_at.desc()).limit(limit)).tuples().all()
    return _outs(store, db, list(rows))


def _new_value(store: ObjectStore, db: DbSession, principal: Principal, session: Session, field: str,
               value: Any) -> Any:
    """The value a change would make canonical, checked as the review path checks it (before anything changes)."""
    result, _ = full_result(store, reviews.latest_analysis(db, principal, session.id))
    return reviews.validate_value(field, value, reviews.ai_values(result),
                                  {f"rubric.{r.key}": r.scale_max for r in result.rubric})


def resolve_dispute(store: ObjectStore, db: DbSession, principal: Principal, dispute_id: uuid.UUID,
                    body: DisputeResolutionIn) -> DisputeOut:
    """Uphold (the value stays) or change (a new review of the field, canonical at once), with a reason. Only the
    supervisor whose queue it is in, or an admin; once. Audited with digests of the reason."""
    principal.require(Action.review)
    dispute = db.scalar(sa.select(Dispute).where(Dispute.id == dispute_id, Dispute.tenant_id == principal.tenant_id)
                        .with_for_update())
    if dispute is None:
        raise NotFound("dispute not found")
    if principal.role is not Role.admin and dispute.assignee_id != principal.user_id:
        raise Forbidden("this dispute is in another supervisor's queue")
    if dispute.status != "open":
        raise Conflict(f"this dispute was already resolved ({dispute.status})")
    reason = _cleaned(body.reason, "reason")
    session = owned_session(db, principal, dispute.session_id)
    if body.outcome == "upheld":
        if body.value is not None:
            raise ValidationFailure("an upheld dispute keeps the value: send no value")
        resolved = _field_state(store, db, session, dispute.field).value
    else:
        if body.value is None:
            raise ValidationFailure("a change needs the new value")
        resolved = _new_value(store, db, principal, session, dispute.field, body.value)
    dispute.status, dispute.resolved_by, dispute.resolved_at = body.outcome, principal.user_id, utcnow()
    _seal(store, dispute, {**opened(store, dispute), "reason": reason, "resolved_value": resolved})
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="dispute.resolved", entity_type="session",
                 entity_id=session.id,
                 detail={"dispute_id": str(dispute.id), "field": dispute.field, "outcome": body.outcome,
                         "resolved_value": clear_value(dispute.field, resolved)["value"], "reason": digest(reason)})
    if body.outcome == "changed":
        # The review path commits the dispute's resolution with the review, in one transaction; the link from the
        # dispute to that review is written right after.
        review = reviews.create_review(store, db, principal, session.id,
                                       ReviewIn(field=dispute.field, value=body.value, reason=reason))
        dispute.review_id = review.id
    db.commit()
    return _outs(store, db, [(dispute, session.title, session.counselor)])[0]


def rewrap_sealed_disputes(ctx: Context, tenant_id: uuid.UUID) -> tuple[int, int]:
    """Re-wrap the tenant's sealed dispute text under the active key (after `vigil keys rotate`). Returns
    (re-wrapped, sealed under a key the keyring does not hold)."""
    done = unknown = 0
    with ctx.tenant_db(tenant_id) as db:
        for dispute in db.scalars(sa.select(Dispute).where(Dispute.tenant_id == tenant_id)):
            try:
                dispute.sealed = rewrap_value(ctx.store, dispute.sealed, _place(dispute.id))
            except DecryptionError:
                unknown += 1
                continue
            done += 1
        db.commit()
    return done, unknown
