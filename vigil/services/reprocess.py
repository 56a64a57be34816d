"""People asking for work again: analyse a session anew, or reprocess a failed or dead one.

Both coalesce: while the session has an active job, every request gets that job."""

from __future__ import annotations

import uuid

from vigil.context import Context
from vigil.errors import Conflict
from vigil.schemas import JobAccepted
from vigil.services import audit
from vigil.services.auth import Action, Principal
from vigil.services.jobs import enqueue_or_join
from vigil.services.sessions import owned_session
from vigil.storage import TRANSCRIPT_AGENT_NAME, artifact_key


def request_analysis(ctx: Context, principal: Principal, session_id: uuid.UUID) -> JobAccepted:
    """Run the analysis again on the existing transcript: a new analysis version; the old stays."""
    principal.require(Action.reprocess)
    with ctx.tenant_db(principal.tenant_id) as db:
        session = owned_session(db, principal, session_id)
        if not ctx.store.exists(artifact_key(session.tenant_id, session.id, TRANSCRIPT_AGENT_NAME)):
            raise Conflict("the session has no transcript yet; reprocess it instead")
        job, created = enqueue_or_join(db, session, "analyze", ctx.settings.stage_max_attempts)
        if created:
            audit.record(db, tenant_id=session.tenant_id, actor=principal, action="session.analyze",
                         entity_type="session", entity_id=session.id, detail={"job_id": str(job.id)})
        db.commit()
        return JobAccepted(job_id=job.id, status=job.status, coalesced=not created)


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
