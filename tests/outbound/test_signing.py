"""The RSA signing key and the RS256 tokens it signs."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keyturn.outbound.signing import SigningKey


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def test_token_verifies_with_the_published_jwk(key: SigningKey) -> None:
    token = key.sign({"iss": "https://k.example", "aud": "oac_1", "iat": 1, "exp": 2})
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("RS256", key.kid)
    public = jwt.PyJWK(key.public_jwk()).key
    claims = jwt.decode(
        token, public, algorithms=["RS256"], audience="oac_1", options={"verify_exp": False}
    )
    assert claims == {"iss": "https://k.example", "aud": "oac_1", "iat": 1, "exp": 2}


def test_another_key_does_not_verify_the_token(key: SigningKey) -> None:
    token = key.sign({"sub": "x"})
    other = jwt.PyJWK(SigningKey.generate().public_jwk()).key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["RS256"])


def test_jwk_is_public_and_named_by_its_rfc7638_thumbprint(key: SigningKey) -> None:
    jwk = key.public_jwk()
    assert set(jwk) == {"kty", "kid", "alg", "use", "n", "e"}
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["e"]) == ("RSA", "RS256", "sig", "AQAB")
    members = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    digest = hashlib.sha256(members.encode()).digest()
    assert jwk["kid"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_pem_round_trip_keeps_the_key_and_its_kid(key: SigningKey) -> None:
    again = SigningKey.from_pem(key.private_pem())
    assert again.kid == key.kid
    assert again.public_jwk() == key.public_jwk()


def test_private_key_stays_out_of_repr(key: SigningKey) -> None:
    assert repr(key) == f"SigningKey(kid={key.kid!r})"
    assert "PRIVATE" not in repr(key)


def test_a_pem_that_is_not_rsa_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="not an RSA key"):
        SigningKey.from_pem(pem)
