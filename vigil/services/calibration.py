"""Calibration: are reviewers judging alike, against an answer the team agreed on?

A lead marks a reviewed session as gold: its canonical values (the review's, or the AI's a reviewer left alone), in
the answer sheets' words, with a note. A calibration round sends gold sessions to chosen reviewers as ordinary
reviews: each reviewer gets a copy of each session of their own (the same transcript, audio and analysis, no
reviews, no counselor or title), with one answer sheet, so nothing on the copy shows the gold. Their submitted
sheets are scored against gold per field and per reviewer, for the lead only. Gold never changes through
calibration, and copies stay out of the production queue, KPIs, facts and agreement. A reviewer who searches the
queue can still find the original session: calibration measures judgment, it does not police it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Analysis, CalibrationRound, GoldStandard, ReviewAssignment, Session, User, utcnow
from vigil.errors import Conflict, NotFound, ValidationFailure
from vigil.schemas.api import (
    CalibrationCellOut,
    CalibrationFieldOut,
    CalibrationReviewerOut,
    CalibrationRoundIn,
    CalibrationRoundOut,
    GoldOut,
)
from vigil.schemas.enums import Role
from vigil.services import audit
from vigil.services.access import Action, Principal, owned_session
from vigil.services.agreement import LEVELS
from vigil.services.analysis_content import full_result
from vigil.services.double_review import sheet_defaults
from vigil.services.review_sheets import CALIBRATION
from vigil.services.reviews import analysis_view, latest_analysis
from vigil.storage.base import AUDIO_NAME, TRANSCRIPT_AGENT_NAME, ObjectStore, analysis_name, artifact_key
from vigil.storage.encrypted import open_value, seal_value


def gold_note_place(session_id: uuid.UUID) -> str:
    return f"gold/{session_id}"


# ------------------------------------------------------------------ gold
def canonical_answers(ctx: Context, db: DbSession, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    """The session's judged fields as its reviews left them, in the sheets' words."""
    view = analysis_view(ctx.store, db, principal, session_id)
    answers = sheet_defaults(view.ai)
    for field in answers:
        if field in view.overrides:
            answers[field] = view.overrides[field].human_value
        elif not field.startswith("flag."):
            answers[field] = view.effective.get(field, answers[field])
    return answers


def gold_note(store: ObjectStore, gold: GoldStandard) -> str | None:
    """A gold answer's sealed note, opened (None without one)."""
    return (json.loads(open_value(store, gold.note_sealed, gold_note_place(gold.session_id)))["note"]
            if gold.note_sealed else None)


def _gold_out(gold: GoldStandard, ctx: Context) -> GoldOut:
    return GoldOut(session_id=gold.session_id, answers=gold.answers, note=gold_note(ctx.store, gold),
                   created_at=gold.created_at)


def mark_gold(ctx: Context, db: DbSession, principal: Principal, session_id: uuid.UUID, note: str | None) -> GoldOut:
    """Lead or admin: a reviewed production session's canonical answer becomes gold (audited, once)."""
    principal.require(Action.calibrate)
    session = owned_session(db, principal, session_id)
    if session.purpose != "production":
        raise Conflict("a calibration copy cannot be gold; mark the original session")
    if session.reviewed_at is None:
        raise Conflict("only a reviewed session can be gold: its answer is the review's")
    if db.get(GoldStandard, session_id) is not None:
        raise Conflict("this session is gold already")
    gold = GoldStandard(session_id=session_id, tenant_id=principal.tenant_id, created_by=principal.user_id,
                        answers=canonical_answers(ctx, db, principal, session_id), created_at=utcnow(),
                        note_sealed=seal_value(ctx.store, json.dumps({"note": note.strip()}).encode(),
                                               gold_note_place(session_id)) if note and note.strip() else None)
    db.add(gold)
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="calibration.gold", entity_type="session",
                 entity_id=session_id, detail={"fields": len(gold.answers)})
    db.commit()
    return _gold_out(gold, ctx)


