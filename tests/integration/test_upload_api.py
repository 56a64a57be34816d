"""Uploading through the API: good media is accepted and stored; bad input is refused and leaves nothing."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import Tenant, objects_root
from vigil.context import Context
from vigil.db.models import Artifact, AuditEntry, Job, Session


def _counts(ctx: Context) -> tuple[int, int, int]:
    with ctx.system_db() as db:
        return tuple(db.scalar(sa.select(sa.func.count()).select_from(t)) for t in (Session, Job, Artifact))


def _stored_files(ctx: Context) -> list[Path]:
    root = objects_root(ctx)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_of_audio_creates_session_job_artifact_and_audit(client: TestClient, ctx: Context,
                                                               tenant_a: Tenant, sample_audio: Path) -> None:
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                           files={"file": (sample_audio.name, sample_audio.read_bytes())}, data={"title": "t1"})
    assert response.status_code == 202, response.text
    body = response.json()
    with ctx.system_db() as db:
        session = db.get(Session, body["session_id"])
        job = db.get(Job, body["job_id"])
        artifact = db.scalar(sa.select(Artifact).where(Artifact.session_id == session.id))
        audit = db.scalars(sa.select(AuditEntry).where(AuditEntry.entity_id == str(session.id))).all()
    assert session.status == "uploaded" and session.media_type == "audio" and session.title == "t1"
    assert job.stage == "extract" and job.status == "queued"
    assert artifact.key == f"{session.tenant_id}/{session.id}/original.mp3"
    assert ctx.store.get_bytes(artifact.key) == sample_audio.read_bytes()
    assert [a.action for a in audit] == ["session.upload"]


def test_video_upload_is_recognised_as_video(client: TestClient, tenant_a: Tenant) -> None:
    video = Path(__file__).resolve().parents[2] / "samples" / "support-video.webm"
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                           files={"file": (video.name, video.read_bytes())})
    assert response.status_code == 202
    session = client.get(f"/api/v1/sessions/{response.json()['session_id']}", headers=tenant_a.headers()).json()
    assert session["media_type"] == "video"


def test_empty_file_is_refused_with_400_and_nothing_written(client: TestClient, ctx: Context,
                                                            tenant_a: Tenant) -> None:
    before = _counts(ctx)
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                           files={"file": ("empty.wav", b"")})
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    assert _counts(ctx) == before
    assert _stored_files(ctx) == []


def test_text_file_named_like_audio_is_refused_with_415(client: TestClient, ctx: Context,
                                                        tenant_a: Tenant) -> None:
    before = _counts(ctx)
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                           files={"file": ("notes.mp3", b"these are my meeting notes, not audio\n" * 50)})
    assert response.status_code == 415
    assert "not a recognised audio or video file" in response.json()["detail"]
    assert _counts(ctx) == before
    assert _stored_files(ctx) == []


def test_unsupported_extension_is_refused_with_415(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                   sample_audio: Path) -> None:
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                           files={"file": ("session.exe", sample_audio.read_bytes())})
    assert response.status_code == 415
    assert "unsupported file type .exe" in response.json()["detail"]
    assert _stored_files(ctx) == []


def test_file_over_the_size_limit_is_refused_with_413(client: TestClient, ctx: Context, tenant_a: Tenant,
                                                      sample_audio: Path) -> None:
    ctx.settings.max_upload_bytes = 10_000
    before = _counts(ctx)
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                           files={"file": (sample_audio.name, sample_audio.read_bytes())})
    assert response.status_code == 413
    assert _counts(ctx) == before
    assert _stored_files(ctx) == []
    spool = ctx.settings.data_dir / "spool"
    assert not spool.exists() or list(spool.iterdir()) == []


def test_stream_over_the_limit_without_declared_length_is_cut_off_while_reading(
        ctx: Context, tenant_a: Tenant, sample_audio: Path) -> None:
    """A client that sends no Content-Length is refused once the limit is passed, spool file removed."""
    import io

    import pytest

    from vigil.services.auth import authenticate
    from vigil.services.ingest import UploadTooLarge, accept_upload

    ctx.settings.max_upload_bytes = 50_000
    with ctx.system_db() as db:
        principal = authenticate(db, tenant_a.uploader)
    before = _counts(ctx)
    with pytest.raises(UploadTooLarge):
        accept_upload(ctx, principal, io.BytesIO(sample_audio.read_bytes()), sample_audio.name, None)
    assert _counts(ctx) == before
    assert list((ctx.settings.data_dir / "spool").iterdir()) == []
    assert _stored_files(ctx) == []


def test_upload_without_token_is_401(client: TestClient, sample_audio: Path) -> None:
    response = client.post("/api/v1/sessions", files={"file": (sample_audio.name, sample_audio.read_bytes())})
    assert response.status_code == 401


def test_lead_may_not_upload(client: TestClient, tenant_a: Tenant, sample_audio: Path) -> None:
    response = client.post("/api/v1/sessions", headers=tenant_a.headers("lead"),
                           files={"file": (sample_audio.name, sample_audio.read_bytes())})
    assert response.status_code == 403


def test_a_path_in_the_filename_never_reaches_the_object_store(client: TestClient, ctx: Context,
                                                               tenant_a: Tenant) -> None:
    """The name is display-only: stored as its last part without control characters; the object's key is
    `{tenant}/{session}/original.<ext>` whatever the name says."""
    import uuid

    from tests.conftest import SAMPLES
    from vigil.services.ingest import safe_filename

    assert safe_filename("..\\..\\x/\x1b[31mvisit\x07.mp3") == "[31mvisit.mp3", "no control characters"
    assert safe_filename("../..") is None and safe_filename(".hidden.mp3") == "hidden.mp3"
    hostile = "../../other-tenant/..\\secrets/visit.mp3"
    answer = client.post("/api/v1/sessions", headers=tenant_a.headers("uploader"),
                         files={"file": (hostile, (SAMPLES / "checkin-risk.mp3").read_bytes())})
    assert answer.status_code == 202, answer.text
    sid = answer.json()["session_id"]
    with ctx.system_db() as db:
        session = db.get(Session, uuid.UUID(sid))
        keys = db.scalars(sa.select(Artifact.key).where(Artifact.session_id == session.id)).all()
    assert session.original_filename == "visit.mp3" and session.title == "visit.mp3"
    assert keys == [f"{session.tenant_id}/{sid}/original.mp3"]
    direct = client.post("/api/v1/uploads", headers=tenant_a.headers("uploader"), json={"filename": hostile})
    assert direct.status_code == 201
    assert f"/{direct.json()['session_id']}/" in direct.json()["upload_url"] and ".." not in direct.json()["upload_url"]
