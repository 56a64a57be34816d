"""Analyze and reprocess requests: coalesced in the database, audited, role- and tenant-checked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, api_on_loopback, isolated_context, make_tenant, process_session
from vigil.analysis.analyzers.registry import build_analyzer
from vigil.context import Context
from vigil.db.models import Analysis, AuditEntry, Job
from vigil.services.jobs import claim_next_stage, complete_stage
from vigil.services.pipeline import run_analyze


@dataclass
class Live:
    url: str
    ctx: Context
    tenant: Tenant
    other: Tenant
    session_id: str


@pytest.fixture(scope="module")
def live(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory, whisper) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("reprocess"))
    tenant, other = make_tenant(ctx), make_tenant(ctx)
    session_id = process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", whisper)
    with api_on_loopback(ctx) as url:
        yield Live(url, ctx, tenant, other, session_id)


def _post(live: Live, path: str, role: str = "supervisor", tenant: Tenant | None = None,
          **params: str) -> httpx.Response:
    return httpx.post(f"{live.url}{path}", headers=(tenant or live.tenant).headers(role), params=params, timeout=60)


def _run_active_job(live: Live) -> None:
    with live.ctx.system_db() as db:
        claim = claim_next_stage(db, 60)
    assert claim is not None and claim.stage == "analyze"
    run_analyze(live.ctx, claim, build_analyzer(live.ctx.settings))
    with live.ctx.system_db() as db:
        complete_stage(db, claim, 0.1)


def _versions(live: Live) -> list[tuple[int, uuid.UUID | None]]:
    with live.ctx.system_db() as db:
        return [tuple(row) for row in db.execute(  # type: ignore[misc]
            sa.select(Analysis.analysis_version, Analysis.job_id).where(Analysis.session_id == uuid.UUID(
                live.session_id)).order_by(Analysis.analysis_version))]


def _analyze_audits(live: Live) -> int:
    with live.ctx.system_db() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "session.analyze", AuditEntry.entity_id == live.session_id))


def test_a_hundred_concurrent_forced_analyze_calls_make_one_job_and_one_model_run(live: Live) -> None:
    before, audits_before = _versions(live), _analyze_audits(live)
    path = f"/api/v1/sessions/{live.session_id}/analyze"
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda _: _post(live, path, force="true"), range(100)))
    assert {r.status_code for r in responses} == {202}
    job_ids = {r.json()["job_id"] for r in responses}
    assert len(job_ids) == 1
    assert sum(not r.json()["coalesced"] for r in responses) == 1
    _run_active_job(live)
    after = _versions(live)
    assert [v for v, _ in after] == [v for v, _ in before] + [len(before) + 1], "the old versions stay"
    assert str(after[-1][1]) == job_ids.pop()
    assert _analyze_audits(live) == audits_before + 1


def test_analyze_with_unchanged_inputs_returns_the_latest_analysis_job_unless_forced(live: Live) -> None:
    path = f"/api/v1/sessions/{live.session_id}/analyze"
    version, job_id = _versions(live)[-1]
    audits = _analyze_audits(live)
    same = [_post(live, path) for _ in range(3)]
    assert [(r.status_code, r.json()) for r in same] == [(202, {"job_id": str(job_id), "status": "succeeded",
                                                                "coalesced": True,
                                                                "same_inputs_as_version": version})] * 3
    assert _versions(live)[-1] == (version, job_id) and _analyze_audits(live) == audits, "no work, nothing audited"
    forced = _post(live, path, force="true").json()
    assert forced["coalesced"] is False and forced["job_id"] != str(job_id)
    _run_active_job(live)
    assert _post(live, path).json()["job_id"] == forced["job_id"], "the forced run is now the latest"


def test_analyze_after_an_input_changed_starts_a_new_run(live: Live) -> None:
    path = f"/api/v1/sessions/{live.session_id}/analyze"
    with live.ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(Job.tenant_id).where(Job.session_id == uuid.UUID(live.session_id)).limit(1))
    risk = f"{live.url}/api/v1/tenants/{tenant_id}/risk"
    latest = _post(live, path).json()
    assert latest["same_inputs_as_version"] is not None
    assert httpx.put(risk, headers=live.tenant.headers("admin"), json={"sensitivity": "balanced"}).status_code == 200
    try:
        changed = _post(live, path).json()
        assert changed["coalesced"] is False and changed["job_id"] != latest["job_id"]
        _run_active_job(live)
        assert _post(live, path).json()["job_id"] == changed["job_id"]
    finally:
        httpx.put(risk, headers=live.tenant.headers("admin"), json={"sensitivity": None})


def test_reprocess_coalesces_and_is_audited(live: Live) -> None:
    first = _post(live, f"/api/v1/sessions/{live.session_id}/reprocess")
    second = _post(live, f"/api/v1/sessions/{live.session_id}/reprocess")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["job_id"] == second.json()["job_id"] and second.json()["coalesced"]
    with live.ctx.system_db() as db:
        job = db.get(Job, uuid.UUID(first.json()["job_id"]))
        assert (job.kind, job.stage, job.status) == ("pipeline", "extract", "queued")
        db.execute(sa.delete(Job).where(Job.id == job.id))
        db.commit()


def test_leads_and_uploaders_cannot_request_work_and_other_tenants_get_404(live: Live) -> None:
    assert _post(live, f"/api/v1/sessions/{live.session_id}/analyze", role="lead").status_code == 403
    assert _post(live, f"/api/v1/sessions/{live.session_id}/reprocess", role="uploader").status_code == 403
    assert _post(live, f"/api/v1/sessions/{live.session_id}/analyze", tenant=live.other).status_code == 404
    assert _post(live, f"/api/v1/sessions/{live.session_id}/reprocess", tenant=live.other).status_code == 404


def test_admin_lists_own_tenant_jobs_with_filters_and_nobody_else_can(live: Live) -> None:
    with live.ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(Job.tenant_id).where(Job.session_id == uuid.UUID(live.session_id)).limit(1))
    path = f"{live.url}/api/v1/tenants/{tenant_id}/jobs"
    jobs = httpx.get(path, headers=live.tenant.headers("admin"), params={"status": "succeeded"}).json()
    assert jobs and {j["status"] for j in jobs} == {"succeeded"}
    assert {j["session_id"] for j in jobs} == {live.session_id}
    every = httpx.get(path, headers=live.tenant.headers("admin")).json()
    assert len(every) >= 2
    page = httpx.get(path, headers=live.tenant.headers("admin"), params={"limit": 1, "offset": 1}).json()
    assert [j["job_id"] for j in page] == [every[1]["job_id"]]
    assert httpx.get(path, headers=live.tenant.headers("supervisor")).status_code == 403
    assert httpx.get(path, headers=live.other.headers("admin")).status_code == 404
