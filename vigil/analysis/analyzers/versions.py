"""Versions of analysis configuration are their content: the same prompt or rubric always has the same version."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_version(kind: str, content: dict[str, Any]) -> str:
    """`<kind>-<first 12 hex of sha256 over canonical JSON>`; key order and whitespace do not matter."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"
