"""Accepting an upload: check it, store the original, create the session and its job — all or nothing."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO

from vigil.context import Context
from vigil.db.models import Artifact, Job, Session
from vigil.errors import PermanentError, ValidationFailure
from vigil.media import SUPPORTED_EXTENSIONS, MediaInfo, probe_media
from vigil.services import audit
from vigil.services.access import Action, Principal
from vigil.services.jobs import enqueue_pipeline
from vigil.storage.base import artifact_key, original_name

CHUNK = 1024 * 1024


class UploadTooLarge(ValidationFailure):
    code = "too_large"


class UnsupportedMedia(ValidationFailure):
    code = "unsupported_media"


def extension_of(filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    return suffix if re.fullmatch(r"[a-z0-9]{1,8}", suffix) else ""


def spool_to_disk(stream: BinaryIO, directory: Path, max_bytes: int) -> tuple[Path, int]:
    """Copy the upload to a temporary file chunk by chunk, refusing it as soon as it passes the limit."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    path, size = Path(name), 0
    try:
        with open(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


def safe_filename(filename: str | None) -> str | None:
    """The name a client gave, kept for display only: its last path part (no directories, either slash), without
    control characters, at most 500 characters. Storage keys never use it; they are `{tenant}/{session}/…`."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:500] or None


def checked_extension(filename: str | None) -> str:
    ext = extension_of(filename)
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedMedia(
            f"unsupported file type {('.' + ext) if ext else '(no extension)'}; "
            f"accepted: {', '.join(sorted(SUPPORTED_EXTENSIONS))}")
    return ext


def probe_upload(local: Path, size: int) -> MediaInfo:
    """What the content is, whatever its name says: empty and non-media files are refused here."""
    if size == 0:
        raise ValidationFailure("the file is empty", code="empty_file")
    try:
        return probe_media(local)
    except PermanentError as exc:
        raise UnsupportedMedia(exc.message, code=exc.code) from exc


def spool_dir(ctx: Context) -> Path:
    directory = ctx.settings.data_dir / "spool"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def session_label(value: str | None) -> str | None:
    """A counselor or team name as given, trimmed; blank is none."""
    return (value or "").strip()[:200] or None


def accept_upload(ctx: Context, principal: Principal, stream: BinaryIO, filename: str | None,
                  title: str | None, *, counselor: str | None = None,
                  team: str | None = None) -> tuple[Session, Job]:
    """Validate the content (not the name), store it at `{tenant}/{session}/original.<ext>`, then create
    the session, its artifact row, its job and an audit entry in one transaction. If anything fails,
    nothing stays behind: the stored object is removed when the database write does not happen."""
    principal.require(Action.upload)
    ext = checked_extension(filename)
    local, size = spool_to_disk(stream, spool_dir(ctx), ctx.settings.max_upload_bytes)
    try:
        info = probe_upload(local, size)
        session_id = uuid.uuid4()
        key = artifact_key(principal.tenant_id, session_id, original_name(ext))
        ctx.store.put_file(key, local)
        try:
            with ctx.tenant_db(principal.tenant_id) as db:
                session = Session(
                    id=session_id, tenant_id=principal.tenant_id,
                    title=(title or safe_filename(filename) or "")[:500] or None,
                    original_filename=safe_filename(filename), media_type=info.media_type, media_ext=ext,
                    size_bytes=size, duration_seconds=info.duration_seconds, uploaded_by=principal.user_id,
                    counselor=session_label(counselor), team=session_label(team),
                )
                db.add(session)
                db.flush()
                db.add(Artifact(tenant_id=principal.tenant_id, session_id=session_id, kind="original",
                                key=key, size_bytes=size))
                job = enqueue_pipeline(db, session, ctx.settings.stage_max_attempts)
                audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="session.upload",
                             entity_type="session", entity_id=session_id,
                             detail={"filename": filename, "size_bytes": size, "media_type": info.media_type})
                db.commit()
        except BaseException:
            ctx.store.delete(key)
            raise
        return session, job
    finally:
        local.unlink(missing_ok=True)
