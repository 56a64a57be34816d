"""Request ids: every API answer carries one (the client's when sane, else a new one), the request's log lines
are JSON with it, and a job created by the request keeps it for its stages."""

from __future__ import annotations

import json
import logging
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SAMPLES, Tenant
from vigil import logcontext
from vigil.context import Context
from vigil.db.models import Job
from vigil.services.jobs import claim_next_stage


def test_a_sane_client_id_is_echoed_and_anything_else_is_replaced(client: TestClient, tenant_a: Tenant) -> None:
    given = client.get("/api/v1/me", headers={**tenant_a.headers(), "X-Request-ID": "trace-7f3a.01"})
    assert given.headers["x-request-id"] == "trace-7f3a.01"
    for bad in ("", "has space", "x" * 101, "semi;colon", "new\\nline"):
        answer = client.get("/api/v1/me", headers={**tenant_a.headers(), "X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), bad
    first, second = client.get("/api/v1/health"), client.get("/api/v1/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_the_access_line_is_json_with_the_request_id_route_and_status(client: TestClient, tenant_a: Tenant,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logcontext.json_formatter())
    handler.addFilter(logcontext.ContextFilter())
    with caplog.at_level(logging.INFO, logger="vigil.access"):
        client.get("/api/v1/sessions/00000000-0000-0000-0000-000000000000",
                   headers={**tenant_a.headers(), "X-Request-ID": "access-line-1"})
    record = next(r for r in caplog.records if r.name == "vigil.access")
    line = json.loads(handler.format(record))
    assert line["request_id"] == "access-line-1" and line["route"] == "/api/v1/sessions/{session_id}"
    assert line["status"] == 404 and line["level"] == "INFO" and line["duration_ms"] >= 0


@pytest.mark.own_database
def test_a_job_keeps_the_id_of_the_request_that_created_it(ctx: Context, client: TestClient,
                                                           tenant_a: Tenant) -> None:
    accepted = client.post("/api/v1/sessions", headers={**tenant_a.headers("uploader"), "X-Request-ID": "upload-42"},
                           files={"file": ("c.mp3", (SAMPLES / "checkin-risk.mp3").read_bytes(), "audio/mpeg")})
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert client.get(f"/api/v1/jobs/{job_id}/status", headers=tenant_a.headers()).json()["request_id"] == "upload-42"
    with ctx.system_db() as db:
        assert db.scalar(sa.select(Job.request_id).where(Job.id == job_id)) == "upload-42"
        claim = claim_next_stage(db, 60)
    assert claim is not None and str(claim.job_id) == job_id
    assert claim.log_ids()["request_id"] == "upload-42"


def test_bound_ids_reach_records_from_threads_started_in_their_context() -> None:
    import contextvars
    import threading

    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = logging.getLogger("vigil.test.ids")
    keep = Keep()
    keep.addFilter(logcontext.ContextFilter())
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        with logcontext.bind(request_id="r-1", session_id="s-1", job_id=None):
            context = contextvars.copy_context()
            worker = threading.Thread(target=context.run, args=(logger.info, "in a thread"))
            worker.start()
            worker.join()
            logger.info("here", extra={"session_id": "explicit"})
        logger.info("after")
    finally:
        logger.removeHandler(keep)
    assert [(r.request_id, r.session_id, r.job_id) for r in seen] == [  # type: ignore[attr-defined]
        ("r-1", "s-1", None), ("r-1", "explicit", None), (None, None, None)]
