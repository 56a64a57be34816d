"""GET /api/v1/events: the caller's tenant's events as Server-Sent Events, as they are committed.

The stream holds no database connection: every poll opens a short tenant-scoped session, reads what became final
since the last one (vigil.services.events), and closes it. Each event's `id` is its cursor, so a client that
reconnects with `Last-Event-ID` gets exactly the events after the last one it saw."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from serve.deps import ContextDep, PrincipalDep
from vigil.context import Context
from vigil.db.models import Event
from vigil.services import events
from vigil.services.access import Principal

router = APIRouter(prefix="/api/v1/events", tags=["events"])
RETRY_MILLISECONDS = 2000  # how soon an EventSource reconnects when the stream ends
MAX_SECONDS = 3600.0


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


def sse(event: Event) -> str:
    body = {"kind": event.kind, "session_id": str(event.session_id) if event.session_id else None,
            "data": event.data, "at": event.created_at.isoformat()}
    return f"id: {events.Cursor.of(event)}\nevent: {event.kind}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def _read(ctx: Context, principal: Principal, cursor: events.Cursor, limit: int) -> events.Batch:
    with ctx.tenant_db(principal.tenant_id) as db:
        return events.read_since(db, principal, cursor, limit)


def _start(ctx: Context, principal: Principal, given: str | None) -> events.Cursor:
    with ctx.tenant_db(principal.tenant_id) as db:
        return events.starting_point(db, principal, given)


async def stream(ctx: Context, principal: Principal, cursor: events.Cursor, seconds: float,
                 limit: int = 500) -> AsyncIterator[str]:
    """The stream's text: first the resume point (so headers and an id reach the client at once), then each event,
    a keepalive comment when quiet, until `seconds` pass or the client goes (Starlette cancels this generator)."""
    settings = ctx.settings
    started = quiet_since = time.monotonic()
    yield f"retry: {RETRY_MILLISECONDS}\nid: {cursor}\n\n"
    while True:
        batch = await run_in_threadpool(_read, ctx, principal, cursor, limit)
        cursor = batch.cursor
        if batch.events:
            yield "".join(sse(event) for event in batch.events)
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settings.events_keepalive_seconds:
            yield f": keepalive\nid: {cursor}\n\n"
            quiet_since = time.monotonic()
        left = started + seconds - time.monotonic()
        if left <= 0:
            return
        if len(batch.events) < limit:  # a full batch: read on at once
            await asyncio.sleep(min(settings.events_poll_seconds, left))


@router.get("", response_class=EventStreamResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "Server-Sent Events: `id`, `event` (the kind), `data` (JSON)."}},
            description="The caller's tenant's events as Server-Sent Events: job.progress, session.ready and "
                        "session.failed for every role; flag.new, alert.acknowledged and alert.escalated for roles "
                        "that read content. Starts with new events, or after `Last-Event-ID` (or `since`).")
def stream_events(ctx: ContextDep, principal: PrincipalDep,
                  since: Annotated[str | None, Query(max_length=40, description="A cursor (an event's id) to "
                                                     "resume after; Last-Event-ID wins when both are sent.")] = None,
                  max_seconds: Annotated[float | None, Query(gt=0, le=MAX_SECONDS, description="End the stream "
                                         "after this long (scripts); the server ends it anyway after "
                                         "EVENTS_STREAM_MAX_SECONDS.")] = None,
                  last_event_id: Annotated[str | None, Header(max_length=40)] = None) -> EventStreamResponse:
    cursor = _start(ctx, principal, last_event_id or since)
    seconds = min(max_seconds or math.inf, ctx.settings.events_stream_max_seconds)
    # no-cache and X-Accel-Buffering: no proxy in between may hold events back.
    return EventStreamResponse(stream(ctx, principal, cursor, seconds),
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
