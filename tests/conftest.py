"""Shared fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), a real object store directory,
the real API app, and tokens for two tenants."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from vigil import telemetry
from vigil.context import Context
from vigil.db import engine
from vigil.db.engine import start_embedded_postgres
from vigil.schemas.enums import Role
from vigil.services.auth import authenticate, issue_token
from vigil.settings import Settings
from vigil.telemetry import NoTelemetry

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# Every test runs with transcripts sealed at rest, as `vigil up` does (a fixed key: tests must be repeatable).
TEST_KEYS = "test1:" + "dGVzdC1rZXktZW5jcnlwdGlvbi0zMi1ieXRlcyEhISE="
# Every test's audit entries are sealed under this key, as a deployment's are under AUDIT_KEY.
TEST_AUDIT_KEY = "test-audit-key-0f3c9a1d5e7b2468"


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The server: embedded PostgreSQL started for this test run, unless TEST_DATABASE_URL names one."""
    return os.environ.get("TEST_DATABASE_URL") or start_embedded_postgres(tmp_path_factory.mktemp("pg") / "data")


def create_database(admin_url: str) -> str:
    """A new, empty, migrated database on the test server; returns its URL."""
    return engine.create_database(admin_url, f"vigil_test_{uuid.uuid4().hex[:8]}")


