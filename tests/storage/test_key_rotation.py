"""Master key rotation on SQLite and PostgreSQL: re-encrypt, resume, write meanwhile, retire.

Each test seeds a world under the session's key (the `runtime` fixture), then builds other
runtimes on the same database with other key rings, as a restarted server would. Where the
ciphertexts stand is read from the raw tables, not through keyturn.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event, select, update

from keyturn.app import Runtime, build_runtime, create_app
from keyturn.services.keys import count_to_reencrypt, reencrypt
from keyturn.settings import Settings
from keyturn.storage.encryption import CiphertextError, key_id_of
from keyturn.storage.tables import user_env_vars
from tests.conftest import Partner, Workspace, seed_partner
from tests.sealed_world import (
    OLD_VALUE,
    USER_VALUE,
    World,
    everything_readable,
    key_ids_by_column,
    seed_world,
)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def ring_setting(*keys: bytes) -> SecretStr:
    return SecretStr(",".join(base64.b64encode(key).decode() for key in keys))


@contextmanager
def runtime_with(settings: Settings, *keys: bytes) -> Iterator[Runtime]:
    """A runtime on the same database and data directory with another key ring."""
    ring = settings.model_copy(update={"master_key": None, "master_keys": ring_setting(*keys)})
    runtime = build_runtime(ring)
    try:
        yield runtime
    finally:
        runtime.store.engine.dispose()


@pytest.fixture
def world(partner: Partner, workspace: Workspace) -> World:
    return seed_world(partner, workspace)


def test_reencrypt_puts_every_ciphertext_of_every_sealed_column_under_the_new_key(
    runtime: Runtime, settings: Settings, master_key: str, world: World, workspace: Workspace
) -> None:
    old = base64.b64decode(master_key)
    before = everything_readable(workspace.client, world)
    by_column = key_ids_by_column(runtime.store.engine)
    # Every sealed column holds something, so the check below looks at all of them.
    assert all(counts.total() > 0 for counts in by_column.values()), by_column
    assert set().union(*by_column.values()) == {key_id_of(old)}

    new = new_key()
    with runtime_with(settings, new, old) as rotated:
        result = reencrypt(rotated.store, batch_size=3)
        after = key_ids_by_column(rotated.store.engine)

    total = sum(counts.total() for counts in by_column.values())
    assert (result.rewritten, result.remaining) == (total, 0)
    assert {name: set(counts) for name, counts in after.items()} == {
        name: {key_id_of(new)} for name in by_column
    }
    assert {name: counts.total() for name, counts in after.items()} == {
        name: counts.total() for name, counts in by_column.items()
    }
    # Retire the old key: a server holding only the new one reads every value back.
    with runtime_with(settings, new) as retired, TestClient(create_app(retired)) as client:
        assert client.get("/readyz").status_code == 200
        assert everything_readable(client, world) == before


def test_interrupted_reencrypt_leaves_every_value_readable_and_a_second_run_completes(
    runtime: Runtime, settings: Settings, master_key: str, world: World, workspace: Workspace
) -> None:
    old, new = base64.b64decode(master_key), new_key()
    before = everything_readable(workspace.client, world)

    class Interrupted(Exception):
        pass

    def interrupt_after_first_batch(found: int) -> None:
        raise Interrupted

    with runtime_with(settings, new, old) as rotated:
        total = count_to_reencrypt(rotated.store)
        with pytest.raises(Interrupted):
            reencrypt(rotated.store, batch_size=2, on_batch=interrupt_after_first_batch)
        halfway = Counter[bytes]()
        for counts in key_ids_by_column(rotated.store.engine).values():
            halfway.update(counts)
        assert halfway == {key_id_of(new): 2, key_id_of(old): total - 2}
        # Mid-rotation, a server holding both keys reads everything.
        with TestClient(create_app(rotated)) as client:
            assert everything_readable(client, world) == before

        resumed = reencrypt(rotated.store, batch_size=2)
        assert (resumed.rewritten, resumed.remaining) == (total - 2, 0)

    with runtime_with(settings, new) as retired, TestClient(create_app(retired)) as client:
        assert everything_readable(client, world) == before


def test_reencrypt_with_max_batches_stops_there_and_the_next_run_goes_on(
    runtime: Runtime, settings: Settings, master_key: str, world: World
) -> None:
    old, new = base64.b64decode(master_key), new_key()
    with runtime_with(settings, new, old) as rotated:
        total = count_to_reencrypt(rotated.store)
        first = reencrypt(rotated.store, batch_size=1, max_batches=3)
        assert (first.rewritten, first.batches, first.remaining) == (3, 3, total - 3)
        second = reencrypt(rotated.store, batch_size=1)
        assert (second.rewritten, second.remaining) == (total - 3, 0)


def test_reencrypt_with_nothing_under_other_keys_rewrites_nothing(
    runtime: Runtime, world: World
) -> None:
    before = key_ids_by_column(runtime.store.engine)
    result = reencrypt(runtime.store)
    assert (result.rewritten, result.batches, result.remaining) == (0, 0, 0)
    assert key_ids_by_column(runtime.store.engine) == before


def test_reencrypt_refuses_a_batch_size_below_one(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        reencrypt(runtime.store, batch_size=0)


@pytest.mark.slow
def test_reencrypt_while_a_restarted_server_writes_loses_no_write(
    runtime: Runtime,
    settings: Settings,
    master_key: str,
    partner: Partner,
    workspace: Workspace,
) -> None:
    """Requests change values re-encryption is rewriting; every last write survives."""
    world = seed_world(partner, workspace, resources=4)
    var_ids = [
        workspace.add_var(
            world.project_id,
            {"key": f"VAR_{index}", "value": "v0", "type": "encrypted", "target": ["preview"]},
        ).json()["created"][0]["id"]
        for index in range(12)
    ]
    old, new = base64.b64decode(master_key), new_key()
    stop = threading.Event()
    written: dict[str, str] = {}
    failures: list[str] = []

    def write_until_stopped(client: TestClient) -> None:
        round_ = 0
        while not stop.is_set() or round_ < 3:
            round_ += 1
            for index, var_id in enumerate(var_ids):
                value = f"v{round_}"
                patched = client.patch(
                    f"/v9/projects/{world.project_id}/env/{var_id}",
                    json={"value": value},
                    headers=workspace.headers,
                )
                if patched.status_code != 200:
                    failures.append(f"PATCH VAR_{index}: {patched.status_code} {patched.text}")
                    return
                written[f"preview:VAR_{index}"] = value
            put = client.put(
                partner.resource_path("db1") + "/secrets",
                json={"secrets": [{"name": "PGHOST_1", "value": f"h{round_}"}], "partial": True},
                headers=partner.auth(),
            )
            if put.status_code != 201:
                failures.append(f"PUT: {put.status_code} {put.text}")
                return
            written["production:PGHOST_1"] = f"h{round_}"

    # The serving process was restarted with the new ring, as the rotation steps say.
    with runtime_with(settings, new, old) as serving, TestClient(create_app(serving)) as client:
        writer = threading.Thread(target=write_until_stopped, args=(client,))
        writer.start()
        try:
            passes = [reencrypt(serving.store, batch_size=1) for _ in range(3)]
        finally:
            stop.set()
            writer.join(timeout=120)
        assert not writer.is_alive()
        assert failures == []
        assert sum(result.rewritten for result in passes) > 0
        assert passes[-1].remaining == 0
        assert set().union(*key_ids_by_column(serving.store.engine).values()) == {key_id_of(new)}

    with runtime_with(settings, new) as retired, TestClient(create_app(retired)) as reader:
        env = everything_readable(reader, world)
    assert {name: env[name] for name in written} == written
    assert env["production:DATABASE_URL_3"] == f"{OLD_VALUE}/3"
    assert env["production:USER_KEY"] == USER_VALUE


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_value_changed_between_reencrypt_reading_and_writing_it_keeps_the_change(
    runtime: Runtime, settings: Settings, master_key: str, world: World, workspace: Workspace
) -> None:
    """The race made certain: a PATCH commits after re-encryption read the row, before it wrote.

    PostgreSQL only: on SQLite a re-encryption batch holds the write lock (`BEGIN IMMEDIATE`)
    from its read to its commit, so no write can come between.
    """
    old, new = base64.b64decode(master_key), new_key()
    env_path = f"/v9/projects/{world.project_id}/env/{world.env_var_id}"
    patched: list[int] = []
    fired = threading.Event()
    with (
        runtime_with(settings, new, old) as rotated,
        TestClient(create_app(rotated)) as client,
    ):

        def patch_first(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if statement.startswith("UPDATE user_env_vars") and not fired.is_set():
                # Set first: the PATCH's own UPDATE passes through this engine's hook too.
                fired.set()
                response = client.patch(
                    env_path, json={"value": "changed-meanwhile"}, headers=workspace.headers
                )
                patched.append(response.status_code)

        event.listen(rotated.store.engine, "before_cursor_execute", patch_first)
        try:
            reencrypt(rotated.store)
        finally:
            event.remove(rotated.store.engine, "before_cursor_execute", patch_first)
        assert patched == [200]
        assert count_to_reencrypt(rotated.store) == 0
        assert everything_readable(client, world)["production:USER_KEY"] == ("changed-meanwhile")


def test_build_runtime_without_a_key_over_existing_data_refuses_and_creates_no_key_file(
    runtime: Runtime, settings: Settings, world: World
) -> None:
    keyless = settings.model_copy(update={"master_key": None, "master_keys": None})
    with pytest.raises(ValueError, match="does not make a new key over existing data"):
        build_runtime(keyless)
    assert not (runtime.data_dir / "master.key").exists()


def test_build_runtime_without_a_key_over_an_empty_database_creates_the_key_file(
    settings: Settings,
) -> None:
    keyless = settings.model_copy(update={"master_key": None, "master_keys": None})
    runtime = build_runtime(keyless)
    runtime.store.engine.dispose()
    assert runtime.generated_key_file
    assert (runtime.data_dir / "master.key").is_file()


def test_reencrypted_secrets_of_two_installations_open_each_in_its_own_row(
    runtime: Runtime, settings: Settings, master_key: str, client: TestClient
) -> None:
    """The associated data of a secret names its installation, read through the join."""
    first, second = seed_partner(client, "first"), seed_partner(client, "second")
    for partner in (first, second):
        partner.import_resource("db1", secrets=[{"name": "URL", "value": partner.installation_id}])
    old, new = base64.b64decode(master_key), new_key()
    with runtime_with(settings, new, old) as rotated:
        assert reencrypt(rotated.store).remaining == 0
    values = []
    with runtime_with(settings, new) as retired, retired.store.read() as unit:
        for partner in (first, second):
            resource = unit.resources.live(partner.installation_id, "db1")
            assert resource is not None
            values.append(unit.secrets.current(resource)["URL"].value)
    assert values == [first.installation_id, second.installation_id]


def test_reencrypt_stops_at_a_tampered_ciphertext_naming_its_row_and_keeps_earlier_batches(
    runtime: Runtime, settings: Settings, master_key: str, world: World
) -> None:
    with runtime.store.engine.begin() as connection:
        blob = connection.execute(
            select(user_env_vars.c.value_ciphertext).where(user_env_vars.c.id == world.env_var_id)
        ).scalar_one()
        connection.execute(
            update(user_env_vars)
            .where(user_env_vars.c.id == world.env_var_id)
            .values(value_ciphertext=blob[:-1] + bytes([blob[-1] ^ 1]))
        )
    old, new = base64.b64decode(master_key), new_key()
    with runtime_with(settings, new, old) as rotated:
        with pytest.raises(CiphertextError) as raised:
            reencrypt(rotated.store, batch_size=1)
        by_column = key_ids_by_column(rotated.store.engine)
    message = str(raised.value)
    assert f"user_env_vars.value_ciphertext of the row id={world.env_var_id}" in message
    assert USER_VALUE not in message
    # The secrets columns come first in the registry: their batches were committed.
    assert set(by_column["resource_secrets.value_ciphertext"]) == {key_id_of(new)}
    assert set(by_column["user_env_vars.value_ciphertext"]) == {key_id_of(old)}
