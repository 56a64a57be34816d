"""Envelope encryption: AES-256-GCM payloads under per-object data keys, wrapped under key-encryption keys with
their id beside them; any tampering, a wrong place (aad) or an unknown key refuses to open; re-wrapping changes
only the wrapped key."""

from __future__ import annotations

import base64

import pytest

from vigil.crypto import DecryptionError, Keyring, is_sealed, open_sealed, rewrap, seal, sealed_key_id

K1 = base64.urlsafe_b64encode(b"1" * 32).decode()
K2 = base64.urlsafe_b64encode(b"2" * 32).decode()
AAD = b"tenant/session/transcript/agent.json"
SECRET = b"I have been thinking about ending it"


@pytest.fixture
def ring() -> Keyring:
    return Keyring.from_spec(f"k1:{K1}")


def test_a_sealed_blob_opens_to_the_plaintext_and_does_not_contain_it(ring: Keyring) -> None:
    blob = seal(SECRET, ring, AAD)
    assert is_sealed(blob) and SECRET not in blob and sealed_key_id(blob) == "k1"
    assert open_sealed(blob, ring, AAD) == SECRET


def test_each_seal_uses_fresh_keys_and_nonces(ring: Keyring) -> None:
    assert seal(SECRET, ring, AAD) != seal(SECRET, ring, AAD)


def _regions(blob: bytes) -> dict[str, int]:
    start = 5 + blob[4]
    return {"key id": 5, "wrap nonce": start, "wrapped key": start + 12, "payload nonce": start + 12 + 48,
            "ciphertext": start + 12 + 48 + 12, "tag": len(blob) - 1}


@pytest.mark.parametrize("region", ["key id", "wrap nonce", "wrapped key", "payload nonce", "ciphertext", "tag"])
def test_a_flipped_bit_anywhere_refuses_to_open(ring: Keyring, region: str) -> None:
    blob = bytearray(seal(SECRET, ring, AAD))
    blob[_regions(bytes(blob))[region]] ^= 0x01
    with pytest.raises(DecryptionError):
        open_sealed(bytes(blob), ring, AAD)


def test_a_blob_copied_to_another_place_does_not_open(ring: Keyring) -> None:
    blob = seal(SECRET, ring, AAD)
    with pytest.raises(DecryptionError, match="another key"):
        open_sealed(blob, ring, b"other-tenant/session/transcript/agent.json")


def test_an_unknown_key_id_is_named_and_no_key_material_is_shown(ring: Keyring) -> None:
    blob = seal(SECRET, ring, AAD)
    with pytest.raises(DecryptionError) as refused:
        open_sealed(blob, Keyring.from_spec(f"k2:{K2}"), AAD)
    assert "'k1'" in str(refused.value) and K1 not in str(refused.value) and K2 not in str(refused.value)


def test_rewrap_moves_the_data_key_to_the_active_key_and_keeps_the_payload_bytes(ring: Keyring) -> None:
    blob = seal(SECRET, ring, AAD)
    both = Keyring.from_spec(f"k1:{K1},k2:{K2}")
    moved = rewrap(blob, both, AAD)
    assert sealed_key_id(moved) == "k2"
    assert moved[-(len(SECRET) + 16 + 12):] == blob[-(len(SECRET) + 16 + 12):], "payload nonce and ciphertext kept"
    assert open_sealed(moved, Keyring.from_spec(f"k2:{K2}"), AAD) == SECRET  # the old key is no longer needed
    assert rewrap(moved, both, AAD) is moved


def test_rewrap_refuses_a_tampered_blob_rather_than_blessing_it(ring: Keyring) -> None:
    blob = bytearray(seal(SECRET, ring, AAD))
    blob[-1] ^= 0x01
    with pytest.raises(DecryptionError):
        rewrap(bytes(blob), Keyring.from_spec(f"k1:{K1},k2:{K2}"), AAD)


@pytest.mark.parametrize("spec", ["", "k1", "k1:", ":abc", f"k1:{K1[:-8]}", "k1:not base64!!"])
def test_a_malformed_keyring_is_refused_without_echoing_keys(spec: str) -> None:
    with pytest.raises(ValueError) as refused:
        Keyring.from_spec(spec)
    assert K1[:20] not in str(refused.value)


def test_the_active_key_is_the_last_unless_named_and_repr_shows_ids_only() -> None:
    assert Keyring.from_spec(f"k1:{K1},k2:{K2}").active_id == "k2"
    named = Keyring.from_spec(f"k1:{K1},k2:{K2}", active="k1")
    assert named.active_id == "k1"
    assert K1 not in repr(named) and K2 not in repr(named) and "k2" in repr(named)
    with pytest.raises(ValueError):
        Keyring.from_spec(f"k1:{K1}", active="k9")


def test_a_keyring_round_trips_through_its_spec_with_the_active_key_last() -> None:
    ring = Keyring.from_spec(f"k1:{K1},k2:{K2}", active="k1")
    again = Keyring.from_spec(ring.spec())
    assert again.active_id == "k1" and sorted(again.ids) == ["k1", "k2"]
    assert open_sealed(seal(SECRET, ring, AAD), again, AAD) == SECRET
