"""API request timings for the dashboard's Latency page: an ASGI middleware times every request a signed-in
caller makes and a background thread writes them to `request_timings` in batches, so no request waits on it."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from vigil.context import Context
from vigil.db.models import RequestTiming

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class TimingRecorder:
    """Buffers timings and flushes them every `interval` seconds (or at `batch` entries) on a daemon thread, so no
    request waits on the write. At most `max_pending` wait (the database down for a while): past that, new timings
    are counted in `dropped` and logged, not kept. Closing stores everything recorded until then. A failed write is
    logged and its batch dropped: timings are telemetry, never worth failing a request for."""

    def __init__(self, context: Callable[[], Context | None], interval: float = 1.0, batch: int = 2000,
                 max_pending: int = 50_000, keep_days: int = 30) -> None:
        self._context = context
        self._interval, self._batch, self._max_pending, self._keep_days = interval, batch, max_pending, keep_days
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # the flusher and close() never write at once
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._flushes = 0
        self._closed = False
        self.dropped = 0

    def record(self, tenant_id: uuid.UUID, method: str, route: str, status_code: int, duration_ms: float) -> None:
        with self._lock:
            if len(self._pending) >= self._max_pending:
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("request timings are not being stored fast enough; %d dropped so far", self.dropped)
                return
            self._pending.append({"tenant_id": tenant_id, "method": method[:10], "route": route[:200],
                                  "status_code": status_code, "duration_ms": round(duration_ms, 3),
                                  "created_at": datetime.now(UTC)})
            full = len(self._pending) >= self._batch
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="request-timings", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> int:
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            ctx = self._context()
            if not batch or ctx is None:
                return 0
            try:
                with ctx.system_db() as db:
                    db.execute(sa.insert(RequestTiming), batch)
                    self._flushes += 1
                    if self._flushes % 500 == 1:  # now and then, forget timings past the retention window
                        cutoff = datetime.now(UTC) - timedelta(days=self._keep_days)
                        db.execute(sa.delete(RequestTiming).where(RequestTiming.created_at < cutoff))
                    db.commit()
            except Exception:  # noqa: BLE001 — telemetry must not take the API down
                log.warning("could not store %d request timings", len(batch), exc_info=True)
                return 0
            return len(batch)

    def close(self) -> None:
        """Store what is pending and stop the flusher: called when the app shuts down, before its database may go
        away. A request still finishing afterwards is stored by the next flush() or not at all."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if not self._closed:
                self.flush()


def is_event_stream(start: dict[str, Any]) -> bool:
    """Whether a response (its `http.response.start` message) is a Server-Sent Events stream."""
    return dict(start.get("headers") or []).get(b"content-type", b"").startswith(b"text/event-stream")


class TimingMiddleware:
    """Times each HTTP request from its first byte in to its last byte out, labelled by route template (not the
    raw path, so /sessions/{session_id} is one route). Only requests by a signed-in caller are recorded, under
    the caller's tenant (set on the request state by the auth dependency)."""

    def __init__(self, app: Callable[..., Any], recorder: TimingRecorder) -> None:
        self.app, self.recorder = app, recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500, "stream": False}

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["stream"] = is_event_stream(message)
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            tenant_id = scope.get("state", {}).get("tenant_id")
            route = getattr(scope.get("route"), "path", None)
            # An event stream lasts as long as its reader stays: it is no request latency (nor the API's SLO).
            if tenant_id is not None and route and not status["stream"]:
                self.recorder.record(tenant_id, scope["method"], route, status["code"],
                                     (time.perf_counter() - started) * 1000)
