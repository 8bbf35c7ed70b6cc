"""AES-256-GCM at rest: round trips, row binding, key ids and the key file."""

from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

import pytest

from keyturn.storage.encryption import (
    CiphertextError,
    InvalidMasterKey,
    KeyRing,
    decode_master_key,
    key_id_of,
    load_or_create_key_file,
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


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key, created = load_or_create_key_file(tmp_path)
    assert created
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600
    again, created_again = load_or_create_key_file(tmp_path)
    assert (again, created_again) == (key, False)
