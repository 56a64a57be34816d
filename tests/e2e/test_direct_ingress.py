"""Serve's direct ingress (API_INGRESS=direct, the default) through `vigil up` as a user runs it: the API replica
itself listens on API_PORT, streams server-sent events as they happen, keeps the port when it is killed and
restarted, and still sheds overload with 429 + Retry-After while losing no accepted upload. The tenant wall is the
same code either way; one read checks it through this path."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
import sqlalchemy as sa

from tests import vigil_up
from tests.conftest import SAMPLES, isolated_context, make_tenant
from vigil.client import wait_until_healthy
from vigil.context import Context
from vigil.db.models import Job

pytestmark = pytest.mark.ray


def _listener(port: int) -> psutil.Process | None:
    """The process listening on 127.0.0.1:`port`, if any."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


def _role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    return "replica" if "VigilIngress" in command else "proxy" if "ProxyActor" in command else command[:80]


@pytest.fixture(scope="module")
def app(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Context]]:
    """`vigil up --no-samples` with room for one request and one waiting, so overload is easy to make."""
    root = tmp_path_factory.mktemp("direct")
    ctx = isolated_context(pg_admin_url, root)
    env = vigil_up.vigil_up_env(ctx, API_INGRESS="direct", API_MAX_ONGOING_REQUESTS="1",
                                API_MAX_QUEUED_REQUESTS="1", API_RETRY_AFTER_SECONDS="7")
    log = root / "vigil-up.log"
    proc = vigil_up.start(env, log)
    try:
        vigil_up.wait_healthy(env, proc, log)
        yield vigil_up.base_url(env), int(env["API_PORT"]), ctx
    finally:
        vigil_up.stop(proc)


def test_the_api_replica_itself_listens_on_the_api_port(app: tuple[str, int, Context]) -> None:
    base, port, ctx = app
    listener = _listener(port)
    assert listener is not None and _role(listener) == "replica", listener and " ".join(listener.cmdline())
    proxies = [p for p in psutil.process_iter(["cmdline"]) if "ProxyActor" in " ".join(p.info["cmdline"] or [])]
    assert all(port not in {c.laddr.port for c in p.net_connections(kind="tcp")} for p in proxies)
    owner, other = make_tenant(ctx), make_tenant(ctx)
    accepted = httpx.post(f"{base}/api/v1/sessions", headers=owner.headers("uploader"), timeout=60,
                          files={"file": ("c.mp3", (SAMPLES / "checkin-risk.mp3").read_bytes())})
    assert accepted.status_code == 202, accepted.text
    status = f"{base}/api/v1/jobs/{accepted.json()['job_id']}/status"
    assert httpx.get(status, headers=owner.headers("supervisor")).status_code == 200
    assert httpx.get(status, headers=other.headers("supervisor")).status_code == 404


def test_the_event_stream_arrives_as_it_happens(app: tuple[str, int, Context]) -> None:
    """Server-sent events through the replica's own HTTP server: a stage's progress reaches an open stream while
    the stream is still open, not held back to its end. The upload goes through the service, not HTTP: the one
    request slot of this app is the stream's."""
    import io
    import json

    from vigil.services.auth import authenticate
    from vigil.services.ingest import accept_upload

    base, _, ctx = app
    tenant = make_tenant(ctx)
    opened = time.monotonic()
    with httpx.stream("GET", f"{base}/api/v1/events", params={"max_seconds": 120}, headers=tenant.headers("uploader"),
                      timeout=httpx.Timeout(10, read=60)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        next(line for line in lines if line.startswith("id: "))
        with ctx.system_db() as db:
            principal = authenticate(db, tenant.uploader)
        assert principal is not None
        _, job = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()),
                               "stream.mp3", "stream")
        first = next(json.loads(line.removeprefix("data: ")) for line in lines
                     if line.startswith("data: ") and f'"{job.id}"' in line)
        arrived = time.monotonic() - opened
    assert first["kind"] == "job.progress" and first["data"]["stage"] == "extract"
    assert arrived < 100, f"the first event came {arrived:.0f} s after the stream opened: held back to its end"


def test_overload_is_answered_with_429_and_retry_after_and_loses_no_accepted_upload(
        app: tuple[str, int, Context]) -> None:
    base, _, ctx = app
    tenant = make_tenant(ctx)
    data = (SAMPLES / "checkin-risk.mp3").read_bytes()

    def upload(_: int) -> httpx.Response:
        return httpx.post(f"{base}/api/v1/sessions", headers=tenant.headers("uploader"),
                          files={"file": ("burst.mp3", data)}, timeout=120)

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(upload, range(12)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {202, 429} and codes.count(429) >= 1 and codes.count(202) >= 1, codes
    assert all(r.headers.get("retry-after") == "7" for r in responses if r.status_code == 429)
    accepted = [uuid.UUID(r.json()["session_id"]) for r in responses if r.status_code == 202]
    with ctx.system_db() as db:
        stored = db.scalars(sa.select(Job.session_id).where(Job.session_id.in_(accepted))).all()
    assert sorted(stored) == sorted(accepted), "every accepted upload has exactly one job"


def test_a_killed_replica_comes_back_on_the_same_port(app: tuple[str, int, Context]) -> None:
    base, port, _ = app
    before = _listener(port)
    assert before is not None and _role(before) == "replica"
    before.send_signal(signal.SIGKILL)
    before.wait(timeout=30)
    deadline = time.monotonic() + 120
    after = None
    while time.monotonic() < deadline:
        after = _listener(port)
        if after is not None and after.pid != before.pid:
            break
        time.sleep(0.5)
    assert after is not None and after.pid != before.pid and _role(after) == "replica"
    assert wait_until_healthy(base, 60, poll=0.5)
