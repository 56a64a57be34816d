"""Append-only, hash-chained audit entries, written in the same transaction as the change they record.

`record` queues an entry on the database session; just before that session commits, its entries are numbered
and chained under a per-tenant transaction lock (taken last, after the transaction's other writes, so it can
only ever wait for another transaction's commit, never deadlock with it), each sealed with HMAC under the audit
key the session carries (`Context` gives every session its process's key). `verify_chain` recomputes a tenant's
chain and names every entry that was edited, removed or reordered, or sealed under another key."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session as DbSession

from vigil.audit_chain import GENESIS, SESSION_KEY, AuditKey, entry_hash
from vigil.db.models import Alert, Analysis, AuditEntry, AuditHead, StageEvent, User, utcnow
from vigil.errors import PermanentError
from vigil.schemas.api import AuditOut, CustodyEvent, CustodyOut
from vigil.services.access import Action, Principal, owned_session

PENDING = "vigil.audit.pending"


class AuditKeyMissing(PermanentError):
    """Audit entries were to be written (or checked) by a process that holds no audit key."""

    code = "audit_key_missing"

    def __init__(self) -> None:
        super().__init__("no audit key: set AUDIT_KEY (environment or secrets backend); `vigil up` keeps one in "
                         "DATA_DIR/audit-key")


def record(db: DbSession, *, tenant_id: uuid.UUID, actor: Principal | None, action: str,
           entity_type: str, entity_id: uuid.UUID | str, detail: dict[str, Any] | None = None) -> None:
    """Queue an entry; it is written, numbered and chained when `db` commits (and dropped if it rolls back)."""
    db.info.setdefault(PENDING, []).append(AuditEntry(
        id=uuid.uuid4(), tenant_id=tenant_id, actor_id=actor.user_id if actor else None, action=action,
        entity_type=entity_type, entity_id=str(entity_id), detail=detail or {}, created_at=utcnow()))


def session_key(db: DbSession) -> AuditKey:
    key = db.info.get(SESSION_KEY)
    if key is None:
        raise AuditKeyMissing()
    return key


def _lock_key(tenant_id: uuid.UUID) -> int:
    return int.from_bytes(tenant_id.bytes[:8], "big", signed=True)


def _head(db: DbSession, tenant_id: uuid.UUID) -> sa.Row[tuple[int, str]] | None:
    return db.execute(sa.select(AuditHead.seq, AuditHead.entry_hash)
                      .where(AuditHead.tenant_id == tenant_id)).one_or_none()


def _link(db: DbSession, tenant_id: uuid.UUID, bodies: list[Mapping[str, Any]],
          key: AuditKey) -> list[tuple[int, str, str]]:
    """Append entries (their hashed fields, in order) to a tenant's chain: under the tenant's transaction lock,
    number them after the head and seal each onto the one before, then move the head. Returns (seq, prev_hash,
    entry_hash) per entry, for the caller to store."""
    db.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(tenant_id))))
    head = _head(db, tenant_id)
    seq, prev = (head.seq, head.entry_hash) if head else (0, GENESIS)
    links = []
    for body in bodies:
        seq += 1
        digest = entry_hash(prev, seq, body, key=key)
        links.append((seq, prev, digest))
        prev = digest
    if links:
        upsert = pg_insert(AuditHead).values(tenant_id=tenant_id, seq=seq, entry_hash=prev)
        db.execute(upsert.on_conflict_do_update(index_elements=["tenant_id"],
                                                set_={"seq": upsert.excluded.seq,
                                                      "entry_hash": upsert.excluded.entry_hash}))
    return links


@event.listens_for(DbSession, "before_commit")
def _seal(db: DbSession) -> None:
    pending: list[AuditEntry] = db.info.pop(PENDING, [])
    if not pending:
        return
    key = session_key(db)
    by_tenant: dict[uuid.UUID, list[AuditEntry]] = defaultdict(list)
    for entry in pending:
        by_tenant[entry.tenant_id].append(entry)
    for tenant_id in sorted(by_tenant, key=str):  # one fixed order across transactions
        entries = by_tenant[tenant_id]
        links = _link(db, tenant_id, [_fields(entry) for entry in entries], key)
        for entry, (seq, prev, digest) in zip(entries, links, strict=True):
            entry.seq, entry.prev_hash, entry.entry_hash, entry.key_id = seq, prev, digest, key.key_id
            db.add(entry)
    db.flush()


def chain_bulk(db: DbSession, tenant_id: uuid.UUID, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For bulk loaders (benchmarks, imports) that INSERT entries as dicts: number and chain them in order of
    `created_at` after the tenant's current head, and move the head. Call inside the transaction that inserts."""
    key = session_key(db)
    full = [{"id": uuid.uuid4(), "actor_id": None, "detail": {}, **row, "tenant_id": tenant_id}
            for row in sorted(rows, key=lambda r: r["created_at"])]
    return [{**row, "seq": seq, "prev_hash": prev, "entry_hash": digest, "key_id": key.key_id}
            for row, (seq, prev, digest) in zip(full, _link(db, tenant_id, full, key), strict=True)]


