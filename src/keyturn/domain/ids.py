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
        self._rng = rng

    def __repr__(self) -> str:
        return "IdSource()"

    def base62(self, length: int) -> str:
        if self._rng is None:
            return _random_base62(length)
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


# A random byte below 248 (4 x 62) names a base62 character by its remainder, each of the 62
# equally often; the 8 above are dropped. `bytes.translate` does both in C.
_ACCEPTED = 4 * len(BASE62)
_BYTE_TO_BASE62 = bytes(ord(BASE62[byte % len(BASE62)]) for byte in range(_ACCEPTED)) + bytes(
    256 - _ACCEPTED
)
_REJECTED = bytes(range(_ACCEPTED, 256))


def _random_base62(length: int) -> str:
    """`length` uniformly random base62 characters from the OS's CSPRNG.

    One `token_bytes` call instead of `SystemRandom.choice` per character, which read the OS's
    randomness once per character (about 40 us per id; docs/performance.md "Fourth pass").
    """
    drawn = b""
    while len(drawn) < length:
        # A few bytes to spare: 3% of bytes are dropped, so one draw almost always suffices.
        drawn += secrets.token_bytes(length + 8).translate(_BYTE_TO_BASE62, _REJECTED)
    return drawn[:length].decode("ascii")


def hash_token(token: str) -> str:
    """The digest a token is stored and looked up by.

    Tokens are long random strings, so a fast hash suffices: there is nothing to brute-force.
    """
    return hashlib.sha256(token.encode()).hexdigest()
