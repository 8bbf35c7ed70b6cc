"""How a secret becomes an env var key, value and type (CONTRACT.md 3.3), table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.domain.envkeys import derive_env_key, env_var_type, join_prefix, secret_names_deriving
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


names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    st.from_regex(r"NEXT_PUBLIC_[A-Za-z0-9_]{0,8}", fullmatch=True),
)
prefixes = st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True))


@given(name=names, secret_prefix=prefixes, connection_prefix=prefixes)
def test_every_key_names_the_secret_it_came_from(
    name: str, secret_prefix: str | None, connection_prefix: str | None
) -> None:
    key = derive_env_key(name, secret_prefix, connection_prefix)
    assert name in secret_names_deriving(key)


def test_names_deriving_a_key_are_its_tails_after_underscores() -> None:
    assert secret_names_deriving("DB1_DATABASE_URL") == {
        "DB1_DATABASE_URL",
        "DATABASE_URL",
        "URL",
    }
    assert secret_names_deriving("NEXT_PUBLIC_ACME_KEY") >= {"NEXT_PUBLIC_KEY", "ACME_KEY"}
    assert secret_names_deriving("PGHOST") == {"PGHOST"}
