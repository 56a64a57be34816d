from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from serve.deps import DbDep, PrincipalDep
from vigil.schemas import SessionReviewFacts
from vigil.services.review_metrics import review_facts

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


@router.get("/review-facts", response_model=list[SessionReviewFacts],
            description="One row per session of the caller's tenant (newest first, up to 50,000): flags, risk, "
                        "review time, `reviewLatencyMinutes`, reviewed and overridden fields. Supervisors, leads, "
                        "admins.")
def get_review_facts(db: DbDep, principal: PrincipalDep, since: datetime | None = None) -> list[SessionReviewFacts]:
    return review_facts(db, principal, since)
