"""A small HTTP client for the Vigil API, used by the CLI and the dashboard (never the DB directly)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ServerEvent:
    """One event from GET /api/v1/events: its id (the cursor to resume after), kind, session and data."""

    id: str
    kind: str
    session_id: str | None
    data: dict[str, Any]
    at: str


class EventStream:
    """GET /api/v1/events read as it arrives. `open()` sends the request (so nothing that happens afterwards is
    missed); iterating yields each event, and when the server ends the stream, reconnects after the last id seen
    until `deadline` (time.monotonic) passes or `close()` is called."""

    def __init__(self, http: httpx.Client, deadline: float, read_timeout: float = 60.0) -> None:
        self.http, self.deadline, self.read_timeout = http, deadline, read_timeout
        self.last_id: str | None = None
        self._response: httpx.Response | None = None

    def open(self) -> EventStream:
        left = max(1.0, self.deadline - time.monotonic())
        request = self.http.build_request(
            "GET", "/api/v1/events", params={"max_seconds": round(min(left, 3600.0), 1)},
            headers={"Accept": "text/event-stream", **({"Last-Event-ID": self.last_id} if self.last_id else {})},
            timeout=httpx.Timeout(10.0, read=self.read_timeout))
        response = self.http.send(request, stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            raise ApiError(response.status_code, response.text)
        self._response = response
        return self

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def __iter__(self) -> Iterator[ServerEvent]:
        while self._response is not None:
            fields: dict[str, str] = {}
            for line in self._response.iter_lines():
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                    continue
                if "id" in fields:
                    self.last_id = fields["id"]
                if "data" in fields:
                    body = json.loads(fields["data"])
                    yield ServerEvent(id=fields.get("id", ""), kind=body["kind"], session_id=body["session_id"],
                                      data=body["data"], at=body["at"])
                fields = {}
            self.close()
            if time.monotonic() < self.deadline:
                self.open()


class _ProgressReader:
    """Wraps a file so each read reports how many bytes went out."""

    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        self.inner = inner
        self.on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.on_bytes(len(data))
        return data


class VigilClient:
    def __init__(self, base_url: str, token: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, str(detail))
        return response

    def get_json(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._check(self.http.get(path, params=clean)).json()

    def get_bytes(self, path: str, **params: Any) -> bytes:
        """The body as sent, for callers that parse it themselves (e.g. polars reading JSON)."""
        clean = {k: v for k, v in params.items() if v is not None}
        return self._check(self.http.get(path, params=clean)).content

    def post_json(self, path: str, body: Any) -> Any:
        response = self._check(self.http.post(path, json=body))
        return response.json() if response.content else None

    def put_json(self, path: str, body: Any) -> Any:
        return self._check(self.http.put(path, json=body)).json()

    def upload(self, path: Path, title: str | None = None,
               on_bytes: Callable[[int], None] | None = None, counselor: str | None = None,
               team: str | None = None) -> dict[str, Any]:
        with open(path, "rb") as fh:
            stream: Any = _ProgressReader(fh, on_bytes) if on_bytes else fh
            return self.upload_stream(path.name, stream, title=title, counselor=counselor, team=team)

    def upload_stream(self, filename: str, stream: Any, title: str | None = None, counselor: str | None = None,
                      team: str | None = None) -> dict[str, Any]:
        """Multipart upload of a file-like object or bytes, with the session's optional labels."""
        data = {k: v for k, v in (("title", title), ("counselor", counselor), ("team", team)) if v} or None
        response = self.http.post("/api/v1/sessions", files={"file": (filename, stream)}, data=data, timeout=None)
        return self._check(response).json()

    def job_status(self, job_id: str | uuid.UUID) -> dict[str, Any]:
        return self.get_json(f"/api/v1/jobs/{job_id}/status")

    def wait_for_job(self, job_id: str | uuid.UUID, timeout: float = 900.0, poll: float = 1.0,
                     on_status: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.job_status(job_id)
            if on_status:
                on_status(status)
            if status["status"] in ("succeeded", "failed", "dead") or time.monotonic() > deadline:
                return status
            time.sleep(poll)

    def events(self, timeout: float = 900.0) -> EventStream:
        """The tenant's event stream, opened now (raises ApiError or httpx.HTTPError when it cannot be)."""
        return EventStream(self.http, time.monotonic() + timeout).open()

    def follow_job(self, job_id: str | uuid.UUID, stream: EventStream,
                   on_event: Callable[[ServerEvent], None]) -> dict[str, Any]:
        """Wait for a job by its events on `stream` (opened before the job was made, so none is missed): each of the
        job's events goes to `on_event`. Returns the job's final status, or its status when the stream's deadline
        passes. A stream that breaks falls back to polling."""
        try:
            for event in stream:
                if event.data.get("job_id") != str(job_id):
                    continue
                on_event(event)
                if event.kind in ("session.ready", "session.failed"):
                    break
        except (httpx.HTTPError, ApiError):
            return self.wait_for_job(job_id, timeout=max(0.0, stream.deadline - time.monotonic()))
        finally:
            stream.close()
        return self.job_status(job_id)

    def sessions(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get_json("/api/v1/sessions", **filters)

    def session(self, session_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v1/sessions/{session_id}")

    def transcript(self, session_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v1/sessions/{session_id}/transcript")

    def analysis(self, session_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v1/sessions/{session_id}/analysis")

    def metrics(self, session_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v1/sessions/{session_id}/metrics")

    def audit(self, session_id: str) -> list[dict[str, Any]]:
        return self.get_json(f"/api/v1/sessions/{session_id}/audit")

    def audio(self, session_id: str) -> bytes:
        return self._check(self.http.get(f"/api/v1/sessions/{session_id}/audio")).content

    def review(self, session_id: str, field: str, value: Any, reason: str) -> dict[str, Any]:
        body = {"field": field, "value": value, "reason": reason}
        return self._check(self.http.post(f"/api/v1/sessions/{session_id}/reviews", json=body)).json()

    def reprocess(self, session_id: str) -> dict[str, Any]:
        return self._check(self.http.post(f"/api/v1/sessions/{session_id}/reprocess")).json()

    def health(self) -> dict[str, Any]:
        return self.http.get("/api/v1/health").json()


def wait_until_healthy(base_url: str, timeout: float = 120.0, poll: float = 0.5,
                       still_starting: Callable[[], bool] = lambda: True) -> bool:
    """True once the API at `base_url` answers healthy (no token needed); False if `timeout` passes or
    `still_starting()` turns False."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=2) as http:
        while time.monotonic() < deadline and still_starting():
            try:
                if http.get("/api/v1/health").status_code == 200:
                    return True
            except httpx.HTTPError:  # not listening yet
                pass
            time.sleep(poll)
    return False
