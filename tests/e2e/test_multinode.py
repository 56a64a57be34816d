"""A Ray cluster of three nodes on this machine (`ray start`: a head that runs no stages, and two workers with
custom resources of their own), the pipeline's dispatcher started on it with `vigil dispatcher`, a batch of
uploads: stages run on both workers; then one worker node is killed mid-batch and the batch still completes,
every session once, nothing lost or done twice. Everything binds to 127.0.0.1 and is stopped by the test."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import boto3
import psutil
import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, free_port, isolated_context, make_tenant
from tests.e2e.test_durability import assert_each_done_exactly_once
from vigil.context import Context
from vigil.db.models import Artifact, Job, StageEvent
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = [sys.executable, "-m", "tests.ray_loopback"]  # `ray` and `vigil` that keep 127.0.0.1 as given
SESSIONS = 6


class LocalCluster:
    """`ray start` nodes sharing a temp dir of their own, so they (and only they) can be found and stopped."""

    def __init__(self, workers: Sequence[str] = ("node_a", "node_b"), cpus_per_worker: int = 2) -> None:
        self.workers, self.cpus_per_worker = list(workers), cpus_per_worker
        self.temp = Path(f"/tmp/vigil-mn-{uuid.uuid4().hex[:6]}")  # Ray's socket paths must stay short
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Loopback only, stopped by the test: no token authentication between the nodes.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
        self.env.pop("RAY_ADDRESS", None)
        self.dispatcher: subprocess.Popen[str] | None = None  # `vigil dispatcher`, once started on the cluster
        self.dispatcher_log = self.temp / "vigil-dispatcher.err"

    def _start(self, *args: str) -> None:
        ports = ["--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
                 "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
                 "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port())]
        # Every node registers on 127.0.0.1, so the nodes talk to each other over loopback only.
        subprocess.run([*LOOPBACK, "ray", "start", "--node-ip-address", "127.0.0.1",
                        *ports, *args], env=self.env, check=True, capture_output=True, timeout=180, cwd=ROOT)

    def start(self) -> None:
        self._start("--head", "--port", str(self.port), "--num-cpus", "0", "--include-dashboard", "false",
                    "--temp-dir", str(self.temp), "--resources", json.dumps({"head": 1}))
        for name in self.workers:
            self._start("--address", self.address, "--num-cpus", str(self.cpus_per_worker),
                        "--resources", json.dumps({name: 1}))

    def node_addresses(self) -> list[str]:
        """The address each node registered with, as the cluster's GCS logged it."""
        log = (self.temp / "session_latest" / "logs" / "gcs_server.out").read_text()
        return re.findall(r"Registering new node\..* node_address=(\S+)", log)

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if any(str(self.temp) in part for part in proc.info["cmdline"] or []):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def raylets(self) -> list[psutil.Process]:
        """One per node: the process each node's workers run under."""
        return [proc for proc in self.processes() if "raylet" in (proc.info["cmdline"] or [""])[0]]

    def raylet_of(self, resource: str) -> psutil.Process:
        for proc in self.raylets():
            if resource in " ".join(proc.info["cmdline"]):
                return proc
        raise AssertionError(f"no raylet with resource {resource}")

    def kill_node(self, resource: str) -> None:
        """The node dies as a machine would: its raylet and every worker under it, at once."""
        raylet = self.raylet_of(resource)
        for proc in [*raylet.children(recursive=True), raylet]:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass

    def stop_dispatcher(self) -> tuple[int, str]:
        """SIGTERM to `vigil dispatcher`, as a supervisor stops it: its exit code and what it printed."""
        assert self.dispatcher is not None
        self.dispatcher.send_signal(signal.SIGTERM)
        out, _ = self.dispatcher.communicate(timeout=60)
        code, self.dispatcher = self.dispatcher.returncode, None
        return code, out + self.dispatcher_log.read_text()

    def stop(self) -> None:
        if self.dispatcher is not None and self.dispatcher.poll() is None:
            self.dispatcher.kill()
            self.dispatcher.wait(timeout=30)
        for proc in self.processes():
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    nodes = LocalCluster()
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def _stage_nodes(ctx: Context) -> dict[str, set[str]]:
    with ctx.system_db() as db:
        rows = db.execute(sa.select(StageEvent.stage, StageEvent.detail).where(StageEvent.event == "ready")).all()
    nodes: dict[str, set[str]] = {}
    for stage, where in rows:
        nodes.setdefault(stage, set()).add(where)
    return nodes


def _statuses(ctx: Context) -> list[str]:
    with ctx.system_db() as db:
        return list(db.scalars(sa.select(Job.status)))


def upload_batch(ctx: Context, count: int) -> list[uuid.UUID]:
    tenant = make_tenant(ctx)
    with ctx.system_db() as db:
        uploader = authenticate(db, tenant.uploader)
    return [accept_upload(ctx, uploader, io.BytesIO((SAMPLES / "routine-coaching.m4a").read_bytes()), "r.m4a",
                          f"batch {i}")[0].id for i in range(count)]