@event.listens_for(DbSession, "after_rollback")
def _forget(db: DbSession) -> None:
    db.info.pop(PENDING, None)


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"tenant_id": entry.tenant_id, "actor_id": entry.actor_id, "action": entry.action,
            "entity_type": entry.entity_type, "entity_id": entry.entity_id, "detail": entry.detail,
            "created_at": entry.created_at}


def seal_holds(entry: AuditEntry, key: AuditKey) -> bool:
    """Whether an entry's hash matches its content and link: under `key`, or unkeyed for an entry from before the
    audit key. False for an entry sealed under another key (it cannot be checked with this one)."""
    if entry.key_id is not None and entry.key_id != key.key_id:
        return False
    digest = entry_hash(entry.prev_hash, entry.seq, _fields(entry), key=key if entry.key_id else None)
    return digest == entry.entry_hash


@dataclass
class ChainReport:
    tenant_id: uuid.UUID
    entries: int
    problems: list[str]
    key_id: str = ""
    unkeyed: int = 0  # entries from before the audit key: sealed with plain SHA-256
    notes: list[str] = field(default_factory=list)  # what is true and worth knowing, but not a fault
    checkpoints: int = 0  # checkpoints held against the chain (vigil.services.audit_checkpoints)
    newest_checkpoint: int | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(db: DbSession, tenant_id: uuid.UUID, key: AuditKey) -> ChainReport:
    """Walk a tenant's entries in order: numbers must run 1, 2, 3… without gaps, each must link to the one before,
    each must be sealed under `key` (or, for entries from before the audit key, unkeyed; those may only come
    first), each hash must match its content, and the last must be the recorded head."""
    problems: list[str] = []
    expected_seq, prev = 1, GENESIS
    count = unkeyed = 0
    keyed_before: int | None = None  # the first keyed entry seen
    foreign: dict[str, list[int]] = defaultdict(list)  # entries sealed under a key other than `key`, by its id
    rows = db.execute(sa.select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
                      .order_by(AuditEntry.seq).execution_options(yield_per=2000)).scalars()
    for entry in rows:
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entries {expected_seq}–{entry.seq - 1} are missing")
        elif entry.prev_hash != prev:
            problems.append(f"entry {entry.seq} does not link to the entry before it")
        if entry.key_id is None:
            unkeyed += 1
            if keyed_before is not None:
                problems.append(f"entry {entry.seq} is unkeyed but comes after keyed entry {keyed_before}: it was "
                                "rewritten without the audit key")
        elif keyed_before is None:
            keyed_before = entry.seq
        if entry.key_id not in (None, key.key_id):
            foreign[entry.key_id].append(entry.seq)
        elif not seal_holds(entry, key):
            problems.append(f"entry {entry.seq} ({entry.action}) was changed after it was written: its hash does "
                            "not match" + (" under the audit key" if entry.key_id else ""))
        expected_seq, prev = entry.seq + 1, entry.entry_hash
    for key_id, seqs in foreign.items():
        problems.insert(0, f"{len(seqs)} entries ({seqs[0]}–{seqs[-1]}) were sealed under audit key {key_id}, not "
                           f"under the configured AUDIT_KEY (key {key.key_id}): the wrong key, or one rotated away; "
                           "they cannot be checked")
    head = _head(db, tenant_id)
    if head is None and count:
        problems.append("the chain's head record is missing")
    elif head is not None and (head.seq, head.entry_hash) != (expected_seq - 1, prev):
        problems.append(f"the chain ends at entry {expected_seq - 1} but its head says {head.seq}: "
                        "entries were removed from the end" if head.seq > expected_seq - 1 else
                        f"the chain's head does not match entry {expected_seq - 1}")
    notes = [] if not unkeyed or problems else [
        f"entries 1–{unkeyed} predate the audit key and are sealed with plain SHA-256 only: "
        + ("the keyed entry after them and the checkpoints anchor them" if keyed_before else
           "until a keyed entry follows them or a checkpoint anchors them, they could be rewritten unnoticed")]
    return ChainReport(tenant_id=tenant_id, entries=count, problems=problems, key_id=key.key_id, unkeyed=unkeyed,
                       notes=notes)


