"""Per-session review facts for KPIs and trends: one compact row per session, tenant-scoped, for leads and
supervisors. `reviewLatencyMinutes` is the time from the analysis being ready to the first human review."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Review, Session
from vigil.schemas import SessionReviewFacts
from vigil.services.auth import Action, Principal


def review_facts(db: DbSession, principal: Principal, since: datetime | None = None,
                 limit: int = 50_000) -> list[SessionReviewFacts]:
    principal.require(Action.read_content)
    query = sa.select(Session.id, Session.created_at, Session.status, Session.flagged, Session.ai_risk_level,
                      Session.risk_level, Session.attention, Session.analysis_ready_at, Session.reviewed_at) \
        .where(Session.tenant_id == principal.tenant_id)
    if since is not None:
        query = query.where(Session.created_at >= since)
    rows = db.execute(query.order_by(Session.created_at.desc()).limit(limit)).all()
    reviewed_fields: dict[str, set[str]] = defaultdict(set)
    changed_fields: dict[str, set[str]] = defaultdict(set)
    ids = [row.id for row in rows if row.reviewed_at is not None]
    for start in range(0, len(ids), 5000):  # bounded IN lists
        for review in db.execute(sa.select(Review.session_id, Review.field, Review.ai_value, Review.human_value)
                                 .where(Review.tenant_id == principal.tenant_id,
                                        Review.session_id.in_(ids[start:start + 5000]))):
            sid = str(review.session_id)
            reviewed_fields[sid].add(review.field)
            if review.ai_value != review.human_value:
                changed_fields[sid].add(review.field)
    facts = []
    for row in rows:
        latency = None
        if row.reviewed_at is not None and row.analysis_ready_at is not None:
            latency = round(max(0.0, (row.reviewed_at - row.analysis_ready_at).total_seconds()) / 60, 2)
        sid = str(row.id)
        facts.append(SessionReviewFacts(
            id=row.id, created_at=row.created_at, status=row.status, flagged=row.flagged,
            ai_risk_level=row.ai_risk_level, risk_level=row.risk_level, attention=row.attention,
            analysis_ready_at=row.analysis_ready_at, reviewed_at=row.reviewed_at, reviewLatencyMinutes=latency,
            reviewed_fields=sorted(reviewed_fields[sid]), overridden_fields=sorted(changed_fields[sid])))
    return facts
