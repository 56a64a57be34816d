"""Double review: a share of sessions (and, if the tenant says so, every high-risk one) is judged by two supervisors,
each blind to the other's answers until both are in.

When an analysis commits, `assign_if_due` picks two supervisors in the same transaction: fewest open assignments
first, then the one assigned longest ago, never the same person twice. Each fills an answer sheet (`save_answers`):
the risk level, a decision on every risk category, each rubric item and MI quality, starting from the AI's values.
The sheets live only in `review_assignments`; no other read shows them, and ordinary reviews of those fields wait
until the double review is settled, so the second reviewer cannot see the first's answers in the session's risk
level either. When both are in, agreed changes become ordinary (canonical) reviews; a disagreement waits for a lead
or an admin to adjudicate it with a reason (`adjudicate`), and that value is canonical. Text fields (summary,
action items, speakers, redactions) stay outside: they are edited, not judged. Everything is audited; a sheet's
answers reach the audit log only once both are in."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Analysis, ApiToken, ReviewAssignment, Session, Tenant, User, utcnow
from vigil.errors import Conflict, NotFound, ValidationFailure
from vigil.schemas.analysis import AnalysisResult
from vigil.schemas.api import (
    AssignmentOut,
    DisagreementOut,
    DoubleReviewOut,
    DoubleReviewSettings,
    ReviewerSheetOut,
)
from vigil.schemas.enums import RiskCategory, Role
from vigil.services import audit
from vigil.services.access import Action, Principal, own_tenant, owned_session
from vigil.services.analysis_content import full_result
from vigil.services.review_sheets import DOUBLE, adjudicated, disagreements, sheets_of, state
from vigil.services.reviews import FLAG_DECISIONS, latest_analysis, record_review, validate_value
from vigil.storage.base import ObjectStore
from vigil.storage.encrypted import open_value, seal_value

HIGH_RISK = ("high", "unknown")


# ------------------------------------------------------------------ settings
def settings_of(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> DoubleReviewSettings:
    tenant = own_tenant(db, principal, tenant_id)
    return DoubleReviewSettings(share=tenant.double_review_share or 0.0, high_risk=tenant.double_review_high_risk)


def set_settings(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                 body: DoubleReviewSettings) -> DoubleReviewSettings:
    """Admin, own tenant; audited. Applies to analyses committed from now on."""
    tenant = own_tenant(db, principal, tenant_id)
    tenant.double_review_share, tenant.double_review_high_risk = body.share, body.high_risk
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.double_review", entity_type="tenant",
                 entity_id=tenant.id, detail=body.model_dump())
    db.commit()
    return body


# ------------------------------------------------------------------ assignment
def sampled(session_id: uuid.UUID, share: float) -> bool:
    """Whether a session falls in the tenant's share: a stable draw from its id, so anyone can check it."""
    return int(hashlib.sha256(session_id.bytes).hexdigest()[:8], 16) / 0x1_0000_0000 < share


def sheet_defaults(result: AnalysisResult) -> dict[str, Any]:
    """The AI's answer to every judged field, in the sheet's words; None where the AI gave none (a failed risk
    task), so the reviewer must answer it."""
    flagged = {f.category.value for f in result.flags}
    failed = result.risk_status == "failed"
    sheet: dict[str, Any] = {"risk_level": None if failed else result.risk_level.value}
    sheet.update({f"flag.{c.value}": None if failed else ("confirmed" if c.value in flagged else "dismissed")
                  for c in RiskCategory})
    sheet.update({f"rubric.{r.key}": r.score for r in result.rubric})
    if result.miti is not None and result.miti.mi_quality is not None:
        sheet["mi_quality"] = result.miti.mi_quality
    return sheet


