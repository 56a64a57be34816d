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
from vigil.db.models import Alert, Analysis, RequestTiming, StageEvent, Transcript, utcnow
from vigil.db.models import Session as SessionRow
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.slo import objectives
from vigil.services.slo_metrics import histogram_quantile, live_objectives


@pytest.fixture
def world(pg_admin_url: str, tmp_path: Path) -> Context:
    """A database of its own: 100 API requests of 10..1000 ms, 99 stage attempts that succeeded and 1 that
    failed, 20 sessions ready 60..1200 s after upload, one analysis that failed over after 42 s, 20 alerts delivered
    1..20 s after their flag and one still pending, and a request, a session and an alert from before the window."""
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
        db.flush()
        analysis_id = db.scalar(sa.select(Analysis.id).where(Analysis.session_id == first_session.id))
        for i in range(22):  # 1..20 s, then one still pending, then one from before the window
            flagged = now - timedelta(days=3 if i == 21 else 0, minutes=10)
            db.add(Alert(tenant_id=first_session.tenant_id, session_id=first_session.id, analysis_id=analysis_id,
                         category="self_harm", severity="high", channel_url=f"https://hook.test/{i}",
                         status="pending" if i == 20 else "delivered", attempts=1, next_attempt_at=flagged,
                         created_at=flagged,
                         delivered_at=None if i == 20 else flagged + timedelta(seconds=99 if i == 21 else i + 1)))
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
    alerting = found["alert delivery p95 (flag → delivered)"]  # 1 + 0.95 × 19 between the 19th and 20th
    assert alerting.samples == 20 and alerting.value == pytest.approx(19.05) and alerting.met is True


