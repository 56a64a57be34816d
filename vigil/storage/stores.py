"""Opening the configured object store: a local directory or S3, sealed with envelope keys when a keyring is set."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from vigil.settings import Settings
from vigil.storage.base import ObjectStore
from vigil.storage.encrypted import EncryptedStore, keyring_source
from vigil.storage.local import LocalObjectStore
from vigil.storage.s3 import S3ObjectStore


def open_store(settings: Settings) -> ObjectStore:
    """Choose the implementation from OBJECT_STORE_URL: file://DIR or s3://bucket/prefix."""
    parsed = urlparse(settings.object_store_url)
    store: ObjectStore
    if parsed.scheme == "file":
        store = LocalObjectStore(Path(parsed.netloc + parsed.path))
    elif parsed.scheme == "s3":
        store = S3ObjectStore(
            bucket=parsed.netloc,
            prefix=parsed.path.lstrip("/"),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            sse=settings.s3_sse,
            sse_kms_key_id=settings.s3_sse_kms_key_id,
        )
    else:
        raise ValueError(f"unsupported OBJECT_STORE_URL scheme: {settings.object_store_url!r}")
    return with_encryption(store, settings)


def with_encryption(store: ObjectStore, settings: Settings) -> ObjectStore:
    """Transcripts and what is derived from them are sealed with envelope keys when a keyring is configured
    (ENCRYPTION_KEYS, or a keyring file)."""
    source = keyring_source(settings)
    return EncryptedStore(store, source) if source is not None else store
