"""The one split of the labelled data: a development part for every choice, a locked part for reporting only.

A session belongs to the locked part when the SHA-256 of `vigil-locked/1:<id>` falls in the lowest 30 % of
the hash range. The id is the session's (AnnoMI) or the user's (C-SSRS, one session per user), so no user's
posts are ever on both sides, the split needs no stored list, and it never changes as files are re-read.
Fitting scripts read `development(...)` only; `vigil replay --report` reads `locked(...)` and no script that
makes a choice may. `tests/unit/test_split.py` holds both to that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TypeVar

SALT = "vigil-locked/1"
LOCKED_SHARE = 0.30

T = TypeVar("T")


def is_locked(session_id: str) -> bool:
    digest = hashlib.sha256(f"{SALT}:{session_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < LOCKED_SHARE


def development(sessions: Iterable[T], key: str = "id") -> list[T]:
    return [s for s in sessions if not is_locked(_id(s, key))]


def locked(sessions: Iterable[T], key: str = "id") -> list[T]:
    return [s for s in sessions if is_locked(_id(s, key))]


def split_ids(ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(development, locked) ids, each in the order given."""
    return [i for i in ids if not is_locked(i)], [i for i in ids if is_locked(i)]


def _id(session: object, key: str) -> str:
    return str(session[key] if isinstance(session, dict) else getattr(session, key))
