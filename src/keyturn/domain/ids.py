"""Identifiers and tokens in Vercel's shapes: a kind prefix and random base62 characters."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import string

BASE62 = string.ascii_letters + string.digits

# Token bodies are base62 only: the `vercel` CLI refuses a token with any other character.
TOKEN_LENGTH = 40
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_]{1,256}$")


class IdSource:
    """Where new ids and tokens come from: cryptographically random unless told otherwise.

    `rng` is for tests and the emulator that want reproducible ids (a seeded `random.Random`);
    tokens drawn from such a source are guessable, so a server always uses the default.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else secrets.SystemRandom()

    def __repr__(self) -> str:
        return "IdSource()"

    def base62(self, length: int) -> str:
        return "".join(self._rng.choice(BASE62) for _ in range(length))

    def new(self, prefix: str) -> str:
        """An id like `res_4fJ...`: Vercel's kind prefix and 24 random base62 characters."""
        return f"{prefix}_{self.base62(24)}"

    def env_var_id(self) -> str:
        """Env var ids are 16 random base62 characters, with no prefix, as Vercel's are."""
        return self.base62(16)

    def token(self, kind: str) -> str:
        """A bearer token `kt_<kind>_<base62>`; only `[A-Za-z0-9_]` so every client accepts it."""
        return f"kt_{kind}_{self.base62(TOKEN_LENGTH)}"


def hash_token(token: str) -> str:
    """The digest a token is stored and looked up by.

    Tokens are long random strings, so a fast hash suffices: there is nothing to brute-force.
    """
    return hashlib.sha256(token.encode()).hexdigest()
