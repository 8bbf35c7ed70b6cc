"""Identifiers and tokens in Vercel's shapes: a kind prefix and random base62 characters."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time

BASE62 = string.ascii_letters + string.digits

# Token bodies are base62 only: the `vercel` CLI refuses a token with any other character.
TOKEN_LENGTH = 40
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_]{1,256}$")


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_id(prefix: str) -> str:
    """An id like `res_4fJ...`: Vercel's kind prefix and 24 random base62 characters."""
    return f"{prefix}_{random_base62(24)}"


def new_env_var_id() -> str:
    """Env var ids are 16 random base62 characters, with no prefix, as Vercel's are."""
    return random_base62(16)


def new_token(kind: str) -> str:
    """A bearer token `kt_<kind>_<base62>`; only `[A-Za-z0-9_]` so every client accepts it."""
    return f"kt_{kind}_{random_base62(TOKEN_LENGTH)}"


def now_ms() -> int:
    """Timestamps on the wire and in storage: integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def hash_token(token: str) -> str:
    """The digest a token is stored and looked up by.

    Tokens are long random strings, so a fast hash suffices: there is nothing to brute-force.
    """
    return hashlib.sha256(token.encode()).hexdigest()
