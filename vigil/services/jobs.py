"""Durable work: claim a job's current stage with a lease, advance it, retry it or fail it.

The database is the source of truth. A claim is `SELECT … FOR UPDATE SKIP LOCKED`, so several
dispatchers never take the same stage; a lease that runs out (a crashed worker) makes the stage
claimable again; `claim_token` stops a stale worker from completing a stage it no longer owns."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session as DbSession

from vigil import logcontext
from vigil.db.models import Job, Session, StageEvent, utcnow
from vigil.errors import NotFound
from vigil.schemas.api import JobCountOut, JobStatusOut
from vigil.services import events
from vigil.services.access import Action, Principal

STAGES = ("extract", "transcribe", "analyze")
# What each kind of job runs, in order. A reprocess is a full pipeline run whose stages short-circuit
# on outputs that already exist; an analyze job reruns only the analysis (a new analysis version).
KIND_STAGES: dict[str, tuple[str, ...]] = {"pipeline": STAGES, "analyze": ("analyze",)}
ACTIVE = ("queued", "running")
# Spelled exactly as in the partial unique index, as literals: PostgreSQL infers the index for
# ON CONFLICT only from a predicate it can match, and bound parameters cannot be matched.
# A queued job held back for one of these reasons reads as `waiting` (it has not failed; it will run later).
WAITING_CODES = frozenset({"over_budget"})
HELD = (Job.status == "queued") & Job.error_code.in_(sorted(WAITING_CODES))  # the SQL form of "waiting"
ACTIVE_PREDICATE = "status IN ('queued', 'running')"
FINISHED = ("succeeded", "failed", "dead")


@dataclass(frozen=True)
class ClaimedStage:
    job_id: uuid.UUID
    session_id: uuid.UUID
    tenant_id: uuid.UUID
    stage: str
    attempt: int
    claim_token: uuid.UUID
    request_id: str | None = None

    def log_ids(self) -> dict[str, object]:
        """The ids a stage's logs carry (see vigil.logcontext.bind)."""
        return {"request_id": self.request_id, "session_id": self.session_id, "job_id": self.job_id}


def enqueue_pipeline(db: DbSession, session: Session, max_attempts: int) -> Job:
    job = Job(tenant_id=session.tenant_id, session_id=session.id, stage=STAGES[0], status="queued",
              max_attempts=max_attempts, request_id=logcontext.current("request_id"))
    db.add(job)
    db.flush()
    return job


def backoff_seconds(base: float, attempt: int, jitter: float) -> float:
    """The wait before try `attempt` + 1: `base` doubled per try already made, times a random factor within
    ±`jitter` so that work that failed together does not come back together."""
    return base * 2 ** (attempt - 1) * random.uniform(1 - jitter, 1 + jitter)


def active_job(db: DbSession, session_id: uuid.UUID) -> Job | None:
    """The session's queued or running job, if it has one (at most one: the database sees to it)."""
    return db.scalar(sa.select(Job).where(Job.session_id == session_id, Job.status.in_(ACTIVE)))


def enqueue_or_join(db: DbSession, session: Session, kind: str, max_attempts: int) -> tuple[Job, bool]:
    """Queue a job of `kind` for the session, or return the session's active job if it has one.

    The database decides (a unique partial index on active jobs per session), so any number of
    concurrent callers, in any number of processes, get one job. Returns (job, created)."""
    inserted = db.execute(
        pg_insert(Job)
        .values(id=uuid.uuid4(), tenant_id=session.tenant_id, session_id=session.id, kind=kind,
                stage=KIND_STAGES[kind][0], status="queued", attempt=0, max_attempts=max_attempts,
                not_before=utcnow(), created_at=utcnow(), updated_at=utcnow(),
                request_id=logcontext.current("request_id"))
        .on_conflict_do_nothing(index_elements=["session_id"], index_where=sa.text(ACTIVE_PREDICATE))
        .returning(Job.id)
    ).scalar_one_or_none()
    job_id = inserted or db.scalar(sa.select(Job.id).where(Job.session_id == session.id, Job.status.in_(ACTIVE)))
    job = db.get(Job, job_id) if job_id else None
    if job is None:  # the active job finished between our insert and our read: try once more
        return enqueue_or_join(db, session, kind, max_attempts)
    return job, inserted is not None


