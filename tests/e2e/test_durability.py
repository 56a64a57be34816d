"""Crashes and timeouts on the real stack (Ray, PostgreSQL, ffmpeg, Whisper): every session ends
`ready`, or `failed` with its reason; nothing is lost and nothing is done twice."""

from __future__ import annotations

import io
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray
import sqlalchemy as sa

from tasks.dispatcher import Dispatcher
from tests import vigil_up
from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant
from vigil.context import Context
from vigil.db.models import Analysis, Artifact, Job, Session, StageEvent, Transcript
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload

pytestmark = pytest.mark.ray
BATCH = ["checkin-risk.mp3", "routine-coaching.m4a", "support-video.webm", "checkin-risk.mp3"]


def _context(pg_admin_url: str, root: Path, **overrides: object) -> Context:
    return isolated_context(pg_admin_url, root, **{"retry_base_seconds": 0.1, **overrides})


def _upload_batch(ctx: Context, tenant: Tenant, names: list[str]) -> list[uuid.UUID]:
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    return [accept_upload(ctx, principal, io.BytesIO((SAMPLES / n).read_bytes()), n, None)[0].id for n in names]


def _wait_all_finished(ctx: Context, session_ids: list[uuid.UUID], timeout: float = 300) -> dict[uuid.UUID, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.system_db() as db:
            statuses = dict(db.execute(sa.select(Session.id, Session.status).where(Session.id.in_(session_ids))).all())
        if all(s in ("ready", "failed") for s in statuses.values()):
            return statuses
        time.sleep(0.5)
    raise AssertionError(f"not finished in {timeout}s: {statuses}")


def assert_each_done_exactly_once(ctx: Context, session_ids: list[uuid.UUID]) -> None:
    """Per session: one audio, one diarization and one agent transcript artifact, one transcript row, one analysis,
    and one `ready` event per stage, however many attempts it took."""
    with ctx.system_db() as db:
        for sid in session_ids:
            kinds = db.scalars(sa.select(Artifact.kind).where(Artifact.session_id == sid)).all()
            assert sorted(kinds) == ["analysis:v1", "audio", "original", "transcript_agent", "transcript_diarization",
                                    "transcript_original", "transcript_raw:whisper", "transcript_redactions",
                                    "transcript_refined"]
            for table in (Transcript, Analysis):
                assert db.scalar(sa.select(sa.func.count()).select_from(table).where(table.session_id == sid)) == 1
            done = db.scalars(sa.select(StageEvent.stage).where(StageEvent.session_id == sid,
                                                                StageEvent.event == "ready")).all()
            assert sorted(done) == ["analyze", "extract", "transcribe"]


def _start(ctx: Context, name: str) -> ray.actor.ActorHandle:
    return Dispatcher.options(name=name).remote(ctx.settings, ctx.database_url, transcription_name=f"{name}-asr")


def _stop(handle: ray.actor.ActorHandle) -> None:
    ray.get(handle.stop.remote())
    ray.kill(handle)


def test_a_stage_past_its_timeout_is_retried_then_dead_with_its_reason(ray_runtime: None, pg_admin_url: str,
                                                                      tmp_path: Path) -> None:
    ctx = _context(pg_admin_url, tmp_path, stage_timeouts={"transcribe": 0.3}, stage_max_attempts=2)
    (sid,) = _upload_batch(ctx, make_tenant(ctx), ["checkin-risk.mp3"])
    dispatcher = _start(ctx, f"timeout-{uuid.uuid4().hex[:6]}")
    try:
        assert _wait_all_finished(ctx, [sid], timeout=120) == {sid: "failed"}
    finally:
        _stop(dispatcher)
    with ctx.system_db() as db:
        job = db.scalar(sa.select(Job).where(Job.session_id == sid))
        session = db.get(Session, sid)
        timeouts = db.scalar(sa.select(sa.func.count()).select_from(StageEvent).where(
            StageEvent.session_id == sid, StageEvent.detail.like("stage_timeout%")))
    assert (job.status, job.stage, job.error_code, job.attempt) == ("dead", "transcribe", "stage_timeout", 2)
    assert timeouts == 2
    assert session.error == "transcribe failed: transcribe took longer than 0.3s (gave up after 2 attempts)"


def test_killing_the_dispatcher_mid_batch_loses_and_duplicates_nothing(ray_runtime: None, pg_admin_url: str,
                                                                        tmp_path: Path) -> None:
    ctx = _context(pg_admin_url, tmp_path, job_lease_seconds=3.0)
    ids = _upload_batch(ctx, make_tenant(ctx), BATCH)
    dispatcher = _start(ctx, f"killed-{uuid.uuid4().hex[:6]}")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ctx.system_db() as db:
                running = db.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.status == "running"))
            if running:
                break
            time.sleep(0.05)
        ray.kill(dispatcher, no_restart=False)  # SIGKILL; Ray restarts it, it reclaims expired leases
        assert set(_wait_all_finished(ctx, ids).values()) == {"ready"}
    finally:
        _stop(dispatcher)
    assert_each_done_exactly_once(ctx, ids)
    with ctx.system_db() as db:
        reclaimed = db.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.session_id.in_(ids)))
    assert reclaimed == len(ids), "no job was created twice"


