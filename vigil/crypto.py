"""Envelope encryption at rest with AES-256-GCM (`cryptography`).

Each object gets a fresh 256-bit data key (DEK). The payload is encrypted under the DEK; the DEK is encrypted
("wrapped") under a key-encryption key (KEK) from the keyring, whose id is stored beside it. Rotating keys means
re-wrapping each DEK under the new KEK, a few dozen bytes per object, without touching the payload, so rotation
is cheap and can run while the service reads: readers hold every KEK of the keyring, old and new.

Format (all integers big-endian):

    b"VGE1" | kid length (1 byte) | kid (utf-8) | wrap nonce (12) | wrapped DEK (32 + 16 tag)
            | payload nonce (12) | payload ciphertext + 16-byte tag

The wrapped DEK is authenticated with the kid (`b"vigil-dek|" + kid`), and the payload with the caller's `aad`:
Vigil passes the object's key, which binds a ciphertext to its place, so a blob copied under another tenant's or
session's key does not decrypt.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"VGE1"
NONCE = 12
KEY_BYTES = 32
WRAPPED = KEY_BYTES + 16


class DecryptionError(Exception):
    """The blob cannot be opened: unknown key id, wrong place (aad), or tampered with. Never names key material."""


class Keyring:
    """Key-encryption keys by id; new data is sealed under the active one, any of them opens."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if not keys or active not in keys:
            raise ValueError("a keyring needs at least one key, and its active key among them")
        for kid, key in keys.items():
            if not kid or len(kid.encode()) > 255 or not kid.isascii() or ":" in kid or "," in kid:
                raise ValueError(f"invalid key id {kid!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes")
        self._keys = dict(keys)
        self.active_id = active

    @classmethod
    def from_spec(cls, spec: str, active: str | None = None) -> Keyring:
        """`kid1:base64key,kid2:base64key`; the active key is `active`, or the last entry."""
        keys: dict[str, bytes] = {}
        for entry in (part.strip() for part in spec.split(",")):
            kid, sep, encoded = entry.partition(":")
            if not sep or not kid or not encoded:
                raise ValueError("ENCRYPTION_KEYS entries look like 'kid:base64key', separated by commas")
            try:
                keys[kid] = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError:
                raise ValueError(f"key {kid!r} is not base64") from None
        return cls(keys, active=active or kid)

    @staticmethod
    def generate_key() -> str:
        return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()

    def spec(self) -> str:
        """The keyring written back as a spec, the active key last (for storing it, never for logging)."""
        ordered = [kid for kid in self._keys if kid != self.active_id] + [self.active_id]
        return ",".join(f"{kid}:{base64.urlsafe_b64encode(self._keys[kid]).decode()}" for kid in ordered)

    def with_new_active(self, kid: str) -> Keyring:
        return Keyring({**self._keys, kid: base64.urlsafe_b64decode(self.generate_key())}, active=kid)

    def key(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise DecryptionError(f"unknown key id {kid!r}: is it missing from ENCRYPTION_KEYS?") from None

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids}, active={self.active_id!r})"


def _dek_aad(kid: str) -> bytes:
    return b"vigil-dek|" + kid.encode()


def is_sealed(blob: bytes) -> bool:
    return blob[:4] == MAGIC


def _parse(blob: bytes) -> tuple[str, bytes, bytes, int]:
    """(kid, wrap nonce, wrapped DEK, offset of the payload nonce)."""
    if not is_sealed(blob) or len(blob) < 5:
        raise DecryptionError("not a sealed object")
    n = blob[4]
    start = 5 + n
    if len(blob) < start + NONCE + WRAPPED + NONCE + 16:
        raise DecryptionError("sealed object is truncated")
    try:
        kid = blob[5:start].decode()
    except UnicodeDecodeError:
        raise DecryptionError("sealed object has a damaged key id") from None
    return kid, blob[start:start + NONCE], blob[start + NONCE:start + NONCE + WRAPPED], start + NONCE + WRAPPED


def sealed_key_id(blob: bytes) -> str:
    return _parse(blob)[0]


def seal(plaintext: bytes, keyring: Keyring, aad: bytes) -> bytes:
    dek = AESGCM.generate_key(bit_length=256)
    kid = keyring.active_id
    wrap_nonce, nonce = os.urandom(NONCE), os.urandom(NONCE)
    wrapped = AESGCM(keyring.key(kid)).encrypt(wrap_nonce, dek, _dek_aad(kid))
    encoded = kid.encode()
    return (MAGIC + bytes([len(encoded)]) + encoded + wrap_nonce + wrapped + nonce
            + AESGCM(dek).encrypt(nonce, plaintext, aad))


def _unwrap(kid: str, wrap_nonce: bytes, wrapped: bytes, keyring: Keyring) -> bytes:
    try:
        return AESGCM(keyring.key(kid)).decrypt(wrap_nonce, wrapped, _dek_aad(kid))
    except InvalidTag:
        raise DecryptionError(f"the data key under {kid!r} does not open: wrong key or tampered") from None


def open_sealed(blob: bytes, keyring: Keyring, aad: bytes) -> bytes:
    kid, wrap_nonce, wrapped, at = _parse(blob)
    dek = _unwrap(kid, wrap_nonce, wrapped, keyring)
    try:
        return AESGCM(dek).decrypt(blob[at:at + NONCE], blob[at + NONCE:], aad)
    except InvalidTag:
        raise DecryptionError("the payload does not open: tampered, or stored under another key") from None


def rewrap(blob: bytes, keyring: Keyring, aad: bytes) -> bytes:
    """The same payload ciphertext with its data key re-wrapped under the active key (unchanged if it already
    is). The payload is authenticated first, so a damaged blob is reported rather than re-wrapped."""
    kid, wrap_nonce, wrapped, at = _parse(blob)
    if kid == keyring.active_id:
        return blob
    open_sealed(blob, keyring, aad)
    dek = _unwrap(kid, wrap_nonce, wrapped, keyring)
    new_kid = keyring.active_id
    new_nonce = os.urandom(NONCE)
    rewrapped = AESGCM(keyring.key(new_kid)).encrypt(new_nonce, dek, _dek_aad(new_kid))
    encoded = new_kid.encode()
    return MAGIC + bytes([len(encoded)]) + encoded + new_nonce + rewrapped + blob[at:]
