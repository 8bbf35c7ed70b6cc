"""How a resource's secret becomes a project's env var (CONTRACT.md 3.3).

Pure functions: the same rules name the key when a secret is validated, when a connection is
checked for conflicts and when a project's env is derived on read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

Environment = Literal["production", "preview", "development"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("production", "preview", "development")

NEXT_PUBLIC = "NEXT_PUBLIC_"


def in_standard_order(environments: Iterable[str]) -> tuple[str, ...]:
    """The given environments, each once, as production, preview, development."""
    chosen = set(environments)
    return tuple(environment for environment in ENVIRONMENTS if environment in chosen)


def join_prefix(prefix: str | None, name: str) -> str:
    """`name` under `prefix`, with exactly one `_` between them (none added if it ends in `_`)."""
    if not prefix:
        return name
    separator = "" if prefix.endswith("_") else "_"
    return f"{prefix}{separator}{name}"


def derive_env_key(
    secret_name: str, secret_prefix: str | None, connection_prefix: str | None = None
) -> str:
    """The env var key of a secret; a connection's prefix wins over the secret's own.

    `NEXT_PUBLIC_` stays in front so that frameworks still expose the variable to the browser.
    """
    prefix = connection_prefix or secret_prefix
    if secret_name.startswith(NEXT_PUBLIC):
        return NEXT_PUBLIC + join_prefix(prefix, secret_name.removeprefix(NEXT_PUBLIC))
    return join_prefix(prefix, secret_name)


def secret_names_deriving(key: str) -> set[str]:
    """Every secret name from which some prefix could derive `key` with `derive_env_key`.

    A superset: which of them does depends on the prefixes, and `derive_env_key` decides.
    It lets a query look up candidate secrets by name instead of deriving every key.
    """

    def after_underscores(text: str) -> set[str]:
        # A prefix is never empty and always ends where an `_` does (its own or the one added).
        return {text[index + 1 :] for index in range(1, len(text)) if text[index] == "_"}

    names = {key} | after_underscores(key)
    if key.startswith(NEXT_PUBLIC):
        rest = key.removeprefix(NEXT_PUBLIC)
        names |= {NEXT_PUBLIC + tail for tail in after_underscores(rest)}
    return names


def env_var_type(key: str, environment: str, *, make_sensitive: bool) -> str:
    """`sensitive` (never read back) or `encrypted`; development and public keys stay readable."""
    if make_sensitive and environment != "development" and not key.startswith(NEXT_PUBLIC):
        return "sensitive"
    return "encrypted"
