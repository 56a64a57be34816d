"""POSTs that carry an `Idempotency-Key`: the first request with a key is answered and its answer kept (sealed) for a
day; the same caller sending the same key again gets that answer back without the work being done again.

A key is the caller's own (tenant and user): another user's identical key is another key. Sending a key again with
a different request (method, path, query or body) is refused, as is sending it while the first request is still
being answered. Answers that say "try again" (429, 5xx) are not kept, so a retry does the work."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from vigil.context import Context
from vigil.db.models import IdempotencyKey, utcnow
from vigil.services.access import Principal
from vigil.storage.encrypted import open_value, seal_value

KEEP = timedelta(days=1)
MAX_KEPT_BODY = 1 << 20  # answers larger than this are not kept (POST answers are small JSON)


@dataclass(frozen=True)
class Kept:
    status_code: int
    content_type: str | None
    body: bytes


class KeyReused(Exception):
    """The key was first sent with a different request."""


class StillAnswering(Exception):
    """The first request with this key has not been answered yet."""


def fingerprint(method: str, path: str, query: bytes, content_type: str, body_digest: str) -> str:
    return hashlib.sha256("\n".join([method, path, query.decode("latin-1"), content_type,
                                     body_digest]).encode()).hexdigest()


def _place(row_id: uuid.UUID) -> str:
    return f"idempotency/{row_id}"


def begin(ctx: Context, principal: Principal, key: str, request_fingerprint: str) -> Kept | None:
    """Claim `key` for this request (None: go ahead and answer it), or the answer kept for it."""
    with ctx.tenant_db(principal.tenant_id) as db:
        db.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.tenant_id == principal.tenant_id,  # the caller's
                                                   IdempotencyKey.user_id == principal.user_id,  # expired keys
                                                   IdempotencyKey.created_at < utcnow() - KEEP))
        claimed = db.execute(
            pg_insert(IdempotencyKey)
            .values(id=uuid.uuid4(), tenant_id=principal.tenant_id, user_id=principal.user_id, key=key,
                    fingerprint=request_fingerprint, created_at=utcnow())
            .on_conflict_do_nothing(constraint="uq_idempotency_keys_caller_key")
            .returning(IdempotencyKey.id)).scalar_one_or_none()
        db.commit()
        if claimed is not None:
            return None
        row = db.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.tenant_id == principal.tenant_id,
                                                        IdempotencyKey.user_id == principal.user_id,
                                                        IdempotencyKey.key == key))
    if row is None:  # the first request failed and let the key go between our insert and our read
        return begin(ctx, principal, key, request_fingerprint)
    if row.fingerprint != request_fingerprint:
        raise KeyReused(key)
    if row.status_code is None or row.body is None:
        raise StillAnswering(key)
    return Kept(row.status_code, row.content_type, open_value(ctx.store, row.body, _place(row.id)))


def finish(ctx: Context, principal: Principal, key: str, status_code: int, content_type: str | None,
           body: bytes) -> None:
    """Keep the answer to the request that claimed `key`, or let the key go when the answer says to try again."""
    keep = status_code < 500 and status_code != 429 and len(body) <= MAX_KEPT_BODY
    with ctx.tenant_db(principal.tenant_id) as db:
        row = db.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.tenant_id == principal.tenant_id,
                                                        IdempotencyKey.user_id == principal.user_id,
                                                        IdempotencyKey.key == key))
        if row is None:
            return
        if keep:
            row.status_code, row.content_type = status_code, (content_type or "")[:200] or None
            row.body = seal_value(ctx.store, body, _place(row.id))
        else:
            db.delete(row)
        db.commit()


def release(ctx: Context, principal: Principal, key: str) -> None:
    """Let the key go: the request failed before it was answered."""
    finish(ctx, principal, key, 500, None, b"")
