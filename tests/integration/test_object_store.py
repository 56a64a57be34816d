"""The object store: the local directory, and S3 through boto3 against a local server speaking the
S3 API (moto's server), with the same behaviour expected of both."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload
from vigil.services.jobs import claim_next_stage
from vigil.services.pipeline import run_extract
from vigil.settings import Settings
from vigil.storage.base import AUDIO_NAME, ObjectStore, artifact_key
from vigil.storage.local import LocalObjectStore
from vigil.storage.stores import open_store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    settings = Settings(object_store_url="s3://vigil-test/prefix", s3_endpoint_url=endpoint, _env_file=None)
    return open_store(settings)


def test_put_stream_then_read_back_the_same_bytes(store: ObjectStore) -> None:
    data = (SAMPLES / "checkin-risk.mp3").read_bytes()
    assert store.put_stream("t/s/original.mp3", io.BytesIO(data)) == len(data)
    assert store.exists("t/s/original.mp3")
    assert store.get_bytes("t/s/original.mp3") == data
    with store.open_stream("t/s/original.mp3") as fh:
        assert fh.read(4) == data[:4]


def test_missing_key_does_not_exist(store: ObjectStore) -> None:
    assert not store.exists("t/s/nothing.json")


def test_delete_prefix_removes_only_that_session(store: ObjectStore) -> None:
    store.put_bytes("t/a/x.json", b"1")
    store.put_bytes("t/a/y/z.json", b"2")
    store.put_bytes("t/b/x.json", b"3")
    assert store.delete_prefix("t/a/") == 2
    assert not store.exists("t/a/x.json") and store.exists("t/b/x.json")


def test_local_store_refuses_keys_that_escape_its_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(ValueError):
        store.put_bytes("../outside.txt", b"x")
    assert not (tmp_path / "outside.txt").exists()


def test_artifact_names_cannot_climb_out_of_the_session(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        artifact_key(uuid.uuid4(), uuid.uuid4(), "../../other/audio.flac")


def test_upload_and_extraction_work_on_s3(s3_endpoint: str, pg_admin_url: str, tmp_path: Path) -> None:
    ctx = isolated_context(pg_admin_url, tmp_path, object_store_url="s3://vigil-test/pipeline",
                           s3_endpoint_url=s3_endpoint)
    tenant: Tenant = make_tenant(ctx)
    with ctx.system_db() as db:
        principal = authenticate(db, tenant.uploader)
    session, job = accept_upload(ctx, principal, io.BytesIO((SAMPLES / "support-video.webm").read_bytes()),
                                 "v.webm", None)
    with ctx.system_db() as db:
        claim = claim_next_stage(db, 60)
    assert claim is not None and claim.job_id == job.id
    run_extract(ctx, claim)
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    key = "pipeline/" + artifact_key(session.tenant_id, session.id, AUDIO_NAME)
    assert raw.head_object(Bucket="vigil-test", Key=key)["ContentLength"] > 10_000


def test_a_locked_write_to_a_store_without_object_lock_is_an_ordinary_write_and_says_so(store: ObjectStore) -> None:
    until = datetime.now(UTC) + timedelta(days=1)
    assert store.put_locked("locks/a.json", b"1", "COMPLIANCE", until) is None
    store.put_bytes("locks/b.json", b"2")
    assert sorted(store.read_versions("locks/")) == [("locks/a.json", b"1"), ("locks/b.json", b"2")]


def test_on_a_bucket_with_object_lock_a_locked_version_outlives_overwrites_and_deletes(s3_endpoint: str) -> None:
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"vigil-locked-{uuid.uuid4().hex[:8]}"
    raw.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = open_store(Settings(object_store_url=f"s3://{bucket}/prefix", s3_endpoint_url=s3_endpoint,
                                _env_file=None))
    until = datetime.now(UTC) + timedelta(days=1)
    assert store.put_locked("locks/a.json", b"first", "GOVERNANCE", until) == "GOVERNANCE"
    version = raw.head_object(Bucket=bucket, Key="prefix/locks/a.json")
    assert (version["ObjectLockMode"], version["ObjectLockRetainUntilDate"]) == ("GOVERNANCE",
                                                                                until.replace(microsecond=0))
    with pytest.raises(ClientError, match="AccessDenied"):
        raw.delete_object(Bucket=bucket, Key="prefix/locks/a.json", VersionId=version["VersionId"])
    store.put_bytes("locks/a.json", b"second")
    store.delete("locks/a.json")  # a delete marker over both versions
    assert not store.exists("locks/a.json")
    assert sorted(store.read_versions("locks/")) == [("locks/a.json", b"first"), ("locks/a.json", b"second")]
