from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.api import AgreementOut, RequestTimingOut, SessionReviewFacts, StageTimingOut
from vigil.services import score_exports
from vigil.services.agreement import reviewer_agreement
from vigil.services.review_metrics import request_timings, review_facts_json, stage_timings

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


@router.get("/review-facts", response_model=list[SessionReviewFacts],
            description="One row per session of the caller's tenant (newest first, up to 50,000): flags, risk, "
                        "review time, `reviewLatencyMinutes`, reviewed and overridden fields, counselor and team, "
                        "time to ready, the newest analysis's model, cost and AI rubric scores, and transcription "
                        "confidence and provider agreement. Supervisors, leads, admins.")
def get_review_facts(db: DbDep, principal: PrincipalDep, since: datetime | None = None) -> Response:
    # Tens of thousands of rows, built as JSON by PostgreSQL and passed through as they are.
    return Response(review_facts_json(db, principal, since), media_type="application/json")


@router.get("/stage-timings", response_model=list[StageTimingOut],
            description="Every finished pipeline stage attempt with its duration (newest first, up to 100,000).")
def get_stage_timings(db: DbDep, principal: PrincipalDep, since: datetime | None = None) -> list[StageTimingOut]:
    return stage_timings(db, principal, since)


@router.get("/request-timings", response_model=list[RequestTimingOut],
            description="The tenant's API requests with their durations (newest first, up to 100,000).")
def get_request_timings(db: DbDep, principal: PrincipalDep, since: datetime | None = None) -> list[RequestTimingOut]:
    return request_timings(db, principal, since)


@router.get("/agreement", response_model=AgreementOut)
def get_agreement(db: DbDep, principal: PrincipalDep, since: datetime | None = None,
                  field: str | None = None) -> AgreementOut:
    """How far reviewers agree, from double reviews with both sheets in: per judged field, sessions, percent
    agreement, Cohen's kappa (nominal) or Krippendorff's ordinal alpha, a 95 % bootstrap interval, and reviewers
    against the AI on the same sessions; for `field` (default risk_level), a reviewer-by-reviewer matrix and the
    trend by week. Supervisors, leads, admins."""
    return reviewer_agreement(db, principal, since, field)


MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}


@router.get("/human-scores", responses={200: {"content": {m: {} for m in MEDIA.values()}}})
def get_human_scores(ctx: ContextDep, db: DbDep, principal: PrincipalDep, since: datetime | None = None,
                     format: Literal["csv", "parquet", "json"] = "csv") -> Response:
    """Every human score and comment, one row each (kind, session, field, value, the AI's value, comment,
    reviewer id and email, time): reviews (own, agreed in double review, adjudicated), submitted double-review and
    calibration sheets, disputes and their resolutions, gold answers. Comments are in the clear: leads and admins
    only, and every export is audited with its row count."""
    frame = score_exports.human_scores(ctx.store, db, principal, since)
    return Response(score_exports.encoded(frame, format), media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="human-scores.{format}"'})
