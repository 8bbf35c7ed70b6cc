"""The keys partners verify keyturn's tokens with (CONTRACT.md 5.3): JWKS and OpenID
configuration, with no token, and the one signing key behind them."""

from __future__ import annotations

import threading

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from keyturn.app import Runtime, build_runtime, create_app
from keyturn.services.signing import signing_key
from keyturn.settings import Settings
from keyturn.storage.tables import signing_keys


def test_jwks_publishes_one_rs256_signing_key_without_a_token(client: TestClient) -> None:
    response = client.get("/.well-known/jwks")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "kid", "alg", "use", "n", "e"}
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in key  # the private exponent never leaves


def test_jwks_is_the_same_on_every_fetch(client: TestClient) -> None:
    assert client.get("/.well-known/jwks").json() == client.get("/.well-known/jwks").json()


def test_a_token_signed_by_the_key_verifies_with_the_published_jwk(
    client: TestClient, runtime: Runtime
) -> None:
    (published,) = client.get("/.well-known/jwks").json()["keys"]
    token = signing_key(runtime.context).sign({"sub": "x"})
    assert jwt.get_unverified_header(token)["kid"] == published["kid"]
    assert jwt.decode(token, jwt.PyJWK(published).key, algorithms=["RS256"]) == {"sub": "x"}


def test_openid_configuration_names_this_server_by_default(client: TestClient) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json() == {
        "issuer": "http://testserver",
        "jwks_uri": "http://testserver/.well-known/jwks",
    }


@pytest.fixture
def vercel_issuer_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"oidc_issuer": "https://marketplace.vercel.com"})


def test_configured_issuer_is_named_and_the_keys_stay_here(
    vercel_issuer_settings: Settings,
) -> None:
    runtime = build_runtime(vercel_issuer_settings)
    try:
        with TestClient(create_app(runtime)) as client:
            body = client.get("/.well-known/openid-configuration").json()
    finally:
        runtime.store.engine.dispose()
    assert body == {
        "issuer": "https://marketplace.vercel.com",
        "jwks_uri": "http://testserver/.well-known/jwks",
    }


def test_the_key_is_stored_sealed_and_two_servers_on_one_database_share_it(
    runtime: Runtime, settings: Settings
) -> None:
    key = signing_key(runtime.context)
    other = build_runtime(settings)
    try:
        assert signing_key(other.context).kid == key.kid
    finally:
        other.store.engine.dispose()
    with runtime.store.engine.connect() as connection:
        stored = connection.execute(select(signing_keys)).one()
    assert stored.kid == key.kid
    assert b"PRIVATE KEY" not in bytes(stored.private_key_ciphertext)


def test_processes_racing_to_make_the_key_make_one(runtime: Runtime, settings: Settings) -> None:
    runtimes = [build_runtime(settings) for _ in range(4)]
    start = threading.Barrier(len(runtimes))
    kids: list[str] = []

    def first_use(other: Runtime) -> None:
        start.wait()
        kids.append(signing_key(other.context).kid)

    threads = [threading.Thread(target=first_use, args=(other,)) for other in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in runtimes:
        other.store.engine.dispose()
    assert len(set(kids)) == 1
    with runtime.store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(signing_keys)).scalar() == 1
