"""Every API request gets an id: the client's `X-Request-ID` when it is a sane token, else a new one (under Ray
Serve, the id Serve's proxy gave the request, which is the client's too when sent). It is bound
for the request's log lines (vigil.logcontext), stored on any job the request creates, and sent back in the
response's `X-Request-ID`. One structured access line per request records method, route, status and duration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ray.serve.context import _get_serve_request_context

from serve.timing import is_event_stream
from vigil import logcontext, telemetry

log = logging.getLogger("vigil.access")

HEADER = b"x-request-id"


class RequestIdMiddleware:
    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any],
                      send: Callable[[dict[str, Any]], Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(HEADER)
        request_id = logcontext.accepted_request_id(sent.decode("latin-1") if sent else None)
        started, status = time.perf_counter(), {"code": 500, "stream": False}
        # Under Ray Serve the proxy has already given the request an id (the client's, or its own) and adds the
        # response header itself; echoing it here too would send it twice.
        echo = not _get_serve_request_context().request_id

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["stream"] = message["status"], is_event_stream(message)
                if echo:
                    message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        with logcontext.bind(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                seconds = time.perf_counter() - started
                if not status["stream"]:  # a stream's duration is its reader's, not the API's latency
                    telemetry.current().api_request(scope["method"], route, status["code"], seconds)
                log.info("request", extra={"request_id": request_id, "method": scope["method"], "route": route,
                                           "status": status["code"],
                                           "duration_ms": round(seconds * 1000, 2)})
