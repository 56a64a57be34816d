"""Calibration: gold answers, rounds that send gold sessions to chosen reviewers, and each reviewer's sheet."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.api import (
    CalibrationRoundIn,
    CalibrationRoundOut,
    DoubleReviewAnswersIn,
    DoubleReviewOut,
    GoldIn,
    GoldOut,
)
from vigil.services import calibration, double_review
from vigil.services.review_sheets import CALIBRATION

router = APIRouter(prefix="/api/v1", tags=["calibration"])


@router.post("/sessions/{session_id}/gold", status_code=201, response_model=GoldOut)
def mark_gold(session_id: uuid.UUID, body: GoldIn, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> GoldOut:
    """Lead or admin: a reviewed session's canonical answer becomes gold, with a note (audited; 409 if not reviewed
    or gold already)."""
    return calibration.mark_gold(ctx, db, principal, session_id, body.note)


@router.get("/gold", response_model=list[GoldOut])
def list_gold(ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> list[GoldOut]:
    """The tenant's gold sessions and their answers (lead or admin)."""
    return calibration.list_gold(ctx, db, principal)


@router.post("/calibration-rounds", status_code=201, response_model=CalibrationRoundOut)
def create_round(body: CalibrationRoundIn, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> CalibrationRoundOut:
    """Lead or admin: each chosen reviewer gets a copy of each gold session to judge, as an ordinary review on a
    sheet (audited). Copies stay out of production lists and KPIs."""
    return calibration.create_round(ctx, db, principal, body)


@router.get("/calibration-rounds", response_model=list[CalibrationRoundOut])
def list_rounds(db: DbDep, principal: PrincipalDep) -> list[CalibrationRoundOut]:
    return calibration.list_rounds(db, principal)


@router.get("/calibration-rounds/{round_id}", response_model=CalibrationRoundOut)
def get_round(round_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> CalibrationRoundOut:
    """The round's submitted sheets scored against gold, per reviewer and per field (lead or admin)."""
    return calibration.round_view(db, principal, round_id)


@router.get("/sessions/{session_id}/calibration", response_model=DoubleReviewOut)
def get_sheet(session_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> DoubleReviewOut:
    """A calibration copy's sheet: the AI's answers it starts from, and the caller's own answers."""
    return double_review.view(ctx.store, db, principal, session_id, CALIBRATION)


@router.put("/sessions/{session_id}/calibration", response_model=DoubleReviewOut)
def put_sheet(session_id: uuid.UUID, body: DoubleReviewAnswersIn, ctx: ContextDep, db: DbDep,
              principal: PrincipalDep) -> DoubleReviewOut:
    """The assigned reviewer answers the copy (merged over saved answers); `submit` closes it for scoring."""
    return double_review.save_answers(ctx.store, db, principal, session_id, body.answers, body.note, body.submit,
                                      CALIBRATION)