def list_gold(ctx: Context, db: DbSession, principal: Principal) -> list[GoldOut]:
    principal.require(Action.calibrate)
    rows = db.scalars(sa.select(GoldStandard).where(GoldStandard.tenant_id == principal.tenant_id)
                      .order_by(GoldStandard.created_at.desc()))
    return [_gold_out(g, ctx) for g in rows]


# ------------------------------------------------------------------ rounds
def _copy(ctx: Context, db: DbSession, principal: Principal, gold: Session, number: int) -> Session:
    """A calibration copy of a gold session: its audio, transcript and latest analysis; nothing a review left."""
    analysis = latest_analysis(db, principal, gold.id)
    copy = Session(id=uuid.uuid4(), tenant_id=gold.tenant_id, title=f"Calibration session {number}",
                   status="ready", original_filename=None, media_type=gold.media_type, media_ext=gold.media_ext,
                   size_bytes=gold.size_bytes, duration_seconds=gold.duration_seconds,
                   ai_risk_level=gold.ai_risk_level, risk_level=gold.ai_risk_level, flagged=gold.ai_risk_level not in
                   (None, "none"), risk_categories=list(gold.risk_categories or []), uploaded_by=principal.user_id,
                   purpose=CALIBRATION, calibration_of=gold.id, created_at=utcnow())
    db.add(copy)
    db.flush()
    for name in (AUDIO_NAME, TRANSCRIPT_AGENT_NAME, analysis_name(analysis.analysis_version)):
        source = artifact_key(gold.tenant_id, gold.id, name)
        if ctx.store.exists(source):
            target = name if name != analysis_name(analysis.analysis_version) else analysis_name(1)
            ctx.store.put_bytes(artifact_key(copy.tenant_id, copy.id, target), ctx.store.get_bytes(source))
    db.add(Analysis(tenant_id=copy.tenant_id, session_id=copy.id, analysis_version=1,
                    prompt_version=analysis.prompt_version, model=analysis.model, risk_level=analysis.risk_level,
                    result=analysis.result, tokens_in=0, tokens_out=0, cost_usd=0.0,
                    rubric_version=analysis.rubric_version, rubric_scores=analysis.rubric_scores))
    return copy


def create_round(ctx: Context, db: DbSession, principal: Principal, body: CalibrationRoundIn) -> CalibrationRoundOut:
    """Lead or admin: each chosen reviewer gets a copy of each gold session to judge on a sheet (audited)."""
    principal.require(Action.calibrate)
    golds = [owned_session(db, principal, sid) for sid in body.session_ids]
    if missing := [str(g.id) for g in golds if db.get(GoldStandard, g.id) is None]:
        raise ValidationFailure(f"not gold: {', '.join(missing)}; mark a reviewed session as gold first")
    reviewers = db.scalars(sa.select(User).where(User.tenant_id == principal.tenant_id,
                                                 User.email.in_(body.reviewer_emails))).all()
    if unknown := sorted(set(body.reviewer_emails) - {u.email for u in reviewers}):
        raise ValidationFailure(f"no user here with the email: {', '.join(unknown)}")
    if wrong := sorted(u.email for u in reviewers if u.role not in (Role.supervisor.value, Role.admin.value)):
        raise ValidationFailure(f"only supervisors and admins review: {', '.join(wrong)}")
    round_ = CalibrationRound(id=uuid.uuid4(), tenant_id=principal.tenant_id, name=body.name,
                              created_by=principal.user_id, created_at=utcnow())
    db.add(round_)
    db.flush()
    number = db.scalar(sa.select(sa.func.count()).where(Session.tenant_id == principal.tenant_id,
                                                        Session.purpose == CALIBRATION)) or 0
    for gold in golds:
        ai_answers = sheet_defaults(full_result(ctx.store, latest_analysis(db, principal, gold.id))[0])
        for reviewer in reviewers:
            number += 1
            copy = _copy(ctx, db, principal, gold, number)
            db.add(ReviewAssignment(id=uuid.uuid4(), tenant_id=principal.tenant_id, session_id=copy.id,
                                    reviewer_id=reviewer.id, slot=1, purpose=CALIBRATION, status="open",
                                    ai_answers=ai_answers, round_id=round_.id, created_at=utcnow()))
    audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="calibration.round", entity_type="tenant",
                 entity_id=principal.tenant_id, detail={"round_id": str(round_.id), "sessions": len(golds),
                                                        "reviewers": len(reviewers)})
    db.commit()
    return round_view(db, principal, round_.id)