def test_vigil_slo_prints_every_objective_and_fails_when_one_is_missed(world: Context, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": world.database_url, "DATA_DIR": str(tmp_path / "cli")}
    vigil = str(Path(sys.executable).parent / "vigil")
    missed = subprocess.run([vigil, "slo"], env=env, capture_output=True, text=True, timeout=120)
    assert missed.returncode == 1, missed.stderr
    assert "API latency p95" in missed.stdout and "MISSED" in missed.stdout and "99.0%" in missed.stdout
    assert "alert delivery p95" in missed.stdout
    relaxed = subprocess.run([vigil, "slo"], env={**env, "SLO_API_P95_SECONDS": "2", "SLO_QUEUE_P95_SECONDS": "1800"},
                             capture_output=True, text=True, timeout=120)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "MISSED" not in relaxed.stdout


# Two nodes' expositions, as Ray writes them: API requests of two routes on one node and one on the other; stage
# outcomes split over both. Over all nodes: 100 requests, 90 of them ≤ 0.1 s, 8 in (0.1, 0.5], 2 in (0.5, 1];
# 47 + 48 attempts done, 4 failed, 3 deferred (not attempts).
NODE_A = """# TYPE ray_vigil_api_request_seconds histogram
ray_vigil_api_request_seconds_bucket{le="0.1",method="GET",route="/a",status="200"} 50.0
ray_vigil_api_request_seconds_bucket{le="0.5",method="GET",route="/a",status="200"} 54.0
ray_vigil_api_request_seconds_bucket{le="1.0",method="GET",route="/a",status="200"} 55.0
ray_vigil_api_request_seconds_bucket{le="+Inf",method="GET",route="/a",status="200"} 55.0
ray_vigil_api_request_seconds_count{method="GET",route="/a",status="200"} 55.0
ray_vigil_api_request_seconds_sum{method="GET",route="/a",status="200"} 4.0
ray_vigil_api_request_seconds_bucket{le="0.1",method="POST",route="/b",status="202"} 10.0
ray_vigil_api_request_seconds_bucket{le="0.5",method="POST",route="/b",status="202"} 12.0
ray_vigil_api_request_seconds_bucket{le="1.0",method="POST",route="/b",status="202"} 12.0
ray_vigil_api_request_seconds_bucket{le="+Inf",method="POST",route="/b",status="202"} 12.0
ray_vigil_api_request_seconds_count{method="POST",route="/b",status="202"} 12.0
ray_vigil_api_request_seconds_sum{method="POST",route="/b",status="202"} 1.0
# TYPE ray_vigil_stage_seconds histogram
ray_vigil_stage_seconds_count{outcome="done",stage="extract"} 47.0
ray_vigil_stage_seconds_count{outcome="failed",stage="extract"} 4.0
"""
NODE_B = """# TYPE ray_vigil_api_request_seconds histogram
ray_vigil_api_request_seconds_bucket{le="0.1",method="GET",route="/a",status="200"} 30.0
ray_vigil_api_request_seconds_bucket{le="0.5",method="GET",route="/a",status="200"} 32.0
ray_vigil_api_request_seconds_bucket{le="1.0",method="GET",route="/a",status="200"} 33.0
ray_vigil_api_request_seconds_bucket{le="+Inf",method="GET",route="/a",status="200"} 33.0
ray_vigil_api_request_seconds_count{method="GET",route="/a",status="200"} 33.0
ray_vigil_api_request_seconds_sum{method="GET",route="/a",status="200"} 2.0
# TYPE ray_vigil_stage_seconds histogram
ray_vigil_stage_seconds_count{outcome="done",stage="analyze"} 48.0
ray_vigil_stage_seconds_count{outcome="deferred",stage="analyze"} 3.0
"""


def test_live_values_sum_every_route_and_node_and_interpolate_the_p95_within_its_bucket() -> None:
    live = live_objectives([NODE_A, NODE_B])
    # 90 requests are ≤ 0.1 s and 98 ≤ 0.5 s, so rank 95 is in (0.1, 0.5]: 0.1 + 0.4 × (95 - 90) / 8 = 0.35.
    assert live.api_requests == 100 and live.api_p95_seconds == pytest.approx(0.35)
    assert live.stage_attempts == 99 and live.task_success_rate == pytest.approx(95 / 99)


@pytest.mark.parametrize(("q", "expected"), [(0.5, 0.1 * 50 / 90), (0.9, 0.1), (0.99, 0.75), (1.0, 1.0)])
def test_histogram_quantile_matches_promql_on_hand_worked_ranks(q: float, expected: float) -> None:
    buckets = {0.1: 90.0, 0.5: 98.0, 1.0: 100.0, float("inf"): 100.0}
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_a_rank_in_the_inf_bucket_answers_the_highest_finite_bound_and_no_requests_answer_nothing() -> None:
    assert histogram_quantile(0.95, {0.1: 1.0, 1.0: 2.0, float("inf"): 10.0}) == 1.0
    assert histogram_quantile(0.95, {0.1: 0.0, float("inf"): 0.0}) is None


def test_vigil_slo_adds_the_live_values_and_fails_when_only_a_live_value_misses(world: Context,
                                                                               tmp_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from tests.standins.loopback import serve_on_loopback

    exporter = FastAPI()
    exporter.get("/a", response_class=PlainTextResponse)(lambda: NODE_A)
    exporter.get("/b", response_class=PlainTextResponse)(lambda: NODE_B)
    env = {**os.environ, "DATABASE_URL": world.database_url, "DATA_DIR": str(tmp_path / "cli"),
           "SLO_API_P95_SECONDS": "2", "SLO_QUEUE_P95_SECONDS": "1800", "SLO_TASK_SUCCESS_RATE": "0.9"}
    vigil = str(Path(sys.executable).parent / "vigil")
    with serve_on_loopback(exporter) as url:
        args = [vigil, "slo", "--metrics-url", f"{url}/a", "--metrics-url", f"{url}/b"]
        met = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert met.returncode == 0, met.stdout + met.stderr
        assert "0.35 s" in met.stdout and "96.0%" in met.stdout  # 95/99, live beside the database's 99.0%
        # The database's 99.0 % meets 97 %; the live 96.0 % does not.
        missed = subprocess.run(args, env={**env, "SLO_TASK_SUCCESS_RATE": "0.97"}, capture_output=True, text=True,
                                timeout=120)
    assert missed.returncode == 1, missed.stdout + missed.stderr
    assert [line for line in missed.stdout.splitlines() if "MISSED" in line][0].startswith("task success rate")
    unreachable = subprocess.run([vigil, "slo", "--metrics-url", f"{url}/a"], env=env, capture_output=True,
                                 text=True, timeout=120)
    assert unreachable.returncode == 2 and "cannot read metrics" in unreachable.stdout
