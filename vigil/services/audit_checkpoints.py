"""Anchors for the audit chain outside the database: each tenant's head, checkpointed to the object store.

A checkpoint is `audit-checkpoints/<tenant>/<seq>.json` holding the head's number, hash and key id. The dispatcher
writes one every AUDIT_CHECKPOINT_INTERVAL_SECONDS for each tenant whose head has moved, `vigil audit checkpoint`
at once. On an S3 bucket with Object Lock each is a locked version (AUDIT_CHECKPOINT_LOCK_MODE, kept for
AUDIT_CHECKPOINT_RETAIN_DAYS): nobody can delete or replace it, the holder of the audit key included; a newer
version or a delete marker only hides it, and the verifier reads every version.

What each defence stops: the HMAC stops whoever can rewrite the database but lacks the key. A checkpoint at entry N
also stops whoever holds the key from rewriting any entry up to N (entry N's hash depends on every entry before
it), and catches entries removed from the end, which leaves a chain that is valid under the key."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session as DbSession

from vigil.audit_chain import AuditKey
from vigil.context import Context
from vigil.db.models import AuditEntry, AuditHead, utcnow
from vigil.services.audit import AuditKeyMissing, ChainReport, seal_holds, verify_chain
from vigil.storage.base import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "audit-checkpoints/"


class Checkpoint(BaseModel):
    """One checkpoint object, as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant_id: uuid.UUID
    seq: int = Field(ge=1)
    entry_hash: str = Field(pattern="^[0-9a-f]{64}$")
    key_id: str | None = Field(description="The audit key the entry was sealed under; null: it predates the key.")
    written_at: datetime


def checkpoint_key(tenant_id: uuid.UUID, seq: int) -> str:
    return f"{PREFIX}{tenant_id}/{seq:012d}.json"  # zero-padded: listed in the order of the chain


@dataclass
class CheckpointRun:
    written: int = 0
    unchanged: int = 0  # tenants whose head was already checkpointed
    refused: dict[str, str] = field(default_factory=dict)  # tenant id → why its head was not anchored
    lock: str | None = None  # the Object Lock mode of what was written; None: the store has none

    def as_json(self) -> dict[str, object]:
        return {"written": self.written, "unchanged": self.unchanged, "refused": len(self.refused), "lock": self.lock}


def write_checkpoints(ctx: Context, tenant_ids: Collection[uuid.UUID] | None = None) -> CheckpointRun:
    """Checkpoint the head of every tenant (or of `tenant_ids`) that has none at its current entry yet. A head
    that does not hold (its entry missing or not sealed right under the key) is not anchored but reported, so
    that a checkpoint never vouches for an entry rewritten without the key."""
    key = ctx.audit_key
    if key is None:
        raise AuditKeyMissing()
    query = sa.select(AuditHead, AuditEntry).outerjoin(
        AuditEntry, sa.and_(AuditEntry.tenant_id == AuditHead.tenant_id, AuditEntry.seq == AuditHead.seq))
    if tenant_ids is not None:
        query = query.where(AuditHead.tenant_id.in_(list(tenant_ids)))
    with ctx.system_db() as db:  # every tenant's head, read-only
        heads = db.execute(query).tuples().all()
    run, now = CheckpointRun(), utcnow()
    retain_until = now + timedelta(days=ctx.settings.audit_checkpoint_retain_days)
    for head, entry in heads:
        object_key = checkpoint_key(head.tenant_id, head.seq)
        if ctx.store.exists(object_key):
            run.unchanged += 1
            continue
        problem = _head_problem(head, entry, key)
        if problem is not None:
            run.refused[str(head.tenant_id)] = problem
            log.error("audit head not checkpointed", extra={"tenant_id": str(head.tenant_id), "problem": problem})
            continue
        assert entry is not None  # _head_problem said so
        checkpoint = Checkpoint(tenant_id=head.tenant_id, seq=head.seq, entry_hash=head.entry_hash,
                                key_id=entry.key_id, written_at=now)
        run.lock = ctx.store.put_locked(object_key, checkpoint.model_dump_json().encode(),
                                        ctx.settings.audit_checkpoint_lock_mode, retain_until)
        run.written += 1
    log.info("audit checkpoints", extra=run.as_json())
    return run


