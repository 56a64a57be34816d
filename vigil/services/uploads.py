"""Direct uploads for large files: the client gets a URL, sends the bytes there (S3 itself, or a
signed one-time URL on the API for the local store), then submits. Unsubmitted uploads expire."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import BinaryIO

import sqlalchemy as sa

from vigil.context import Context
from vigil.db.models import Artifact, Job, Session, utcnow
from vigil.errors import Conflict, Forbidden, NotFound, ValidationFailure
from vigil.schemas.api import DirectUploadOut
from vigil.services import audit
from vigil.services.access import Action, Principal, owned_session
from vigil.services.ingest import (
    checked_extension,
    probe_upload,
    safe_filename,
    session_label,
    spool_dir,
    spool_to_disk,
)
from vigil.services.jobs import enqueue_or_join
from vigil.storage.base import artifact_key, original_name, session_prefix

AWAITING = "awaiting_upload"


def _signature(key: str, session_id: uuid.UUID, expires: int) -> str:
    return hmac.new(key.encode(), f"{session_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def _signing_key(ctx: Context) -> str:
    if not ctx.settings.signing_key:
        raise ValidationFailure("direct uploads to the local store need SIGNING_KEY", code="no_signing_key")
    return ctx.settings.signing_key


def create_direct_upload(ctx: Context, principal: Principal, filename: str, title: str | None, *,
                         counselor: str | None = None, team: str | None = None) -> DirectUploadOut:
    principal.require(Action.upload)
    ext = checked_extension(filename)
    session_id = uuid.uuid4()
    expires_at = utcnow() + timedelta(seconds=ctx.settings.upload_url_ttl_seconds)
    key = artifact_key(principal.tenant_id, session_id, original_name(ext))
    url = ctx.store.presigned_put_url(key, ctx.settings.upload_url_ttl_seconds)
    if url is None:
        expires = int(expires_at.timestamp())
        url = (f"{ctx.settings.base_url}/api/v1/uploads/{session_id}/content"
               f"?expires={expires}&signature={_signature(_signing_key(ctx), session_id, expires)}")
    with ctx.tenant_db(principal.tenant_id) as db:
        db.add(Session(id=session_id, tenant_id=principal.tenant_id,
                       title=(title or safe_filename(filename) or "")[:500] or None,
                       original_filename=safe_filename(filename), media_ext=ext, status=AWAITING,
                       uploaded_by=principal.user_id, upload_expires_at=expires_at,
                       counselor=session_label(counselor), team=session_label(team)))
        audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="session.upload_url",
                     entity_type="session", entity_id=session_id, detail={"filename": filename})
        db.commit()
    return DirectUploadOut(session_id=session_id, upload_url=url, method="PUT", expires_at=expires_at,
                           upload_headers=ctx.store.upload_headers())


def receive_direct_upload(ctx: Context, session_id: uuid.UUID, expires: int, signature: str,
                          stream: BinaryIO) -> int:
    """The local store's upload URL: checks the signature and expiry, accepts the bytes once."""
    expected = _signature(_signing_key(ctx), session_id, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):  # bytes: any text a caller sends is comparable
        raise Forbidden("invalid upload signature")
    if utcnow().timestamp() > expires:
        raise Forbidden("the upload URL has expired")
    with ctx.system_db() as db:
        session = db.get(Session, session_id)
    if session is None or session.status != AWAITING:
        raise NotFound("no upload is expected here")
    key = artifact_key(session.tenant_id, session.id, original_name(session.media_ext))
    if ctx.store.exists(key):
        raise Conflict("this upload URL has been used already")
    local, size = spool_to_disk(stream, spool_dir(ctx), ctx.settings.max_upload_bytes)
    try:
        ctx.store.put_file(key, local)
    finally:
        local.unlink(missing_ok=True)
    return size


def submit_upload(ctx: Context, principal: Principal, session_id: uuid.UUID) -> tuple[Session, Job]:
    """Check what arrived at the upload URL, as an API upload would be checked, then queue the work.
    Content that is not media is deleted, and the URL may be used again until it expires."""
    principal.require(Action.upload)
    with ctx.tenant_db(principal.tenant_id) as db:
        session = owned_session(db, principal, session_id)
    if session.status != AWAITING:
        raise Conflict(f"the session is {session.status}, not awaiting an upload")
    key = artifact_key(session.tenant_id, session.id, original_name(session.media_ext))
    if not ctx.store.exists(key):
        raise Conflict("nothing has been uploaded to the URL yet")
    with ctx.store.open_stream(key) as stream:
        try:
            local, size = spool_to_disk(stream, spool_dir(ctx), ctx.settings.max_upload_bytes)
        except ValidationFailure:
            ctx.store.delete(key)
            raise
    try:
        info = probe_upload(local, size)
    except ValidationFailure:
        ctx.store.delete(key)
        raise
    finally:
        local.unlink(missing_ok=True)
    with ctx.tenant_db(principal.tenant_id) as db:
        session = db.get(Session, session_id, with_for_update=True)
        if session is None or session.status != AWAITING:
            raise Conflict("the upload was submitted already")
        session.status, session.size_bytes, session.upload_expires_at = "uploaded", size, None
        session.media_type, session.duration_seconds = info.media_type, info.duration_seconds
        db.add(Artifact(tenant_id=session.tenant_id, session_id=session.id, kind="original", key=key,
                        size_bytes=size))
        job, _ = enqueue_or_join(db, session, "pipeline", ctx.settings.stage_max_attempts)
        audit.record(db, tenant_id=session.tenant_id, actor=principal, action="session.upload",
                     entity_type="session", entity_id=session.id,
                     detail={"filename": session.original_filename, "size_bytes": size,
                             "media_type": info.media_type, "direct": True})
        db.commit()
        return session, job


def expire_direct_uploads(ctx: Context, now: datetime | None = None) -> int:
    """Remove sessions whose upload URL expired unsubmitted, with anything sent to it."""
    cutoff = now or utcnow()
    with ctx.system_db() as db:
        stale = db.execute(sa.select(Session.id, Session.tenant_id).where(
            Session.status == AWAITING, Session.upload_expires_at < cutoff)).all()
        for session_id, tenant_id in stale:
            ctx.store.delete_prefix(session_prefix(tenant_id, session_id))
            db.execute(sa.delete(Session).where(Session.id == session_id, Session.status == AWAITING))
            audit.record(db, tenant_id=tenant_id, actor=None, action="session.upload_expired",
                         entity_type="session", entity_id=session_id)
        db.commit()
    return len(stale)
