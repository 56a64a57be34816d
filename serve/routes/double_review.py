"""Double review: the tenant's setting, a session's two blind answer sheets, and adjudicating a disagreement."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.api import AdjudicationIn, DoubleReviewAnswersIn, DoubleReviewOut, DoubleReviewSettings
from vigil.services import double_review

router = APIRouter(prefix="/api/v1", tags=["double review"])


@router.get("/tenants/{tenant_id}/double-review", response_model=DoubleReviewSettings)
def get_settings(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> DoubleReviewSettings:
    """Which sessions two supervisors judge (admin, own tenant)."""
    return double_review.settings_of(db, principal, tenant_id)


@router.put("/tenants/{tenant_id}/double-review", response_model=DoubleReviewSettings)
def put_settings(tenant_id: uuid.UUID, body: DoubleReviewSettings, db: DbDep,
                 principal: PrincipalDep) -> DoubleReviewSettings:
    """Set the share of sessions double-reviewed and whether every high-risk one is (admin; audited). Applies to
    analyses committed from now on; a share of 0 and no high-risk rule is single review, as before."""
    return double_review.set_settings(db, principal, tenant_id, body)


@router.get("/sessions/{session_id}/double-review", response_model=DoubleReviewOut)
def get_double_review(session_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> DoubleReviewOut:
    """The session's double review: who reviews, the caller's own sheet, and both sheets and their disagreements
    only once both are in (content readers)."""
    return double_review.view(ctx.store, db, principal, session_id)


@router.put("/sessions/{session_id}/double-review", response_model=DoubleReviewOut)
def put_answers(session_id: uuid.UUID, body: DoubleReviewAnswersIn, ctx: ContextDep, db: DbDep,
                principal: PrincipalDep) -> DoubleReviewOut:
    """The assigned reviewer saves answers (merged over the saved ones) and, with `submit`, closes the sheet (every
    field answered; 409 after). Anyone else: 404."""
    return double_review.save_answers(ctx.store, db, principal, session_id, body.answers, body.note, body.submit)


@router.post("/sessions/{session_id}/adjudications", response_model=DoubleReviewOut)
def adjudicate(session_id: uuid.UUID, body: AdjudicationIn, ctx: ContextDep, db: DbDep,
               principal: PrincipalDep) -> DoubleReviewOut:
    """A lead or admin settles one disagreement with a reason; the value becomes the canonical review (audited).
    409 for a field the reviewers agreed on or that is settled already."""
    return double_review.adjudicate(ctx.store, db, principal, session_id, body.field, body.value, body.reason)
