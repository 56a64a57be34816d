"""Events: what a live screen shows (job progress, a session ready, a new flag, an alert acknowledged).

`emit` adds a row to the caller's transaction, so an event exists exactly when what it reports was committed. Each row
carries its writer's transaction id (`xid`). `read_since` takes rows whose transaction is below the oldest one still
running (`pg_snapshot_xmin`): those are final, so a row that commits late is never skipped. A reader's place is a
`Cursor`, the (xid, id) of the last event it was given, so a reader that stops inside one transaction's events
resumes at the next of them, never repeating or skipping one. Readers see only their tenant's rows (RLS and a tenant
filter) and only the kinds their role may read."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Event, utcnow
from vigil.errors import ValidationFailure
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
CURSOR = re.compile(r"(\d{1,19})(?:-(\d{1,19}))?")
BIGINT = 2**63 - 1


def emit(db: DbSession, tenant_id: uuid.UUID, kind: str, session_id: uuid.UUID | None = None,
         **data: Any) -> None:
    """Add one event to `db`'s transaction (the caller commits it with what it reports)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    db.add(Event(tenant_id=tenant_id, kind=kind, session_id=session_id, data=data, created_at=utcnow()))


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the stream: after the event (`xid`, `id`); `id` 0 means before every event of transaction `xid`.
    Written `xid-id` (or `xid`), the form an SSE client sends back as Last-Event-ID."""

    xid: int
    id: int = 0

    def __str__(self) -> str:
        return f"{self.xid}-{self.id}" if self.id else str(self.xid)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = CURSOR.fullmatch(text.strip())
        if match is None:
            raise ValidationFailure(f"not an event cursor: {text[:40]!r} (expected digits, or digits-digits)",
                                    code="invalid_cursor")
        cursor = cls(int(match[1]), int(match[2] or 0))
        if max(cursor.xid, cursor.id) > BIGINT:
            raise ValidationFailure("not an event cursor: out of range", code="invalid_cursor")
        return cursor

    @classmethod
    def of(cls, event: Event) -> Cursor:
        return cls(event.xid, event.id)


@dataclass(frozen=True)
class Batch:
    events: list[Event]
    cursor: Cursor  # read after this next time


def cursor_now(db: DbSession) -> Cursor:
    """Where a reader that wants only what happens from now on starts."""
    return Cursor(int(db.scalar(sa.select(XMIN))))


def starting_point(db: DbSession, principal: Principal, given: str | None) -> Cursor:
    """Where a reader's stream starts: after `given` (a cursor it was sent before), else now (new events only).
    A cursor ahead of the database was never sent by it, and is refused."""
    principal.require(Action.read_status)
    now = cursor_now(db)
    if given is None:
        return now
    cursor = Cursor.parse(given)
    if cursor.xid > now.xid:
        raise ValidationFailure("this event cursor is ahead of the database: resume from an id the stream sent",
                                code="invalid_cursor")
    return cursor


def read_since(db: DbSession, principal: Principal, cursor: Cursor, limit: int = 500) -> Batch:
    """The caller's tenant's events their role may see, after `cursor` and below the oldest running transaction."""
    upto = cursor_now(db)
    kinds = [kind for kind, action in KINDS.items() if principal.can(action)]
    rows = list(db.scalars(
        sa.select(Event)
        .where(Event.tenant_id == principal.tenant_id, Event.kind.in_(kinds),
               sa.tuple_(Event.xid, Event.id) > sa.tuple_(sa.literal(cursor.xid), sa.literal(cursor.id)),
               Event.xid < upto.xid)
        .order_by(Event.xid, Event.id).limit(limit)))
    if len(rows) == limit:  # more than a batch: go on after the last one given
        return Batch(events=rows, cursor=Cursor.of(rows[-1]))
    return Batch(events=rows, cursor=max(cursor, upto))


def prune(db: DbSession, keep: timedelta, now: datetime | None = None) -> int:
    """Delete events older than `keep` (a live screen only needs the recent ones)."""
    result = db.execute(sa.delete(Event).where(Event.created_at < (now or utcnow()) - keep))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune_expired(ctx: Context, now: datetime | None = None) -> int:
    """The dispatcher's periodic prune: every tenant's events past EVENTS_KEEP_HOURS, in one statement (as the
    tables' owner: events are no one tenant's work here, and nothing but age decides)."""
    with ctx.system_db() as db:
        deleted = prune(db, timedelta(hours=ctx.settings.events_keep_hours), now)
        db.commit()
    return deleted