def _head_problem(head: AuditHead, entry: AuditEntry | None, key: AuditKey) -> str | None:
    if entry is None:
        return f"its head names entry {head.seq}, which is missing; run vigil audit verify"
    if entry.entry_hash != head.entry_hash:
        return f"its head does not match entry {head.seq}; run vigil audit verify"
    if entry.key_id not in (None, key.key_id):
        return f"entry {head.seq} was sealed under audit key {entry.key_id}, not the configured one ({key.key_id})"
    if not seal_holds(entry, key):
        return f"entry {head.seq} does not match its hash; run vigil audit verify"
    return None


def read_checkpoints(store: ObjectStore, tenant_id: uuid.UUID) -> tuple[list[Checkpoint], list[str]]:
    """A tenant's checkpoints, every stored version (identical ones once), in the order of the chain; and a
    problem for each object under its prefix that is not one of its checkpoints where it belongs."""
    found: dict[tuple[int, str, str | None], Checkpoint] = {}
    problems: list[str] = []
    for object_key, data in store.read_versions(f"{PREFIX}{tenant_id}/"):
        try:
            checkpoint = Checkpoint.model_validate_json(data)
        except ValidationError:
            problems.append(f"{object_key} is not a checkpoint")
            continue
        if checkpoint.tenant_id != tenant_id or object_key != checkpoint_key(tenant_id, checkpoint.seq):
            problems.append(f"{object_key} holds the checkpoint of entry {checkpoint.seq} of tenant "
                            f"{checkpoint.tenant_id}: it was put where it does not belong")
            continue
        same = (checkpoint.seq, checkpoint.entry_hash, checkpoint.key_id)
        if same not in found or checkpoint.written_at < found[same].written_at:
            found[same] = checkpoint
    return sorted(found.values(), key=lambda c: (c.seq, c.written_at)), problems


def verify_with_checkpoints(db: DbSession, store: ObjectStore, tenant_id: uuid.UUID, key: AuditKey) -> ChainReport:
    """`verify_chain`, then every checkpoint of the tenant held against the entry it names: each entry must still
    be there, with the hash and key id it had when it was checkpointed."""
    report = verify_chain(db, tenant_id, key)
    checkpoints, problems = read_checkpoints(store, tenant_id)
    entries: dict[int, tuple[str, str | None]] = {}
    wanted = sorted({c.seq for c in checkpoints})
    for seqs in (wanted[i:i + 1000] for i in range(0, len(wanted), 1000)):
        entries |= {seq: (digest, key_id) for seq, digest, key_id in db.execute(
            sa.select(AuditEntry.seq, AuditEntry.entry_hash, AuditEntry.key_id)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.in_(seqs)))}
    missing = [c for c in checkpoints if c.seq not in entries]
    if missing:
        problems.append(f"{len(missing)} checkpointed entries are missing ({missing[0].seq}–{missing[-1].seq}, "
                        f"the last checkpointed {missing[-1].written_at:%Y-%m-%d %H:%M} UTC): entries were removed")
    for checkpoint in checkpoints:
        if checkpoint.seq in entries and entries[checkpoint.seq] != (checkpoint.entry_hash, checkpoint.key_id):
            problems.append(f"entry {checkpoint.seq} differs from its checkpoint of "
                            f"{checkpoint.written_at:%Y-%m-%d %H:%M} UTC: the chain up to it was rewritten")
    report.problems.extend(problems)
    report.checkpoints = len(checkpoints)
    report.newest_checkpoint = checkpoints[-1].seq if checkpoints else None
    return report
