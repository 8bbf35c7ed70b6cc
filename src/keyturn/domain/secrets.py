"""A resource's secret set: what a secret is, the rules it must keep, and how updates merge.

A partner sends either the whole set (full replace) or some secrets (partial). The service asks
this module for the resulting set and for the names that changed; only those are written, and a
request that changes nothing makes no new version.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from keyturn.domain.envkeys import ENVIRONMENTS, derive_env_key
from keyturn.domain.errors import Code, RuleViolation

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_NAME_LENGTH = 256
MAX_VALUE_BYTES = 64 * 1024
MAX_SECRETS = 500

# Names the runtime owns; a secret may not shadow them (CONTRACT.md 2.1 step 4).
RESERVED_NAMES = frozenset(
    {
        "AWS_SECRET_KEY",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "NOW_REGION",
        "TZ",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True, slots=True)
class Secret:
    """One secret of a resource. Values stay out of `repr` so they never reach a log."""

    name: str
    value: str = field(repr=False)
    prefix: str | None = None
    environment_overrides: Mapping[str, str] = field(default_factory=dict, repr=False)

    def value_for(self, environment: str) -> str:
        """The value a project sees in `environment`: its override if any, else the value."""
        return self.environment_overrides.get(environment, self.value)


@dataclass(frozen=True, slots=True)
class SecretSetChange:
    """The names an update adds, changes or removes; empty when it changes nothing."""

    added: frozenset[str]
    changed: frozenset[str]
    removed: frozenset[str]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def written(self) -> frozenset[str]:
        """Names that get a new stored row in the new version."""
        return self.added | self.changed


def validate_secrets(secrets: Sequence[Secret]) -> None:
    """Raise the first 422 rule the request's secrets break, in the contract's order."""
    # Nearly every request breaks no rule: one pass over each secret's checks tells so, and
    # only a request that breaks one pays for finding the first in the contract's order.
    if all(map(_breaks_no_rule, secrets)) and len({s.name for s in secrets}) == len(secrets):
        return
    check_rules_in_order(secrets)


def _breaks_no_rule(secret: Secret) -> bool:
    """Whether `secret` keeps every rule `check_rules_in_order` checks of one secret."""
    name, prefix = secret.name, secret.prefix
    return (
        # Too long to keep the rules, and kept out of the cache below so that it stays small.
        len(name) <= MAX_NAME_LENGTH
        and (prefix is None or len(prefix) <= MAX_NAME_LENGTH)
        and _name_keeps_the_rules(name, prefix)
        and len(secret.value.encode()) <= MAX_VALUE_BYTES
        and all(
            len(override.encode()) <= MAX_VALUE_BYTES
            for override in secret.environment_overrides.values()
        )
    )


# A partner sends the same names again and again (every rotation, every sync), so whether a
# name and prefix keep the rules is remembered: 4,096 pairs of at most 256 characters each.
# Names are not secret; values never go in here.
@functools.lru_cache(maxsize=4096)
def _name_keeps_the_rules(name: str, prefix: str | None) -> bool:
    key = derive_env_key(name, prefix)
    return bool(
        SECRET_NAME.fullmatch(name)
        and (prefix is None or SECRET_PREFIX.fullmatch(prefix))
        and len(key) <= MAX_NAME_LENGTH
        and SECRET_NAME.fullmatch(key)
        and name not in RESERVED_NAMES
        and key not in RESERVED_NAMES
    )


def check_rules_in_order(secrets: Sequence[Secret]) -> None:
    """Each rule over every secret before the next rule: the error is the contract's first."""
    for index, secret in enumerate(secrets):
        _check_name(index, secret)
    for index, secret in enumerate(secrets):
        if secret.prefix is not None and not SECRET_PREFIX.fullmatch(secret.prefix):
            raise RuleViolation(
                Code.INVALID_PREFIX,
                f"secrets[{index}].prefix must start with a letter and contain only letters, "
                "digits and underscores",
            )
    for index, secret in enumerate(secrets):
        _check_derived_key(index, secret)
    seen: set[str] = set()
    for index, secret in enumerate(secrets):
        if secret.name in seen:
            raise RuleViolation(
                Code.DUPLICATE_SECRET_NAME,
                f"secrets[{index}].name {secret.name!r} appears more than once in the request",
            )
        seen.add(secret.name)
    for index, secret in enumerate(secrets):
        key = derive_env_key(secret.name, secret.prefix)
        if secret.name in RESERVED_NAMES or key in RESERVED_NAMES:
            raise RuleViolation(
                Code.RESERVED_SECRET_NAME,
                f"secrets[{index}].name {secret.name!r} is reserved by the runtime",
            )
    for index, secret in enumerate(secrets):
        _check_sizes(index, secret)


