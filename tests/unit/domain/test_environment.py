"""Deriving a project's env from a connection, resolving it, and spotting conflicts (pure)."""

from __future__ import annotations

import pytest

from keyturn.domain.environment import (
    ConnectedResource,
    Connection,
    EnvVar,
    derive_connection_vars,
    derived_keys,
    first_conflict,
    resolve_env,
)
from keyturn.domain.secrets import Secret

RESOURCE = ConnectedResource(
    internal_id="res_1",
    installation_id="icfg_1",
    integration_id="oac_1",
    product_id="iap_1",
    secrets_version=3,
    updated_at=5,
)


def connection(
    environments: tuple[str, ...] = ("production", "preview", "development"),
    prefix: str | None = None,
    sensitive: bool = False,
) -> Connection:
    return Connection("conn_1", "res_1", "prj_1", environments, prefix, sensitive, created_at=1)


def derived(
    conn: Connection, *secrets: Secret
) -> dict[tuple[str, tuple[str, ...]], tuple[str, str]]:
    found = derive_connection_vars(conn, RESOURCE, {s.name: s for s in secrets}, updated_at=5)
    return {(var.key, var.targets): (var.value, var.type) for var in found}


@pytest.mark.parametrize(
    ("secret", "conn", "expected"),
    [
        (
            Secret("PGHOST", "h", "ACME"),
            connection(),
            {("ACME_PGHOST", ("production", "preview", "development")): ("h", "encrypted")},
        ),
        (
            Secret("PGHOST", "h", "ACME"),
            connection(prefix="DB1"),
            {("DB1_PGHOST", ("production", "preview", "development")): ("h", "encrypted")},
        ),
        (
            Secret("DATABASE_URL", "u"),
            connection(prefix="NEON2_", environments=("production",)),
            {("NEON2_DATABASE_URL", ("production",)): ("u", "encrypted")},
        ),
        (
            Secret("NEXT_PUBLIC_KEY", "k", "ACME"),
            connection(sensitive=True),
            {
                ("NEXT_PUBLIC_ACME_KEY", ("production", "preview", "development")): (
                    "k",
                    "encrypted",
                )
            },
        ),
        (
            Secret("URL", "base", None, {"preview": "pre"}),
            connection(),
            {
                ("URL", ("production", "development")): ("base", "encrypted"),
                ("URL", ("preview",)): ("pre", "encrypted"),
            },
        ),
        (
            Secret("URL", "base"),
            connection(sensitive=True),
            {
                ("URL", ("production", "preview")): ("base", "sensitive"),
                ("URL", ("development",)): ("base", "encrypted"),
            },
        ),
    ],
)
def test_connection_derives_keys_values_and_types(
    secret: Secret, conn: Connection, expected: dict[tuple[str, tuple[str, ...]], tuple[str, str]]
) -> None:
    assert derived(conn, secret) == expected


def test_derived_ids_are_stable_and_distinct() -> None:
    secret = Secret("URL", "base", None, {"preview": "pre"})
    first = derive_connection_vars(connection(), RESOURCE, {"URL": secret}, updated_at=5)
    again = derive_connection_vars(connection(), RESOURCE, {"URL": secret}, updated_at=9)
    assert [v.id for v in first] == [v.id for v in again]
    assert len({v.id for v in first}) == 2
    assert all(len(v.id) == 16 and v.id.isalnum() for v in first)


def test_derived_keys_cover_the_connections_environments_only() -> None:
    keys = derived_keys(connection(environments=("production",), prefix="DB1"), [("A", "X")])
    assert keys == {("DB1_A", "production")}


def test_first_conflict_needs_the_same_key_in_the_same_environment() -> None:
    taken = {("A", "preview"), ("B", "production")}
    assert first_conflict({("A", "production")}, taken) is None
    assert first_conflict({("B", "production"), ("A", "preview")}, taken) == "A"


def _var(key: str, value: str, targets: tuple[str, ...], branch: str | None = None) -> EnvVar:
    return EnvVar("id" + key + value, key, value, "encrypted", targets, branch, 1, 1)


def test_resolve_env_takes_the_targets_variables_and_branch_overrides() -> None:
    variables = [
        _var("A", "prod", ("production",)),
        _var("A", "pre", ("preview",)),
        _var("A", "feat", ("preview",), "feat"),
        _var("B", "all", ("production", "preview")),
    ]
    assert {k: v.value for k, v in resolve_env(variables, "preview", None).items()} == {
        "A": "pre",
        "B": "all",
    }
    assert resolve_env(variables, "preview", "feat")["A"].value == "feat"
    assert resolve_env(variables, "production", "feat")["A"].value == "prod"
    assert resolve_env(variables, "development", None) == {}
