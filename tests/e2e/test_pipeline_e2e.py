"""End to end on the real stack: Ray Serve API over HTTP, the dispatcher actor, Ray tasks, ffmpeg,
Whisper, the offline analyzer, PostgreSQL. Uploads real audio and video and follows them to review."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, garbled_m4a, isolated_context, make_tenant, scrape_ray_metrics
from vigil.client import wait_until_healthy
from vigil.context import Context
from vigil.db.models import Analysis, Job, StageEvent, Transcript
from vigil.sealed_text import digest

pytestmark = pytest.mark.ray


@dataclass
class Stack:
    base_url: str
    ctx: Context
    tenant: Tenant
    other: Tenant

    def http(self, role: str = "supervisor", tenant: Tenant | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=(tenant or self.tenant).headers(role), timeout=60)


@pytest.fixture(scope="module")
def stack(ray_runtime: None, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from cli.stack import start_api, start_dispatcher, start_encoder
    from tasks import risk_scoring

    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("stack"), retry_base_seconds=1.0)
    settings, url = ctx.settings, ctx.database_url
    start_api(settings, url)
    start_encoder()
    dispatcher = start_dispatcher(settings, url)
    base = settings.base_url
    assert wait_until_healthy(base, timeout=60), "the API did not come up"
    yield Stack(base_url=base, ctx=ctx, tenant=make_tenant(ctx), other=make_tenant(ctx))
    import ray
    from ray import serve

    ray.get(dispatcher.stop.remote())
    ray.kill(dispatcher)
    serve.delete("vigil")
    serve.delete(risk_scoring.APP_NAME)


def _upload(stack: Stack, path: Path, data: bytes | None = None) -> dict:
    with stack.http("uploader") as http:
        response = http.post("/api/v1/sessions", files={"file": (path.name, data or path.read_bytes())})
    assert response.status_code == 202, response.text
    return response.json()


def _wait(stack: Stack, job_id: str, timeout: float = 240, tenant: Tenant | None = None) -> dict:
    deadline = time.monotonic() + timeout
    with stack.http("uploader", tenant) as http:
        while time.monotonic() < deadline:
            status = http.get(f"/api/v1/jobs/{job_id}/status").json()
            if status["status"] in ("succeeded", "failed"):
                return status
            time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def test_audio_and_video_go_from_upload_to_reviewed_with_an_audit_trail(stack: Stack) -> None:
    audio = _upload(stack, SAMPLES / "checkin-risk.mp3")
    video = _upload(stack, SAMPLES / "support-video.webm")
    for accepted in (audio, video):
        status = _wait(stack, accepted["job_id"])
        assert (status["status"], status["progress_percent"]) == ("succeeded", 100), status

    with stack.http() as http:
        session = http.get(f"/api/v1/sessions/{audio['session_id']}").json()
        assert session["status"] == "ready" and session["flagged"] and session["risk_level"] == "high"
        transcript = http.get(f"/api/v1/sessions/{audio['session_id']}/transcript").json()
        assert "killing myself" in transcript["text"]
        assert all(s["end"] > s["start"] for s in transcript["segments"])
        raw = http.get(f"/api/v1/sessions/{audio['session_id']}/transcript/raw").json()
        assert raw["whisper"]["words"][0]["start"] >= 0
        analysis = http.get(f"/api/v1/sessions/{audio['session_id']}/analysis").json()
        categories = {f["category"] for f in analysis["ai"]["flags"]}
        assert "suicidal_ideation" in categories
        evidence = analysis["ai"]["flags"][0]["evidence"][0]
        assert evidence["quote"].lower() in transcript["segments"][evidence["segment_index"]]["text"].lower()
        assert analysis["ai"]["rubric"] and analysis["ai"]["summary"]

        video_transcript = http.get(f"/api/v1/sessions/{video['session_id']}/transcript").json()
        assert "safety plan" in video_transcript["text"].lower()
        assert http.get(f"/api/v1/sessions/{video['session_id']}").json()["media_type"] == "video"

        review = http.post(f"/api/v1/sessions/{audio['session_id']}/reviews",
                           json={"field": "risk_level", "value": "medium",
                                 "reason": "Plan disclosed but safety plan agreed in session"})
        assert review.status_code == 201, review.text
        assert (review.json()["ai_value"], review.json()["human_value"]) == ("high", "medium")
        after = http.get(f"/api/v1/sessions/{audio['session_id']}/analysis").json()
        assert after["effective"]["risk_level"] == "medium" and after["ai"]["risk_level"] == "high"
        assert http.get(f"/api/v1/sessions/{audio['session_id']}").json()["risk_level"] == "medium"
        audit = http.get(f"/api/v1/sessions/{audio['session_id']}/audit").json()
        # Reading the raw (unredacted) provider output above is audited too.
        assert [a["action"] for a in audit] == ["session.upload", "transcript.original_read", "review.override"]
        assert audit[2]["actor_email"].startswith("supervisor@")
        assert audit[2]["detail"]["reason"] == digest("Plan disclosed but safety plan agreed in session"), \
            "the audit log keeps a digest of the reason; the reason itself is sealed in the review"
        assert review.json()["reason"] == "Plan disclosed but safety plan agreed in session"

    # The analyze stages encoded their sentences through the Serve deployment, not in their own processes.
    from ray import serve

    from tasks import risk_scoring

    encoder = serve.get_deployment_handle(risk_scoring.DEPLOYMENT_NAME, app_name=risk_scoring.APP_NAME)
    assert sum(encoder.recent_batches.remote().result(timeout_s=30)) > 0
    with stack.ctx.system_db() as db:
        stages = db.execute(sa.select(StageEvent.stage, StageEvent.event)
                            .where(StageEvent.session_id == uuid.UUID(audio["session_id"]))).all()
        assert {(s, "ready") for s in ("extract", "transcribe", "analyze")} <= set(stages)
        assert db.scalar(sa.select(sa.func.count()).select_from(Analysis)
                         .where(Analysis.session_id == uuid.UUID(audio["session_id"]))) == 1
        assert db.scalar(sa.select(sa.func.count()).select_from(Transcript)
                         .where(Transcript.session_id == uuid.UUID(audio["session_id"]))) == 1


def test_corrupt_upload_fails_readably_while_a_good_one_beside_it_succeeds(stack: Stack) -> None:
    bad = _upload(stack, SAMPLES / "routine-coaching.m4a", garbled_m4a())
    good = _upload(stack, SAMPLES / "routine-coaching.m4a")
    bad_status, good_status = _wait(stack, bad["job_id"]), _wait(stack, good["job_id"])
    assert bad_status["status"] == "failed" and bad_status["error_code"] == "corrupt_media"
    assert good_status["status"] == "succeeded"
    with stack.http() as http:
        failed = http.get(f"/api/v1/sessions/{bad['session_id']}").json()
        assert failed["status"] == "failed" and "extract failed: audio extraction failed" in failed["error"]
        assert http.get(f"/api/v1/sessions/{bad['session_id']}/transcript").status_code == 404
        routine = http.get(f"/api/v1/sessions/{good['session_id']}").json()
        assert routine["status"] == "ready" and routine["flagged"] is False
    with stack.ctx.system_db() as db:
        job = db.get(Job, uuid.UUID(bad["job_id"]))
        assert job.attempt == 1, "a permanent error must not be retried"


def test_another_tenant_sees_404_for_every_session_route(stack: Stack) -> None:
    accepted = _upload(stack, SAMPLES / "routine-coaching.m4a")
    _wait(stack, accepted["job_id"])
    sid = accepted["session_id"]
    paths = ["", "/transcript", "/transcript/raw", "/metrics", "/audio", "/analysis", "/audit"]
    with stack.http(tenant=stack.other) as other:
        for path in paths:
            assert other.get(f"/api/v1/sessions/{sid}{path}").status_code == 404, path
        assert other.get(f"/api/v1/jobs/{accepted['job_id']}/status").status_code == 404
        denied = other.post(f"/api/v1/sessions/{sid}/reviews",
                            json={"field": "risk_level", "value": "high", "reason": "cross-tenant attempt"})
        assert denied.status_code == 404
        assert all(s["id"] != sid for s in other.get("/api/v1/sessions").json())
    with stack.http() as own:
        assert own.get(f"/api/v1/sessions/{sid}/analysis").json()["overrides"] == {}


def test_vigil_ingest_uploads_waits_and_reports_each_file(stack: Stack, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    not_media = tmp_path / "notes.mp3"
    not_media.write_text("not audio at all\n" * 20)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "vigil"), "ingest", str(SAMPLES / "routine-coaching.m4a"), str(not_media),
         "--token", stack.tenant.uploader, "--api", stack.base_url],
        capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 1, "one file was rejected, so the command reports failure"
    assert "routine-coaching.m4a: session" in done.stdout
    assert "succeeded: risk=none flagged=False" in done.stdout
    assert "notes.mp3: rejected (415)" in done.stdout
    progress = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")]
    assert [line.split(" ")[:2] for line in progress[:-1]] == [  # live, from the event stream through Serve
        ["extract", "running"], ["extract", "done"], ["transcribe", "running"], ["transcribe", "done"],
        ["analyze", "running"], ["analyze", "done"], ["session", "ready"]], done.stdout


def test_the_event_stream_through_serve_shows_a_jobs_stages_as_they_happen_to_its_tenant_only(
        stack: Stack, long_sample: Path) -> None:
    import ray

    from cli.stack import DISPATCHER_NAME

    arrivals: list[tuple[float, str, str | None, str | None]] = []
    with stack.http("uploader") as http, http.stream("GET", "/api/v1/events", params={"max_seconds": 240},
                                                     timeout=httpx.Timeout(10, read=60)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        start = next(line for line in lines if line.startswith("id: ")).removeprefix("id: ")
        accepted = _upload(stack, long_sample)  # two minutes of speech: transcribing takes seconds, not a poll
        for line in lines:
            if not line.startswith("data: "):
                continue
            event = json.loads(line.removeprefix("data: "))
            if event["data"].get("job_id") != accepted["job_id"]:
                continue
            arrivals.append((time.time(), event["kind"], event["data"].get("stage"), event["data"].get("status")))
            if event["kind"] in ("session.ready", "session.failed"):
                break
    assert [a[1:] for a in arrivals] == [
        ("job.progress", "extract", "running"), ("job.progress", "extract", "done"),
        ("job.progress", "transcribe", "running"), ("job.progress", "transcribe", "done"),
        ("job.progress", "analyze", "running"), ("job.progress", "analyze", "done"), ("session.ready", None, None)]
    with stack.ctx.system_db() as db:
        job = db.get(Job, uuid.UUID(accepted["job_id"]))
    assert job is not None and job.completed_at is not None
    transcribing = next(at for at, _, stage, status in arrivals if (stage, status) == ("transcribe", "running"))
    assert transcribing < job.completed_at.timestamp() - 2, "streamed as it happened, not held back to the end"

    with stack.http("supervisor", stack.other) as http:  # the same stretch of time, as another tenant
        theirs = http.get("/api/v1/events", params={"since": start, "max_seconds": 1}, timeout=30)
    assert theirs.status_code == 200
    assert accepted["job_id"] not in theirs.text and accepted["session_id"] not in theirs.text
    stats = ray.get(ray.get_actor(DISPATCHER_NAME).stats.remote())
    assert stats["last_events_prune"] == {"deleted": 0}, "the dispatcher prunes events on its own schedule"


def test_a_worker_killed_mid_transcription_is_retried_and_nothing_is_duplicated(stack: Stack,
                                                                              long_sample: Path) -> None:
    import ray

    from tasks.dispatcher import TRANSCRIPTION_NAME

    accepted = _upload(stack, long_sample)  # ~2 minutes, so the kill lands while Whisper is working
    job_id = uuid.UUID(accepted["job_id"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with stack.ctx.system_db() as db:
            job = db.get(Job, job_id)
        if (job.stage, job.status) == ("transcribe", "running"):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    ray.kill(ray.get_actor(TRANSCRIPTION_NAME), no_restart=False)

    assert _wait(stack, accepted["job_id"])["status"] == "succeeded"
    sid = uuid.UUID(accepted["session_id"])
    with stack.ctx.system_db() as db:
        failed = db.execute(sa.select(StageEvent.stage, StageEvent.detail).where(
            StageEvent.session_id == sid, StageEvent.event == "failed")).all()
        transcripts = db.scalar(sa.select(sa.func.count()).select_from(Transcript).where(Transcript.session_id == sid))
        analyses = db.scalar(sa.select(sa.func.count()).select_from(Analysis).where(Analysis.session_id == sid))
    # The killed call fails as worker_lost; a retry sent while the actor is still restarting may too.
    assert failed and {(stage, detail.split(":")[0]) for stage, detail in failed} == {("transcribe", "worker_lost")}
    assert (transcripts, analyses) == (1, 1)


def test_overload_is_answered_with_429_and_retry_after_and_loses_no_accepted_upload(stack: Stack) -> None:
    """A second app on the same Serve instance, with room for one request and one waiting."""
    from concurrent.futures import ThreadPoolExecutor

    from ray import serve

    from cli.stack import start_api

    tight = stack.ctx.settings.model_copy(update={"api_max_ongoing_requests": 1, "api_max_queued_requests": 1,
                                                  "api_retry_after_seconds": 7})
    start_api(tight, stack.ctx.database_url, name="vigil-tight", route_prefix="/tight")
    try:
        data = (SAMPLES / "checkin-risk.mp3").read_bytes()

        def upload(_: int) -> httpx.Response:
            return httpx.post(f"{stack.base_url}/tight/api/v1/sessions", headers=stack.tenant.headers("uploader"),
                              files={"file": ("burst.mp3", data)}, timeout=120)

        with ThreadPoolExecutor(max_workers=12) as pool:
            responses = list(pool.map(upload, range(12)))
    finally:
        serve.delete("vigil-tight")
    codes = [r.status_code for r in responses]
    assert set(codes) <= {202, 429} and codes.count(429) >= 1 and codes.count(202) >= 1, codes
    assert all(r.headers.get("retry-after") == "7" for r in responses if r.status_code == 429)
    accepted = [r.json()["session_id"] for r in responses if r.status_code == 202]
    with stack.ctx.system_db() as db:
        stored = db.scalars(sa.select(sa.cast(Job.session_id, sa.String)).where(
            Job.session_id.in_([uuid.UUID(s) for s in accepted]))).all()
    assert sorted(stored) == sorted(accepted), "every accepted upload has exactly one job"


def test_a_tenants_own_providers_are_used_for_its_sessions(stack: Stack) -> None:
    tenant = make_tenant(stack.ctx)
    from vigil.db.models import Tenant as TenantRow

    with stack.ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(TenantRow.id).where(TenantRow.name == tenant.name))
    with stack.http("admin", tenant) as http:
        chosen = http.put(f"/api/v1/tenants/{tenant_id}/transcription", json={"transcribers": ["whisper", "standin"]})
        assert chosen.status_code == 200, chosen.text
    with stack.http("uploader", tenant) as http:
        video = (SAMPLES / "support-video.webm").read_bytes()
        accepted = http.post("/api/v1/sessions", files={"file": ("s.webm", video)})
    assert _wait(stack, accepted.json()["job_id"], tenant=tenant)["status"] == "succeeded"
    with stack.http("supervisor", tenant) as http:
        transcript = http.get(f"/api/v1/sessions/{accepted.json()['session_id']}/transcript").json()
    assert transcript["providers"] == ["whisper", "standin"] and transcript["provider"] == "reconciled"


def test_one_request_id_follows_an_upload_through_every_stage_on_the_ray_workers(stack: Stack) -> None:
    import json

    import ray

    trace = f"e2e-{uuid.uuid4().hex[:12]}"
    with stack.http("uploader") as http:
        accepted = http.post("/api/v1/sessions", headers={"X-Request-ID": trace},
                             files={"file": ("r.m4a", (SAMPLES / "routine-coaching.m4a").read_bytes())})
    assert accepted.status_code == 202 and accepted.headers["x-request-id"] == trace
    assert _wait(stack, accepted.json()["job_id"])["status"] == "succeeded"
    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    lines: list[dict] = []
    deadline = time.monotonic() + 30  # worker log files are flushed by Ray's log monitor, not at once
    while time.monotonic() < deadline:
        lines = [json.loads(line) for path in logs.glob("worker-*") for line in path.read_text(errors="replace")
                 .splitlines() if trace in line and line.startswith("{")]
        if {"extract", "transcribe", "analyze"} <= {line.get("stage") for line in lines
                                                   if line["message"] == "stage started"}:
            break
        time.sleep(1)
    stage_lines = [line for line in lines if line["message"].startswith("stage ")]
    assert {line["stage"] for line in stage_lines if line["message"] == "stage started"} == {
        "extract", "transcribe", "analyze"}, lines
    assert {line["session_id"] for line in stage_lines} == {accepted.json()["session_id"]}
    # Named for the Ray dashboard: the stage and the session it works on.
    short = accepted.json()["session_id"][:8]
    assert {line["ray_task"] for line in stage_lines if line["message"] == "stage started"} == {
        f"extract:{short}", f"transcribe:{short}", f"analyze:{short}"}
    assert {line["job_id"] for line in stage_lines} == {accepted.json()["job_id"]}
    assert any(line["message"] == "request" and line["route"] == "/api/v1/sessions" for line in lines)


def test_the_pipeline_and_api_metrics_reach_rays_prometheus_endpoint(stack: Stack) -> None:
    accepted = _upload(stack, SAMPLES / "routine-coaching.m4a")
    assert _wait(stack, accepted["job_id"])["status"] == "succeeded"
    wanted = ['vigil_stage_seconds_count{', 'stage="extract"', 'stage="transcribe"', 'stage="analyze"',
              'vigil_api_request_seconds_count{', 'route="/api/v1/sessions"', 'vigil_provider_seconds_count{',
              'provider="whisper"', 'vigil_jobs_waiting{', 'vigil_jobs_in_flight{']
    text = scrape_ray_metrics(wanted)
    missing = [w for w in wanted if w not in text]
    assert not missing, f"not exported: {missing}"
    # Ray names application metrics ray_<name> on its endpoint.
    done = [line for line in text.splitlines()
            if line.startswith("ray_vigil_stage_seconds_count{") and 'outcome="done"' in line]
    assert {s for s in ("extract", "transcribe", "analyze") if any(f'stage="{s}"' in line for line in done)} == {
        "extract", "transcribe", "analyze"}


def test_a_burst_of_analyze_calls_through_serve_gets_one_job(stack: Stack) -> None:
    """50 concurrent analyze calls on one ready session, through Serve's proxy to the deployed API, while the
    offline analysis they start finishes within the burst: one job id, one new analysis version."""
    from concurrent.futures import ThreadPoolExecutor

    from vigil.db.models import Tenant as TenantRow

    tenant = make_tenant(stack.ctx)
    with stack.http("uploader", tenant) as http:
        accepted = http.post("/api/v1/sessions", files={"file": ("r.m4a", (SAMPLES / "routine-coaching.m4a")
                                                                 .read_bytes())}).json()
    assert _wait(stack, accepted["job_id"], tenant=tenant)["status"] == "succeeded"
    session_id = accepted["session_id"]
    with stack.ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(TenantRow.id).where(TenantRow.name == tenant.name))
    with stack.http("admin", tenant) as http:  # a changed input: the next analyze is new work
        assert http.put(f"/api/v1/tenants/{tenant_id}/risk", json={"sensitivity": "balanced"}).status_code == 200

    def burst() -> set[str]:
        with stack.http("supervisor", tenant) as http, ThreadPoolExecutor(max_workers=25) as pool:
            answers = list(pool.map(lambda _: http.post(f"/api/v1/sessions/{session_id}/analyze"), range(50)))
        assert {a.status_code for a in answers} == {202}, [a.text for a in answers if a.status_code != 202]
        return {a.json()["job_id"] for a in answers}

    first = burst()
    assert len(first) == 1 and first != {accepted["job_id"]}
    assert _wait(stack, first.copy().pop(), tenant=tenant)["status"] == "succeeded"
    assert burst() == first, "the same inputs again: the finished job is the answer"
    with stack.ctx.system_db() as db:
        versions = db.scalars(sa.select(Analysis.analysis_version)
                              .where(Analysis.session_id == uuid.UUID(session_id))).all()
    assert sorted(versions) == [1, 2]


def test_a_flagged_upload_reaches_the_tenants_webhook_by_itself(stack: Stack) -> None:
    """The dispatcher delivers alerts on its own (a periodic Ray task): set a rule, upload a disclosure, and the
    webhook receives the signed alert soon after the analysis is ready."""
    from tests.standins.webhook import webhook_receiver
    from vigil.db.models import Tenant as TenantRow

    tenant = make_tenant(stack.ctx)
    with stack.ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(TenantRow.id).where(TenantRow.name == tenant.name))
    with webhook_receiver() as receiver:
        with stack.http("admin", tenant) as http:
            rules = {"rules": [{"categories": ["suicidal_ideation"], "min_severity": "medium", "channels": [
                {"type": "webhook", "url": receiver.url}]}]}
            assert http.put(f"/api/v1/tenants/{tenant_id}/alerts", json=rules).status_code == 200
        with stack.http("uploader", tenant) as http:
            accepted = http.post("/api/v1/sessions", files={"file": ("c.mp3", (SAMPLES / "checkin-risk.mp3")
                                                                      .read_bytes())}).json()
        assert _wait(stack, accepted["job_id"], tenant=tenant)["status"] == "succeeded"
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.2)
    sent = [json.loads(body) for _, body in receiver.received]
    assert [(r["session_id"], r["category"]) for r in sent] == [(accepted["session_id"], "suicidal_ideation")]
