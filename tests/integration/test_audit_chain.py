"""The audit log is append-only and hash-chained per tenant under a key kept outside the database: the database
refuses edits, and `vigil audit verify` finds any entry changed, removed or reordered by someone who got past that
(a superuser disabling the trigger), even one who recomputed every hash after it without the key."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from tests.conftest import SAMPLES, Tenant, tenant_id_of
from tests.integration.test_cli import _run
from vigil.audit_chain import AuditKey, entry_hash
from vigil.context import Context
from vigil.db.models import AuditEntry, AuditHead
from vigil.services import audit
from vigil.services.auth import authenticate
from vigil.services.ingest import accept_upload


def _key(ctx: Context) -> AuditKey:
    key = ctx.audit_key
    assert key is not None
    return key


def _write(ctx: Context, tenant_id: uuid.UUID, count: int, label: str = "test.event") -> None:
    for i in range(count):
        with ctx.system_db() as db:
            audit.record(db, tenant_id=tenant_id, actor=None, action=label, entity_type="test",
                         entity_id=f"e{i}", detail={"i": i, "note": "ünïcode ok", "score": 2.5})
            db.commit()


@contextmanager
def _past_the_trigger(ctx: Context) -> Iterator[DbSession]:
    """What an attacker with superuser rights could do: write with user triggers off. For this transaction only: a
    plain SET would stay on the pooled connection and switch the trigger off for whichever test gets it next."""
    with ctx.system_db() as db:
        db.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield db
        db.commit()


def _seqs(ctx: Context, tenant_id: uuid.UUID) -> list[int]:
    with ctx.system_db() as db:
        return list(db.scalars(sa.select(AuditEntry.seq).where(AuditEntry.tenant_id == tenant_id)
                               .order_by(AuditEntry.seq)))


def test_entries_are_numbered_and_linked_in_the_order_they_commit(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    with ctx.system_db() as db:
        uploader = authenticate(db, tenant_a.uploader)
    accept_upload(ctx, uploader, io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()), "a.mp3", None)
    _write(ctx, tenant_id, 3)
    with ctx.system_db() as db:
        entries = db.scalars(sa.select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
                             .order_by(AuditEntry.seq)).all()
        head = db.get(AuditHead, tenant_id)
        report = audit.verify_chain(db, tenant_id, _key(ctx))
    # make_tenant issued a token per role: user.created and token.issued for each come first.
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert [e.action for e in entries[-4:]] == ["session.upload"] + ["test.event"] * 3
    assert {e.action for e in entries[:-4]} == {"user.created", "token.issued"}
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in zip(entries, entries[1:], strict=False))
    assert {e.key_id for e in entries} == {_key(ctx).key_id}, "every entry names the key it was sealed under"
    assert head is not None and (head.seq, head.entry_hash) == (len(entries), entries[-1].entry_hash)
    assert report.intact and report.entries == len(entries)


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    _write(ctx, tenant_id, 1)
    with ctx.system_db() as db:
        audit.record(db, tenant_id=tenant_id, actor=None, action="never", entity_type="test", entity_id="x")
        db.rollback()
    _write(ctx, tenant_id, 1)
    seqs = _seqs(ctx, tenant_id)
    assert seqs == list(range(1, len(seqs) + 1))
    with ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                         .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == "never")) == 0
    with ctx.system_db() as db:
        assert audit.verify_chain(db, tenant_id, _key(ctx)).intact


def test_the_database_refuses_to_change_or_delete_an_entry(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    _write(ctx, tenant_id, 2)
    before = _seqs(ctx, tenant_id)
    for statement in (sa.update(AuditEntry).where(AuditEntry.tenant_id == tenant_id).values(action="edited"),
                      sa.delete(AuditEntry).where(AuditEntry.tenant_id == tenant_id)):
        with ctx.system_db() as db, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.execute(statement)
    assert _seqs(ctx, tenant_id) == before


def test_concurrent_writers_make_one_unbroken_chain(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    base = len(_seqs(ctx, tenant_id))
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            start.wait()
            _write(ctx, tenant_id, 10, "concurrent")
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert _seqs(ctx, tenant_id) == list(range(1, base + 81))
    with ctx.system_db() as db:
        assert audit.verify_chain(db, tenant_id, _key(ctx)).intact


WHERE = "WHERE tenant_id = :t AND"
# Entry numbers are relative to the test's five entries ({one}..{five}), written after the tenant's own.
TAMPERING: dict[str, tuple[list[str], str]] = {
    "edit an entry's detail": (
        [f"UPDATE audit_log SET detail = '{{{{\"i\": 99}}}}' {WHERE} seq = {{three}}"],
        "entry {three} (test.event) was changed"),
    "change who did it": ([f"UPDATE audit_log SET actor_id = NULL, action = 'other' {WHERE} seq = {{two}}"],
                          "entry {two}"),
    "backdate an entry": (
        [f"UPDATE audit_log SET created_at = created_at - interval '1 day' {WHERE} seq = {{four}}"],
        "entry {four} (test.event) was changed"),
    "delete an entry in the middle": ([f"DELETE FROM audit_log {WHERE} seq = {{three}}"],
                                      "entries {three}–{three} are missing"),
    "delete the newest entries": ([f"DELETE FROM audit_log {WHERE} seq >= {{four}}"], "removed from the end"),
    "swap two entries": ([f"UPDATE audit_log SET seq = -1 {WHERE} seq = {{two}}",
                          f"UPDATE audit_log SET seq = {{two}} {WHERE} seq = {{three}}",
                          f"UPDATE audit_log SET seq = {{three}} {WHERE} seq = -1"], "does not link"),
    "rewrite an entry and its own hash": (
        [f"UPDATE audit_log SET detail = '{{{{}}}}', entry_hash = repeat('a', 64) {WHERE} seq = {{two}}"],
        "entry {three} does not link"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_every_kind_of_tampering_is_detected(ctx: Context, tenant_a: Tenant, how: str) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    base = len(_seqs(ctx, tenant_id))
    _write(ctx, tenant_id, 5)
    at = dict(zip(("one", "two", "three", "four", "five"), range(base + 1, base + 6), strict=True))
    statements, expected = TAMPERING[how]
    with _past_the_trigger(ctx) as db:
        for statement in statements:
            db.execute(sa.text(statement.format(**at)), {"t": tenant_id})
    with ctx.system_db() as db:
        report = audit.verify_chain(db, tenant_id, _key(ctx))
    assert not report.intact
    assert any(expected.format(**at) in problem for problem in report.problems), report.problems


def rewrite_from(ctx: Context, tenant_id: uuid.UUID, seq: int, detail: dict[str, object], key: AuditKey | None,
                 drop_key_ids: bool = False) -> None:
    """What a database superuser can do past the trigger: change entry `seq`'s detail, recompute the hash of it and
    of every entry after it, linking each to the one before, and move the head onto the new last hash. Without
    the key (`key=None`) the hashes are plain SHA-256, all that can be computed; `drop_key_ids` also blanks the
    key ids, to pass the entries off as written before the key existed."""
    with _past_the_trigger(ctx) as db:
        db.execute(sa.text("UPDATE audit_log SET detail = CAST(:detail AS jsonb) WHERE tenant_id = :t AND seq = :s"),
                   {"detail": json.dumps(detail), "t": tenant_id, "s": seq})
        rows = db.execute(sa.text("SELECT * FROM audit_log WHERE tenant_id = :t AND seq >= :s ORDER BY seq"),
                          {"t": tenant_id, "s": seq}).mappings().all()
        prev = rows[0]["prev_hash"]
        for row in rows:
            digest = entry_hash(prev, row["seq"], row, key=key)
            db.execute(sa.text("UPDATE audit_log SET prev_hash = :prev, entry_hash = :hash WHERE id = :id"),
                       {"prev": prev, "hash": digest, "id": row["id"]})
            if drop_key_ids:
                db.execute(sa.text("UPDATE audit_log SET key_id = NULL WHERE id = :id"), {"id": row["id"]})
            prev = digest
        db.execute(sa.text("UPDATE audit_heads SET entry_hash = :hash WHERE tenant_id = :t"),
                   {"hash": prev, "t": tenant_id})


@pytest.mark.parametrize("key_ids", ["left as they were", "dropped"])
def test_a_superuser_without_the_key_who_rewrites_an_entry_every_later_hash_and_the_head_is_caught(
        ctx: Context, tenant_a: Tenant, key_ids: str) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    base = len(_seqs(ctx, tenant_id))
    _write(ctx, tenant_id, 5)
    three, five = base + 3, base + 5
    rewrite_from(ctx, tenant_id, three, {"i": 99}, key=None, drop_key_ids=key_ids == "dropped")
    with ctx.system_db() as db:
        head = db.get(AuditHead, tenant_id)
        last = db.scalar(sa.select(AuditEntry.entry_hash).where(AuditEntry.tenant_id == tenant_id,
                                                                 AuditEntry.seq == five))
        report = audit.verify_chain(db, tenant_id, _key(ctx))
    assert head is not None and (head.seq, head.entry_hash) == (five, last), "links and head are consistent again"
    expected = (f"entry {three} (test.event) was changed" if key_ids == "left as they were" else
                f"entry {three} is unkeyed but comes after keyed entry")
    assert not report.intact
    assert any(expected in problem for problem in report.problems), report.problems


def test_verify_with_another_key_fails_and_names_both_keys(ctx: Context, database_url: str, tenant_a: Tenant,
                                                          tmp_path) -> None:  # type: ignore[no-untyped-def]
    tenant_id = tenant_id_of(ctx, tenant_a)
    _write(ctx, tenant_id, 2)
    other = AuditKey.from_setting("not-the-deployment-key-4d1f")
    with ctx.system_db() as db:
        report = audit.verify_chain(db, tenant_id, other)
    wrong = (f"were sealed under audit key {_key(ctx).key_id}, not under the configured AUDIT_KEY "
             f"(key {other.key_id}): the wrong key")
    assert not report.intact and wrong in report.problems[0]
    assert not any("was changed" in problem for problem in report.problems), "one clear message, not one per entry"
    done = _run("audit", "verify", "--tenant", tenant_a.name,
                env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "OBJECT_STORE_URL":
                     ctx.settings.object_store_url, "AUDIT_KEY": "not-the-deployment-key-4d1f"})
    assert done.returncode == 1 and wrong in done.stdout


def test_a_process_without_an_audit_key_refuses_to_write_entries(ctx: Context, tenant_a: Tenant) -> None:
    tenant_id = tenant_id_of(ctx, tenant_a)
    before = _seqs(ctx, tenant_id)
    keyless = Context(settings=ctx.settings.model_copy(update={"audit_key": None}), database_url=ctx.database_url,
                      store=ctx.store)
    with pytest.raises(audit.AuditKeyMissing, match="set AUDIT_KEY"):
        _write(keyless, tenant_id, 1)
    assert _seqs(ctx, tenant_id) == before


def test_vigil_audit_verify_names_the_broken_tenant_and_fails(ctx: Context, database_url: str, tenant_a: Tenant,
                                                              tenant_b: Tenant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "OBJECT_STORE_URL": ctx.settings.object_store_url}
    _write(ctx, tenant_id_of(ctx, tenant_a), 3)
    _write(ctx, tenant_id_of(ctx, tenant_b), 2)
    done = _run("audit", "verify", "--tenant", tenant_a.name, "--tenant", tenant_b.name, env=env)
    assert done.returncode == 0, done.stderr
    a_entries, b_entries = len(_seqs(ctx, tenant_id_of(ctx, tenant_a))), len(_seqs(ctx, tenant_id_of(ctx, tenant_b)))
    assert f"{tenant_a.name}: {a_entries} entries, chain intact" in done.stdout
    with _past_the_trigger(ctx) as db:
        db.execute(sa.text("UPDATE audit_log SET detail = '{}' WHERE tenant_id = :t AND seq = :s"),
                   {"t": tenant_id_of(ctx, tenant_b), "s": b_entries})
    done = _run("audit", "verify", "--tenant", tenant_a.name, "--tenant", tenant_b.name, env=env)
    assert done.returncode == 1
    assert f"{tenant_a.name}: {a_entries} entries, chain intact" in done.stdout
    assert f"{tenant_b.name}: {b_entries} entries, 1 problem(s)" in done.stdout
    assert f"entry {b_entries} (test.event)" in done.stdout


def test_chain_of_custody_tells_a_sessions_story_in_order_and_only_to_its_tenant(
        client, ctx: Context, tenant_a: Tenant, tenant_b: Tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.jobs import complete_stage
    from vigil.services.pipeline import run_analyze

    claim = transcribed_session(ctx, tenant_a)
    run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        complete_stage(db, claim, 1.25)
    review = client.post(f"/api/v1/sessions/{claim.session_id}/reviews", headers=tenant_a.headers(),
                         json={"field": "risk_level", "value": "medium", "reason": "Plan in place"})
    assert review.status_code == 201
    answer = client.get(f"/api/v1/sessions/{claim.session_id}/custody", headers=tenant_a.headers("lead"))
    assert answer.status_code == 200
    events = answer.json()["events"]
    assert [e["what"] for e in events] == ["session.upload", "analysis v1", "analyze ready", "review.override"]
    upload, analysis, stage, override = events
    assert upload["actor_email"].startswith("uploader@") and override["actor_email"].startswith("supervisor@")
    assert analysis["detail"]["model"].startswith("vigil-offline-rules + risk-sentences")
    assert analysis["detail"]["prompt_version"]
    assert stage["detail"]["duration_seconds"] == 1.25
    with ctx.system_db() as db:
        head = db.get(AuditHead, claim.tenant_id)
    assert override["detail"]["seq"] == head.seq and override["detail"]["entry_hash"] == head.entry_hash
    assert client.get(f"/api/v1/sessions/{claim.session_id}/custody",
                      headers=tenant_b.headers("admin")).status_code == 404
    assert client.get(f"/api/v1/sessions/{claim.session_id}/custody",
                      headers=tenant_a.headers("uploader")).status_code == 403


def test_sign_ins_exports_tokens_and_role_changes_are_audited(client, ctx: Context,  # type: ignore[no-untyped-def]
                                                              tenant_a: Tenant) -> None:
    from vigil.schemas.enums import Role
    from vigil.services.auth import ensure_user, issue_token

    tenant_id = tenant_id_of(ctx, tenant_a)
    me = client.post("/api/v1/sign-in", params={"client": "dashboard"}, headers=tenant_a.headers("lead"))
    assert me.status_code == 200 and me.json()["role"] == "lead"
    exported = client.post("/api/v1/exports", headers=tenant_a.headers("lead"),
                           json={"table": "review-facts", "rows": 42, "format": "parquet"})
    assert exported.status_code == 204
    assert client.post("/api/v1/exports", headers=tenant_a.headers("uploader"),
                       json={"table": "queue", "rows": 1, "format": "csv"}).status_code == 403
    with ctx.system_db() as db:
        token = issue_token(db, tenant_a.name, "new.lead@clinic.test", Role.lead, label="cli")
        db.commit()
        ensure_user(db, tenant_a.name, "new.lead@clinic.test", Role.supervisor)
        db.commit()
        rows = db.execute(sa.select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.tenant_id == tenant_id)
                          .order_by(AuditEntry.seq)).all()
        report = audit.verify_chain(db, tenant_id, _key(ctx))
    recent = [(action, detail) for action, detail in rows][-5:]
    assert recent == [
        ("user.sign_in", {"client": "dashboard"}),
        ("data.export", {"rows": 42, "format": "parquet"}),
        ("user.created", {"email": "new.lead@clinic.test", "role": "lead"}),
        ("token.issued", {"email": "new.lead@clinic.test", "role": "lead", "label": "cli"}),
        ("user.role_changed", {"email": "new.lead@clinic.test", "before": "lead", "after": "supervisor"}),
    ]
    assert token not in str(rows), "the token itself is never recorded"
    assert report.intact
