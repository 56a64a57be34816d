"""Events: what a live screen shows (job progress, a session ready, a new flag, an alert acknowledged).

`emit` adds a row to the caller's transaction, so an event exists exactly when what it reports was committed. Each row
carries its writer's transaction id (`xid`). `read_since` takes rows whose transaction is below the oldest one still
running (`pg_snapshot_xmin`): those are final, so a row that commits late is never skipped, and the returned cursor
(that snapshot's xmin) is where the next read starts. Readers see only their tenant's rows (RLS and a tenant filter)
and only the kinds their role may read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Event, utcnow
from vigil.services.access import Action, Principal

# What each kind of event needs the reader to be allowed: progress is status, a flag or an alert is content.
KINDS: dict[str, Action] = {
    "job.progress": Action.read_status,
    "session.ready": Action.read_status,
    "session.failed": Action.read_status,
    "flag.new": Action.read_content,
    "alert.acknowledged": Action.read_content,
    "alert.escalated": Action.read_content,
}
XMIN = sa.text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


def emit(db: DbSession, tenant_id: uuid.UUID, kind: str, session_id: uuid.UUID | None = None,
         **data: Any) -> None:
    """Add one event to `db`'s transaction (the caller commits it with what it reports)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    db.add(Event(tenant_id=tenant_id, kind=kind, session_id=session_id, data=data, created_at=utcnow()))


@dataclass(frozen=True)
class Batch:
    events: list[Event]
    cursor: int  # read from here next time


def cursor_now(db: DbSession) -> int:
    """Where a reader that wants only what happens from now on starts."""
    return int(db.scalar(sa.select(XMIN)))


def read_since(db: DbSession, principal: Principal, cursor: int, limit: int = 500) -> Batch:
    """The caller's tenant's events their role may see, from `cursor` up to the oldest running transaction."""
    upto = cursor_now(db)
    kinds = [kind for kind, action in KINDS.items() if principal.can(action)]
    query = sa.select(Event).where(Event.tenant_id == principal.tenant_id, Event.kind.in_(kinds),
                                   Event.xid >= cursor).order_by(Event.xid, Event.id)
    rows = list(db.scalars(query.where(Event.xid < upto).limit(limit)))
    if len(rows) == limit:  # more than a batch: stop at a transaction's edge, never inside one
        last = rows[-1].xid
        if rows[0].xid == last:  # one transaction alone fills the batch: take all of it
            rows = list(db.scalars(query.where(Event.xid == last)))
            upto = last + 1
        else:
            rows = [row for row in rows if row.xid < last]
            upto = last
    return Batch(events=rows, cursor=upto)


def prune(db: DbSession, keep: timedelta, now: datetime | None = None) -> int:
    """Delete events older than `keep` (a live screen only needs the recent ones)."""
    result = db.execute(sa.delete(Event).where(Event.created_at < (now or utcnow()) - keep))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
