"""The key keyturn signs partner tokens with, and the JWKS that publishes it (CONTRACT.md 5.3).

The key is made on first use (the first rotation request, or the first JWKS fetch) rather than
at start, so a server that never rotates never spends the RSA key generation. It lives in the
database, sealed with the master key, so every process and every server on one database signs
with the same key; storage makes it race-safely. Each read opens the stored key again: cheap
next to the partner call it precedes, and a process can never keep signing with a key the
database no longer holds. Parsing the PEM is what costs, so the parsed key is kept per PEM.
"""

from __future__ import annotations

from keyturn.outbound.signing import SigningKey
from keyturn.services.context import ServiceContext


def signing_key(ctx: ServiceContext) -> SigningKey:
    """The key every process signs with; made and stored now if there is none yet."""
    with ctx.store.read() as uow:
        pem = uow.signing_keys.current()
    if pem is None:
        candidate = SigningKey.generate()
        with ctx.store.write() as uow:
            pem = uow.signing_keys.add_unless_one_exists(
                candidate.kid, candidate.private_pem(), at=ctx.clock.now_ms()
            )
            uow.commit()
    return ctx.parsed_keys.key_of(pem)