def claim_stages(db: DbSession, lease_seconds: float, stages: Sequence[str] = STAGES,
                 limit: int = 1) -> list[ClaimedStage]:
    """Take up to `limit` runnable stages among `stages`, oldest first: queued and due, or running with
    an expired lease. One statement; concurrent claimers skip each other's rows."""
    if not stages or limit < 1:
        return []
    now = utcnow()
    candidates = (
        sa.select(Job.id)
        .where(Job.stage.in_(stages), sa.or_(
            sa.and_(Job.status == "queued", Job.not_before <= now),
            sa.and_(Job.status == "running", Job.lease_until < now),
        ))
        .order_by(Job.not_before, Job.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    token = uuid.uuid4()  # one per claim batch; a lost lease is still detected per job by its token
    rows = db.execute(
        sa.update(Job)
        .where(Job.id.in_(candidates))
        .values(status="running", attempt=Job.attempt + 1, claim_token=token,
                lease_until=now + timedelta(seconds=lease_seconds),
                started_at=sa.func.coalesce(Job.started_at, now), updated_at=now)
        .returning(Job.id, Job.session_id, Job.tenant_id, Job.stage, Job.attempt, Job.not_before, Job.created_at,
                   Job.request_id)
    ).all()
    if not rows:
        db.commit()
        return []
    rows = sorted(rows, key=lambda r: (r.not_before, r.created_at))
    db.execute(sa.update(Session).where(Session.id.in_([r.session_id for r in rows]), Session.status == "uploaded")
               .values(status="processing"))
    db.add_all([StageEvent(tenant_id=r.tenant_id, job_id=r.id, session_id=r.session_id, stage=r.stage,
                           event="started", attempt=r.attempt) for r in rows])
    for r in rows:
        events.emit(db, r.tenant_id, "job.progress", r.session_id, job_id=str(r.id), stage=r.stage, status="running",
                    attempt=r.attempt)
    db.commit()
    return [ClaimedStage(job_id=r.id, session_id=r.session_id, tenant_id=r.tenant_id, stage=r.stage,
                         attempt=r.attempt, claim_token=token, request_id=r.request_id) for r in rows]


def claim_next_stage(db: DbSession, lease_seconds: float, stages: Sequence[str] = STAGES) -> ClaimedStage | None:
    """The oldest runnable stage among `stages`, or None."""
    claimed = claim_stages(db, lease_seconds, stages, limit=1)
    return claimed[0] if claimed else None


def renew_lease(db: DbSession, claim: ClaimedStage, lease_seconds: float) -> bool:
    """Heartbeat: extend the lease of a stage still running. False if the claim was lost."""
    result = db.execute(
        sa.update(Job)
        .where(Job.id == claim.job_id, Job.claim_token == claim.claim_token, Job.status == "running")
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    db.commit()
    return result.rowcount == 1


def _owned(db: DbSession, claim: ClaimedStage) -> Job | None:
    return db.scalar(
        sa.select(Job).where(Job.id == claim.job_id, Job.claim_token == claim.claim_token,
                             Job.status == "running").with_for_update()
    )


def complete_stage(db: DbSession, claim: ClaimedStage, duration_seconds: float, where: str | None = None,
                   work_seconds: float | None = None) -> str | None:
    """Mark the claimed stage done and queue the next one. Returns the next stage, or None at the end.
    `where`: the node that ran it, kept on the stage event (e.g. "node 3f2a…"); `work_seconds`: of
    `duration_seconds`, the stage's own work (the rest is the pipeline's overhead)."""
    job = _owned(db, claim)
    if job is None:
        db.rollback()
        return None
    db.add(StageEvent(tenant_id=job.tenant_id, job_id=job.id, session_id=job.session_id, stage=job.stage,
                      event="ready", attempt=job.attempt, duration_seconds=round(duration_seconds, 3),
                      work_seconds=None if work_seconds is None else round(work_seconds, 3), detail=where))
    stages = KIND_STAGES[job.kind]
    index = stages.index(job.stage)
    now = utcnow()
    done = {"job_id": str(job.id), "stage": job.stage, "attempt": job.attempt,
            "duration_seconds": round(duration_seconds, 3)}
    if index + 1 < len(stages):
        job.stage, job.status, job.attempt = stages[index + 1], "queued", 0
        job.claim_token, job.lease_until, job.not_before = None, None, now
        job.error_code = job.error_detail = None
        next_stage: str | None = job.stage
        events.emit(db, job.tenant_id, "job.progress", job.session_id, **done, status="done", next_stage=next_stage)
    else:
        job.status, job.completed_at, job.claim_token, job.lease_until = "succeeded", now, None, None
        db.execute(sa.update(Session).where(Session.id == job.session_id).values(status="ready", error=None))
        next_stage = None
        events.emit(db, job.tenant_id, "job.progress", job.session_id, **done, status="done", next_stage=None)
        events.emit(db, job.tenant_id, "session.ready", job.session_id, job_id=str(job.id), job_kind=job.kind)
    db.commit()
    return next_stage


def fail_stage(db: DbSession, claim: ClaimedStage, *, code: str, detail: str, transient: bool,
               duration_seconds: float, retry_base_seconds: float, min_delay_seconds: float = 0.0) -> str:
    """Record a failed attempt. Transient errors retry with exponential backoff and jitter (no sooner than
    `min_delay_seconds`) until `max_attempts`, then the job is `dead` (kept, with its reason, for a person to
    retry); permanent errors fail the job at once. Either way the session shows why. Returns the job's status."""
    job = _owned(db, claim)
    if job is None:
        db.rollback()
        return "lost"
    db.add(StageEvent(tenant_id=job.tenant_id, job_id=job.id, session_id=job.session_id, stage=job.stage,
                      event="failed", attempt=job.attempt, duration_seconds=round(duration_seconds, 3),
                      detail=f"{code}: {detail}"[:2000]))
    job.error_code, job.error_detail = code, detail[:4000]
    job.claim_token, job.lease_until = None, None
    # The events carry the error's code, never its detail: a detail may quote what was said.
    ids = {"job_id": str(job.id), "stage": job.stage, "attempt": job.attempt, "error_code": code}
    if transient and job.attempt < job.max_attempts:
        delay = max(min_delay_seconds, backoff_seconds(retry_base_seconds, job.attempt, jitter=0.5))
        job.status, job.not_before = "queued", utcnow() + timedelta(seconds=delay)
        events.emit(db, job.tenant_id, "job.progress", job.session_id, **ids, status="queued",
                    retry_in_seconds=round(delay, 1))
    else:
        job.status, job.completed_at = ("dead" if transient else "failed"), utcnow()
        message = detail if not transient else f"{detail} (gave up after {job.attempt} attempts)"
        db.execute(sa.update(Session).where(Session.id == job.session_id)
                   .values(status="failed", error=f"{job.stage} failed: {message}"[:4000]))
        events.emit(db, job.tenant_id, "session.failed", job.session_id, **ids, status=job.status)
    status = job.status
    db.commit()
    return status


def defer_stage(db: DbSession, claim: ClaimedStage, *, code: str, detail: str, until: datetime) -> str:
    """Put a claimed stage back to wait until `until` without spending an attempt (e.g. over budget). The job
    reads as `waiting` with its reason until then."""
    job = _owned(db, claim)
    if job is None:
        db.rollback()
        return "lost"
    db.add(StageEvent(tenant_id=job.tenant_id, job_id=job.id, session_id=job.session_id, stage=job.stage,
                      event="deferred", attempt=job.attempt, duration_seconds=0.0, detail=f"{code}: {detail}"[:2000]))
    job.error_code, job.error_detail = code, detail[:4000]
    job.claim_token, job.lease_until = None, None
    job.status, job.not_before, job.attempt = "queued", until, max(0, job.attempt - 1)
    events.emit(db, job.tenant_id, "job.progress", job.session_id, job_id=str(job.id), stage=job.stage,
                status="waiting", error_code=code, until=until.isoformat())
    db.commit()
    return "waiting"


def job_status(db: DbSession, principal: Principal, job_id: uuid.UUID) -> JobStatusOut:
    principal.require(Action.read_status)
    job = db.scalar(sa.select(Job).where(Job.id == job_id, Job.tenant_id == principal.tenant_id))
    if job is None:
        raise NotFound("job not found")
    return _status_out(job)


def _status_out(job: Job) -> JobStatusOut:
    stages = KIND_STAGES[job.kind]
    done = stages.index(job.stage) if job.status != "succeeded" else len(stages)
    return JobStatusOut(
        job_id=job.id, session_id=job.session_id, kind=job.kind, stage=job.stage,
        status="waiting" if job.status == "queued" and job.error_code in WAITING_CODES else job.status,
        progress_percent=round(100 * done / len(stages)), attempt=job.attempt, max_attempts=job.max_attempts,
        error_code=job.error_code, error_detail=job.error_detail, updated_at=job.updated_at,
        created_at=job.created_at, request_id=job.request_id,
    )


def list_jobs(db: DbSession, principal: Principal, tenant_id: uuid.UUID, *, status: str | None = None,
              stage: str | None = None, since: datetime | None = None, limit: int = 100,
              offset: int = 0) -> list[JobStatusOut]:
    """A tenant's jobs, newest first. Admins only, and only their own tenant (others: not found)."""
    principal.require(Action.administer)
    if tenant_id != principal.tenant_id:
        raise NotFound("tenant not found")
    return _jobs(db, tenant_id, status=status, stage=stage, since=since, limit=limit, offset=offset)


def work_jobs(db: DbSession, principal: Principal, *, status: str | None = None, stage: str | None = None,
              since: datetime | None = None, limit: int = 100, offset: int = 0) -> list[JobStatusOut]:
    """The caller's tenant's jobs, for those who can retry them (supervisors and admins): the Jobs page."""
    principal.require(Action.reprocess)
    return _jobs(db, principal.tenant_id, status=status, stage=stage, since=since, limit=limit, offset=offset)


def waiting_by_stage(db: DbSession) -> dict[str, int]:
    """Runnable stages waiting to be claimed, across every tenant (the dispatcher's queue depth)."""
    rows = db.execute(sa.select(Job.stage, sa.func.count()).where(Job.status == "queued", Job.not_before <= utcnow())
                      .group_by(Job.stage)).all()
    return {stage: count for stage, count in rows}


def job_counts(db: DbSession, principal: Principal) -> list[JobCountOut]:
    """How many of the tenant's jobs are in each status at each stage ("waiting" kept apart from "queued")."""
    principal.require(Action.reprocess)
    shown = sa.case((HELD, "waiting"), else_=Job.status)
    rows = db.execute(sa.select(shown.label("status"), Job.stage, sa.func.count().label("jobs"))
                      .where(Job.tenant_id == principal.tenant_id).group_by(shown, Job.stage)
                      .order_by(shown, Job.stage)).all()
    return [JobCountOut(status=r.status, stage=r.stage, jobs=r.jobs) for r in rows]


def _jobs(db: DbSession, tenant_id: uuid.UUID, *, status: str | None, stage: str | None, since: datetime | None,
          limit: int, offset: int) -> list[JobStatusOut]:
    query = sa.select(Job).where(Job.tenant_id == tenant_id)
    if status == "waiting":
        query = query.where(HELD)
    elif status:
        query = query.where(Job.status == status)
    if stage:
        query = query.where(Job.stage == stage)
    if since:
        query = query.where(Job.created_at >= since)
    rows = db.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(min(limit, 1000)).offset(offset)).all()
    return [_status_out(job) for job in rows]
