"""Tenant-scoped reads of sessions, transcripts and metrics. Every query filters by the caller's tenant;
another tenant's object is simply not found."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Job, ReviewAssignment, Session, StageEvent, Transcript
from vigil.errors import NotFound
from vigil.schemas.api import SessionOut, SessionSummaryOut
from vigil.schemas.transcripts import AgentTranscript, ReviewedTranscript
from vigil.services import audit
from vigil.services.access import Action, Principal, content_wall, owned_session
from vigil.services.redaction import FIELD_PREFIX as REDACTION_PREFIX
from vigil.services.redaction import apply_restorations, restored_in
from vigil.services.review_sheets import label_for
from vigil.services.reviews import SPEAKER_FIELD_PREFIXES, is_speaker_field, newest_values, relabel_speakers
from vigil.storage.base import AUDIO_NAME, TRANSCRIPT_AGENT_NAME, artifact_key, transcript_raw_name
from vigil.transcription.standin import StandinTranscriber

# A speech provider's own transcript: the combined one (ROVER, vigil.services.pipeline) is not a provider.
PROVIDER_TRANSCRIPT = Transcript.provider != "reconciled"


def _to_out(session: Session, job_id: uuid.UUID | None = None, providers: list[str] | None = None,
            double_review: str | None = None) -> SessionOut:
    return SessionOut(
        id=session.id, title=session.title, status=session.status, error=session.error,
        original_filename=session.original_filename, media_type=session.media_type,
        size_bytes=session.size_bytes, duration_seconds=session.duration_seconds,
        ai_risk_level=session.ai_risk_level, risk_level=session.risk_level, flagged=session.flagged,
        attention=session.attention, counselor=session.counselor, team=session.team,
        risk_categories=list(session.risk_categories or []), providers=providers or [],
        load_test_transcript=StandinTranscriber.name in (providers or []),
        reviewed=session.reviewed_at is not None, created_at=session.created_at,
        analysis_ready_at=session.analysis_ready_at, reviewed_at=session.reviewed_at, job_id=job_id,
        media_purged_at=session.media_purged_at, content_purged_at=session.content_purged_at,
        redaction_count=session.redaction_count, double_review=double_review, purpose=session.purpose,
    )


# Queue order: flagged sessions nobody has reviewed first; among them "unknown" (the risk task failed, so no one,
# human or model, has read the session for risk) before high, medium and low, oldest first; then the rest, newest first.
AWAITING = Session.flagged.is_(True) & Session.reviewed_at.is_(None)
# Processing failed, or a task did (the session carries why a person must look): the queue's "analysis failed".
ANALYSIS_FAILED = Session.attention.is_not(None) | (Session.status == "failed")
SEVERITY_RANK = sa.case({"unknown": -1, "high": 0, "medium": 1, "low": 2}, value=Session.risk_level, else_=3)
ORDERS = {
    "newest": [Session.created_at.desc(), Session.id],
    "severity": [SEVERITY_RANK, Session.created_at.asc(), Session.id],
    "queue": [sa.case((AWAITING, 0), else_=1), sa.case((AWAITING, SEVERITY_RANK)),
              sa.case((AWAITING, Session.created_at)).asc(), Session.created_at.desc(), Session.id],
}


@dataclass(frozen=True)
class SessionFilter:
    """What the review queue can narrow by. Every field is optional; all given ones must hold."""

    status: str | None = None
    flagged: bool | None = None
    reviewed: bool | None = None
    risk_levels: tuple[str, ...] = ()
    category: str | None = None
    counselor: str | None = None
    team: str | None = None
    provider: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    analysis_failed: bool | None = None

    def where(self, principal: Principal) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [Session.tenant_id == principal.tenant_id, sa.or_(
            Session.purpose == "production",  # a calibration copy shows only to the reviewer it was sent to
            sa.exists().where(ReviewAssignment.session_id == Session.id,
                              ReviewAssignment.reviewer_id == principal.user_id))]
        if principal.role.value == "uploader":
            clauses.append(Session.uploaded_by == principal.user_id)
        if self.status:
            clauses.append(Session.status == self.status)
        if self.flagged is not None:
            clauses.append(Session.flagged.is_(self.flagged))
        if self.reviewed is not None:
            clauses.append(Session.reviewed_at.is_not(None) if self.reviewed else Session.reviewed_at.is_(None))
        if self.risk_levels:
            clauses.append(Session.risk_level.in_(self.risk_levels))
        if self.category:
            clauses.append(Session.risk_categories.any(self.category))
        if self.counselor:
            clauses.append(Session.counselor == self.counselor)
        if self.team:
            clauses.append(Session.team == self.team)
        if self.provider:
            clauses.append(sa.exists().where(Transcript.session_id == Session.id,
                                             Transcript.tenant_id == principal.tenant_id,
                                             Transcript.provider == self.provider))
        if self.created_from:
            clauses.append(Session.created_at >= self.created_from)
        if self.created_to:
            clauses.append(Session.created_at < self.created_to)
        if self.analysis_failed is not None:
            clauses.append(ANALYSIS_FAILED if self.analysis_failed else ~ANALYSIS_FAILED)
        return clauses


def list_sessions(db: DbSession, principal: Principal, *, status: str | None = None,
                  flagged: bool | None = None, reviewed: bool | None = None,
                  limit: int = 100, offset: int = 0, where: SessionFilter | None = None,
                  order: str | None = None) -> list[SessionOut]:
    """Newest first by default; `order="queue"` puts flagged unreviewed sessions first by severity then age, and
    asking for `flagged` alone orders by severity."""
    principal.require(Action.read_status)
    where = replace(where or SessionFilter(), **{k: v for k, v in
                                                 (("status", status), ("flagged", flagged), ("reviewed", reviewed))
                                                 if v is not None})
    order = order or ("severity" if where.flagged else "newest")
    query = sa.select(Session).where(*where.where(principal))
    ordering = ORDERS[order]
    if order == "queue":  # the caller's own open double reviews come first: they are waiting on this person
        ordering = [sa.case((sa.exists().where(ReviewAssignment.session_id == Session.id,
                                               ReviewAssignment.reviewer_id == principal.user_id,
                                               ReviewAssignment.status == "open"), 0), else_=1), *ordering]
    rows = db.scalars(query.order_by(*ordering).limit(min(limit, 1000)).offset(offset)).all()
    providers = _providers_of(db, principal, [r.id for r in rows])
    labels = label_for(db, principal, [r.id for r in rows])
    return [_to_out(s, providers=providers.get(s.id), double_review=labels.get(s.id)) for s in rows]


def _providers_of(db: DbSession, principal: Principal, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The speech providers that transcribed each session, by name."""
    providers: dict[uuid.UUID, list[str]] = {}
    if session_ids:
        for sid, provider in db.execute(
                sa.select(Transcript.session_id, Transcript.provider)
                .where(Transcript.tenant_id == principal.tenant_id,
                       Transcript.session_id.in_(session_ids), PROVIDER_TRANSCRIPT)
                .order_by(Transcript.provider)):
            providers.setdefault(sid, []).append(provider)
    return providers


