"""Each tenant's audit head is checkpointed to the object store (locked, on an S3 bucket with Object Lock), and
verification holds the chain against every checkpoint: what the key cannot stop (its holder rewriting history, or
anyone cutting entries off the end) a checkpoint does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from tests.conftest import Tenant, tenant_id_of
from tests.integration.test_audit_chain import _key, _past_the_trigger, _seqs, _write, rewrite_from
from tests.integration.test_cli import _run
from vigil.context import Context
from vigil.db.models import AuditHead
from vigil.services.audit import verify_chain
from vigil.services.audit_checkpoints import (
    Checkpoint,
    checkpoint_key,
    read_checkpoints,
    verify_with_checkpoints,
    write_checkpoints,
)


def _head(ctx: Context, tenant_id: uuid.UUID) -> AuditHead:
    with ctx.system_db() as db:
        head = db.get(AuditHead, tenant_id)
    assert head is not None
    return head


def _verify(ctx: Context, tenant_id: uuid.UUID) -> tuple[bool, list[str]]:
    """(what the key alone says, every problem the key and the checkpoints find)."""
    with ctx.system_db() as db:
        by_key = verify_chain(db, tenant_id, _key(ctx)).intact
        report = verify_with_checkpoints(db, ctx.store, tenant_id, _key(ctx))
    return by_key, report.problems


def _on_s3(ctx: Context, endpoint: str, bucket: str) -> Context:
    return Context.build(ctx.settings.model_copy(update={"object_store_url": f"s3://{bucket}/vigil",
                                                         "s3_endpoint_url": endpoint}), ctx.database_url)


def _locked_bucket(endpoint: str) -> str:
    bucket = f"vigil-locked-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


def test_each_tenants_head_is_checkpointed_once_per_head(ctx: Context, tenant_a: Tenant, tenant_b: Tenant) -> None:
    a, b = tenant_id_of(ctx, tenant_a), tenant_id_of(ctx, tenant_b)
    _write(ctx, a, 2)
    first = write_checkpoints(ctx, [a, b])
    assert (first.written, first.unchanged, first.refused, first.lock) == (2, 0, {}, None)  # a directory: no lock
    head = _head(ctx, a)
    stored = Checkpoint.model_validate_json(ctx.store.get_bytes(checkpoint_key(a, head.seq)))
    assert (stored.tenant_id, stored.seq, stored.entry_hash, stored.key_id) == (a, head.seq, head.entry_hash,
                                                                                _key(ctx).key_id)
    assert write_checkpoints(ctx, [a, b]).as_json() == {"written": 0, "unchanged": 2, "refused": 0, "lock": None}
    _write(ctx, a, 1)
    assert write_checkpoints(ctx, [a, b]).written == 1
    assert [c.seq for c in read_checkpoints(ctx.store, a)[0]] == [head.seq, head.seq + 1]
    assert _verify(ctx, a) == (True, [])


def test_a_key_holder_who_rewrites_entries_before_a_checkpoint_is_caught_by_it(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    base = len(_seqs(ctx, tenant_id))
    _write(ctx, tenant_id, 5)
    write_checkpoints(ctx, [tenant_id])
    rewrite_from(ctx, tenant_id, base + 2, {"i": 99}, key=_key(ctx))  # re-sealed under the real key
    by_key, problems = _verify(ctx, tenant_id)
    assert by_key, "under the key alone the rewritten chain is flawless"
    assert any(f"entry {base + 5} differs from its checkpoint of" in p for p in problems), problems


def test_entries_cut_off_the_end_with_the_head_moved_back_are_caught_by_a_checkpoint(ctx: Context,
                                                                                    tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    base = len(_seqs(ctx, tenant_id))
    _write(ctx, tenant_id, 5)
    write_checkpoints(ctx, [tenant_id])
    cut = {"t": tenant_id, "s": base + 3}
    with _past_the_trigger(ctx) as db:  # needs no key: every entry left is still sealed right
        db.execute(sa.text("DELETE FROM audit_log WHERE tenant_id = :t AND seq > :s"), cut)
        db.execute(sa.text("UPDATE audit_heads h SET seq = e.seq, entry_hash = e.entry_hash FROM audit_log e "
                           "WHERE h.tenant_id = :t AND e.tenant_id = :t AND e.seq = :s"), cut)
    by_key, problems = _verify(ctx, tenant_id)
    assert by_key, "under the key alone the shortened chain is flawless"
    assert any(f"1 checkpointed entries are missing ({base + 5}–{base + 5}" in p for p in problems), problems


def test_a_head_rewritten_without_the_key_is_not_checkpointed(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    _write(ctx, tenant_id, 2)
    last = _head(ctx, tenant_id).seq
    rewrite_from(ctx, tenant_id, last, {"i": 99}, key=None)
    run = write_checkpoints(ctx, [tenant_id])
    assert run.written == 0 and f"entry {last} does not match its hash" in run.refused[str(tenant_id)]
    assert read_checkpoints(ctx.store, tenant_id) == ([], [])


def test_on_a_bucket_with_object_lock_a_checkpoint_can_be_neither_deleted_nor_replaced(
        s3_endpoint: str, ctx: Context, tenant_a: Tenant) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = _locked_bucket(s3_endpoint)
    locked = _on_s3(ctx, s3_endpoint, bucket)
    tenant_id = tenant_id_of(ctx, tenant_a)
    base = len(_seqs(ctx, tenant_id))
    _write(ctx, tenant_id, 3)
    run = write_checkpoints(locked, [tenant_id])
    assert (run.written, run.lock) == (1, "COMPLIANCE")
    object_key = "vigil/" + checkpoint_key(tenant_id, base + 3)
    stored = s3.head_object(Bucket=bucket, Key=object_key)
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    retain = timedelta(days=ctx.settings.audit_checkpoint_retain_days)
    assert abs(stored["ObjectLockRetainUntilDate"] - (datetime.now(UTC) + retain)) < timedelta(minutes=5)
    assert _verify(locked, tenant_id) == (True, [])

    # Someone holding the key and the bucket rewrites the chain, then tries to make the checkpoint agree.
    rewrite_from(ctx, tenant_id, base + 1, {"i": 99}, key=_key(ctx))
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=object_key, VersionId=stored["VersionId"])
    forged = Checkpoint(tenant_id=tenant_id, seq=base + 3, entry_hash=_head(ctx, tenant_id).entry_hash,
                        key_id=_key(ctx).key_id, written_at=datetime.now(UTC))
    s3.put_object(Bucket=bucket, Key=object_key, Body=forged.model_dump_json().encode())  # a newer version
    s3.delete_object(Bucket=bucket, Key=object_key)  # and a delete marker over both
    assert not locked.store.exists(checkpoint_key(tenant_id, base + 3)), "hidden from an ordinary read"
    by_key, problems = _verify(locked, tenant_id)
    assert by_key and any(f"entry {base + 3} differs from its checkpoint of" in p for p in problems), problems


def test_on_a_bucket_without_object_lock_checkpoints_are_written_and_say_they_are_not_locked(
        s3_endpoint: str, ctx: Context, database_url: str, tenant_a: Tenant, tmp_path: Path) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "OBJECT_STORE_URL": "s3://vigil-test/plain",
           "S3_ENDPOINT_URL": s3_endpoint}
    done = _run("audit", "checkpoint", "--tenant", tenant_a.name, env=env)
    assert done.returncode == 0, done.stderr
    assert "checkpoints written: 1, NOT locked: the store has no Object Lock" in done.stdout
    stored = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").head_object(
        Bucket="vigil-test", Key="plain/" + checkpoint_key(tenant_id, _head(ctx, tenant_id).seq))
    assert "ObjectLockMode" not in stored


def test_vigil_audit_verify_holds_the_chain_against_the_checkpoints(ctx: Context, database_url: str,
                                                                    tenant_a: Tenant, tmp_path: Path) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "OBJECT_STORE_URL": ctx.settings.object_store_url}
    _write(ctx, tenant_id, 3)
    entries = len(_seqs(ctx, tenant_id))
    done = _run("audit", "checkpoint", "--tenant", tenant_a.name, env=env)
    assert done.returncode == 0 and "checkpoints written: 1" in done.stdout, done.stderr
    done = _run("audit", "verify", "--tenant", tenant_a.name, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"{tenant_a.name}: {entries} entries, chain intact (audit key {_key(ctx).key_id}; 1 checkpoint(s), "
            f"the newest at entry {entries})") in done.stdout

    rewrite_from(ctx, tenant_id, entries - 1, {"i": 99}, key=_key(ctx))
    done = _run("audit", "verify", "--tenant", tenant_a.name, env=env)
    assert done.returncode == 1
    assert f"{tenant_a.name}: {entries} entries, 1 problem(s)" in done.stdout
    assert f"entry {entries} differs from its checkpoint of" in done.stdout


def test_the_embedded_default_keeps_the_audit_key_in_the_data_dir(ctx: Context, database_url: str,
                                                                   tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"), "AUDIT_KEY": "",
           "OBJECT_STORE_URL": ctx.settings.object_store_url}
    tenant = f"keyfile-{uuid.uuid4().hex[:8]}"
    done = _run("token", "create", "--tenant", tenant, "--email", "a@keyfile.test", "--role", "admin", env=env)
    assert done.returncode == 0, done.stderr
    key_file = tmp_path / "data" / "audit-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    from vigil.audit_chain import AuditKey

    key_id = AuditKey.from_setting(key_file.read_text()).key_id
    done = _run("audit", "verify", "--tenant", tenant, env=env)
    assert done.returncode == 0 and f"chain intact (audit key {key_id};" in done.stdout, done.stdout + done.stderr
    done = _run("audit", "verify", "--tenant", tenant, env={**env, "DATA_DIR": str(tmp_path / "elsewhere")})
    assert done.returncode == 2 and "no audit key to verify with" in done.stdout
    assert not (tmp_path / "elsewhere" / "audit-key").exists(), "verifying never makes a key"


@pytest.mark.ray
def test_checkpoints_are_written_by_a_ray_task(ray_runtime: None, ctx: Context, tenant_a: Tenant) -> None:
    import ray

    from tasks.stages import write_audit_checkpoints

    tenant_id = tenant_id_of(ctx, tenant_a)
    report = ray.get(write_audit_checkpoints.remote(ctx.settings, ctx.database_url), timeout=120)
    assert report["written"] >= 1 and report["lock"] is None
    assert ctx.store.exists(checkpoint_key(tenant_id, _head(ctx, tenant_id).seq))


@pytest.mark.ray
def test_the_dispatcher_starts_periodic_work_at_once_then_once_per_interval(ray_runtime: None) -> None:
    import ray

    from tasks.dispatcher import Periodic

    runs: list[int] = []

    def start() -> ray.ObjectRef:
        runs.append(len(runs))
        return ray.put({"run": runs[-1]})

    task = Periodic("audit_checkpoints", interval=3600, start=start)
    task.tick()
    assert runs == [0], "the first run starts at once"
    task.tick()
    assert task.last == {"run": 0} and task.running is None and runs == [0], "then not before the interval"
    task.interval = 0
    task.tick()
    assert runs == [0, 1]


@pytest.mark.ray
def test_the_dispatcher_checkpoints_every_tenants_head_on_its_own(ray_runtime: None, pg_admin_url: str,
                                                                  tmp_path: Path) -> None:
    import time

    import ray

    from tasks.dispatcher import Dispatcher
    from tests.conftest import isolated_context, make_tenant

    ctx = isolated_context(pg_admin_url, tmp_path, transcribers="standin")
    tenant_id = tenant_id_of(ctx, make_tenant(ctx))
    name = f"checkpointing-{uuid.uuid4().hex[:6]}"
    dispatcher = Dispatcher.options(name=name).remote(ctx.settings, ctx.database_url, transcription_name=f"{name}-asr")
    try:
        deadline = time.monotonic() + 90
        while (stats := ray.get(dispatcher.stats.remote()))["last_audit_checkpoints"] is None:
            assert time.monotonic() < deadline, "no checkpoint run reported"
            time.sleep(0.5)
    finally:
        ray.get(dispatcher.stop.remote())
        ray.kill(dispatcher)
    assert stats["last_audit_checkpoints"] == {"written": 1, "unchanged": 0, "refused": 0, "lock": None}
    assert ctx.store.exists(checkpoint_key(tenant_id, _head(ctx, tenant_id).seq))
