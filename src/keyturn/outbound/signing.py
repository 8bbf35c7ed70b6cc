"""The RSA key keyturn signs its partner tokens with (CONTRACT.md 5.3), and the signing.

Tokens are RS256 JWTs built by PyJWT on a `cryptography` key. The key id (`kid`) is the key's
RFC 7638 thumbprint: derived from the public key alone, so every process that holds the key
names it the same without storing the name anywhere else. Where the key is kept (sealed with
the master key, in the database) is the services' and storage's concern: this module only
turns PEM into a key and back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM: Final = "RS256"
# 2048 bits: what RS256 issuers (Vercel's included) publish; generating one takes ~0.1 s.
KEY_BITS: Final = 2048
PUBLIC_EXPONENT: Final = 65537


class SigningKey:
    """A private RSA key that signs RS256 tokens; its private half never reaches `repr`."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key
        numbers = private_key.public_key().public_numbers()
        self._n = _b64url_uint(numbers.n)
        self._e = _b64url_uint(numbers.e)
        # RFC 7638: SHA-256 of the required members, in lexicographic order, without spaces.
        thumbprint_input = json.dumps(
            {"e": self._e, "kty": "RSA", "n": self._n}, separators=(",", ":"), sort_keys=True
        )
        self.kid = _b64url(hashlib.sha256(thumbprint_input.encode()).digest())

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_BITS))

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the stored signing key is not an RSA key")
        return cls(key)

    def private_pem(self) -> str:
        """PKCS #8 PEM, unencrypted: the caller seals it before it is stored."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWKS entry: `{kty, kid, alg, use, n, e}`."""
        return {
            "kty": "RSA",
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
            "n": self._n,
            "e": self._e,
        }

    def sign(self, claims: Mapping[str, Any]) -> str:
        """An RS256 JWT of `claims` with this key's `kid` in its header.

        PyJWT adds no claim of its own: `iat` and `exp` are the caller's, on its clock.
        """
        # Imported on first use: PyJWT compiles large patterns at import (a tenth of a second
        # of every `keyturn serve` start), and only a rotation request signs a token.
        import jwt

        return jwt.encode(
            dict(claims), self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid}
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class ParsedKeys:
    """The last signing key this process parsed, by its PEM: parsing (with the key checks
    `cryptography` runs) costs far more than reading and opening the stored PEM."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pem: str | None = None
        self._key: SigningKey | None = None

    def __repr__(self) -> str:
        return f"ParsedKeys(kid={self._key.kid if self._key else None!r})"

    def key_of(self, pem: str) -> SigningKey:
        with self._lock:
            if self._key is None or self._pem != pem:
                self._key, self._pem = SigningKey.from_pem(pem), pem
            return self._key