def objects_root(ctx: Context) -> Path:
    """Where a test's local object store keeps its files (what is on disk, sealed or not)."""
    return Path(ctx.settings.object_store_url.removeprefix("file://"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_api_port() -> int:
    """A free port whose next one is free too: under direct ingress (the default), `vigil up`'s sentence encoder
    takes API_PORT + 1."""
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def isolated_context(admin_url: str, root: Path, **overrides: object) -> Context:
    """A context on a database of its own (so the only claimable jobs are the test's), objects under
    `root`, and an API port of its own. Its dispatcher warms no workers unless a test asks (test_stage_work does):
    on 2 cores, two extra workers loading every model slow the stages a test is waiting for."""
    url = create_database(admin_url)
    settings = Settings(**{"data_dir": root / "data", "database_url": url,
                           "object_store_url": f"file://{root / 'objects'}", "api_port": free_api_port(),
                           "signing_key": "test-signing-key", "encryption_keys": TEST_KEYS,
                           "audit_key": TEST_AUDIT_KEY, "allow_standin": True, "_env_file": None,
                           "warm_workers": 0, **overrides})
    return Context.build(settings, url)


@contextmanager
def api_on_loopback(ctx: Context) -> Iterator[str]:
    """The real API app under uvicorn on 127.0.0.1 at the context's port (so URLs the API signs with its
    base URL reach it), for clients that need HTTP."""
    from tests.standins.loopback import serve_on_loopback

    with serve_on_loopback(configure(create_app(), ctx), port=ctx.settings.api_port) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> str:
    """One database shared by the tests that do not run the dispatcher (each uses its own tenants)."""
    return create_database(pg_admin_url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    object_store_url=f"file://{tmp_path / 'objects'}", signing_key="test-signing-key",
                    encryption_keys=TEST_KEYS, audit_key=TEST_AUDIT_KEY, allow_standin=True, _env_file=None)


@pytest.fixture
def ctx(request: pytest.FixtureRequest, settings: Settings, database_url: str) -> Context:
    """On the shared database; a test marked `own_database` (it claims stages by hand, and must claim only its own
    jobs, leaving no other test's claimed and waiting for a lease to run out) gets a database of its own."""
    if request.node.get_closest_marker("own_database"):
        return isolated_context(request.getfixturevalue("pg_admin_url"), settings.data_dir.parent)
    return Context.build(settings, database_url)


@dataclass
class Tenant:
    name: str
    supervisor: str
    lead: str
    uploader: str
    admin: str
    counselor: str  # not linked to a counselor's name: sees nothing until linked (tests/integration/test_counselors.py)

    def headers(self, role: str = "supervisor") -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


def tenant_id_of(ctx: Context, tenant: Tenant) -> uuid.UUID:
    """The database id of a test tenant (tests address tenants by name and tokens)."""
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.admin)
    assert principal is not None
    return principal.tenant_id


def make_tenant(ctx: Context) -> Tenant:
    name = f"tenant-{uuid.uuid4().hex[:8]}"
    with ctx.system_db() as db:
        tokens = {role.value: issue_token(db, name, f"{role.value}@{name}.test", role) for role in Role}
        db.commit()
    return Tenant(name=name, **tokens)


@pytest.fixture
def tenant_a(ctx: Context) -> Tenant:
    return make_tenant(ctx)


@pytest.fixture
def tenant_b(ctx: Context) -> Tenant:
    return make_tenant(ctx)


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    app = configure(create_app(), ctx)
    with TestClient(app) as test_client:
        yield test_client


def garbled_m4a() -> bytes:
    """The routine sample with 30 kB zeroed a third of the way in: its header reads fine (it passes
    the upload check), its audio data does not decode (extraction fails)."""
    data = bytearray((SAMPLES / "routine-coaching.m4a").read_bytes())
    third = len(data) // 3
    data[third: third + 30_000] = bytes(30_000)
    return bytes(data)


@pytest.fixture(scope="session")
def long_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The risk check-in three times over (about two minutes of real speech), as one mp3."""
    import subprocess

    from vigil.media import ffmpeg_binary

    root = tmp_path_factory.mktemp("long-sample")
    listing = root / "list.txt"
    listing.write_text(f"file '{SAMPLES / 'checkin-risk.mp3'}'\n" * 3)
    joined = root / "long.mp3"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(joined)], check=True)
    return joined


@pytest.fixture(scope="session")
def sample_audio() -> Path:
    return SAMPLES / "checkin-risk.mp3"


@pytest.fixture(scope="session")
def ray_runtime() -> Iterator[None]:
    """A real local Ray, bound to loopback, for the whole test run."""
    import ray

    from cli.stack import RUNTIME_ENV

    ray.init(address="local", namespace=f"vigil-test-{uuid.uuid4().hex[:6]}", num_cpus=4, _node_ip_address="127.0.0.1",
             include_dashboard=False, log_to_driver=False, runtime_env=RUNTIME_ENV)
    yield
    from ray import serve

    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="session")
def whisper():  # type: ignore[no-untyped-def]
    from vigil.transcription.whisper import WhisperTranscriber, default_model_dir

    return WhisperTranscriber(default_model_dir())


def process_session(ctx: Context, tenant: Tenant, sample: Path, whisper) -> str:  # type: ignore[no-untyped-def]
    """Upload `sample` and run every stage for real, in this process (no Ray): returns the session id.
    Needs a database where this is the only claimable job (see create_database)."""
    import io

    from vigil.analysis.analyzers.registry import build_analyzer
    from vigil.services.auth import authenticate
    from vigil.services.ingest import accept_upload
    from vigil.services.jobs import claim_next_stage, complete_stage
    from vigil.services.pipeline import run_analyze, run_extract, run_transcribe

    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, job = accept_upload(ctx, principal, io.BytesIO(sample.read_bytes()), sample.name, sample.stem)
    stages = (lambda c: run_extract(ctx, c), lambda c: run_transcribe(ctx, c, [whisper]),
              lambda c: run_analyze(ctx, c, build_analyzer(ctx.settings)))
    for run in stages:
        with ctx.system_db() as db:
            claim = claim_next_stage(db, 60)
        assert claim is not None and claim.job_id == job.id, "another claimable job is in this database"
        run(claim)
        with ctx.system_db() as db:
            complete_stage(db, claim, 0.1)
    return str(session.id)


@pytest.fixture(scope="session")
def s3_endpoint(monkeypatch_session: pytest.MonkeyPatch) -> Iterator[str]:
    """A local server speaking the S3 API (moto), with bucket `vigil-test`."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch_session.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="vigil-test")
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


class RecordedTelemetry(NoTelemetry):
    """The telemetry events a test cares about, as they were emitted in this process."""

    def __init__(self) -> None:
        self.provider_calls: list[tuple[str, str]] = []
        self.parse_errors: list[tuple[str, str]] = []

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        self.provider_calls.append((provider, outcome))

    def parse_error(self, source: str, provider: str) -> None:
        self.parse_errors.append((source, provider))


@pytest.fixture
def recorded_telemetry() -> Iterator[RecordedTelemetry]:
    recorded = RecordedTelemetry()
    telemetry.install(recorded)
    try:
        yield recorded
    finally:
        telemetry.install(NoTelemetry())


def scrape_ray_metrics(wanted: list[str], timeout: float = 90.0) -> str:
    """This process's Ray node's Prometheus exposition, once every `wanted` fragment is in it (Ray exports
    application metrics every few seconds) or `timeout` has passed; the caller asserts on what it holds."""
    import time

    import httpx
    import ray

    port = ray._private.worker._global_node.metrics_export_port
    text, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        if all(w in text for w in wanted):
            break
        time.sleep(2)
    return text