def session_summary(db: DbSession, principal: Principal, where: SessionFilter | None = None) -> SessionSummaryOut:
    """Counts of what needs action under a filter, and the values the queue's filters can take."""
    principal.require(Action.read_status)
    clauses = (where or SessionFilter()).where(principal)
    counts = db.execute(sa.select(
        sa.func.count(), sa.func.count().filter(AWAITING),
        sa.func.count().filter(Session.status.in_(("uploaded", "processing", "awaiting_upload"))),
        sa.func.count().filter(ANALYSIS_FAILED), sa.func.count().filter(Session.status == "ready"),
        sa.func.min(Session.analysis_ready_at).filter(AWAITING),
    ).where(*clauses)).one()
    scope = SessionFilter().where(principal)
    facets = {
        "counselors": db.scalars(sa.select(Session.counselor).distinct().where(*scope, Session.counselor.is_not(None))
                                 .order_by(Session.counselor).limit(500)).all(),
        "teams": db.scalars(sa.select(Session.team).distinct().where(*scope, Session.team.is_not(None))
                            .order_by(Session.team).limit(500)).all(),
        "providers": db.scalars(sa.select(Transcript.provider).distinct()
                                .where(Transcript.tenant_id == principal.tenant_id, PROVIDER_TRANSCRIPT)
                                .order_by(Transcript.provider)).all(),
        "categories": db.scalars(sa.select(sa.func.unnest(Session.risk_categories)).distinct()
                                 .where(*scope)).all(),
    }
    return SessionSummaryOut(total=counts[0], awaiting_review=counts[1], processing=counts[2],
                             analysis_failed=counts[3], ready=counts[4], oldest_awaiting_ready_at=counts[5],
                             **{k: sorted(v) for k, v in facets.items()})


# A session with its newest job and its providers, in one statement built once: the session page's header asks for
# all three on every view.
_NEWEST_JOB = (sa.select(Job.id).where(Job.session_id == Session.id, Job.tenant_id == Session.tenant_id)
               .order_by(Job.created_at.desc()).limit(1).scalar_subquery())
_PROVIDERS = (sa.select(sa.func.array_agg(aggregate_order_by(Transcript.provider, Transcript.provider)))
              .where(Transcript.session_id == Session.id, Transcript.tenant_id == Session.tenant_id,
                     PROVIDER_TRANSCRIPT).scalar_subquery())
