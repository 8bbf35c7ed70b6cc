"""A project's env: integration variables derived from connections, and the users' own.

Nothing derived is stored, per project or per deployment. A project's connections and a
deployment's references both have a `DerivationShape` (prefix, environments, sensitivity); with
the secrets of one version it gives the env vars of CONTRACT.md 3.3:

* `derive_target_env`: what a deployment needs, (key, value, type) tuples for one target, with
  no record ids; `derive_target_pulled` the same as `env pull` writes it;
* `derive_connection_vars`: the full records the env listing shows, with their stable ids.

`resolve_entries` is the one rule for which of several variables with the same key a build
sees; `first_conflict` answers, with plain sets, whether a new key collides with one the
project already has in a shared environment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from keyturn.domain.envkeys import ENVIRONMENTS, derive_env_key, env_var_type
from keyturn.domain.ids import BASE62
from keyturn.domain.secrets import Secret

SENSITIVE = "sensitive"
# The types a user may give their own variables.
UserEnvType = Literal["encrypted", "plain", "sensitive"]

T = TypeVar("T")

# A secret as derivation reads it: (name, prefix, value, environment overrides). A tuple, not a
# `Secret`: `env pull` and a deployment's env read one per key, and build nothing more.
SecretValues = tuple[str, str | None, str, Mapping[str, str]]


class DerivationShape(Protocol):
    """What decides the env vars a resource's secrets become: a connection, or a deployment's
    record of the connection as it was."""

    @property
    def environments(self) -> tuple[str, ...]: ...

    @property
    def env_var_prefix(self) -> str | None: ...

    @property
    def make_sensitive(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Connection:
    id: str
    resource_id: str  # the resource's internal id
    project_id: str
    environments: tuple[str, ...]
    env_var_prefix: str | None
    make_sensitive: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class ConnectedResource:
    """What a derived variable's record says about where it comes from."""

    internal_id: str
    installation_id: str
    integration_id: str
    product_id: str
    secrets_version: int
    updated_at: int
    # The partner's own resourceId: what a deployment's event names the resource by.
    partner_id: str


@dataclass(frozen=True, slots=True)
class UserEnvVar:
    id: str
    project_id: str
    key: str
    value: str = field(repr=False)
    type: str
    targets: tuple[str, ...]
    git_branch: str | None
    comment: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One env var record as the API shows it, user-set or derived from a connection."""

    id: str
    key: str
    value: str = field(repr=False)
    type: str
    targets: tuple[str, ...]
    git_branch: str | None
    created_at: int
    updated_at: int
    comment: str | None = None
    # Set on derived variables only.
    source: ConnectedResource | None = None


def derived_var_id(connection_id: str, secret_name: str, targets: Iterable[str]) -> str:
    """A stable 16-character base62 id for a derived variable, the same on every read."""
    digest = hashlib.sha256(f"{connection_id}/{secret_name}/{'+'.join(targets)}".encode()).digest()
    number = int.from_bytes(digest[:16], "big")
    chars = []
    for _ in range(16):
        number, index = divmod(number, len(BASE62))
        chars.append(BASE62[index])
    return "".join(chars)


def derive_connection_vars(
    connection: Connection,
    resource: ConnectedResource,
    secrets: Mapping[str, Secret],
    *,
    updated_at: int,
) -> list[EnvVar]:
    """The env vars `connection` gives its project (CONTRACT.md 3.3).

    Environments in which a secret has the same value and type share one record, as Vercel
    shows them; an override or the sensitive rule splits them.
    """
    derived: list[EnvVar] = []
    for name in sorted(secrets):
        secret = secrets[name]
        key = derive_env_key(secret.name, secret.prefix, connection.env_var_prefix)
        groups: dict[tuple[str, str], list[str]] = {}
        for environment in ENVIRONMENTS:
            if environment in connection.environments:
                kind = env_var_type(key, environment, make_sensitive=connection.make_sensitive)
                groups.setdefault((secret.value_for(environment), kind), []).append(environment)
        for (value, kind), targets in groups.items():
            derived.append(
                EnvVar(
                    id=derived_var_id(connection.id, name, targets),
                    key=key,
                    value=value,
                    type=kind,
                    targets=tuple(targets),
                    git_branch=None,
                    created_at=connection.created_at,
                    updated_at=max(updated_at, connection.created_at),
                    source=resource,
                )
            )
    return derived


def derive_target_env(
    shape: DerivationShape, secrets: Iterable[SecretValues], target: str
) -> list[tuple[str, str, str]]:
    """(key, value, type) of each env var `shape` derives from `secrets` in `target` (3.3).

    The value is the target's override if there is one, as `Secret.value_for` has it.
    """
    if target not in shape.environments:
        return []
    prefix = shape.env_var_prefix
    make_sensitive = shape.make_sensitive
    derived = []
    for name, secret_prefix, value, overrides in secrets:
        key = derive_env_key(name, secret_prefix, prefix)
        kind = env_var_type(key, target, make_sensitive=make_sensitive)
        derived.append((key, overrides.get(target, value), kind))
    return derived


def derive_target_pulled(
    shape: DerivationShape, secrets: Iterable[SecretValues], target: str
) -> list[tuple[str, str, None]]:
    """(key, what `env pull` writes, no branch) of each env var `derive_target_env` gives:
    entries for `resolve_entries`, built in one step since a pull reads one per key."""
    if target not in shape.environments:
        return []
    prefix = shape.env_var_prefix
    make_sensitive = shape.make_sensitive
    pulled = []
    for name, secret_prefix, value, overrides in secrets:
        key = derive_env_key(name, secret_prefix, prefix)
        kind = env_var_type(key, target, make_sensitive=make_sensitive)
        pulled.append((key, pulled_value(overrides.get(target, value), kind), None))
    return pulled


def derived_keys(
    shape: DerivationShape, names_and_prefixes: Iterable[tuple[str, str | None]]
) -> set[tuple[str, str]]:
    """The (key, environment) pairs a connection derives from secrets of these names."""
    return {
        (derive_env_key(name, prefix, shape.env_var_prefix), environment)
        for name, prefix in names_and_prefixes
        for environment in shape.environments
    }


def first_conflict(wanted: Iterable[tuple[str, str]], occupied: set[tuple[str, str]]) -> str | None:
    """The first key (in sorted order) of `wanted` already held in the same environment."""
    clashes = sorted(key for key, environment in wanted if (key, environment) in occupied)
    return clashes[0] if clashes else None


def resolve_entries(
    entries: Iterable[tuple[str, T, str | None]], git_branch: str | None
) -> dict[str, T]:
    """The env a build on `git_branch` sees, from (key, what, branch) entries of its target.

    Of two entries with one key, the later wins, except that an entry for the build's own
    branch wins over every entry without a branch; entries of other branches are left out.
    """
    resolved: dict[str, T] = {}
    branch_specific: dict[str, T] = {}
    for key, what, branch in entries:
        if branch is None:
            resolved[key] = what
        elif branch == git_branch:
            branch_specific[key] = what
    resolved.update(branch_specific)
    return resolved


def pulled_value(value: str, env_type: str) -> str:
    """What `env pull` writes: the value, or "" for a sensitive variable."""
    return "" if env_type == SENSITIVE else value
