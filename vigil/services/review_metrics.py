"""Per-session review facts for KPIs and trends: one compact row per session, tenant-scoped, for leads and
supervisors. `reviewLatencyMinutes` is the time from the analysis being ready to the first human review."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Analysis, RequestTiming, Review, Session, StageEvent, Transcript
from vigil.schemas import RequestTimingOut, SessionReviewFacts, StageTimingOut
from vigil.services.auth import Action, Principal


def review_facts(db: DbSession, principal: Principal, since: datetime | None = None,
                 limit: int = 50_000) -> list[SessionReviewFacts]:
    principal.require(Action.read_content)
    query = sa.select(Session.id, Session.created_at, Session.status, Session.flagged, Session.ai_risk_level,
                      Session.risk_level, Session.attention, Session.analysis_ready_at, Session.reviewed_at,
                      Session.counselor, Session.team, Session.risk_categories) \
        .where(Session.tenant_id == principal.tenant_id)
    if since is not None:
        query = query.where(Session.created_at >= since)
    rows = db.execute(query.order_by(Session.created_at.desc()).limit(limit)).all()
    reviewed_fields: dict[str, set[str]] = defaultdict(set)
    changed_fields: dict[str, set[str]] = defaultdict(set)
    ids = [row.id for row in rows if row.reviewed_at is not None]
    for chunk in _chunks(ids):
        for review in db.execute(sa.select(Review.session_id, Review.field, Review.ai_value, Review.human_value)
                                 .where(Review.tenant_id == principal.tenant_id, Review.session_id.in_(chunk))):
            sid = str(review.session_id)
            reviewed_fields[sid].add(review.field)
            if review.ai_value != review.human_value:
                changed_fields[sid].add(review.field)
    work = _latest_analysis_work(db, principal, [row.id for row in rows])
    speech = _transcription_quality(db, principal, [row.id for row in rows])
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
            reviewed_fields=sorted(reviewed_fields[sid]), overridden_fields=sorted(changed_fields[sid]),
            counselor=row.counselor, team=row.team, risk_categories=list(row.risk_categories or []),
            time_to_ready_seconds=(round((row.analysis_ready_at - row.created_at).total_seconds(), 2)
                                   if row.analysis_ready_at else None),
            **work.get(row.id, {}), **speech.get(row.id, {})))
    return facts


def _chunks(ids: list[uuid.UUID], size: int = 5000) -> Iterator[list[uuid.UUID]]:
    for start in range(0, len(ids), size):  # bounded IN lists
        yield ids[start:start + size]


def _latest_analysis_work(db: DbSession, principal: Principal, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Per session, its newest analysis: model, tokens, cost, and the AI's rubric scores by item key."""
    found: dict[uuid.UUID, dict] = {}
    for chunk in _chunks(ids):
        query = (sa.select(Analysis.session_id, Analysis.model, Analysis.tokens_in, Analysis.tokens_out,
                           Analysis.cost_usd, Analysis.result["rubric"].label("rubric"))
                 .where(Analysis.tenant_id == principal.tenant_id, Analysis.session_id.in_(chunk))
                 .order_by(Analysis.session_id, Analysis.analysis_version.desc())
                 .distinct(Analysis.session_id))
        for row in db.execute(query):
            found[row.session_id] = {
                "model": row.model, "tokens": row.tokens_in + row.tokens_out, "cost_usd": row.cost_usd,
                "rubric": {item["key"]: item["score"] for item in row.rubric or [] if "key" in item}}
    return found


def _transcription_quality(db: DbSession, principal: Principal, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Per session: the providers that transcribed it, the confidence of the transcript it shows (the reconciled
    one when several providers ran), and how often the providers agreed on a word."""
    rows: dict[uuid.UUID, list] = defaultdict(list)
    for chunk in _chunks(ids):
        for row in db.execute(sa.select(Transcript.session_id, Transcript.provider, Transcript.mean_confidence,
                                        Transcript.metrics["agreement_rate"].as_float().label("agreement"))
                              .where(Transcript.tenant_id == principal.tenant_id, Transcript.session_id.in_(chunk))):
            rows[row.session_id].append(row)
    found = {}
    for sid, transcripts in rows.items():
        shown = next((t for t in transcripts if t.provider == "reconciled"), transcripts[0])
        found[sid] = {"providers": sorted(t.provider for t in transcripts if t.provider != "reconciled"),
                      "transcription_confidence": shown.mean_confidence, "provider_agreement": shown.agreement}
    return found


def stage_timings(db: DbSession, principal: Principal, since: datetime | None = None,
                  limit: int = 100_000) -> list[StageTimingOut]:
    """Every finished stage attempt (ready or failed) with its duration, newest first."""
    principal.require(Action.read_content)
    query = sa.select(StageEvent.stage, StageEvent.event, StageEvent.attempt, StageEvent.duration_seconds,
                      StageEvent.created_at, StageEvent.session_id) \
        .where(StageEvent.tenant_id == principal.tenant_id, StageEvent.duration_seconds.is_not(None))
    if since is not None:
        query = query.where(StageEvent.created_at >= since)
    return [StageTimingOut.model_validate(row, from_attributes=True)
            for row in db.execute(query.order_by(StageEvent.created_at.desc()).limit(limit))]


def request_timings(db: DbSession, principal: Principal, since: datetime | None = None,
                    limit: int = 100_000) -> list[RequestTimingOut]:
    """The caller's tenant's API requests with their durations, newest first."""
    principal.require(Action.read_content)
    query = sa.select(RequestTiming.method, RequestTiming.route, RequestTiming.status_code, RequestTiming.duration_ms,
                      RequestTiming.created_at).where(RequestTiming.tenant_id == principal.tenant_id)
    if since is not None:
        query = query.where(RequestTiming.created_at >= since)
    return [RequestTimingOut.model_validate(row, from_attributes=True)
            for row in db.execute(query.order_by(RequestTiming.created_at.desc()).limit(limit))]
