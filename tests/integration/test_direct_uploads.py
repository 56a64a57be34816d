"""Direct uploads: a URL for the bytes (signed one-time URL for the local store, presigned PUT for
S3), then submit. Bad signatures, reuse, non-media and expiry each have their outcome."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SAMPLES, Tenant
from vigil.context import Context
from vigil.db.models import AuditEntry, Job, Session, utcnow
from vigil.services.uploads import expire_direct_uploads
from vigil.storage.base import artifact_key


def _create(client: TestClient, tenant: Tenant, filename: str = "long-session.mp3") -> dict:
    response = client.post("/api/v1/uploads", headers=tenant.headers("uploader"), json={"filename": filename})
    assert response.status_code == 201, response.text
    return response.json()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_put_to_the_signed_url_then_submit_queues_the_session(client: TestClient, ctx: Context,
                                                             tenant_a: Tenant) -> None:
    upload = _create(client, tenant_a)
    assert client.get(f"/api/v1/sessions/{upload['session_id']}", headers=tenant_a.headers()).json()["status"] \
        == "awaiting_upload"
    put = client.put(_path(upload["upload_url"]), content=(SAMPLES / "checkin-risk.mp3").read_bytes())
    assert put.status_code == 204, put.text
    submitted = client.post(f"/api/v1/sessions/{upload['session_id']}/submit", headers=tenant_a.headers("uploader"))
    assert submitted.status_code == 202, submitted.text
    with ctx.system_db() as db:
        session = db.get(Session, submitted.json()["session_id"])
        job = db.get(Job, submitted.json()["job_id"])
    assert (session.status, session.media_type, session.upload_expires_at) == ("uploaded", "audio", None)
    assert session.size_bytes == (SAMPLES / "checkin-risk.mp3").stat().st_size
    assert (job.stage, job.status) == ("extract", "queued")
    again = client.post(f"/api/v1/sessions/{upload['session_id']}/submit", headers=tenant_a.headers("uploader"))
    assert again.status_code == 409


def test_a_tampered_signature_is_refused_and_stores_nothing(client: TestClient, ctx: Context,
                                                             tenant_a: Tenant) -> None:
    upload = _create(client, tenant_a)
    forged = _path(upload["upload_url"]).replace("signature=", "signature=0")
    assert client.put(forged, content=b"x" * 100).status_code == 403
    with ctx.system_db() as db:
        session = db.get(Session, upload["session_id"])
    assert not ctx.store.exists(artifact_key(session.tenant_id, session.id, "original.mp3"))


def test_the_url_works_once(client: TestClient, tenant_a: Tenant) -> None:
    upload = _create(client, tenant_a)
    data = (SAMPLES / "checkin-risk.mp3").read_bytes()
    assert client.put(_path(upload["upload_url"]), content=data).status_code == 204
    assert client.put(_path(upload["upload_url"]), content=data).status_code == 409


def test_submit_before_any_upload_is_409(client: TestClient, tenant_a: Tenant) -> None:
    upload = _create(client, tenant_a)
    response = client.post(f"/api/v1/sessions/{upload['session_id']}/submit", headers=tenant_a.headers("uploader"))
    assert response.status_code == 409 and "nothing has been uploaded" in response.json()["detail"]


def test_non_media_bytes_are_refused_at_submit_and_deleted(client: TestClient, ctx: Context,
                                                           tenant_a: Tenant) -> None:
    upload = _create(client, tenant_a)
    assert client.put(_path(upload["upload_url"]), content=b"not audio\n" * 1000).status_code == 204
    response = client.post(f"/api/v1/sessions/{upload['session_id']}/submit", headers=tenant_a.headers("uploader"))
    assert response.status_code == 415
    with ctx.system_db() as db:
        session = db.get(Session, upload["session_id"])
        jobs = db.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.session_id == session.id))
    assert session.status == "awaiting_upload" and jobs == 0
    assert not ctx.store.exists(artifact_key(session.tenant_id, session.id, "original.mp3"))


def test_another_tenant_cannot_submit_it(client: TestClient, tenant_a: Tenant, tenant_b: Tenant) -> None:
    upload = _create(client, tenant_a)
    response = client.post(f"/api/v1/sessions/{upload['session_id']}/submit", headers=tenant_b.headers("uploader"))
    assert response.status_code == 404


def test_unsubmitted_uploads_expire_with_their_bytes(client: TestClient, ctx: Context, tenant_a: Tenant) -> None:
    upload = _create(client, tenant_a)
    assert client.put(_path(upload["upload_url"]), content=b"partial").status_code == 204
    kept = _create(client, tenant_a)
    with ctx.system_db() as db:
        session = db.get(Session, upload["session_id"])
        tenant_id = session.tenant_id
        session.upload_expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
    assert expire_direct_uploads(ctx) >= 1
    with ctx.system_db() as db:
        assert db.get(Session, upload["session_id"]) is None
        assert db.get(Session, kept["session_id"]) is not None
        assert db.scalar(sa.select(AuditEntry.action).where(AuditEntry.entity_id == upload["session_id"])
                         .order_by(AuditEntry.created_at.desc()).limit(1)) == "session.upload_expired"
    assert not ctx.store.exists(artifact_key(tenant_id, upload["session_id"], "original.mp3"))


@pytest.mark.parametrize("filename", ["malware.exe", "noextension"])
def test_unsupported_names_get_no_url(client: TestClient, tenant_a: Tenant, filename: str) -> None:
    response = client.post("/api/v1/uploads", headers=tenant_a.headers("uploader"), json={"filename": filename})
    assert response.status_code == 415


def test_s3_presigned_put_then_submit(s3_endpoint: str, ctx: Context, tenant_a: Tenant) -> None:
    from serve.app import configure, create_app
    from vigil.settings import Settings

    settings = Settings(**{**ctx.settings.model_dump(), "object_store_url": "s3://vigil-test/direct",
                           "s3_endpoint_url": s3_endpoint, "_env_file": None})
    s3_ctx = Context.build(settings, ctx.database_url)
    with TestClient(configure(create_app(), s3_ctx)) as s3_client:
        upload = _create(s3_client, tenant_a, "video.webm")
        assert upload["upload_url"].startswith(s3_endpoint)
        assert upload["upload_headers"] == {"x-amz-server-side-encryption": "AES256"}
        # Signed with the header, so S3 refuses a PUT without it (moto does not check signatures; AWS does).
        assert "x-amz-server-side-encryption" in upload["upload_url"].lower()
        put = httpx.put(upload["upload_url"], content=(SAMPLES / "support-video.webm").read_bytes(),
                        headers=upload["upload_headers"])
        assert put.status_code == 200, put.text
        submitted = s3_client.post(f"/api/v1/sessions/{upload['session_id']}/submit",
                                   headers=tenant_a.headers("uploader"))
        assert submitted.status_code == 202, submitted.text
    with ctx.system_db() as db:
        assert db.get(Session, upload["session_id"]).media_type == "video"
        tenant_id = db.get(Session, upload["session_id"]).tenant_id
    head = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").head_object(
        Bucket="vigil-test", Key=f"direct/{tenant_id}/{upload['session_id']}/original.webm")
    assert head["ServerSideEncryption"] == "AES256"