@pytest.fixture
def app_env(pg_admin_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Context]]:
    ctx = _context(pg_admin_url, tmp_path, job_lease_seconds=3.0)
    yield vigil_up.vigil_up_env(ctx, JOB_LEASE_SECONDS="3"), ctx


def test_killing_the_whole_app_mid_batch_then_restarting_finishes_every_session_once(
        app_env: tuple[dict[str, str], Context], tmp_path: Path) -> None:
    env, ctx = app_env
    base = vigil_up.base_url(env)
    log = tmp_path / "vigil-up.log"
    first = vigil_up.start(env, log)
    try:
        vigil_up.wait_healthy(env, first, log)
        tenant = make_tenant(ctx)
        ids = []
        for name in BATCH:
            response = httpx.post(f"{base}/api/v1/sessions", headers=tenant.headers("uploader"), timeout=60,
                                  files={"file": (name, (SAMPLES / name).read_bytes())})
            assert response.status_code == 202, response.text
            ids.append(uuid.UUID(response.json()["session_id"]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ctx.system_db() as db:
                done = db.scalar(sa.select(sa.func.count()).select_from(StageEvent)
                                 .where(StageEvent.event == "ready"))
            if done >= 2:
                break
            time.sleep(0.1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the app, Ray, Serve, the dashboard: all at once
        first.wait(timeout=30)
    with ctx.system_db() as db:
        unfinished = db.scalar(sa.select(sa.func.count()).select_from(Session)
                               .where(Session.id.in_(ids), Session.status != "ready"))
    assert unfinished > 0, "the kill must land mid-batch for this test to mean anything"
    second = vigil_up.start(env, log)
    try:
        vigil_up.wait_healthy(env, second, log)
        assert set(_wait_all_finished(ctx, ids).values()) == {"ready"}
    finally:
        vigil_up.stop(second)
    assert_each_done_exactly_once(ctx, ids)


def test_a_burst_never_has_more_provider_calls_in_flight_than_the_limit(ray_runtime: None, pg_admin_url: str,
                                                                        tmp_path: Path) -> None:
    """15 uploads at once against a stand-in provider of fixed latency, with 3 calls allowed: the
    backlog waits in the database and the provider sees at most 3 at a time."""
    limits = {"extract": 2, "transcribe": 3, "analyze": 2}
    ctx = _context(pg_admin_url, tmp_path, transcribers="standin", standin_latency_seconds=0.5,
                   stage_limits=limits, max_jobs_in_flight=7)
    ids = _upload_batch(ctx, make_tenant(ctx), ["routine-coaching.m4a"] * 15)
    name = f"burst-{uuid.uuid4().hex[:6]}"
    dispatcher = _start(ctx, name)
    try:
        most_running = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with ctx.system_db() as db:
                running = db.scalar(sa.select(sa.func.count()).select_from(Job).where(
                    Job.stage == "transcribe", Job.status == "running"))
                ready = db.scalar(sa.select(sa.func.count()).select_from(Session).where(Session.status == "ready"))
            most_running = max(most_running, running)
            if ready == len(ids):
                break
            time.sleep(0.05)
        stats = ray.get(dispatcher.stats.remote())
    finally:
        _stop(dispatcher)
    assert ready == len(ids)
    assert stats["peak_by_stage"]["transcribe"] == 3
    assert most_running <= 3


def test_two_dispatchers_share_a_batch_without_doing_anything_twice(ray_runtime: None, pg_admin_url: str,
                                                                    tmp_path: Path) -> None:
    # One stage of each kind at a time per dispatcher, so neither can finish the batch alone.
    ctx = _context(pg_admin_url, tmp_path, stage_limits={"extract": 1, "transcribe": 1, "analyze": 1})
    first, second = _start(ctx, f"pair-a-{uuid.uuid4().hex[:6]}"), _start(ctx, f"pair-b-{uuid.uuid4().hex[:6]}")
    ray.get([first.stats.remote(), second.stats.remote()])  # both are up and polling
    ids = _upload_batch(ctx, make_tenant(ctx), BATCH)
    try:
        assert set(_wait_all_finished(ctx, ids).values()) == {"ready"}
        worked = [ray.get(d.stats.remote())["completed"] for d in (first, second)]
    finally:
        _stop(first)
        _stop(second)
    assert sum(worked) == 3 * len(ids), "each stage of each session completed by exactly one dispatcher"
    assert all(worked), f"both dispatchers took work: {worked}"
    assert_each_done_exactly_once(ctx, ids)
