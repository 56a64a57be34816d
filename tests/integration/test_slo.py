"""`vigil slo`: each objective computed from the database over its window, against its target, and the command
exits 1 when one is missed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, isolated_context, make_tenant
from vigil.context import Context
from vigil.db.models import Analysis, RequestTiming, StageEvent, Transcript, utcnow
from vigil.db.models import Session as SessionRow
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.slo import objectives


@pytest.fixture
def world(pg_admin_url: str, tmp_path: Path) -> Context:
    """A database of its own: 100 API requests of 10..1000 ms, 99 stage attempts that succeeded and 1 that
    failed, 20 sessions ready 60..1200 s after upload, one analysis that failed over after 42 s, and a request
    and a session from before the window."""
    ctx = isolated_context(pg_admin_url, tmp_path)
    tenant = make_tenant(ctx)
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    now = utcnow()
    sessions = [accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "a.mp3",
                              None) for _ in range(21)]
    with ctx.system_db() as db:
        db.execute(sa.insert(RequestTiming), [
            {"tenant_id": principal.tenant_id, "method": "GET", "route": "/r", "status_code": 200,
             "duration_ms": 10.0 * i, "created_at": now - timedelta(minutes=5)} for i in range(1, 101)]
            + [{"tenant_id": principal.tenant_id, "method": "GET", "route": "/r", "status_code": 200,
                "duration_ms": 99_000.0, "created_at": now - timedelta(days=3)}])
        for i, (session, job) in enumerate(sessions):
            old = i == 20
            db.execute(sa.update(SessionRow).where(SessionRow.id == session.id).values(
                created_at=now - timedelta(days=3 if old else 0, seconds=3600),
                analysis_ready_at=now - timedelta(days=3 if old else 0, seconds=3600 - 60 * (i + 1))))
            events = 5 if i < 19 else 4
            db.add_all([StageEvent(tenant_id=session.tenant_id, job_id=job.id, session_id=session.id,
                                   stage="extract", event="ready", attempt=1, duration_seconds=1.0)
                        for _ in range(events if not old else 0)])
        first_session, first_job = sessions[0]
        db.add(StageEvent(tenant_id=first_session.tenant_id, job_id=first_job.id, session_id=first_session.id,
                          stage="transcribe", event="failed", attempt=1, duration_seconds=3.0))
        db.add(Analysis(tenant_id=first_session.tenant_id, session_id=first_session.id, analysis_version=1,
                        prompt_version="p", model="vigil-offline-rules (after: gpt-4o-mini: timeout)",
                        risk_level="high", result={}, latency_seconds=42.0))
        db.add(Transcript(tenant_id=first_session.tenant_id, session_id=first_session.id, provider="whisper",
                          model="m", word_count=1, duration_seconds=1.0, metrics={"failed_providers": {}}))
        db.commit()
    return ctx


def test_each_objective_is_measured_over_the_window(world: Context) -> None:
    with world.system_db() as db:
        found = {o.name: o for o in objectives(db, world.settings)}
    api = found["API latency p95"]
    assert api.samples == 100 and api.value == pytest.approx(0.9505, abs=1e-3) and api.met is False
    success = found["task success rate"]
    assert (success.samples, success.value, success.met) == (100, 0.99, True)
    queue = found["queue processing p95 (upload → ready)"]
    assert queue.samples == 20 and queue.value == pytest.approx(1143, abs=1) and queue.met is False
    failover = found["provider failover p95"]
    assert (failover.samples, failover.value, failover.met) == (1, 42.0, True)


def test_vigil_slo_prints_every_objective_and_fails_when_one_is_missed(world: Context, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": world.database_url, "DATA_DIR": str(tmp_path / "cli")}
    vigil = str(Path(sys.executable).parent / "vigil")
    missed = subprocess.run([vigil, "slo"], env=env, capture_output=True, text=True, timeout=120)
    assert missed.returncode == 1, missed.stderr
    assert "API latency p95" in missed.stdout and "MISSED" in missed.stdout and "99.0%" in missed.stdout
    relaxed = subprocess.run([vigil, "slo"], env={**env, "SLO_API_P95_SECONDS": "2", "SLO_QUEUE_P95_SECONDS": "1800"},
                             capture_output=True, text=True, timeout=120)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "MISSED" not in relaxed.stdout
