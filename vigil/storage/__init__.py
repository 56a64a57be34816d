"""Object store: one interface, a local-directory and an S3 implementation, deterministic keys."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from vigil.settings import Settings


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
    def presigned_put_url(self, key: str, expires_seconds: int) -> str | None:
        """A URL a client can PUT the object to directly, or None when the store has no such thing."""
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


def analysis_name(version: int) -> str:
    return f"analysis/v{version}.json"


def open_store(settings: Settings) -> ObjectStore:
    """Choose the implementation from OBJECT_STORE_URL: file://DIR or s3://bucket/prefix."""
    parsed = urlparse(settings.object_store_url)
    if parsed.scheme == "file":
        from vigil.storage.local import LocalObjectStore

        return LocalObjectStore(Path(parsed.netloc + parsed.path))
    if parsed.scheme == "s3":
        from vigil.storage.s3 import S3ObjectStore

        return S3ObjectStore(
            bucket=parsed.netloc,
            prefix=parsed.path.lstrip("/"),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
    raise ValueError(f"unsupported OBJECT_STORE_URL scheme: {settings.object_store_url!r}")