_SESSION_HEADER = sa.select(Session, _NEWEST_JOB, _PROVIDERS).where(Session.id == sa.bindparam("session_id"),
                                                                     Session.tenant_id == sa.bindparam("tenant_id"))


def get_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> SessionOut:
    principal.require(Action.read_status)
    row = db.execute(_SESSION_HEADER, {"session_id": session_id, "tenant_id": principal.tenant_id}).first()
    if row is None:
        raise NotFound("session not found")
    session, job_id, providers = row
    return _to_out(session, job_id, providers, label_for(db, principal, [session.id]).get(session.id))


def _require_artifact(ctx: Context, key: str, what: str) -> bytes:
    if not ctx.store.exists(key):
        raise NotFound(f"{what} is not ready yet")
    return ctx.store.get_bytes(key)


def stored_transcript(ctx: Context, principal: Principal, session_id: uuid.UUID) -> AgentTranscript | None:
    """The agent transcript as the pipeline wrote it, or None while it is not ready."""
    principal.require(Action.read_content)
    with ctx.tenant_db(principal.tenant_id) as db:
        content_wall(db, principal, session_id)
    return _agent_transcript(ctx, principal, session_id)


def _agent_transcript(ctx: Context, principal: Principal, session_id: uuid.UUID) -> AgentTranscript | None:
    key = artifact_key(principal.tenant_id, session_id, TRANSCRIPT_AGENT_NAME)
    return AgentTranscript.model_validate_json(ctx.store.get_bytes(key)) if ctx.store.exists(key) else None


def reviewed_transcript(ctx: Context, principal: Principal, session_id: uuid.UUID) -> ReviewedTranscript:
    """The transcript with the supervisors' speaker corrections and restored redactions applied, and both listed."""
    principal.require(Action.read_content)
    with ctx.tenant_db(principal.tenant_id) as db:  # one transaction, two queries: the session's wall, then its
        content_wall(db, principal, session_id)  # speaker corrections and restored redactions together
        values = newest_values(db, principal.tenant_id, session_id, (*SPEAKER_FIELD_PREFIXES, REDACTION_PREFIX))
    overrides = {field: value for field, value in values.items() if is_speaker_field(field)}
    restored = restored_in(values)
    transcript = _agent_transcript(ctx, principal, session_id)
    if transcript is None:
        raise NotFound("the transcript is not ready yet")
    transcript = apply_restorations(ctx, principal, transcript, restored)
    relabelled = relabel_speakers(transcript, overrides)
    return ReviewedTranscript.model_construct(**dict(relabelled), speaker_overrides=overrides,
                                              restored_redactions=sorted(restored))


def raw_transcripts_json(ctx: Context, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    """The providers' own outputs. They are originals, unredacted, so only reviewers may read them, and every
    read is audited."""
    principal.require(Action.review)
    with ctx.tenant_db(principal.tenant_id) as db:
        content_wall(db, principal, session_id)
        providers = db.scalars(sa.select(Transcript.provider).where(Transcript.session_id == session_id)).all()
        if not providers:
            raise NotFound("the transcript is not ready yet")
        audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="transcript.original_read",
                     entity_type="session", entity_id=session_id, detail={"what": "raw", "providers": providers})
        db.commit()
    return {p: json.loads(_require_artifact(ctx, artifact_key(principal.tenant_id, session_id,
                                                              transcript_raw_name(p)), "the transcript"))
            for p in providers}


def audio_key(ctx: Context, principal: Principal, session_id: uuid.UUID) -> str:
    principal.require(Action.read_content)
    with ctx.tenant_db(principal.tenant_id) as db:
        content_wall(db, principal, session_id)
    key = artifact_key(principal.tenant_id, session_id, AUDIO_NAME)
    if not ctx.store.exists(key):
        raise NotFound("the audio is not extracted yet")
    return key


def session_metrics(db: DbSession, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    """Transcript quality metrics per provider and the duration of each pipeline stage."""
    principal.require(Action.read_content)
    session = owned_session(db, principal, session_id)
    transcripts = db.scalars(sa.select(Transcript).where(Transcript.session_id == session.id)).all()
    events = db.scalars(sa.select(StageEvent).where(StageEvent.session_id == session.id)
                        .order_by(StageEvent.created_at)).all()
    return {
        "session_id": str(session.id),
        "duration_seconds": session.duration_seconds,
        "transcripts": {t.provider: {**t.metrics, "model": t.model} for t in transcripts},
        "stages": [{"stage": e.stage, "event": e.event, "attempt": e.attempt,
                    "duration_seconds": e.duration_seconds, "detail": e.detail, "at": e.created_at.isoformat()}
                   for e in events],
    }
