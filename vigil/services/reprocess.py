"""People asking for work again: analyse a session anew, or reprocess a failed or dead one.

Both coalesce: while the session has an active job, every request gets that job. An analyze whose inputs equal
the latest analysis's gets that analysis's job, unless forced."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Analysis, Job, Session
from vigil.errors import Conflict
from vigil.schemas.api import JobAccepted
from vigil.services import audit
from vigil.services.access import Action, Principal, owned_session
from vigil.services.analysis_inputs import current_inputs_key
from vigil.services.jobs import active_job, enqueue_or_join
from vigil.storage.base import TRANSCRIPT_AGENT_NAME, artifact_key


def request_analysis(ctx: Context, principal: Principal, session_id: uuid.UUID, force: bool = False) -> JobAccepted:
    """Run the analysis again on the existing transcript: a new analysis version; the old stays.

    While the session has an active job, that job is the answer. Otherwise, when the latest analysis was made from
    the same inputs (transcript, analyzer, prompt, rubric, risk model, sensitivity) its job is the answer, since
    running again would repeat the same work, unless `force`. The active job is looked for first: a job commits its
    analysis before it stops being active, so a burst of requests all see one or the other and share one job."""
    principal.require(Action.reprocess)
    with ctx.tenant_db(principal.tenant_id) as db:
        session = owned_session(db, principal, session_id)
        if not ctx.store.exists(artifact_key(session.tenant_id, session.id, TRANSCRIPT_AGENT_NAME)):
            raise Conflict("the session has no transcript yet; reprocess it instead")
        if (active := active_job(db, session.id)) is not None:
            return JobAccepted(job_id=active.id, status=active.status, coalesced=True)
        if not force and (same := _same_inputs_job(ctx, db, session)) is not None:
            return same
        job, created = enqueue_or_join(db, session, "analyze", ctx.settings.stage_max_attempts)
        if created:
            audit.record(db, tenant_id=session.tenant_id, actor=principal, action="session.analyze",
                         entity_type="session", entity_id=session.id, detail={"job_id": str(job.id)})
        db.commit()
        return JobAccepted(job_id=job.id, status=job.status, coalesced=not created)


def _same_inputs_job(ctx: Context, db: DbSession, session: Session) -> JobAccepted | None:
    """The job of the latest analysis, if that analysis was made from the inputs an analysis would use now."""
    latest = db.execute(sa.select(Analysis.job_id, Analysis.inputs_key, Analysis.analysis_version)
                        .where(Analysis.session_id == session.id)
                        .order_by(Analysis.analysis_version.desc()).limit(1)).one_or_none()
    if latest is None or latest.job_id is None or latest.inputs_key is None:
        return None
    if latest.inputs_key != current_inputs_key(db, session.tenant_id, session.id, ctx.settings):
        return None
    job = db.get(Job, latest.job_id)
    if job is None:
        return None
    return JobAccepted(job_id=job.id, status=job.status, coalesced=True,
                       same_inputs_as_version=latest.analysis_version)


def request_reprocess(ctx: Context, principal: Principal, session_id: uuid.UUID) -> JobAccepted:
    """Run the whole pipeline again. Stages whose outputs exist short-circuit, so a failed or dead
    stage is retried and everything after it runs; the analysis gets a new version."""
    principal.require(Action.reprocess)
    with ctx.tenant_db(principal.tenant_id) as db:
        session = owned_session(db, principal, session_id)
        job, created = enqueue_or_join(db, session, "pipeline", ctx.settings.stage_max_attempts)
        if created:
            session.status, session.error = "processing", None
            audit.record(db, tenant_id=session.tenant_id, actor=principal, action="session.reprocess",
                         entity_type="session", entity_id=session.id, detail={"job_id": str(job.id)})
        db.commit()
        return JobAccepted(job_id=job.id, status=job.status, coalesced=not created)
