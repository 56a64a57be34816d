"""An object store that seals transcripts and what is derived from them (analyses) with envelope keys
(vigil.crypto) before they reach the inner store, and opens them on the way out. Media and audio pass through:
they are large, streamed, and on S3 already encrypted server-side; transcripts are the searchable text of a
session, so they get keys Vigil holds.

Objects written before encryption was turned on are read as they are, and `rewrap_prefix` seals them; after a
key rotation it re-wraps every data key under the new active key without re-encrypting a payload."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from vigil.crypto import DecryptionError, Keyring, is_sealed, open_sealed, rewrap, seal, sealed_key_id
from vigil.settings import Settings
from vigil.storage.base import ObjectStore

log = logging.getLogger(__name__)

SEALED_PREFIXES = ("transcript/", "analysis/")


def seals_transcripts(key: str) -> bool:
    """Keys are `{tenant}/{session}/<name>`: sealed when the name is a transcript or analysis artifact."""
    parts = key.split("/", 2)
    return len(parts) == 3 and parts[2].startswith(SEALED_PREFIXES)


class KeyringFile:
    """A keyring kept in a file, re-read whenever the file changes: `vigil keys rotate` adds a key there and every
    running process picks it up at its next read or write, with no restart (the old keys stay, so nothing that
    was sealed before becomes unreadable)."""

    def __init__(self, path: Path, active: str | None = None) -> None:
        self.path, self.active = path, active
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keyring: Keyring | None = None

    def __call__(self) -> Keyring:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp or self._keyring is None:
                self._keyring = Keyring.from_spec(self.path.read_text().strip(), self.active)
                self._stamp = stamp
            return self._keyring

    def __repr__(self) -> str:
        return f"KeyringFile({str(self.path)!r})"


def keyring_source(settings: Settings) -> Callable[[], Keyring] | None:
    """ENCRYPTION_KEYS (fixed for the process) wins over a keyring file; neither → no encryption."""
    if settings.encryption_keys:
        keyring = Keyring.from_spec(settings.encryption_keys, settings.encryption_active_key)
        return lambda: keyring
    if settings.encryption_keys_file:
        return KeyringFile(settings.encryption_keys_file, settings.encryption_active_key)
    return None


@dataclass
class RewrapReport:
    examined: int = 0
    rewrapped: int = 0
    sealed_from_plaintext: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0


class EncryptedStore:
    def __init__(self, inner: ObjectStore, keyring: Keyring | Callable[[], Keyring],
                 encrypts: Callable[[str], bool] = seals_transcripts) -> None:
        self.inner = inner
        self._keyring = keyring if callable(keyring) and not isinstance(keyring, Keyring) else (lambda: keyring)
        self.encrypts = encrypts

    @property
    def keyring(self) -> Keyring:
        return self._keyring()

    def __repr__(self) -> str:
        return f"EncryptedStore({self.inner!r})"

    def _open(self, key: str, data: bytes) -> bytes:
        return open_sealed(data, self.keyring, key.encode()) if is_sealed(data) else data

    def put_bytes(self, key: str, data: bytes) -> int:
        if self.encrypts(key):
            self.inner.put_bytes(key, seal(data, self.keyring, key.encode()))
            return len(data)
        return self.inner.put_bytes(key, data)

    def put_stream(self, key: str, stream: BinaryIO) -> int:
        return self.put_bytes(key, stream.read()) if self.encrypts(key) else self.inner.put_stream(key, stream)

    def put_file(self, key: str, path: Path) -> int:
        return self.put_bytes(key, path.read_bytes()) if self.encrypts(key) else self.inner.put_file(key, path)

    def get_bytes(self, key: str) -> bytes:
        data = self.inner.get_bytes(key)
        return self._open(key, data) if self.encrypts(key) else data

    def download(self, key: str, path: Path) -> None:
        if self.encrypts(key):
            path.write_bytes(self.get_bytes(key))
        else:
            self.inner.download(key, path)

    def open_stream(self, key: str) -> BinaryIO:
        return io.BytesIO(self.get_bytes(key)) if self.encrypts(key) else self.inner.open_stream(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        return self.inner.delete_prefix(prefix)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list_keys(prefix)

    def put_locked(self, key: str, data: bytes, mode: str, retain_until: datetime) -> str | None:
        if self.encrypts(key):  # a locked object could never be re-wrapped after a key rotation
            raise ValueError(f"{key!r} would be sealed: locked objects are written as they are")
        return self.inner.put_locked(key, data, mode, retain_until)

    def read_versions(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        for key, data in self.inner.read_versions(prefix):
            yield key, self._open(key, data) if self.encrypts(key) else data

    def presigned_put_url(self, key: str, expires_seconds: int) -> str | None:
        return self.inner.presigned_put_url(key, expires_seconds)

    def upload_headers(self) -> dict[str, str]:
        return self.inner.upload_headers()

    def rewrap_prefix(self, prefix: str = "") -> RewrapReport:
        """Bring every sealed object under `prefix` to the active key, and seal any still in plaintext. Safe while
        the service runs: each object is replaced whole (atomically on both stores) and readers hold every key."""
        report = RewrapReport()
        keyring = self.keyring
        for key in list(self.inner.list_keys(prefix)):
            if not self.encrypts(key):
                continue
            report.examined += 1
            data = self.inner.get_bytes(key)
            if is_sealed(data) and sealed_key_id(data) == keyring.active_id:
                report.already_current += 1
                continue
            replacement = rewrap(data, keyring, key.encode()) if is_sealed(data) else seal(data, keyring, key.encode())
            if self.inner.get_bytes(key) != data:  # rewritten meanwhile, under the active key: leave it be
                report.changed_meanwhile += 1
                continue
            self.inner.put_bytes(key, replacement)
            if is_sealed(data):
                report.rewrapped += 1
            else:
                report.sealed_from_plaintext += 1
        log.info("rewrap done", extra=report.__dict__)
        return report


def seal_value(store: ObjectStore, data: bytes, place: str) -> bytes:
    """A value kept in the database sealed like a transcript (the store's keyring, `place` as the binding), so a
    dump of the database shows none of it. A store without a keyring keeps it as it is."""
    if isinstance(store, EncryptedStore):
        return seal(data, store.keyring, place.encode())
    return data


def open_value(store: ObjectStore, blob: bytes, place: str) -> bytes:
    """The value `seal_value` kept at `place` (a value kept before sealing began is returned as it is)."""
    if is_sealed(blob):
        if not isinstance(store, EncryptedStore):
            raise DecryptionError("a sealed value, and no keyring to open it (ENCRYPTION_KEYS)")
        return open_sealed(blob, store.keyring, place.encode())
    return blob


def rewrap_value(store: ObjectStore, blob: bytes, place: str) -> bytes:
    """A value `seal_value` kept, its data key wrapped under the active key (a plaintext value is sealed)."""
    if not isinstance(store, EncryptedStore):
        return blob
    if not is_sealed(blob):
        return seal(blob, store.keyring, place.encode())
    return rewrap(blob, store.keyring, place.encode())
