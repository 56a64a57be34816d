"""The object store's interface and its deterministic keys: where each artifact of a session lives."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol


class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path) -> int: ...
    def put_stream(self, key: str, stream: BinaryIO) -> int: ...
    def put_bytes(self, key: str, data: bytes) -> int: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def open_stream(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list_keys(self, prefix: str = "") -> Iterator[str]: ...
    def put_locked(self, key: str, data: bytes, mode: str, retain_until: datetime) -> str | None:
        """Write an object nobody may overwrite or delete before `retain_until` where the store can enforce that
        (S3 Object Lock in `mode`, COMPLIANCE or GOVERNANCE); returns the mode applied, or None when the store has
        no lock and this was an ordinary write."""
        ...
    def read_versions(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """(key, content) of every stored version of every object under `prefix`, versions hidden by a newer write
        or a delete marker included; a store that keeps no versions yields each object once."""
        ...
    def presigned_put_url(self, key: str, expires_seconds: int) -> str | None:
        """A URL a client can PUT the object to directly, or None when the store has no such thing."""
        ...
    def upload_headers(self) -> dict[str, str]:
        """Headers a PUT to a presigned URL must send (e.g. the server-side encryption it was signed with)."""
        ...


def session_prefix(tenant_id: uuid.UUID, session_id: uuid.UUID) -> str:
    return f"{tenant_id}/{session_id}/"


def artifact_key(tenant_id: uuid.UUID, session_id: uuid.UUID, name: str) -> str:
    """`{tenant_id}/{session_id}/<name>`: the same input always lands at the same key."""
    if name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"artifact name must be relative: {name!r}")
    return session_prefix(tenant_id, session_id) + name


def original_name(ext: str) -> str:
    return f"original.{ext}"


AUDIO_NAME = "audio.flac"


def transcript_raw_name(provider: str) -> str:
    return f"transcript/raw/{provider}.json"


TRANSCRIPT_AGENT_NAME = "transcript/agent.json"
TRANSCRIPT_REFINED_NAME = "transcript/refined.json"
# Redaction: agent.json holds the redacted transcript; the original and the findings sit beside it.
TRANSCRIPT_ORIGINAL_NAME = "transcript/original.json"
TRANSCRIPT_REDACTIONS_NAME = "transcript/redactions.json"
TRANSCRIPT_DIARIZATION_NAME = "transcript/diarization.json"  # speaker turns (times only, no text)


def analysis_name(version: int) -> str:
    return f"analysis/v{version}.json"
