"""The `vigil` command as a user runs it, in a subprocess, against the real database."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import PlainTextResponse

from serve.app import configure, create_app
from tests.conftest import SAMPLES, TEST_AUDIT_KEY, api_on_loopback, isolated_context, make_tenant
from tests.standins.loopback import serve_on_loopback
from vigil.context import Context
from vigil.services.auth import authenticate
from vigil.services.jobs import STAGES, ClaimedStage, claim_stages, complete_stage

VIGIL = str(Path(sys.executable).parent / "vigil")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`vigil` with the deployment's audit key (the one the tests' own context seals with), unless `env` says."""
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AUDIT_KEY": TEST_AUDIT_KEY, **env})


def test_token_create_prints_a_token_that_signs_in_with_the_role(ctx: Context, database_url: str,
                                                                  tmp_path: Path) -> None:
    done = _run("token", "create", "--tenant", "cli-clinic", "--email", "Sam@Clinic.test", "--role", "lead",
                env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    with ctx.system_db() as db:
        principal = authenticate(db, token)
    assert principal is not None and principal.email == "sam@clinic.test" and principal.role.value == "lead"


def test_token_create_links_a_counselor_to_the_name_sessions_carry(ctx: Context, database_url: str,
                                                                   tmp_path: Path) -> None:
    from vigil.db.models import User

    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)}
    done = _run("token", "create", "--tenant", "cli-clinic", "--email", "dana@clinic.test", "--role", "counselor",
                "--counselor", " Dana Ruiz ", env=env)
    assert done.returncode == 0, done.stderr
    with ctx.system_db() as db:
        principal = authenticate(db, done.stdout.strip().splitlines()[-1])
        assert principal is not None and principal.role.value == "counselor"
        assert db.get(User, principal.user_id).counselor_label == "Dana Ruiz"
    refused = _run("token", "create", "--tenant", "cli-clinic", "--email", "lee@clinic.test", "--role", "lead",
                   "--counselor", "Lee", env=env)
    assert refused.returncode == 2 and "only a counselor account" in refused.stdout


def test_token_create_refuses_an_unknown_role(database_url: str, tmp_path: Path) -> None:
    done = _run("token", "create", "--tenant", "x", "--email", "a@b.test", "--role", "owner",
                env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "owner" in done.stderr


class Output:
    """A running command's stdout, line by line as it is printed."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: [self.lines.put(line.rstrip("\n")) for line in stdout], daemon=True).start()

    def wait_for(self, line: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.seen:
            try:
                self.seen.append(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"{line!r} not printed; printed: {self.seen}") from None


@contextmanager
def ingesting(api: str, token: str) -> Iterator[tuple[subprocess.Popen[str], Output]]:
    process = subprocess.Popen([VIGIL, "ingest", str(SAMPLES / "routine-coaching.m4a"), "--token", token, "--api", api],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield process, Output(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def claim(ctx: Context, stage: str, timeout: float = 60) -> ClaimedStage:
    """The dispatcher's part, by hand: the job's stage, claimed once the CLI's upload has queued it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.system_db() as db:
            claimed = claim_stages(db, 60, [stage])
        if claimed:
            return claimed[0]
        time.sleep(0.1)
    raise AssertionError(f"no {stage} stage to claim")


@pytest.mark.timeout(180)
def test_ingest_prints_each_stage_as_it_happens_from_the_event_stream(pg_admin_url: str, tmp_path: Path) -> None:
    ctx = isolated_context(pg_admin_url, tmp_path, events_poll_seconds=0.05)
    tenant = make_tenant(ctx)
    with api_on_loopback(ctx) as url, ingesting(url, tenant.uploader) as (process, output):
        for stage in STAGES:
            claimed = claim(ctx, stage)
            output.wait_for(f"  {stage} running")  # printed while the stage is still running: live, not afterwards
            with ctx.system_db() as db:
                complete_stage(db, claimed, 1.25)
            output.wait_for(f"  {stage} done 1.2 s")
        output.wait_for("  session ready")
        assert process.wait(timeout=30) == 0
        output.wait_for("  succeeded: risk=None flagged=False")
    assert not [line for line in output.seen if "polling" in line]


@pytest.mark.timeout(180)
def test_ingest_without_an_event_stream_falls_back_to_polling(pg_admin_url: str, tmp_path: Path) -> None:
    ctx = isolated_context(pg_admin_url, tmp_path)
    tenant = make_tenant(ctx)
    api = configure(create_app(), ctx)

    async def older_api(scope: dict[str, Any], receive: Any, send: Any) -> None:  # one without the event stream
        if scope["type"] == "http" and scope["path"] == "/api/v1/events":
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
        else:
            await api(scope, receive, send)

    with serve_on_loopback(older_api) as url, ingesting(url, tenant.uploader) as (process, output):
        output.wait_for("(no live progress: 404: Not Found; polling the job instead)")
        for stage in STAGES:
            claimed = claim(ctx, stage)
            with ctx.system_db() as db:
                complete_stage(db, claimed, 0.5)
        assert process.wait(timeout=30) == 0
        output.wait_for("  succeeded: risk=None flagged=False")
