"""The audit log's hash chain: what one entry's hash covers, so that editing, removing or reordering any entry
changes every hash after it. Kept free of the database so the migrations and the verifier share one definition.

Entries are sealed with HMAC-SHA256 under the audit key (AUDIT_KEY), which lives in the secrets backend or, on
the embedded default, in DATA_DIR/audit-key, never in the database: someone who can rewrite the database but does
not hold the key cannot recompute a valid chain. Entries written before the key existed (migration 0014) were
sealed with plain SHA-256; they carry no key id and are verified, and reported, as unkeyed."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of a tenant's first entry
SESSION_KEY = "vigil.audit.key"  # where a database session carries the key its audit entries are sealed with


@dataclass(frozen=True)
class AuditKey:
    """The secret entries are sealed with, and its id: the first 8 hex digits of its SHA-256, stored beside each
    entry (and in each checkpoint) so that a verifier holding another key says so instead of calling every entry
    changed. The secret never appears in a repr."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the audit key must be at least 16 bytes (`vigil up` makes a 32-byte one)")

    @classmethod
    def from_setting(cls, value: str) -> AuditKey:
        return cls(value.strip().encode())

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.secret).hexdigest()[:8]


def entry_hash(prev_hash: str, seq: int, entry: Mapping[str, Any], *, key: AuditKey | None) -> str:
    """HMAC-SHA256 under `key` over the previous hash and the entry's canonical JSON (sorted keys, UTC microsecond
    timestamp). `key=None` is the unkeyed SHA-256 of entries written before 0014, for verifying those only."""
    created: datetime = entry["created_at"]
    body = {
        "seq": seq, "tenant_id": str(entry["tenant_id"]),
        "actor_id": str(entry["actor_id"]) if entry["actor_id"] else None,
        "action": entry["action"], "entity_type": entry["entity_type"], "entity_id": entry["entity_id"],
        "detail": entry["detail"] or {}, "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    message = f"{prev_hash}\n{canonical}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()
