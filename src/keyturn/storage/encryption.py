"""Encryption at rest: AES-256-GCM with associated data and a key id in every ciphertext.

Layout of a sealed value::

    b"\\x01" | key id (8 bytes) | nonce (12 bytes) | ciphertext and GCM tag

The associated data names the row a ciphertext belongs to (installation, resource, secret name,
version, field), so a ciphertext copied into another row fails to open instead of leaking there.
The key id lets a key rotation tell old ciphertexts from new ones; `KeyRing` opens with any
key it holds and seals with its primary (current) key. Where the keys come from (settings or the
key file) is master_keys.py's concern.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = b"\x01"
KEY_ID_BYTES = 8
NONCE_BYTES = 12
KEY_BYTES = 32
# Where the key id ends and the GCM ciphertext begins, computed once: `open` runs once per
# secret of every env pull (400 times for 400 keys).
_KEY_ID_END = len(FORMAT_VERSION) + KEY_ID_BYTES
_NONCE_END = _KEY_ID_END + NONCE_BYTES


class InvalidMasterKey(ValueError):
    """The configured master key is not 32 bytes of base64."""


class CiphertextError(ValueError):
    """A ciphertext that does not open: wrong key, tampered, or moved to another row."""


def key_id_of(key: bytes) -> bytes:
    """A stable, non-secret name for a key: the first bytes of its SHA-256."""
    return hashlib.sha256(b"keyturn-key-id:" + key).digest()[:KEY_ID_BYTES]


def key_id_of_ciphertext(blob: bytes) -> bytes:
    """The id of the key a sealed value names (see the layout above)."""
    return bytes(blob[len(FORMAT_VERSION) : _KEY_ID_END])


class KeyRing:
    """Seals with the primary key; opens with whichever held key a ciphertext names."""

    def __init__(self, primary: bytes, *older: bytes) -> None:
        for key in (primary, *older):
            if len(key) != KEY_BYTES:
                raise InvalidMasterKey(f"an AES-256 key is {KEY_BYTES} bytes, not {len(key)}")
        self._primary_id = key_id_of(primary)
        self._primary = primary
        self._keys = {key_id_of(key): AESGCM(key) for key in (primary, *older)}
        self._derived: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"KeyRing(primary={self._primary_id.hex()}, keys={len(self._keys)})"

    @property
    def primary_id(self) -> bytes:
        """The id of the key new values are sealed with."""
        return self._primary_id

    @property
    def key_ids(self) -> frozenset[bytes]:
        """The ids of every key this ring opens with, the primary's included."""
        return frozenset(self._keys)

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use than sealing (the dashboard's session signer), derived from
        the primary key with HKDF: every process holding the ring derives the same one, and
        nothing new needs storing. Rotating the master key changes it."""
        derived = self._derived.get(purpose)
        if derived is None:
            info = f"keyturn derived key: {purpose}".encode()
            derived = HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=info).derive(
                self._primary
            )
            # Per ring and purpose, always the same: derived once, not on every request.
            self._derived[purpose] = derived
        return derived

    def mac(self, purpose: str, message: bytes) -> bytes:
        """HMAC-SHA256 of `message` under the key derived for `purpose`: a digest that says
        whether two messages are equal and nothing else about them, even to someone who reads
        the database. Rotating the master key changes every digest."""
        return hmac.digest(self.derived_key(purpose), message, "sha256")

    def seal(self, plaintext: str, *, associated_data: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._keys[self._primary_id].encrypt(
            nonce, plaintext.encode(), associated_data.encode()
        )
        return FORMAT_VERSION + self._primary_id + nonce + sealed

    def open(self, blob: bytes, *, associated_data: str) -> str:
        # A driver may hand over a memoryview; one copy makes every slice below plain bytes.
        blob = bytes(blob)
        if len(blob) < _NONCE_END or blob[:1] != FORMAT_VERSION:
            raise CiphertextError("not a keyturn ciphertext")
        cipher = self._keys.get(blob[len(FORMAT_VERSION) : _KEY_ID_END])
        if cipher is None:
            raise CiphertextError("sealed with a key this server does not hold")
        try:
            plaintext = cipher.decrypt(
                blob[_KEY_ID_END:_NONCE_END], blob[_NONCE_END:], associated_data.encode()
            )
        except InvalidTag as exc:
            raise CiphertextError("ciphertext does not open for this row") from exc
        return plaintext.decode()


def decode_master_key(encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidMasterKey("the master key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise InvalidMasterKey(
            f"the master key must decode to {KEY_BYTES} bytes, not {len(key)}; "
            "make one with: openssl rand -base64 32"
        )
    return key
