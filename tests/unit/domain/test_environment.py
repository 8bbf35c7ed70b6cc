"""Deriving a project's env from a connection, resolving it, and spotting conflicts (pure)."""

from __future__ import annotations

import pytest

from keyturn.domain.environment import (
    ConnectedResource,
    Connection,
    derive_connection_vars,
    derive_target_env,
    derive_target_pulled,
    derived_keys,
    first_conflict,
    resolve_entries,
)
from keyturn.domain.secrets import Secret

RESOURCE = ConnectedResource(
    internal_id="res_1",
    installation_id="icfg_1",
    integration_id="oac_1",
    product_id="iap_1",
    secrets_version=3,
    updated_at=5,
    partner_id="db1",
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


def test_resolve_entries_lets_later_entries_and_the_builds_branch_win() -> None:
    entries = [
        ("A", "user", None),
        ("A", "feat", "feat"),
        ("A", "other-branch", "fix"),
        ("B", "user", None),
        ("B", "derived", None),
    ]
    assert resolve_entries(entries, None) == {"A": "user", "B": "derived"}
    assert resolve_entries(entries, "feat") == {"A": "feat", "B": "derived"}
    assert resolve_entries(entries, "fix") == {"A": "other-branch", "B": "derived"}
    assert resolve_entries([], "feat") == {}


@pytest.mark.parametrize("target", ["production", "preview", "development"])
@pytest.mark.parametrize("make_sensitive", [False, True])
@pytest.mark.parametrize("environments", [("production", "development"), ("preview",)])
def test_target_env_holds_what_the_records_show_in_that_target(
    target: str, make_sensitive: bool, environments: tuple[str, ...]
) -> None:
    shape = connection(environments=environments, prefix="DB1", sensitive=make_sensitive)
    secrets = {
        "URL": Secret("URL", "u", None, {"preview": "u-preview"}),
        "NEXT_PUBLIC_KEY": Secret("NEXT_PUBLIC_KEY", "k", "ACME"),
    }
    records = derive_connection_vars(shape, RESOURCE, secrets, updated_at=1)
    expected = sorted((r.key, r.value, r.type) for r in records if target in r.targets)
    values = [(s.name, s.prefix, s.value, s.environment_overrides) for s in secrets.values()]
    assert sorted(derive_target_env(shape, values, target)) == expected
    assert bool(expected) == (target in environments)


@pytest.mark.parametrize("target", ["production", "preview", "development"])
@pytest.mark.parametrize("make_sensitive", [False, True])
def test_target_pulled_is_the_target_env_as_env_pull_writes_it(
    target: str, make_sensitive: bool
) -> None:
    shape = connection(environments=("production", "preview"), sensitive=make_sensitive)
    values = [
        ("URL", None, "u", {"preview": "u-preview"}),
        ("NEXT_PUBLIC_KEY", "ACME", "k", {}),
    ]
    expected = [
        (key, "" if kind == "sensitive" else value, None)
        for key, value, kind in derive_target_env(shape, values, target)
    ]
    assert derive_target_pulled(shape, values, target) == expected
    # The sensitive rule spares development and `NEXT_PUBLIC_` keys (CONTRACT.md 3.3).
    blanked = {key for key, value, _ in expected if value == ""}
    assert blanked == ({"URL"} if make_sensitive and target != "development" else set())
    assert bool(expected) == (target != "development")
