"""Per-session review facts for KPIs and trends: one compact row per session, tenant-scoped, for leads and
supervisors. `reviewLatencyMinutes` is the time from the analysis being ready to the first human review."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import RequestTiming, StageEvent
from vigil.schemas.api import RequestTimingOut, StageTimingOut
from vigil.services.access import Action, Principal

# One statement builds the whole answer as JSON inside PostgreSQL: for 10,000 sessions it is several times faster
# than fetching rows into Python, decoding JSON columns and building models (1.3 s → see bench/dashboard.py).
# Every part is scoped to the caller's tenant.
FACTS_SQL = sa.text("""
WITH scope AS (
    SELECT id FROM sessions
    WHERE tenant_id = :tenant AND purpose = 'production'  -- calibration copies are not production work
      AND (CAST(:since AS timestamptz) IS NULL OR created_at >= CAST(:since AS timestamptz))
    ORDER BY created_at DESC LIMIT :limit
), rv AS (
    SELECT r.session_id, array_agg(DISTINCT r.field ORDER BY r.field) AS reviewed,
           array_remove(array_agg(DISTINCT CASE WHEN r.ai_value <> r.human_value THEN r.field END), NULL) AS changed
    FROM reviews r JOIN scope ON scope.id = r.session_id WHERE r.tenant_id = :tenant GROUP BY r.session_id
), an AS (
    SELECT DISTINCT ON (a.session_id) a.session_id, a.model, a.tokens_in + a.tokens_out AS tokens, a.cost_usd,
           a.rubric_scores
    FROM analyses a JOIN scope ON scope.id = a.session_id WHERE a.tenant_id = :tenant
    ORDER BY a.session_id, a.analysis_version DESC
), tr AS (
    -- The transcript a session shows is the reconciled one when several providers ran, else its only one.
    SELECT t.session_id,
           COALESCE(array_agg(t.provider ORDER BY t.provider) FILTER (WHERE t.provider <> 'reconciled'),
                    '{}') AS providers,
           COALESCE(max(t.mean_confidence) FILTER (WHERE t.provider = 'reconciled'), max(t.mean_confidence))
               AS confidence,
           max(CAST(t.metrics ->> 'agreement_rate' AS double precision)) FILTER (WHERE t.provider = 'reconciled')
               AS agreement
    FROM transcripts t JOIN scope ON scope.id = t.session_id WHERE t.tenant_id = :tenant GROUP BY t.session_id
)
SELECT CAST(COALESCE(json_agg(json_build_object(
    'id', s.id, 'created_at', s.created_at, 'status', s.status, 'flagged', s.flagged,
    'ai_risk_level', s.ai_risk_level, 'risk_level', s.risk_level, 'attention', s.attention,
    'analysis_ready_at', s.analysis_ready_at, 'reviewed_at', s.reviewed_at,
    'reviewLatencyMinutes', CASE WHEN s.reviewed_at IS NOT NULL AND s.analysis_ready_at IS NOT NULL THEN
        round(CAST(greatest(0, extract(epoch FROM s.reviewed_at - s.analysis_ready_at)) / 60 AS numeric), 2) END,
    'reviewed_fields', COALESCE(rv.reviewed, '{}'), 'overridden_fields', COALESCE(rv.changed, '{}'),
    'counselor', s.counselor, 'team', s.team, 'risk_categories', s.risk_categories,
    'time_to_ready_seconds', CASE WHEN s.analysis_ready_at IS NOT NULL THEN
        round(CAST(extract(epoch FROM s.analysis_ready_at - s.created_at) AS numeric), 2) END,
    'model', an.model, 'tokens', an.tokens, 'cost_usd', an.cost_usd, 'rubric', COALESCE(an.rubric_scores, '{}'),
    'providers', COALESCE(tr.providers, '{}'), 'transcription_confidence', tr.confidence,
    'provider_agreement', tr.agreement
) ORDER BY s.created_at DESC), '[]') AS text)
FROM sessions s JOIN scope ON scope.id = s.id
LEFT JOIN rv ON rv.session_id = s.id LEFT JOIN an ON an.session_id = s.id LEFT JOIN tr ON tr.session_id = s.id
""")


def review_facts_json(db: DbSession, principal: Principal, since: datetime | None = None,
                      limit: int = 50_000) -> bytes:
    """The caller's tenant's sessions (newest first, up to `limit`) as a JSON array of `SessionReviewFacts`."""
    principal.require(Action.read_content)
    body = db.execute(FACTS_SQL, {"tenant": principal.tenant_id, "since": since, "limit": limit}).scalar_one()
    return body.encode()


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