def dispatcher_env(cluster: LocalCluster, ctx: Context, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment a dispatcher on the cluster reads its settings from, as in production."""
    env = {**cluster.env, "RAY_ADDRESS": cluster.address, "DATABASE_URL": ctx.database_url,
           "OBJECT_STORE_URL": ctx.settings.object_store_url, "ENCRYPTION_KEYS": ctx.settings.encryption_keys or "",
           "AUDIT_KEY": ctx.settings.audit_key or "",
           "DATA_DIR": str(data_dir),
           "WARM_WORKERS": "0",  # warm-ups are test_stage_work's; here they would compete with the batch
           **settings}
    if ctx.settings.s3_endpoint_url:
        env["S3_ENDPOINT_URL"] = ctx.settings.s3_endpoint_url
    return env


def start_dispatcher_on(cluster: LocalCluster, ctx: Context, data_dir: Path, **settings: str) -> None:
    """`vigil dispatcher` against the cluster, in the background as in production (it runs until SIGTERM; the
    cluster's `stop` sends it): the pipeline's settings come from the environment."""
    process = subprocess.Popen([*LOOPBACK, "vigil", "dispatcher"], env=dispatcher_env(cluster, ctx, data_dir,
                                                                                       **settings),
                               stdout=subprocess.PIPE, stderr=cluster.dispatcher_log.open("w"), text=True,
                               cwd=ROOT)  # stderr to a file: a pipe nobody reads would stall it once full
    cluster.dispatcher = process
    ready, _, _ = select.select([process.stdout], [], [], 180)
    line = process.stdout.readline() if ready else ""  # type: ignore[union-attr]
    assert "running" in line, f"vigil dispatcher did not start: {line!r} {process.poll()}"


def test_stages_spread_over_worker_nodes_and_a_batch_survives_losing_one(s3_endpoint: str, cluster: LocalCluster,
                                                                         pg_admin_url: str, tmp_path: Path) -> None:
    """Media and artifacts move through S3 (a local server speaking its API) and nothing else: the workers' data
    directory is one that cannot exist (under /proc), so a stage that kept state on a node's disk would fail."""
    assert cluster.node_addresses() == ["127.0.0.1"] * 3, "every node must stay on loopback"
    prefix = f"multinode-{uuid.uuid4().hex[:8]}"
    ctx = isolated_context(pg_admin_url, tmp_path, job_lease_seconds=10.0, retry_base_seconds=1.0,
                           object_store_url=f"s3://vigil-test/{prefix}", s3_endpoint_url=s3_endpoint)
    ids = upload_batch(ctx, SESSIONS)
    start_dispatcher_on(cluster, ctx, Path("/proc/vigil-workers-keep-nothing-here"), JOB_LEASE_SECONDS="10",
                        RETRY_BASE_SECONDS="1", STAGE_LIMITS=json.dumps({"extract": 4, "transcribe": 2, "analyze": 4}))

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(_stage_nodes(ctx).get("extract", set())) < 2:
        time.sleep(0.5)
    before = _stage_nodes(ctx)
    assert len(before.get("extract", set())) == 2, f"extraction ran on {before}: expected both worker nodes"
    assert "succeeded" not in _statuses(ctx) or _statuses(ctx).count("succeeded") < SESSIONS, \
        "the kill must land mid-batch for this test to mean anything"

    victim = cluster.raylet_of("node_b")
    cluster.kill_node("node_b")
    with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
        victim.wait(timeout=10)  # a daemon nobody reaps stays a zombie: dead all the same
    assert not victim.is_running() or victim.status() == psutil.STATUS_ZOMBIE

    deadline = time.monotonic() + 420
    while time.monotonic() < deadline and set(_statuses(ctx)) != {"succeeded"}:
        time.sleep(1)
    assert _statuses(ctx) == ["succeeded"] * SESSIONS, _statuses(ctx)
    assert_each_done_exactly_once(ctx, ids)
    with ctx.system_db() as db:
        keys = set(db.scalars(sa.select(Artifact.key)))
    stored = {item["Key"].removeprefix(f"{prefix}/") for page in boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1").get_paginator("list_objects_v2").paginate(
        Bucket="vigil-test", Prefix=f"{prefix}/") for item in page.get("Contents", [])}
    assert keys and keys <= stored, f"artifacts missing from S3: {sorted(keys - stored)[:5]}"
    after = _stage_nodes(ctx)
    # One dispatcher per cluster: a second `vigil dispatcher` says so and leaves the running one alone.
    second = subprocess.run([*LOOPBACK, "vigil", "dispatcher"], env=dispatcher_env(cluster, ctx, tmp_path),
                            capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert second.returncode == 1 and "already running" in second.stdout, second.stdout + second.stderr
    code, output = cluster.stop_dispatcher()
    assert code == 0 and "dispatcher stopped" in output, output
    print(f"\nmulti-node: stages by node before the kill {({k: len(v) for k, v in before.items()})}, "
          f"after {({k: len(v) for k, v in after.items()})}")
