"""Tenant-scoped reads of sessions, transcripts and metrics. Every query filters by the caller's tenant;
another tenant's object is simply not found."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Job, Session, StageEvent, Transcript
from vigil.errors import NotFound
from vigil.schemas import AgentTranscript, SessionOut
from vigil.services.auth import Action, Principal
from vigil.storage import AUDIO_NAME, TRANSCRIPT_AGENT_NAME, artifact_key, transcript_raw_name


def _to_out(session: Session, job_id: uuid.UUID | None = None) -> SessionOut:
    return SessionOut(
        id=session.id, title=session.title, status=session.status, error=session.error,
        original_filename=session.original_filename, media_type=session.media_type,
        size_bytes=session.size_bytes, duration_seconds=session.duration_seconds,
        ai_risk_level=session.ai_risk_level, risk_level=session.risk_level, flagged=session.flagged,
        attention=session.attention,
        reviewed=session.reviewed_at is not None, created_at=session.created_at,
        analysis_ready_at=session.analysis_ready_at, reviewed_at=session.reviewed_at, job_id=job_id,
    )


def owned_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> Session:
    session = db.scalar(sa.select(Session).where(Session.id == session_id,
                                                 Session.tenant_id == principal.tenant_id))
    if session is None:
        raise NotFound("session not found")
    return session


RISK_ORDER = sa.case({"high": 0, "medium": 1, "low": 2}, value=Session.risk_level, else_=3)


def list_sessions(db: DbSession, principal: Principal, *, status: str | None = None,
                  flagged: bool | None = None, reviewed: bool | None = None,
                  limit: int = 100, offset: int = 0) -> list[SessionOut]:
    """Newest first, except that flagged sessions come first by severity when `flagged` is asked for."""
    principal.require(Action.read_status)
    query = sa.select(Session).where(Session.tenant_id == principal.tenant_id)
    if principal.role.value == "uploader":
        query = query.where(Session.uploaded_by == principal.user_id)
    if status:
        query = query.where(Session.status == status)
    if flagged is not None:
        query = query.where(Session.flagged.is_(flagged))
    if reviewed is not None:
        query = query.where(Session.reviewed_at.is_not(None) if reviewed else Session.reviewed_at.is_(None))
    order = [RISK_ORDER, Session.created_at.asc()] if flagged else [Session.created_at.desc()]
    rows = db.scalars(query.order_by(*order).limit(min(limit, 1000)).offset(offset)).all()
    return [_to_out(s) for s in rows]


def get_session(db: DbSession, principal: Principal, session_id: uuid.UUID) -> SessionOut:
    principal.require(Action.read_status)
    session = owned_session(db, principal, session_id)
    job_id = db.scalar(sa.select(Job.id).where(Job.session_id == session.id)
                       .order_by(Job.created_at.desc()).limit(1))
    return _to_out(session, job_id)


def _require_artifact(ctx: Context, key: str, what: str) -> bytes:
    if not ctx.store.exists(key):
        raise NotFound(f"{what} is not ready yet")
    return ctx.store.get_bytes(key)


def stored_transcript(ctx: Context, principal: Principal, session_id: uuid.UUID) -> AgentTranscript | None:
    """The agent transcript as the pipeline wrote it, or None while it is not ready."""
    principal.require(Action.read_content)
    with ctx.db() as db:
        owned_session(db, principal, session_id)
    key = artifact_key(principal.tenant_id, session_id, TRANSCRIPT_AGENT_NAME)
    return AgentTranscript.model_validate_json(ctx.store.get_bytes(key)) if ctx.store.exists(key) else None


def reviewed_transcript(ctx: Context, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    """The transcript with the supervisors' speaker corrections applied, and those corrections."""
    from vigil.services.reviews import relabel_speakers, speaker_overrides

    transcript = stored_transcript(ctx, principal, session_id)
    if transcript is None:
        raise NotFound("the transcript is not ready yet")
    with ctx.db() as db:
        overrides = speaker_overrides(db, principal, session_id)
    return {**relabel_speakers(transcript, overrides).model_dump(mode="json"), "speaker_overrides": overrides}


def raw_transcripts_json(ctx: Context, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    import json

    principal.require(Action.read_content)
    with ctx.db() as db:
        owned_session(db, principal, session_id)
        providers = db.scalars(sa.select(Transcript.provider).where(Transcript.session_id == session_id)).all()
    if not providers:
        raise NotFound("the transcript is not ready yet")
    return {p: json.loads(_require_artifact(ctx, artifact_key(principal.tenant_id, session_id,
                                                              transcript_raw_name(p)), "the transcript"))
            for p in providers}


def audio_key(ctx: Context, principal: Principal, session_id: uuid.UUID) -> str:
    principal.require(Action.read_content)
    with ctx.db() as db:
        owned_session(db, principal, session_id)
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