def _reviewers(db: DbSession, tenant_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """Supervisors with a live token, fewest open assignments first, then the one assigned longest ago."""
    open_count = sa.func.count(ReviewAssignment.id).filter(ReviewAssignment.status == "open")
    live = sa.exists().where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
    rows = db.execute(sa.select(User.id).outerjoin(ReviewAssignment, ReviewAssignment.reviewer_id == User.id)
                      .where(User.tenant_id == tenant_id, User.role == Role.supervisor.value, live)
                      .group_by(User.id)
                      .order_by(open_count, sa.func.max(ReviewAssignment.created_at).asc().nulls_first(), User.id)
                      .limit(count)).scalars().all()
    return list(rows)


def assign_if_due(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID, result: AnalysisResult) -> bool:
    """In the analysis's transaction: assign two reviewers if the session is due a double review and has none.
    Fewer than two supervisors: no double review (audited, so the gap is visible)."""
    tenant = db.get(Tenant, tenant_id)
    assert tenant is not None
    high = tenant.double_review_high_risk and (result.risk_status == "failed" or result.risk_level.value in HIGH_RISK)
    if not (high or sampled(session_id, tenant.double_review_share or 0.0)):
        return False
    if db.scalar(sa.select(ReviewAssignment.id).where(ReviewAssignment.session_id == session_id,
                                                      ReviewAssignment.purpose == DOUBLE).limit(1)):
        return False  # a new analysis of a session already in (or past) double review
    reviewers = _reviewers(db, tenant_id, 2)
    if len(reviewers) < 2:
        audit.record(db, tenant_id=tenant_id, actor=None, action="double_review.unavailable", entity_type="session",
                     entity_id=session_id, detail={"supervisors": len(reviewers)})
        return False
    ai_answers = sheet_defaults(result)
    db.add_all(ReviewAssignment(id=uuid.uuid4(), tenant_id=tenant_id, session_id=session_id, reviewer_id=reviewer,
                                slot=slot, purpose=DOUBLE, status="open", answers=None, ai_answers=ai_answers,
                                created_at=utcnow())
               for slot, reviewer in enumerate(reviewers, start=1))
    audit.record(db, tenant_id=tenant_id, actor=None, action="double_review.assigned", entity_type="session",
                 entity_id=session_id, detail={"reason": "high risk" if high else "sampled",
                                               "reviewers": [str(r) for r in reviewers]})
    return True


# ------------------------------------------------------------------ reading
def sheet_note(store: ObjectStore, assignment: ReviewAssignment) -> str | None:
    """A sheet's sealed note, opened (None without one)."""
    if assignment.note_sealed is None:
        return None
    return json.loads(open_value(store, assignment.note_sealed, note_place(assignment.id)))["note"]


def note_place(assignment_id: uuid.UUID) -> str:
    return f"review-assignment/{assignment_id}"


def view(store: ObjectStore, db: DbSession, principal: Principal, session_id: uuid.UUID,
         purpose: str = DOUBLE) -> DoubleReviewOut:
    """The session's double review (or a calibration copy's sheet) as the caller may see it: their own sheet
    always; the other's only once both are in."""
    principal.require(Action.read_content)
    owned_session(db, principal, session_id)
    assignments = sheets_of(db, principal.tenant_id, session_id, purpose)
    settled = adjudicated(db, principal.tenant_id, session_id) if assignments else {}
    status = state(assignments, set(settled))
    emails = dict(db.execute(sa.select(User.id, User.email).where(
        User.id.in_([a.reviewer_id for a in assignments]))).all()) if assignments else {}
    both_in = bool(assignments) and all(a.status == "submitted" for a in assignments)
    mine = next((a for a in assignments if a.reviewer_id == principal.user_id), None)
    fields: dict[str, Any] = dict(assignments[0].ai_answers) if assignments else {}

    def sheet(a: ReviewAssignment) -> ReviewerSheetOut:
        return ReviewerSheetOut(slot=a.slot, reviewer_email=emails.get(a.reviewer_id), status=a.status,
                                submitted_at=a.submitted_at, answers=a.answers or {}, note=sheet_note(store, a))

    return DoubleReviewOut(
        session_id=session_id, status=status, fields=fields,
        reviewers=[AssignmentOut(slot=a.slot, reviewer_email=emails.get(a.reviewer_id), status=a.status,
                                 submitted_at=a.submitted_at) for a in assignments],
        mine=sheet(mine) if mine else None,
        sheets=[sheet(a) for a in assignments] if both_in else [],
        disagreements=[DisagreementOut(field=f, values={str(a.slot): (a.answers or {}).get(f) for a in assignments},
                                       adjudicated=settled.get(f))
                       for f in disagreements(assignments)])


# ------------------------------------------------------------------ answering
def save_answers(store: ObjectStore, db: DbSession, principal: Principal, session_id: uuid.UUID,
                 answers: dict[str, Any], note: str | None, submit: bool, purpose: str = DOUBLE) -> DoubleReviewOut:
    """The assigned reviewer's sheet: answers merged over what they saved before; `submit` closes it. Every field
    must be answered to submit. The second submission of a double review settles what the two agree on; a
    calibration sheet is only scored (vigil.services.calibration)."""
    principal.require(Action.review)
    session = owned_session(db, principal, session_id)
    assignments = sheets_of(db, principal.tenant_id, session_id, purpose)
    mine = next((a for a in assignments if a.reviewer_id == principal.user_id), None)
    if mine is None:
        raise NotFound(f"you are not a reviewer of this session's {purpose} review")
    if mine.status != "open":
        raise Conflict("your review of this session is submitted; it can no longer change")
    analysis = latest_analysis(db, principal, session_id)
    result = full_result(store, analysis)[0]
    defaults = dict(mine.ai_answers)  # what the sheet started from, even if the session was analysed again since
    scales = {f"rubric.{r.key}": r.scale_max for r in result.rubric}
    ai_shaped = {**defaults, **{f: "flagged" for f in defaults if f.startswith("flag.")}}
    merged = {**defaults, **(mine.answers or {})}
    for field, value in answers.items():
        if field not in defaults:
            raise ValidationFailure(f"{field!r} is not judged in a double review; judged: {', '.join(defaults)}")
        if field.startswith("flag.") and value not in FLAG_DECISIONS:
            raise ValidationFailure(f"invalid value for {field!r}: {value!r}")
        merged[field] = value if field.startswith("flag.") else validate_value(field, value, ai_shaped, scales)
    mine.answers = merged
    if note is not None:
        mine.note_sealed = seal_value(store, json.dumps({"note": note.strip()}).encode(), note_place(mine.id))
    if submit:
        if missing := sorted(f for f, v in merged.items() if v is None):
            raise ValidationFailure(f"answer every field before submitting; missing: {', '.join(missing)}")
        mine.status, mine.submitted_at = "submitted", utcnow()
        audit.record(db, tenant_id=principal.tenant_id, actor=principal,
                     action="double_review.submitted" if purpose == DOUBLE else "calibration.submitted",
                     entity_type="session", entity_id=session_id,
                     detail={"slot": mine.slot, "changed": sum(merged[f] != defaults[f] for f in merged)})
        if purpose == DOUBLE and all(a.status == "submitted" for a in assignments):
            _settle(store, db, session, analysis, assignments, defaults)
    db.commit()
    return view(store, db, principal, session_id, purpose)


def _settle(store: ObjectStore, db: DbSession, session: Session, analysis: Analysis,
            assignments: list[ReviewAssignment], defaults: dict[str, Any]) -> None:
    """Both sheets are in: what they agree on and differs from the AI becomes a canonical review; the session is
    reviewed unless they disagree somewhere."""
    first, second = (a.answers or {} for a in assignments)
    split = disagreements(assignments)
    agreed = {f: first[f] for f in first if f not in split and first[f] != defaults.get(f)}
    for field, value in agreed.items():
        record_review(store, db, session, analysis, field, defaults.get(field), value,
                      "agreed in double review", reviewer_id=assignments[0].reviewer_id, actor=None,
                      kind="double", action="double_review.agreed")
    if not split:
        session.reviewed_at = session.reviewed_at or utcnow()
    audit.record(db, tenant_id=session.tenant_id, actor=None, action="double_review.completed", entity_type="session",
                 entity_id=session.id, detail={"sheets": {str(a.slot): a.answers for a in assignments},
                                               "agreed_changes": sorted(agreed), "disagreements": split})


def adjudicate(store: ObjectStore, db: DbSession, principal: Principal, session_id: uuid.UUID, field: str,
               value: Any, reason: str) -> DoubleReviewOut:
    """A lead or admin settles one disagreement with a reason; the value is canonical (an ordinary review)."""
    principal.require(Action.adjudicate)
    session = owned_session(db, principal, session_id)
    assignments = sheets_of(db, principal.tenant_id, session_id)
    split = disagreements(assignments)
    if field not in split:
        raise Conflict(f"{field!r} is not a disagreement of this session's double review")
    settled = adjudicated(db, principal.tenant_id, session_id)
    if field in settled:
        raise Conflict(f"{field!r} was adjudicated already")
    if not reason.strip():
        raise ValidationFailure("an adjudication needs a reason")
    analysis = latest_analysis(db, principal, session_id)
    result = full_result(store, analysis)[0]
    defaults = dict(assignments[0].ai_answers)
    if field.startswith("flag."):
        if value not in FLAG_DECISIONS:
            raise ValidationFailure(f"invalid value for {field!r}: {value!r}")
    else:
        value = validate_value(field, value, defaults, {f"rubric.{r.key}": r.scale_max for r in result.rubric})
    record_review(store, db, session, analysis, field, defaults.get(field), value, reason.strip(),
                  reviewer_id=principal.user_id, actor=principal, kind="adjudication", action="review.adjudicate")
    if not set(split) - {*settled, field}:
        session.reviewed_at = session.reviewed_at or utcnow()
    db.commit()
    return view(store, db, principal, session_id)
