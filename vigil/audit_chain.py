"""The audit log's hash chain: what one entry's hash covers, so that editing, removing or reordering any entry
changes every hash after it. Kept free of the database so the migration and the verifier share one definition."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of a tenant's first entry


def entry_hash(prev_hash: str, seq: int, entry: Mapping[str, Any]) -> str:
    """sha256 over the previous hash and the entry's canonical JSON (sorted keys, UTC microsecond timestamp)."""
    created: datetime = entry["created_at"]
    body = {
        "seq": seq, "tenant_id": str(entry["tenant_id"]),
        "actor_id": str(entry["actor_id"]) if entry["actor_id"] else None,
        "action": entry["action"], "entity_type": entry["entity_type"], "entity_id": entry["entity_id"],
        "detail": entry["detail"] or {}, "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
