"""The API behind the dashboard: queue filters and order, counts and facets, jobs for retry, stage and request
timings, and the trend columns of the review facts. Every read is tried from another tenant too."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SAMPLES, Tenant
from tests.integration.test_analysis_tasks import transcribed_session
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Job, Session, Transcript, utcnow
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import complete_stage, fail_stage
from vigil.services.pipeline import run_analyze

AUDIO = (SAMPLES / "checkin-risk.mp3").read_bytes()


def _upload(ctx: Context, tenant: Tenant, title: str, counselor: str | None = None, team: str | None = None,
            **state: object) -> uuid.UUID:
    """A real upload, then the state the pipeline would have left (risk, review, failure) set directly."""
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, _ = accept_upload(ctx, principal, io.BytesIO(AUDIO), f"{title}.mp3", title, counselor=counselor,
                               team=team)
    if state:
        with ctx.system_db() as db:
            db.execute(sa.update(Session).where(Session.id == session.id).values(**state))
            db.commit()
    return session.id


def _ids(response: object) -> list[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return [row["id"] for row in response.json()]  # type: ignore[attr-defined]


def test_upload_keeps_counselor_and_team_and_analysis_records_the_flag_categories(
        client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    answer = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                         files={"file": ("a.mp3", AUDIO)}, data={"counselor": "  Dana Ruiz ", "team": "North"})
    assert answer.status_code == 202, answer.text
    session = client.get(f"/api/v1/sessions/{answer.json()['session_id']}", headers=tenant_a.headers()).json()
    assert (session["counselor"], session["team"]) == ("Dana Ruiz", "North")

    claim = transcribed_session(ctx, tenant_a)
    run_analyze(ctx, claim, OfflineAnalyzer())
    found = _ids(client.get("/api/v1/sessions", headers=tenant_a.headers(),
                            params={"category": "suicidal_ideation"}))
    assert found == [str(claim.session_id)]
    assert client.get(f"/api/v1/sessions/{claim.session_id}", headers=tenant_a.headers()).json()[
        "risk_categories"] == ["suicidal_ideation"]


def test_queue_filters_order_and_counts_stay_inside_the_tenant(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                                tenant_b: Tenant) -> None:
    now = utcnow()
    high_old = _upload(ctx, tenant_a, "high-old", "Dana", "North", risk_level="high", flagged=True,
                       risk_categories=["suicidal_ideation"], status="ready", created_at=now - timedelta(days=3),
                       analysis_ready_at=now - timedelta(days=3))
    high_new = _upload(ctx, tenant_a, "high-new", "Lee", "South", risk_level="high", flagged=True,
                       risk_categories=["self_harm"], status="ready", created_at=now - timedelta(days=1),
                       analysis_ready_at=now - timedelta(days=1))
    unknown = _upload(ctx, tenant_a, "unknown", "Lee", "South", risk_level="unknown", flagged=True, status="ready",
                      attention="risk analysis failed — review manually", created_at=now - timedelta(hours=2))
    medium = _upload(ctx, tenant_a, "medium", "Dana", "North", risk_level="medium", flagged=True,
                     risk_categories=["substance_crisis"], status="ready", created_at=now - timedelta(days=5))
    reviewed = _upload(ctx, tenant_a, "reviewed", "Dana", "North", risk_level="high", flagged=True, status="ready",
                       risk_categories=["suicidal_ideation"], reviewed_at=now, created_at=now - timedelta(days=2))
    calm = _upload(ctx, tenant_a, "calm", "Lee", "South", risk_level="none", flagged=False, status="ready",
                   created_at=now - timedelta(hours=1))
    broken = _upload(ctx, tenant_a, "broken", None, None, status="failed", error="undecodable audio",
                     created_at=now - timedelta(minutes=30))
    with ctx.system_db() as db:
        for sid, provider in ((high_old, "whisper"), (high_old, "assemblyai"), (high_old, "reconciled"),
                              (calm, "whisper")):
            db.add(Transcript(tenant_id=db.get(Session, sid).tenant_id, session_id=sid, provider=provider,
                              model="m", word_count=1, duration_seconds=1.0, metrics={}))
        db.commit()
    _upload(ctx, tenant_b, "theirs", "Dana", "North", risk_level="high", flagged=True, status="ready",
            risk_categories=["suicidal_ideation"])

    def listed(who: Tenant = tenant_a, **params: object) -> list[str]:
        return _ids(client.get("/api/v1/sessions", headers=who.headers(), params=params))

    mine = [str(s) for s in (unknown, high_old, high_new, medium)]
    assert listed(order="queue")[:4] == mine, "awaiting review first: unknown, then high oldest first, then medium"
    assert listed(order="queue")[4:] == [str(s) for s in (broken, calm, reviewed)], "then the rest, newest first"
    assert set(listed(category="suicidal_ideation")) == {str(high_old), str(reviewed)}
    assert set(listed(risk_level=["high", "medium"], reviewed=False)) == {str(high_old), str(high_new), str(medium)}
    assert set(listed(counselor="Lee")) == {str(high_new), str(unknown), str(calm)}
    assert set(listed(team="North", flagged=True, reviewed=False)) == {str(high_old), str(medium)}
    assert set(listed(provider="assemblyai")) == {str(high_old)}
    assert set(listed(analysis_failed=True)) == {str(unknown), str(broken)}
    assert set(listed(created_from=(now - timedelta(days=2, hours=1)).isoformat(),
                      created_to=(now - timedelta(hours=12)).isoformat())) == {str(high_new), str(reviewed)}
    by_id = {row["id"]: row for row in client.get("/api/v1/sessions", headers=tenant_a.headers()).json()}
    assert by_id[str(high_old)]["providers"] == ["assemblyai", "whisper"]
    # The session page's header reads the session, its newest job and its providers in one statement.
    with ctx.system_db() as db:
        newest_job = db.scalar(sa.select(Job.id).where(Job.session_id == high_old))
    detail = client.get(f"/api/v1/sessions/{high_old}", headers=tenant_a.headers()).json()
    assert (detail["providers"], detail["job_id"]) == (["assemblyai", "whisper"], str(newest_job))
    assert client.get(f"/api/v1/sessions/{broken}", headers=tenant_a.headers()).json()["providers"] == []
    assert client.get(f"/api/v1/sessions/{high_old}", headers=tenant_b.headers()).status_code == 404

    summary = client.get("/api/v1/sessions/summary", headers=tenant_a.headers("lead")).json()
    assert (summary["total"], summary["awaiting_review"], summary["analysis_failed"]) == (7, 4, 2)
    assert summary["counselors"] == ["Dana", "Lee"] and summary["teams"] == ["North", "South"]
    assert summary["providers"] == ["assemblyai", "whisper"]
    assert summary["categories"] == ["self_harm", "substance_crisis", "suicidal_ideation"]
    assert client.get("/api/v1/sessions/summary", headers=tenant_a.headers(),
                      params={"counselor": "Dana"}).json()["awaiting_review"] == 2

    # Tenant B, with the same filters, sees only its own session; its facets name nothing of A's.
    assert listed(tenant_b, counselor="Lee") == [] and listed(tenant_b, provider="assemblyai") == []
    assert len(listed(tenant_b, category="suicidal_ideation")) == 1
    theirs = client.get("/api/v1/sessions/summary", headers=tenant_b.headers()).json()
    assert (theirs["total"], theirs["counselors"], theirs["providers"]) == (1, ["Dana"], [])


def test_jobs_page_lists_dead_work_for_those_who_can_retry_it(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                              tenant_b: Tenant) -> None:
    claim = transcribed_session(ctx, tenant_a)
    with ctx.system_db() as db:
        db.execute(sa.update(Job).where(Job.id == claim.job_id).values(max_attempts=1))
        db.commit()
        assert fail_stage(db, claim, code="provider_down", detail="every provider failed", transient=True,
                          duration_seconds=0.5, retry_base_seconds=1) == "dead"
    dead = client.get("/api/v1/jobs", headers=tenant_a.headers(), params={"status": "dead"}).json()
    assert [(j["job_id"], j["error_code"], j["error_detail"]) for j in dead] == [
        (str(claim.job_id), "provider_down", "every provider failed")]
    counts = client.get("/api/v1/jobs/counts", headers=tenant_a.headers("admin")).json()
    assert {"status": "dead", "stage": "analyze", "jobs": 1} in counts
    assert client.get("/api/v1/jobs", headers=tenant_a.headers("lead")).status_code == 403
    assert client.get("/api/v1/jobs/counts", headers=tenant_a.headers("uploader")).status_code == 403
    assert client.get("/api/v1/jobs", headers=tenant_b.headers(), params={"status": "dead"}).json() == []
    retried = client.post(f"/api/v1/sessions/{claim.session_id}/reprocess", headers=tenant_a.headers())
    assert retried.status_code == 202
    assert client.get("/api/v1/jobs", headers=tenant_a.headers(), params={"status": "queued"}).json()[0][
        "job_id"] == retried.json()["job_id"]


def test_stage_and_request_timings_are_recorded_per_tenant(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                           tenant_b: Tenant) -> None:
    claim = transcribed_session(ctx, tenant_a)
    with ctx.system_db() as db:
        complete_stage(db, claim, 2.5)
    stages = client.get("/api/v1/analytics/stage-timings", headers=tenant_a.headers("lead")).json()
    assert [(s["stage"], s["event"], s["duration_seconds"]) for s in stages] == [("analyze", "ready", 2.5)]
    assert client.get("/api/v1/analytics/stage-timings", headers=tenant_b.headers("lead")).json() == []

    for _ in range(3):
        assert client.get(f"/api/v1/sessions/{claim.session_id}", headers=tenant_a.headers()).status_code == 200
    assert client.get(f"/api/v1/sessions/{claim.session_id}", headers=tenant_b.headers()).status_code == 404
    client.app.state.timings.flush()  # type: ignore[attr-defined]
    mine = client.get("/api/v1/analytics/request-timings", headers=tenant_a.headers("lead")).json()
    reads = [r for r in mine if r["route"] == "/api/v1/sessions/{session_id}"]
    assert len(reads) == 3 and {r["status_code"] for r in reads} == {200}
    assert all(r["duration_ms"] > 0 for r in reads)
    theirs = client.get("/api/v1/analytics/request-timings", headers=tenant_b.headers("lead")).json()
    assert [r["status_code"] for r in theirs if r["route"] == "/api/v1/sessions/{session_id}"] == [404]
    assert client.get("/api/v1/analytics/request-timings", headers=tenant_a.headers("uploader")).status_code == 403


def test_review_facts_carry_the_trend_columns(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    claim = transcribed_session(ctx, tenant_a)
    with ctx.system_db() as db:
        db.execute(sa.update(Session).where(Session.id == claim.session_id).values(counselor="Dana", team="North"))
        for provider, confidence, metrics in (("whisper", 0.8, {}), ("assemblyai", 0.9, {}),
                                              ("reconciled", 0.85, {"agreement_rate": 0.93})):
            db.add(Transcript(tenant_id=claim.tenant_id, session_id=claim.session_id, provider=provider, model="m",
                              word_count=1, duration_seconds=1.0, mean_confidence=confidence,
                              metrics=metrics))
        db.commit()
    run_analyze(ctx, claim, OfflineAnalyzer())
    [row] = [r for r in client.get("/api/v1/analytics/review-facts", headers=tenant_a.headers("lead")).json()
             if r["id"] == str(claim.session_id)]
    assert (row["counselor"], row["team"]) == ("Dana", "North")
    assert row["providers"] == ["assemblyai", "whisper"]
    assert (row["transcription_confidence"], row["provider_agreement"]) == (0.85, 0.93), "the reconciled transcript"
    assert row["model"].startswith("vigil-offline-rules") and row["cost_usd"] == 0.0
    assert row["risk_categories"] == ["suicidal_ideation"]
    assert row["rubric"] and all(1 <= score <= 5 for score in row["rubric"].values())
    assert row["time_to_ready_seconds"] is not None and row["time_to_ready_seconds"] >= 0
