"""How a secret becomes an env var key, value and type (CONTRACT.md 3.3), table-driven."""

from __future__ import annotations

import pytest

from keyturn.domain.envkeys import derive_env_key, env_var_type, join_prefix
from keyturn.domain.secrets import Secret


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        (None, "PGHOST", "PGHOST"),
        ("", "PGHOST", "PGHOST"),
        ("ACME", "PGHOST", "ACME_PGHOST"),
        ("NEON2_", "DATABASE_URL", "NEON2_DATABASE_URL"),
        ("A", "B", "A_B"),
    ],
)
def test_join_prefix_puts_one_underscore_between(
    prefix: str | None, name: str, expected: str
) -> None:
    assert join_prefix(prefix, name) == expected


@pytest.mark.parametrize(
    ("secret_name", "secret_prefix", "connection_prefix", "expected"),
    [
        ("PGHOST", "ACME", None, "ACME_PGHOST"),  # provider prefix
        ("PGHOST", "ACME", "DB1", "DB1_PGHOST"),  # connection prefix overrides it
        ("DATABASE_URL", None, "NEON2_", "NEON2_DATABASE_URL"),  # prefix ending in _
        ("NEXT_PUBLIC_KEY", "ACME", None, "NEXT_PUBLIC_ACME_KEY"),  # NEXT_PUBLIC_ stays first
        ("NEXT_PUBLIC_KEY", None, None, "NEXT_PUBLIC_KEY"),
        ("NEXT_PUBLIC_KEY", "ACME", "DB1_", "NEXT_PUBLIC_DB1_KEY"),
        ("PGHOST", None, None, "PGHOST"),
    ],
)
def test_derive_env_key_follows_contract_examples(
    secret_name: str, secret_prefix: str | None, connection_prefix: str | None, expected: str
) -> None:
    assert derive_env_key(secret_name, secret_prefix, connection_prefix) == expected


@pytest.mark.parametrize(
    ("key", "environment", "sensitive", "expected"),
    [
        ("DATABASE_URL", "production", True, "sensitive"),
        ("DATABASE_URL", "preview", True, "sensitive"),
        ("DATABASE_URL", "development", True, "encrypted"),
        ("NEXT_PUBLIC_KEY", "production", True, "encrypted"),
        ("DATABASE_URL", "production", False, "encrypted"),
    ],
)
def test_env_var_type_is_sensitive_only_outside_development_and_public_keys(
    key: str, environment: str, sensitive: bool, expected: str
) -> None:
    assert env_var_type(key, environment, make_sensitive=sensitive) == expected


def test_value_for_environment_prefers_its_override() -> None:
    secret = Secret("URL", "base", environment_overrides={"preview": "preview-value"})
    assert secret.value_for("preview") == "preview-value"
    assert secret.value_for("production") == "base"
    assert secret.value_for("development") == "base"
