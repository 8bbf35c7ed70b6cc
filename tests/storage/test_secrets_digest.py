"""The digest of a resource's secret set, which lets a PUT that repeats the set answer without
opening the stored values (migration 0014, `services.secrets.apply_secrets`).

It may only ever save work: two sets share a digest exactly when they are equal, a digest that
is not known (written before 0014, or under another master key) is found by comparing in full,
and every answer stays what it was without it.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets as random
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select, update

from keyturn.app import Runtime, create_app
from keyturn.domain.secrets import Secret
from keyturn.settings import Settings
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.secrets import secret_set_digest
from keyturn.storage.tables import resources
from tests.conftest import Partner
from tests.storage.test_key_rotation import new_key, runtime_with

SECRETS = [
    {"name": "DATABASE_URL", "value": "postgres://u:p@db/app"},
    {"name": "PGHOST", "value": "db.internal", "prefix": "ACME"},
    {"name": "PGPASSWORD", "value": "hunter2", "environmentOverrides": {"preview": "pv"}},
]
RING = KeyRing(random.token_bytes(32))

secret_sets = st.dictionaries(
    st.sampled_from(["A", "B", "C"]),
    st.tuples(
        st.sampled_from(["", "x", "y", '"', "ü"]),
        st.sampled_from([None, "P", "Q"]),
        st.dictionaries(st.sampled_from(["production", "preview"]), st.sampled_from(["x", "z"])),
    ),
    max_size=3,
)


def _as_secrets(values: dict[str, tuple[str, str | None, dict[str, str]]]) -> dict[str, Secret]:
    return {
        name: Secret(name=name, value=value, prefix=prefix, environment_overrides=overrides)
        for name, (value, prefix, overrides) in values.items()
    }


@given(secret_sets, secret_sets)
def test_two_sets_share_a_digest_exactly_when_they_are_equal(
    one: dict[str, tuple[str, str | None, dict[str, str]]],
    other: dict[str, tuple[str, str | None, dict[str, str]]],
) -> None:
    first, second = _as_secrets(one), _as_secrets(other)
    same_digest = secret_set_digest(RING, first) == secret_set_digest(RING, second)
    assert same_digest == (first == second)


def test_the_same_set_has_another_digest_under_another_master_key() -> None:
    secret_set = _as_secrets({"A": ("x", None, {})})
    other_ring = KeyRing(random.token_bytes(32))
    assert secret_set_digest(RING, secret_set) != secret_set_digest(other_ring, secret_set)


@contextmanager
def statements_on(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL of every statement run meanwhile (the driver runs through SQLAlchemy while a
    listener is attached, so none is missed)."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(runtime.store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", record)


def _version(partner: Partner) -> int:
    version = partner.get_resource()["secretsVersion"]
    assert isinstance(version, int)
    return version


def _digest(runtime: Runtime) -> str | None:
    with runtime.store.engine.connect() as connection:
        found: str | None = connection.execute(select(resources.c.secrets_digest)).scalar_one()
    return found


def _stored_values_read(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "FROM resource_secrets" in sql]


def test_a_put_that_repeats_the_set_reads_no_stored_value(
    partner: Partner, runtime: Runtime
) -> None:
    partner.import_resource("db1", secrets=SECRETS)
    version = _version(partner)
    with statements_on(runtime) as statements:
        status, _ = partner.put_secrets({"secrets": list(reversed(SECRETS))})
    assert status == 201
    assert _version(partner) == version
    assert statements, "the listener saw the request's statements"
    assert _stored_values_read(statements) == []


def test_a_put_that_changes_one_override_makes_a_version(partner: Partner) -> None:
    partner.import_resource("db1", secrets=SECRETS)
    version = _version(partner)
    changed = [*SECRETS[:2], {**SECRETS[2], "environmentOverrides": {"preview": "other"}}]
    status, _ = partner.put_secrets({"secrets": changed})
    assert status == 201
    assert _version(partner) == version + 1
    status, _ = partner.put_secrets({"secrets": SECRETS})
    assert _version(partner) == version + 2


def test_a_digest_not_known_is_found_by_comparing_in_full_and_recorded(
    partner: Partner, runtime: Runtime
) -> None:
    partner.import_resource("db1", secrets=SECRETS)
    version = _version(partner)
    recorded = _digest(runtime)
    assert recorded is not None
    # As a resource written before revision 0014 has it.
    with runtime.store.engine.begin() as connection:
        connection.execute(update(resources).values(secrets_digest=None))

    with statements_on(runtime) as statements:
        status, _ = partner.put_secrets({"secrets": SECRETS})
    assert status == 201
    assert _version(partner) == version
    assert _stored_values_read(statements) != []
    assert _digest(runtime) == recorded

    with statements_on(runtime) as statements:
        partner.put_secrets({"secrets": SECRETS})
    assert _stored_values_read(statements) == []
    assert _version(partner) == version


def test_after_a_master_key_rotation_a_repeat_changes_nothing_and_records_the_new_digest(
    partner: Partner, runtime: Runtime, settings: Settings, master_key: str
) -> None:
    partner.import_resource("db1", secrets=SECRETS)
    version = _version(partner)
    old_digest = _digest(runtime)
    old_key = base64.b64decode(master_key)
    with (
        runtime_with(settings, new_key(), old_key) as rotated,
        TestClient(create_app(rotated)) as client,
    ):
        restarted = dataclasses.replace(partner, client=client)
        status, _ = restarted.put_secrets({"secrets": SECRETS})
        assert status == 201
        assert _version(restarted) == version
        assert _digest(rotated) not in (None, old_digest)
        # A changed set is still a change under the new key.
        status, _ = restarted.put_secrets({"secrets": SECRETS[:2]})
        assert _version(restarted) == version + 1


def test_a_repeat_of_the_set_is_answered_by_one_statement(
    partner: Partner, runtime: Runtime
) -> None:
    partner.import_resource("db1", secrets=SECRETS)
    version = _version(partner)
    with statements_on(runtime) as statements:
        status, _ = partner.put_secrets({"secrets": SECRETS})
    assert status == 201
    assert len(statements) == 1
    assert "FOR UPDATE" not in statements[0]
    assert _version(partner) == version


def test_a_repeat_of_the_set_is_still_refused_as_the_write_would_refuse_it(
    partner: Partner,
) -> None:
    partner.import_resource("db1", secrets=SECRETS)
    path = partner.resource_path() + "/secrets"
    stale = partner.client.put(
        path, json={"secrets": SECRETS}, headers={**partner.auth(), "If-Match": '"999"'}
    )
    assert stale.status_code == 412
    partner.import_resource("db1", status="uninstalled")
    inactive = partner.client.put(path, json={"secrets": SECRETS}, headers=partner.auth())
    assert (inactive.status_code, inactive.json()["error"]["code"]) == (422, "resource_not_active")
    unknown = partner.client.put(
        path, json={"secrets": SECRETS}, headers={"Authorization": "Bearer kt_integration_x"}
    )
    assert unknown.status_code == 401