def _check_name(index: int, secret: Secret) -> None:
    where = f"secrets[{index}].name"
    if not secret.name:
        raise RuleViolation(Code.INVALID_SECRET_NAME, f"{where} must not be empty")
    if len(secret.name) > MAX_NAME_LENGTH:
        raise RuleViolation(
            Code.INVALID_SECRET_NAME, f"{where} is longer than {MAX_NAME_LENGTH} characters"
        )
    if not SECRET_NAME.fullmatch(secret.name):
        raise RuleViolation(
            Code.INVALID_SECRET_NAME,
            f"{where} must match ^[A-Za-z_][A-Za-z0-9_]*$ (letters, digits, underscores)",
        )


def _check_derived_key(index: int, secret: Secret) -> None:
    key = derive_env_key(secret.name, secret.prefix)
    if len(key) > MAX_NAME_LENGTH or not SECRET_NAME.fullmatch(key):
        raise RuleViolation(
            Code.INVALID_SECRET_NAME,
            f"secrets[{index}]: the env var key derived from name and prefix is not a valid "
            f"key of at most {MAX_NAME_LENGTH} characters",
        )


def _check_sizes(index: int, secret: Secret) -> None:
    if len(secret.value.encode()) > MAX_VALUE_BYTES:
        raise RuleViolation(
            Code.VALUE_TOO_LARGE, f"secrets[{index}].value is larger than {MAX_VALUE_BYTES} bytes"
        )
    for environment in ENVIRONMENTS:
        override = secret.environment_overrides.get(environment)
        if override is not None and len(override.encode()) > MAX_VALUE_BYTES:
            raise RuleViolation(
                Code.VALUE_TOO_LARGE,
                f"secrets[{index}].environmentOverrides.{environment} is larger than "
                f"{MAX_VALUE_BYTES} bytes",
            )


def merge_secrets(
    current: Mapping[str, Secret], update: Iterable[Secret], *, partial: bool
) -> dict[str, Secret]:
    """The secret set after an update: partial replaces sent names whole; full replaces all."""
    merged = dict(current) if partial else {}
    for secret in update:
        merged[secret.name] = secret
    return merged


def check_secret_count(secrets: Mapping[str, Secret]) -> None:
    if len(secrets) > MAX_SECRETS:
        raise RuleViolation(
            Code.TOO_MANY_SECRETS,
            f"secrets: a resource holds at most {MAX_SECRETS} secrets; this update would leave "
            f"{len(secrets)}",
        )


def diff_secrets(old: Mapping[str, Secret], new: Mapping[str, Secret]) -> SecretSetChange:
    """Which names an update adds, changes (value, prefix or overrides) or removes."""
    return SecretSetChange(
        added=frozenset(new.keys() - old.keys()),
        changed=frozenset(name for name in new.keys() & old.keys() if new[name] != old[name]),
        removed=frozenset(old.keys() - new.keys()),
    )


# What made a secrets version (CONTRACT.md 5.1 `source`).
VersionSource = Literal["update", "import", "patch", "rotation", "rollback"]


@dataclass(frozen=True, slots=True)
class VersionProvenance:
    """Where a new secrets version came from, recorded with it.

    `rotation_id` names the rotation request (5.3) the version completed. When that request gave
    `delayOldSecretsExpirationHours`, `superseded_expire_after_ms` holds it in milliseconds: the
    values this version supersedes expire that long after it (5.2 `expiresAt`).
    """

    source: VersionSource = "update"
    rotation_id: str | None = None
    superseded_expire_after_ms: int | None = None
