"""Durable work in the database: claims, leases, retries, and no double work."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant
from vigil.context import Context
from vigil.db.models import Job, Session, StageEvent, utcnow
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import claim_next_stage, complete_stage, fail_stage, renew_lease


@pytest.fixture
def jobs_ctx(pg_admin_url: str, tmp_path) -> Context:  # type: ignore[no-untyped-def]
    """A database of its own, so the only claimable jobs are the ones each test creates."""
    return isolated_context(pg_admin_url, tmp_path)


def _upload(ctx: Context, tenant: Tenant, count: int = 1) -> list:
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    data = (SAMPLES / "routine-coaching.m4a").read_bytes()
    return [accept_upload(ctx, principal, io.BytesIO(data), "r.m4a", None)[1] for _ in range(count)]


def test_concurrent_claimers_never_take_the_same_stage(jobs_ctx: Context) -> None:
    jobs = _upload(jobs_ctx, make_tenant(jobs_ctx), count=6)
    claimed: list = []
    lock = threading.Lock()

    def claimer() -> None:
        while True:
            with jobs_ctx.system_db() as db:
                claim = claim_next_stage(db, lease_seconds=60)
            if claim is None:
                return
            with lock:
                claimed.append(claim.job_id)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(j.id for j in jobs)


def test_a_stage_whose_lease_expired_is_claimed_again_and_the_old_claim_cannot_complete(jobs_ctx: Context) -> None:
    (job,) = _upload(jobs_ctx, make_tenant(jobs_ctx))
    with jobs_ctx.system_db() as db:
        first = claim_next_stage(db, lease_seconds=60)
        assert claim_next_stage(db, lease_seconds=60) is None, "a leased stage is not claimable"
        db.execute(sa.update(Job).where(Job.id == job.id).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.commit()
        second = claim_next_stage(db, lease_seconds=60)
    assert second is not None and second.job_id == job.id and second.attempt == 2
    with jobs_ctx.system_db() as db:
        assert complete_stage(db, first, 1.0) is None, "the stale claim is refused"
        assert renew_lease(db, first, 60) is False
        assert complete_stage(db, second, 1.0) == "transcribe"
        refreshed = db.get(Job, job.id)
    assert (refreshed.stage, refreshed.status, refreshed.attempt) == ("transcribe", "queued", 0)


def test_transient_failures_retry_with_backoff_then_go_dead_after_max_attempts(jobs_ctx: Context) -> None:
    (job,) = _upload(jobs_ctx, make_tenant(jobs_ctx))
    for attempt in range(1, 4):
        with jobs_ctx.system_db() as db:
            db.execute(sa.update(Job).where(Job.id == job.id).values(not_before=utcnow()))
            db.commit()
            claim = claim_next_stage(db, lease_seconds=60)
            assert claim is not None and claim.attempt == attempt
            status = fail_stage(db, claim, code="provider_timeout", detail="timed out", transient=True,
                                duration_seconds=0.5, retry_base_seconds=10)
            if attempt < 3:
                assert status == "queued"
                not_before = db.get(Job, job.id).not_before
                assert not_before > utcnow() + timedelta(seconds=4), "retry waits (backoff)"
    with jobs_ctx.system_db() as db:
        final = db.get(Job, job.id)
        session = db.get(Session, final.session_id)
        failures = db.scalar(sa.select(sa.func.count()).select_from(StageEvent)
                             .where(StageEvent.job_id == job.id, StageEvent.event == "failed"))
    assert (final.status, final.error_code) == ("dead", "provider_timeout")
    assert session.status == "failed" and "gave up after 3 attempts" in session.error
    assert failures == 3


def test_a_lost_worker_is_retried_no_sooner_than_ray_can_declare_its_node_dead(jobs_ctx: Context) -> None:
    from tasks.dispatcher import WORKER_LOST_RETRY_SECONDS, record_failure
    from vigil.errors import TransientError

    (job,) = _upload(jobs_ctx, make_tenant(jobs_ctx))
    with jobs_ctx.system_db() as db:
        claim = claim_next_stage(db, lease_seconds=60)
    lost = TransientError("a chunk's worker was lost: RayActorError", code="worker_lost")
    status, code = record_failure(jobs_ctx, claim, lost, 0.1, retry_base_seconds=1)
    with jobs_ctx.system_db() as db:
        not_before = db.get(Job, job.id).not_before
    assert (status, code) == ("queued", "worker_lost")
    assert not_before >= utcnow() + timedelta(seconds=WORKER_LOST_RETRY_SECONDS - 2)  # not the 0.5–1.5 s backoff


def test_a_permanent_failure_fails_at_once(jobs_ctx: Context) -> None:
    (job,) = _upload(jobs_ctx, make_tenant(jobs_ctx))
    with jobs_ctx.system_db() as db:
        claim = claim_next_stage(db, lease_seconds=60)
        status = fail_stage(db, claim, code="corrupt_media", detail="bad data", transient=False,
                            duration_seconds=0.1, retry_base_seconds=1)
        session = db.get(Session, db.get(Job, job.id).session_id)
    assert status == "failed"
    assert session.status == "failed" and session.error == "extract failed: bad data"


def test_only_one_active_job_per_session_is_allowed_by_the_database(jobs_ctx: Context) -> None:
    (job,) = _upload(jobs_ctx, make_tenant(jobs_ctx))
    with jobs_ctx.system_db() as db:
        db.add(Job(tenant_id=job.tenant_id, session_id=job.session_id, stage="extract", status="queued"))
        with pytest.raises(sa.exc.IntegrityError):
            db.commit()