def chain_of_custody(db: DbSession, principal: Principal, session_id: uuid.UUID) -> CustodyOut:
    """Upload → stages → analyses → reviews for one session of the caller's tenant, oldest first."""
    principal.require(Action.read_content)
    owned_session(db, principal, session_id)
    entries = db.execute(sa.select(AuditEntry, User.email).outerjoin(User, User.id == AuditEntry.actor_id)
                         .where(AuditEntry.tenant_id == principal.tenant_id, AuditEntry.entity_id == str(session_id)))
    events = [CustodyEvent(at=e.created_at, kind="audit", what=e.action, actor_email=email,
                           detail={**e.detail, "seq": e.seq, "entry_hash": e.entry_hash}) for e, email in entries]
    events += [CustodyEvent(at=s.created_at, kind="stage", what=f"{s.stage} {s.event}",
                            detail={"attempt": s.attempt, "duration_seconds": s.duration_seconds,
                                    "job_id": str(s.job_id), **({"detail": s.detail} if s.detail else {})})
               for s in db.scalars(sa.select(StageEvent).where(StageEvent.tenant_id == principal.tenant_id,
                                                               StageEvent.session_id == session_id))]
    events += [CustodyEvent(at=a.created_at, kind="analysis", what=f"analysis v{a.analysis_version}",
                            detail={"model": a.model, "prompt_version": a.prompt_version,
                                    "rubric_version": a.rubric_version, "risk_level": a.risk_level,
                                    "tokens": a.tokens_in + a.tokens_out, "cost_usd": a.cost_usd,
                                    "job_id": str(a.job_id) if a.job_id else None})
               for a in db.scalars(sa.select(Analysis).where(Analysis.tenant_id == principal.tenant_id,
                                                             Analysis.session_id == session_id))]
    events += _alert_events(db, principal.tenant_id, session_id)
    return CustodyOut(session_id=session_id, events=sorted(events, key=lambda e: e.at))


def _alert_events(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID) -> list[CustodyEvent]:
    """Each alert delivery: when it was raised (first or as an escalation) and how it ended; acknowledgements and
    escalations are audit entries of their own."""
    events = []
    for alert in db.scalars(sa.select(Alert).where(Alert.tenant_id == tenant_id, Alert.session_id == session_id)):
        detail = {"alert_id": str(alert.id), "category": alert.category, "severity": alert.severity,
                  "channel": alert.channel_type, "rule": alert.rule_index, "escalation": alert.escalation}
        events.append(CustodyEvent(at=alert.created_at, kind="alert",
                                   what=f"alert {'escalated' if alert.escalation else 'raised'}", detail=detail))
        if alert.status in ("delivered", "dead", "cancelled"):
            events.append(CustodyEvent(at=alert.delivered_at or alert.next_attempt_at, kind="alert",
                                       what=f"alert {alert.status}",
                                       detail={**detail, "attempts": alert.attempts, "last_error": alert.last_error}))
    return events


def session_audit(db: DbSession, principal: Principal, session_id: uuid.UUID) -> list[AuditOut]:
    rows = db.execute(
        sa.select(AuditEntry, User.email)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.tenant_id == principal.tenant_id, AuditEntry.entity_id == str(session_id))
        .order_by(AuditEntry.seq)
    ).all()
    return [
        AuditOut(id=e.id, action=e.action, actor_email=email, entity_type=e.entity_type,
                 entity_id=e.entity_id, detail=e.detail, created_at=e.created_at)
        for e, email in rows
    ]
