"""`keyturn serve` refuses keys that cannot open the data; `keyturn keys` and `db reencrypt`.

Real subprocesses on SQLite and PostgreSQL. The world is seeded in-process through the API
(tests/sealed_world.py) with the same data directory and database the commands are given.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from keyturn.app import build_runtime, create_app
from keyturn.settings import Settings
from keyturn.storage.encryption import key_id_of
from keyturn.storage.engine import create_database_engine
from keyturn.storage.master_keys import decode_key_list
from tests.cli.test_cli import clean_env, free_port, keyturn, serving, wait_until_healthy
from tests.conftest import ADMIN_TOKEN, Workspace, seed_partner
from tests.sealed_world import World, everything_readable, key_ids_by_column, seed_world

REENCRYPTED = re.compile(
    r"re-encrypted (\d+) ciphertexts under key id ([0-9a-f]{16}) .*; (\d+) left"
)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def encoded(key: bytes) -> str:
    return base64.b64encode(key).decode()


def seed(
    data_dir: Path, database_url: str, master_key: bytes | None = None
) -> tuple[World, dict[str, str]]:
    """Seed through the API, and read it back; without `master_key`, keyturn makes
    `master.key` itself."""
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        master_key=SecretStr(encoded(master_key)) if master_key else None,
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            partner = seed_partner(client)
            world = seed_world(partner, Workspace(partner))
            return world, everything_readable(client, world)
    finally:
        runtime.store.engine.dispose()


def key_ids_in_database(database_url: str) -> Counter[bytes]:
    engine = create_database_engine(database_url)
    try:
        total: Counter[bytes] = Counter()
        for counts in key_ids_by_column(engine).values():
            total.update(counts)
        return total
    finally:
        engine.dispose()


def key_file_ring(data_dir: Path) -> tuple[bytes, ...]:
    return decode_key_list((data_dir / "master.key").read_text())


def env_for(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    return clean_env(data_dir, KEYTURN_DATABASE_URL=database_url, **settings)


@pytest.mark.parametrize("command", [["serve"], ["db", "reencrypt"]])
def test_another_master_key_exits_2_naming_the_setting_and_the_key_id_the_data_needs(
    tmp_path: Path, database_url: str, command: list[str]
) -> None:
    data_dir, sealing, wrong = tmp_path / "data", new_key(), new_key()
    seed(data_dir, database_url, master_key=sealing)

    result = keyturn(
        *command, env=env_for(data_dir, database_url, KEYTURN_MASTER_KEY=encoded(wrong))
    )

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert (
        f"KEYTURN_MASTER_KEY (key id {key_id_of(wrong).hex()}) cannot open the data, which "
        f"needs key id {key_id_of(sealing).hex()}"
    ) in result.stderr
    output = result.stdout + result.stderr
    for key in (wrong, sealing):
        assert encoded(key) not in output
        assert key.hex() not in output
    assert "Uvicorn running" not in output
    # Refused before the admin token is generated: none printed, no digest written.
    assert "admin token" not in result.stdout
    assert not (data_dir / "admin-token.sha256").exists()


def test_deleted_key_file_over_existing_data_exits_2_and_no_key_is_made(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    seed(data_dir, database_url)
    lost = key_file_ring(data_dir)[0]
    (data_dir / "master.key").unlink()

    result = keyturn("serve", env=env_for(data_dir, database_url))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "does not exist" in result.stderr
    assert f"sealed with key id {key_id_of(lost).hex()}" in result.stderr
    assert "Uvicorn running" not in result.stderr
    assert not (data_dir / "master.key").exists()
    assert not (data_dir / "admin-token.sha256").exists()


@pytest.mark.slow
def test_rotate_reencrypt_resume_retire_then_serve_reads_every_value_with_the_new_key_alone(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    world, expected = seed(data_dir, database_url)
    env = env_for(data_dir, database_url)
    (old,) = key_file_ring(data_dir)
    total = key_ids_in_database(database_url)[key_id_of(old)]

    rotated = keyturn("keys", "rotate", env=env)
    assert rotated.returncode == 0, rotated.stderr
    new, kept = key_file_ring(data_dir)
    assert kept == old
    assert f"new current key id {key_id_of(new).hex()}" in rotated.stdout
    # Only key ids are printed, never the key, in base64 or in hex.
    assert encoded(new) not in rotated.stdout + rotated.stderr
    assert new.hex() not in rotated.stdout + rotated.stderr

    # Interrupted after one batch: part under the new key, the rest still under the old one.
    partial = keyturn("db", "reencrypt", "--batch-size", "2", "--max-batches", "1", env=env)
    assert partial.returncode == 0, partial.stderr
    summary = REENCRYPTED.search(partial.stdout)
    assert summary is not None, partial.stdout
    assert summary.groups() == ("2", key_id_of(new).hex(), str(total - 2))
    assert key_ids_in_database(database_url) == {key_id_of(new): 2, key_id_of(old): total - 2}

    refused = keyturn("keys", "retire", key_id_of(old).hex(), env=env)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert f"{total - 2} ciphertexts are still sealed with key id" in refused.stderr
    assert key_file_ring(data_dir) == (new, old)

    resumed = keyturn("db", "reencrypt", "--batch-size", "3", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"re-encrypted {total - 2} ciphertexts" in resumed.stdout
    assert "; 0 left" in resumed.stdout
    assert key_ids_in_database(database_url) == {key_id_of(new): total}

    status = keyturn("keys", "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["keys"] == [
        {"keyId": key_id_of(new).hex(), "current": True, "held": True, "ciphertexts": total},
        {"keyId": key_id_of(old).hex(), "current": False, "held": True, "ciphertexts": 0},
    ]

    retired = keyturn("keys", "retire", key_id_of(old).hex(), env=env)
    assert retired.returncode == 0, retired.stderr
    assert key_file_ring(data_dir) == (new,)

    port = free_port()
    with (
        serving(
            env={**env, "KEYTURN_PORT": str(port), "KEYTURN_ADMIN_TOKEN": ADMIN_TOKEN},
            stderr_path=tmp_path / "serve.err",
        ) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        wait_until_healthy(server, client)
        assert client.get("/readyz").status_code == 200
        values = everything_readable(client, world)
    assert values == expected


def test_rotate_with_keys_in_a_setting_prints_the_ring_to_set_and_writes_no_file(
    tmp_path: Path, database_url: str
) -> None:
    data_dir, old = tmp_path / "data", new_key()
    seed(data_dir, database_url, master_key=old)
    env = env_for(data_dir, database_url, KEYTURN_MASTER_KEY=encoded(old))

    rotated = keyturn("keys", "rotate", env=env)

    assert rotated.returncode == 0, rotated.stderr
    (line,) = rotated.stdout.splitlines()
    name, _, value = line.partition("=")
    new, kept = decode_key_list(value)
    assert (name, kept) == ("KEYTURN_MASTER_KEYS", old)
    assert "unset KEYTURN_MASTER_KEY" in rotated.stderr
    assert not (data_dir / "master.key").exists()

    ring_env = env_for(data_dir, database_url, KEYTURN_MASTER_KEYS=value)
    reencrypted = keyturn("db", "reencrypt", env=ring_env)
    assert reencrypted.returncode == 0, reencrypted.stderr
    assert "; 0 left" in reencrypted.stdout
    retired = keyturn("keys", "retire", key_id_of(old).hex(), env=ring_env)
    assert retired.returncode == 0, retired.stderr
    assert retired.stdout.strip() == f"KEYTURN_MASTER_KEYS={encoded(new)}"


def test_keys_status_exits_1_listing_a_key_id_the_ring_lacks(
    tmp_path: Path, database_url: str
) -> None:
    data_dir, sealing, held = tmp_path / "data", new_key(), new_key()
    seed(data_dir, database_url, master_key=sealing)

    status = keyturn(
        "keys", "status", env=env_for(data_dir, database_url, KEYTURN_MASTER_KEY=encoded(held))
    )

    assert status.returncode == 1, (status.stdout, status.stderr)
    assert re.search(rf"{key_id_of(held).hex()}\s+current\s+0 ciphertexts", status.stdout)
    assert re.search(
        rf"{key_id_of(sealing).hex()}\s+NOT HELD\s+[1-9]\d* ciphertexts", status.stdout
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["0123456789abcdef"], "is not in the master keys", id="unknown-key-id"),
        pytest.param(None, "is the current key", id="current-key"),
    ],
)
def test_retire_refuses_an_unknown_or_the_current_key_and_keeps_the_file(
    tmp_path: Path, database_url: str, args: list[str] | None, expected: str
) -> None:
    data_dir = tmp_path / "data"
    seed(data_dir, database_url)
    ring = key_file_ring(data_dir)

    result = keyturn(
        "keys", "retire", *(args or [key_id_of(ring[0]).hex()]), env=env_for(data_dir, database_url)
    )

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert key_file_ring(data_dir) == ring


def test_both_master_key_settings_are_refused_naming_both(tmp_path: Path) -> None:
    key = encoded(new_key())
    env = clean_env(tmp_path / "data", KEYTURN_MASTER_KEY=key, KEYTURN_MASTER_KEYS=key)

    result = keyturn("serve", env=env)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "invalid setting KEYTURN_MASTER_KEYS: KEYTURN_MASTER_KEY is set too" in result.stderr
    assert key not in result.stderr
    assert not (tmp_path / "data").exists()


def test_rotate_without_any_key_exits_2_and_makes_none(tmp_path: Path) -> None:
    result = keyturn("keys", "rotate", env=clean_env(tmp_path / "data"))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "no master key to rotate" in result.stderr
    assert not (tmp_path / "data" / "master.key").exists()


def test_help_lists_the_keys_commands_and_db_reencrypt(tmp_path: Path) -> None:
    keys_help = keyturn("keys", "--help", env=clean_env(tmp_path / "data"))
    db_help = keyturn("db", "--help", env=clean_env(tmp_path / "data"))

    assert keys_help.returncode == 0, keys_help.stderr
    for command in ("status", "rotate", "retire"):
        assert re.search(rf"\b{command}\b", keys_help.stdout), keys_help.stdout
    assert re.search(r"\breencrypt\b", db_help.stdout), db_help.stdout
    assert not (tmp_path / "data").exists()


def test_reencrypt_batch_size_below_one_exits_2_naming_the_option(tmp_path: Path) -> None:
    result = keyturn("db", "reencrypt", "--batch-size", "0", env=clean_env(tmp_path / "data"))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "--batch-size" in result.stderr
    assert not (tmp_path / "data").exists()