def _distance(field: str, answer: Any, gold: Any) -> float | None:
    """How far an ordinal answer is from gold, in steps; None for a nominal field."""
    if answer is None or gold is None:
        return None
    if field == "risk_level":
        return float(abs(LEVELS.index(answer) - LEVELS.index(gold)))
    if field.startswith("rubric."):
        return float(abs(int(answer) - int(gold)))
    return None


def round_view(db: DbSession, principal: Principal, round_id: uuid.UUID) -> CalibrationRoundOut:
    """The round's sheets scored against gold, per reviewer and per field (lead or admin; gold stays theirs)."""
    principal.require(Action.calibrate)
    round_ = db.scalar(sa.select(CalibrationRound).where(CalibrationRound.id == round_id,
                                                         CalibrationRound.tenant_id == principal.tenant_id))
    if round_ is None:
        raise NotFound("calibration round not found")
    rows = db.execute(sa.select(ReviewAssignment, Session.calibration_of, User.email)
                      .join(Session, Session.id == ReviewAssignment.session_id)
                      .join(User, User.id == ReviewAssignment.reviewer_id)
                      .where(ReviewAssignment.round_id == round_id)).all()
    golds = {g.session_id: g.answers for g in db.scalars(sa.select(GoldStandard).where(
        GoldStandard.session_id.in_([r.calibration_of for r in rows])))} if rows else {}
    cells = []
    for sheet, gold_id, email in rows:
        if sheet.status != "submitted":
            continue
        gold = golds.get(gold_id, {})
        for field, expected in gold.items():
            answer = (sheet.answers or {}).get(field)
            cells.append(CalibrationCellOut(reviewer_email=email, gold_session_id=gold_id, field=field, answer=answer,
                                            gold=expected, match=answer == expected,
                                            distance=_distance(field, answer, expected)))
    reviewers = []
    for email in sorted({r.email for r in rows}):
        mine = [c for c in cells if c.reviewer_email == email]
        sheets = [r for r in rows if r.email == email]
        reviewers.append(CalibrationReviewerOut(
            reviewer_email=email, sheets=len(sheets), submitted=sum(r[0].status == "submitted" for r in sheets),
            fields=len(mine), accuracy=sum(c.match for c in mine) / len(mine) if mine else None))
    fields = []
    for field in sorted({c.field for c in cells}, key=lambda f: (f != "risk_level", f)):
        mine = [c for c in cells if c.field == field]
        distances = [c.distance for c in mine if c.distance is not None]
        fields.append(CalibrationFieldOut(field=field, answers=len(mine), accuracy=sum(c.match for c in mine) /
                                          len(mine), mean_distance=sum(distances) / len(distances)
                                          if distances else None))
    return CalibrationRoundOut(id=round_.id, name=round_.name, created_at=round_.created_at,
                               gold_session_ids=sorted({r.calibration_of for r in rows}, key=str),
                               reviewers=reviewers, fields=fields, cells=cells)


def list_rounds(db: DbSession, principal: Principal) -> list[CalibrationRoundOut]:
    principal.require(Action.calibrate)
    ids = db.scalars(sa.select(CalibrationRound.id).where(CalibrationRound.tenant_id == principal.tenant_id)
                     .order_by(CalibrationRound.created_at.desc()))
    return [round_view(db, principal, rid) for rid in ids]
