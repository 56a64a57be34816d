"""Retention: per-tenant periods, applied by the sweep (a Ray task the dispatcher schedules), every purge audited,
sessions awaiting review held, nothing of another tenant touched, and a sweep that crashed half-way finishing on
the next run without duplicating anything."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SAMPLES, Tenant
from vigil.context import Context
from vigil.db.models import Analysis, Artifact, AuditEntry, Review, Transcript, utcnow
from vigil.db.models import Session as SessionRow
from vigil.services.audit import verify_chain
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.retention import apply_retention, set_retention_policy
from vigil.storage.base import AUDIO_NAME, TRANSCRIPT_AGENT_NAME, analysis_name, artifact_key, transcript_raw_name

NAMES = {"audio": AUDIO_NAME, "transcript_agent": TRANSCRIPT_AGENT_NAME,
         "transcript_raw:whisper": transcript_raw_name("whisper"), "analysis:v1": analysis_name(1)}


def tenant_id(ctx: Context, tenant: Tenant) -> uuid.UUID:
    with ctx.system_db() as db:
        return authenticate(db, tenant.admin).tenant_id


def stored_session(ctx: Context, tenant: Tenant, *, days_old: int, flagged: bool = False, reviewed: bool = True,
                   extracted: bool = True) -> uuid.UUID:
    """A processed session `days_old` days after upload: the original from a real upload, then audio, transcripts
    and an analysis in the store with their rows."""
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, _ = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "a.mp3", "r")
    with ctx.system_db() as db:
        for kind, name in NAMES.items():
            if kind == "audio" and not extracted:
                continue
            key = artifact_key(session.tenant_id, session.id, name)
            ctx.store.put_bytes(key, f"{kind} of {session.id}".encode())
            db.add(Artifact(tenant_id=session.tenant_id, session_id=session.id, kind=kind, key=key, size_bytes=10))
        db.add(Transcript(tenant_id=session.tenant_id, session_id=session.id, provider="whisper", model="m",
                          word_count=6, duration_seconds=3.0))
        db.add(Analysis(tenant_id=session.tenant_id, session_id=session.id, analysis_version=1, prompt_version="p",
                        model="offline", risk_level="high" if flagged else "none", result={}))
        db.execute(sa.update(SessionRow).where(SessionRow.id == session.id).values(
            status="ready", flagged=flagged, created_at=utcnow() - timedelta(days=days_old),
            reviewed_at=utcnow() if (flagged and reviewed) else None))
        db.commit()
    return session.id


def objects(ctx: Context, tenant: uuid.UUID, session_id: uuid.UUID) -> set[str]:
    names = {**NAMES, "original": "original.mp3"}
    return {kind for kind, name in names.items() if ctx.store.exists(artifact_key(tenant, session_id, name))}


def row(ctx: Context, session_id: uuid.UUID) -> SessionRow:
    with ctx.system_db() as db:
        return db.get(SessionRow, session_id)


def purges(ctx: Context, session_id: uuid.UUID) -> list[str]:
    with ctx.system_db() as db:
        return list(db.scalars(sa.select(AuditEntry.action).where(
            AuditEntry.entity_id == str(session_id), AuditEntry.action.like("retention.%")).order_by(AuditEntry.seq)))


def policy(ctx: Context, tenant: Tenant, media: int | None, content: int | None) -> uuid.UUID:
    tid = tenant_id(ctx, tenant)
    with ctx.system_db() as db:
        set_retention_policy(db, None, tid, media, content, ctx.settings)
    return tid


def test_media_past_its_period_is_deleted_once_the_audio_exists(ctx: Context, tenant_a: Tenant) -> None:
    a = policy(ctx, tenant_a, media=30, content=90)
    old, young = stored_session(ctx, tenant_a, days_old=40), stored_session(ctx, tenant_a, days_old=10)
    not_extracted = stored_session(ctx, tenant_a, days_old=40, extracted=False)

    report = apply_retention(ctx)

    assert objects(ctx, a, old) == {"audio", "transcript_agent", "transcript_raw:whisper", "analysis:v1"}
    assert row(ctx, old).media_purged_at is not None and row(ctx, old).content_purged_at is None
    assert purges(ctx, old) == ["retention.media_purged"]
    assert "original" in objects(ctx, a, young) and purges(ctx, young) == []
    assert "original" in objects(ctx, a, not_extracted), "the media is the only copy until audio is extracted"
    assert report.media_purged == 1 and report.content_purged == 0
    with ctx.system_db() as db:
        kinds = set(db.scalars(sa.select(Artifact.kind).where(Artifact.session_id == old)))
    assert "original" not in kinds and "audio" in kinds


def test_content_past_its_period_is_deleted_and_the_decision_record_stays(ctx: Context, tenant_a: Tenant,
                                                                          client: TestClient) -> None:
    a = policy(ctx, tenant_a, media=30, content=90)
    old = stored_session(ctx, tenant_a, days_old=100, flagged=True, reviewed=True)

    report = apply_retention(ctx)

    assert report.content_purged == 1
    assert objects(ctx, a, old) == {"analysis:v1"}
    assert purges(ctx, old) == ["retention.media_purged", "retention.content_purged"]
    with ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Analysis).where(Analysis.session_id == old)) == 1
    session = client.get(f"/api/v1/sessions/{old}", headers=tenant_a.headers()).json()
    assert session["content_purged_at"] and session["media_purged_at"]
    for path in ("transcript", "transcript/raw", "audio"):
        response = client.get(f"/api/v1/sessions/{old}/{path}", headers=tenant_a.headers())
        assert response.status_code == 410 and "retention" in response.json()["detail"], path


def test_a_flagged_session_awaiting_review_is_held_until_a_supervisor_reviews_it(ctx: Context,
                                                                                 tenant_a: Tenant) -> None:
    a = policy(ctx, tenant_a, media=None, content=90)
    held = stored_session(ctx, tenant_a, days_old=100, flagged=True, reviewed=False)

    report = apply_retention(ctx)
    assert report.held_for_review == 1 and report.content_purged == 0
    assert "transcript_agent" in objects(ctx, a, held) and purges(ctx, held) == []

    with ctx.system_db() as db:
        db.execute(sa.update(SessionRow).where(SessionRow.id == held).values(reviewed_at=utcnow()))
        db.commit()
    assert apply_retention(ctx).content_purged == 1
    assert objects(ctx, a, held) == {"analysis:v1"}


def test_a_second_sweep_finds_nothing_to_do_and_the_audit_chain_stays_intact(ctx: Context, tenant_a: Tenant) -> None:
    a = policy(ctx, tenant_a, media=30, content=90)
    sessions = [stored_session(ctx, tenant_a, days_old=days) for days in (40, 100)]
    first = apply_retention(ctx)
    second = apply_retention(ctx)
    assert (first.media_purged, first.content_purged) == (2, 1)
    assert (second.media_purged, second.content_purged, second.objects_deleted) == (0, 0, 0)
    assert [purges(ctx, s) for s in sessions] == [["retention.media_purged"],
                                                  ["retention.media_purged", "retention.content_purged"]]
    with ctx.system_db() as db:
        assert verify_chain(db, a, ctx.audit_key).intact


def test_one_tenants_policy_never_touches_another_tenants_sessions(ctx: Context, tenant_a: Tenant,
                                                                   tenant_b: Tenant) -> None:
    a = policy(ctx, tenant_a, media=1, content=2)
    b = tenant_id(ctx, tenant_b)
    mine, theirs = stored_session(ctx, tenant_a, days_old=400), stored_session(ctx, tenant_b, days_old=400)
    apply_retention(ctx)
    assert objects(ctx, a, mine) == {"analysis:v1"}
    assert objects(ctx, b, theirs) == {"original", *NAMES}
    assert purges(ctx, theirs) == [] and row(ctx, theirs).content_purged_at is None


def test_the_deployment_default_applies_to_tenants_without_their_own(ctx: Context, tenant_a: Tenant) -> None:
    ctx = Context.build(ctx.settings.model_copy(update={"retention_content_days": 30}), ctx.database_url)
    a = tenant_id(ctx, tenant_a)
    old = stored_session(ctx, tenant_a, days_old=31)
    apply_retention(ctx)
    assert objects(ctx, a, old) == {"analysis:v1"}


class FailingDeletes:
    """The real store, except that deleting under a prefix fails: a sweep that dies half-way through a purge."""

    def __init__(self, store: object) -> None:
        self.store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def delete_prefix(self, prefix: str) -> int:
        raise OSError("store unreachable")


def test_a_sweep_that_crashed_mid_purge_finishes_next_time_and_audits_once(ctx: Context, tenant_a: Tenant) -> None:
    a = policy(ctx, tenant_a, media=None, content=90)
    old = stored_session(ctx, tenant_a, days_old=100)
    broken = Context(settings=ctx.settings, database_url=ctx.database_url, store=FailingDeletes(ctx.store))
    with pytest.raises(OSError):
        apply_retention(broken)
    assert "audio" not in objects(ctx, a, old) and "transcript_agent" in objects(ctx, a, old)  # half done
    assert row(ctx, old).content_purged_at is None and purges(ctx, old) == []

    apply_retention(ctx)
    assert objects(ctx, a, old) == {"analysis:v1"}
    assert purges(ctx, old) == ["retention.content_purged"]


def test_admins_set_the_policy_through_the_api_and_it_is_audited(ctx: Context, client: TestClient,
                                                                 tenant_a: Tenant, tenant_b: Tenant) -> None:
    a = tenant_id(ctx, tenant_a)
    url = f"/api/v1/tenants/{a}/retention"
    assert client.get(url, headers=tenant_a.headers("admin")).json() == {"media_days": None, "content_days": None,
                                                                          "source": "deployment"}
    put = client.put(url, json={"media_days": 30, "content_days": 365}, headers=tenant_a.headers("admin"))
    assert put.status_code == 200 and put.json()["source"] == "tenant"
    assert client.put(url, json={"media_days": 400, "content_days": 365},
                      headers=tenant_a.headers("admin")).status_code == 400
    assert client.put(url, json={"media_days": 0}, headers=tenant_a.headers("admin")).status_code == 422
    assert client.put(url, json={"media_days": 1}, headers=tenant_a.headers("supervisor")).status_code == 403
    assert client.put(url, json={"media_days": 1}, headers=tenant_b.headers("admin")).status_code == 404
    with ctx.system_db() as db:
        entries = db.execute(sa.select(AuditEntry.action, AuditEntry.detail).where(
            AuditEntry.tenant_id == a, AuditEntry.action == "tenant.retention")).all()
    assert [e.detail["after"] for e in entries] == [{"media_days": 30, "content_days": 365}]


@pytest.mark.ray
def test_the_sweep_runs_as_a_ray_task(ray_runtime: None, ctx: Context, tenant_a: Tenant) -> None:
    import ray

    from tasks.stages import apply_retention as sweep_task

    a = policy(ctx, tenant_a, media=None, content=90)
    old = stored_session(ctx, tenant_a, days_old=100)
    report = ray.get(sweep_task.remote(ctx.settings, ctx.database_url), timeout=120)
    assert report["content_purged"] >= 1
    assert objects(ctx, a, old) == {"analysis:v1"}


def test_reviews_survive_retention(ctx: Context, tenant_a: Tenant) -> None:
    policy(ctx, tenant_a, media=None, content=90)
    old = stored_session(ctx, tenant_a, days_old=100, flagged=True, reviewed=True)
    with ctx.system_db() as db:
        analysis_id = db.scalar(sa.select(Analysis.id).where(Analysis.session_id == old))
        reviewer = authenticate(db, tenant_a.supervisor)
        db.add(Review(tenant_id=reviewer.tenant_id, session_id=old, analysis_id=analysis_id, field="risk_level",
                      ai_value={"value": "high"}, human_value={"value": "medium"}, reason="spoke to client",
                      reviewer_id=reviewer.user_id))
        db.commit()
    apply_retention(ctx)
    with ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Review).where(Review.session_id == old)) == 1
