"""AES-256-GCM at rest: round trips, row binding and key ids."""

from __future__ import annotations

import base64
import secrets

import pytest

from keyturn.storage.encryption import (
    CiphertextError,
    InvalidMasterKey,
    KeyRing,
    decode_master_key,
    key_id_of,
    key_id_of_ciphertext,
)


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


def test_sealed_value_opens_with_same_associated_data(key: bytes) -> None:
    ring = KeyRing(key)
    blob = ring.seal("s3cret", associated_data="secret/icfg/res/NAME/1/value")
    assert b"s3cret" not in blob
    assert ring.open(blob, associated_data="secret/icfg/res/NAME/1/value") == "s3cret"


def test_ciphertext_moved_to_another_row_does_not_open(key: bytes) -> None:
    ring = KeyRing(key)
    blob = ring.seal("s3cret", associated_data="secret/icfg/res/NAME/1/value")
    with pytest.raises(CiphertextError):
        ring.open(blob, associated_data="secret/icfg/res/OTHER/1/value")


def test_tampered_ciphertext_does_not_open(key: bytes) -> None:
    ring = KeyRing(key)
    blob = bytearray(ring.seal("s3cret", associated_data="row"))
    blob[-1] ^= 1
    with pytest.raises(CiphertextError):
        ring.open(bytes(blob), associated_data="row")


def test_ciphertext_carries_key_id_and_fresh_nonce(key: bytes) -> None:
    ring = KeyRing(key)
    first = ring.seal("same", associated_data="row")
    second = ring.seal("same", associated_data="row")
    assert first[1:9] == key_id_of(key)
    assert first != second


def test_ring_opens_values_sealed_with_an_older_key(key: bytes) -> None:
    old_blob = KeyRing(key).seal("old", associated_data="row")
    rotated = KeyRing(secrets.token_bytes(32), key)
    assert rotated.open(old_blob, associated_data="row") == "old"


def test_ring_refuses_a_key_it_does_not_hold(key: bytes) -> None:
    blob = KeyRing(key).seal("v", associated_data="row")
    with pytest.raises(CiphertextError):
        KeyRing(secrets.token_bytes(32)).open(blob, associated_data="row")


def test_repr_of_ring_shows_no_key_material(key: bytes) -> None:
    assert base64.b64encode(key).decode() not in repr(KeyRing(key))
    assert key.hex() not in repr(KeyRing(key))


@pytest.mark.parametrize("encoded", ["not base64!!", base64.b64encode(b"short").decode(), ""])
def test_bad_master_key_is_refused_with_reason(encoded: str) -> None:
    with pytest.raises(InvalidMasterKey, match="master key"):
        decode_master_key(encoded)


def test_ring_seals_with_its_first_key_and_names_every_key_it_holds(key: bytes) -> None:
    older = secrets.token_bytes(32)
    ring = KeyRing(key, older)
    blob = ring.seal("v", associated_data="row")
    assert key_id_of_ciphertext(blob) == key_id_of(key) == ring.primary_id
    assert ring.key_ids == {key_id_of(key), key_id_of(older)}
