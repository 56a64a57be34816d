"""Transcripts sealed at rest, on the local store and on S3 (moto's server): the bytes stored are not the text,
media passes through, objects written before encryption still read, S3 is asked for server-side encryption,
and a key rotation re-wraps everything while a running process keeps reading and writing without a restart."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from tests.conftest import Tenant
from vigil.context import Context
from vigil.crypto import Keyring, is_sealed, sealed_key_id
from vigil.storage.base import TRANSCRIPT_AGENT_NAME, artifact_key
from vigil.storage.encrypted import EncryptedStore, KeyringFile
from vigil.storage.local import LocalObjectStore
from vigil.storage.s3 import S3ObjectStore

TEXT = b'{"text": "I have been thinking about ending it"}'
K1 = base64.urlsafe_b64encode(b"1" * 32).decode()
K2 = base64.urlsafe_b64encode(b"2" * 32).decode()


def keys(tenant: uuid.UUID, session: uuid.UUID) -> dict[str, str]:
    return {name: artifact_key(tenant, session, name) for name in
            ("transcript/agent.json", "transcript/raw/whisper.json", "analysis/v1.json", "audio.flac", "original.mp3")}


def plain_and_sealed(tmp_path: Path, s3_endpoint: str) -> list[tuple[object, EncryptedStore]]:
    local = LocalObjectStore(tmp_path / "objects")
    s3 = S3ObjectStore("vigil-test", prefix=f"enc-{uuid.uuid4().hex[:6]}", endpoint_url=s3_endpoint)
    ring = Keyring.from_spec(f"k1:{K1}")
    return [(local, EncryptedStore(local, ring)), (s3, EncryptedStore(s3, ring))]


def test_transcripts_and_analyses_are_sealed_and_media_is_not(tmp_path: Path, s3_endpoint: str) -> None:
    for inner, store in plain_and_sealed(tmp_path, s3_endpoint):
        named = keys(uuid.uuid4(), uuid.uuid4())
        for key in named.values():
            store.put_bytes(key, TEXT)
        for name, key in named.items():
            stored = inner.get_bytes(key)
            sealed = name.startswith(("transcript/", "analysis/"))
            assert is_sealed(stored) is sealed and (b"ending it" in stored) is not sealed, (inner, name)
            assert store.get_bytes(key) == TEXT
            with store.open_stream(key) as stream:
                assert stream.read() == TEXT
            target = tmp_path / "download"
            store.download(key, target)
            assert target.read_bytes() == TEXT


def test_a_sealed_object_copied_to_another_tenant_does_not_open(tmp_path: Path, s3_endpoint: str) -> None:
    from vigil.crypto import DecryptionError

    for inner, store in plain_and_sealed(tmp_path, s3_endpoint):
        mine = keys(uuid.uuid4(), uuid.uuid4())["transcript/agent.json"]
        theirs = keys(uuid.uuid4(), uuid.uuid4())["transcript/agent.json"]
        store.put_bytes(mine, TEXT)
        inner.put_bytes(theirs, inner.get_bytes(mine))
        with pytest.raises(DecryptionError):
            store.get_bytes(theirs)


def test_objects_written_before_encryption_still_read_and_rewrap_seals_them(tmp_path: Path,
                                                                            s3_endpoint: str) -> None:
    for inner, store in plain_and_sealed(tmp_path, s3_endpoint):
        key = keys(uuid.uuid4(), uuid.uuid4())["transcript/agent.json"]
        inner.put_bytes(key, TEXT)
        assert store.get_bytes(key) == TEXT
        report = store.rewrap_prefix(key.rsplit("/", 2)[0])
        assert (report.sealed_from_plaintext, report.rewrapped) == (1, 0)
        assert is_sealed(inner.get_bytes(key)) and store.get_bytes(key) == TEXT


def test_s3_is_asked_for_server_side_encryption_on_every_write(tmp_path: Path, s3_endpoint: str) -> None:
    s3 = S3ObjectStore("vigil-test", prefix="sse", endpoint_url=s3_endpoint)
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 100)
    s3.put_bytes("a/b/one", b"1")
    s3.put_file("a/b/two", source)
    with source.open("rb") as stream:
        s3.put_stream("a/b/three", stream)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for name in ("one", "two", "three"):
        assert client.head_object(Bucket="vigil-test", Key=f"sse/a/b/{name}")["ServerSideEncryption"] == "AES256"


def test_rotation_rewraps_everything_while_a_running_process_keeps_working(tmp_path: Path) -> None:
    keyring_file = tmp_path / "encryption-keys"
    keyring_file.write_text(f"k1:{K1}")
    inner = LocalObjectStore(tmp_path / "objects")
    running = EncryptedStore(inner, KeyringFile(keyring_file))  # a process started before the rotation
    tenant, session = uuid.uuid4(), uuid.uuid4()
    written = [artifact_key(tenant, session, f"transcript/raw/p{i}.json") for i in range(5)]
    for key in written:
        running.put_bytes(key, TEXT)

    keyring_file.write_text(f"k1:{K1},k2:{K2}")  # `vigil keys rotate` adds k2 as the active key
    os.utime(keyring_file, ns=(1, 2))  # a new stamp even within the file system's clock resolution
    late = artifact_key(tenant, session, "transcript/agent.json")
    running.put_bytes(late, TEXT)  # no restart: the running process already seals under k2
    assert sealed_key_id(inner.get_bytes(late)) == "k2"
    assert all(running.get_bytes(key) == TEXT for key in written)  # and still reads what k1 sealed

    report = running.rewrap_prefix()
    assert (report.examined, report.rewrapped, report.already_current) == (6, 5, 1)
    only_k2 = EncryptedStore(inner, Keyring.from_spec(f"k2:{K2}"))
    assert all(only_k2.get_bytes(key) == TEXT for key in [*written, late])


def test_the_pipeline_seals_what_it_writes(ctx: Context, tenant_a: Tenant) -> None:
    from tests.integration.test_analysis_tasks import transcribed_session

    claim = transcribed_session(ctx, tenant_a)
    key = artifact_key(claim.tenant_id, claim.session_id, TRANSCRIPT_AGENT_NAME)
    on_disk = (Path(ctx.settings.object_store_url.removeprefix("file://")) / key).read_bytes()
    assert is_sealed(on_disk) and b"segments" not in on_disk
    assert json.loads(ctx.store.get_bytes(key))["segments"]


def test_vigil_keys_rotate_adds_a_key_and_rewraps_the_store(tmp_path: Path, pg_admin_url: str) -> None:
    from tests.conftest import create_database

    database_url = create_database(pg_admin_url)  # its own: every review in it is sealed under this keyring
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
           "OBJECT_STORE_URL": f"file://{tmp_path / 'objects'}"}
    env.pop("ENCRYPTION_KEYS", None)
    vigil = [str(Path(sys.executable).parent / "vigil")]
    # The first command makes the local keyring; seal an object under it the way a running process would.
    subprocess.run([*vigil, "keys", "rewrap"], env=env, check=True, capture_output=True, text=True)
    keyring_file = tmp_path / "data" / "encryption-keys"
    assert keyring_file.stat().st_mode & 0o777 == 0o600
    store = EncryptedStore(LocalObjectStore(tmp_path / "objects"), KeyringFile(keyring_file))
    key = keys(uuid.uuid4(), uuid.uuid4())["transcript/agent.json"]
    store.put_bytes(key, TEXT)

    rotated = subprocess.run([*vigil, "keys", "rotate"], env=env, check=True, capture_output=True, text=True)
    assert "rewrapped: 1" in rotated.stdout, rotated.stdout
    ring = Keyring.from_spec(keyring_file.read_text())
    assert len(ring.ids) == 2 and sealed_key_id(store.inner.get_bytes(key)) == ring.active_id
    assert store.get_bytes(key) == TEXT
    assert K1 not in rotated.stdout + rotated.stderr and ring.spec().split(",")[-1] not in rotated.stdout
