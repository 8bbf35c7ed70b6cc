"""The keys partners verify keyturn's tokens with (CONTRACT.md 5.3), with no token needed.

`/.well-known/openid-configuration` names the issuer keyturn's tokens carry and where the JWKS
is. `jwks_uri` is always this server's own address as the request reached it, even when
`KEYTURN_OIDC_ISSUER` names another issuer (such as Vercel's, for partner code that pins it):
the keys are here, whoever the tokens say issued them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from keyturn.http.dependencies import Context
from keyturn.http.openapi import answers
from keyturn.http.wire_out import JwksOut, OpenIdConfigurationOut
from keyturn.services import signing

router = APIRouter(prefix="/.well-known", tags=["oidc"])


@router.get("/jwks", response_model=None, responses=answers(200, JwksOut, 503))
def jwks(context: Context) -> JwksOut:
    """The public keys of keyturn's RS256 tokens."""
    key = signing.signing_key(context).public_jwk()
    return {
        "keys": [
            {
                "kty": "RSA",
                "kid": key["kid"],
                "alg": "RS256",
                "use": "sig",
                "n": key["n"],
                "e": key["e"],
            }
        ]
    }


@router.get(
    "/openid-configuration",
    response_model=None,
    responses=answers(200, OpenIdConfigurationOut),
)
def openid_configuration(request: Request, context: Context) -> OpenIdConfigurationOut:
    """Who issues keyturn's tokens and where their keys are."""
    base_url = str(request.base_url).rstrip("/")
    return {"issuer": context.oidc_issuer or base_url, "jwks_uri": f"{base_url}/.well-known/jwks"}
