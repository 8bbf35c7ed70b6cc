"""Where the master keys come from: settings or the key file, and the check against the data."""

from __future__ import annotations

import base64
import secrets
import stat
from collections import Counter
from pathlib import Path

import pytest

from keyturn.storage.encryption import InvalidMasterKey, key_id_of
from keyturn.storage.master_keys import (
    KeysDoNotOpenData,
    MasterKeys,
    configured_master_keys,
    create_key_file,
    decode_key_list,
    encode_key_list,
    read_key_file,
    require_keys_for_data,
    write_key_file,
)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def encoded(key: bytes) -> str:
    return base64.b64encode(key).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_list_keeps_order_current_first_and_ignores_blanks() -> None:
    current, older = new_key(), new_key()
    assert decode_key_list(f" {encoded(current)} ,\n{encoded(older)},") == (current, older)


@pytest.mark.parametrize("text", ["", " , ", "\n"])
def test_empty_key_list_is_refused(text: str) -> None:
    with pytest.raises(InvalidMasterKey, match="no key"):
        decode_key_list(text)


def test_bad_key_in_a_list_is_refused_naming_its_position() -> None:
    with pytest.raises(InvalidMasterKey, match="key 2 of 2: the master key must decode to 32"):
        decode_key_list(f"{encoded(new_key())},{encoded(b'short')}")


def test_master_keys_setting_wins_over_the_key_file(tmp_path: Path) -> None:
    create_key_file(tmp_path)
    current, older = new_key(), new_key()
    keys = configured_master_keys(
        master_keys=encode_key_list([current, older]), master_key=None, data_dir=tmp_path
    )
    assert keys is not None
    assert (keys.keys, keys.source, keys.key_file) == (
        (current, older),
        "KEYTURN_MASTER_KEYS",
        None,
    )


def test_single_master_key_setting_is_a_ring_of_one(tmp_path: Path) -> None:
    key = new_key()
    keys = configured_master_keys(master_keys=None, master_key=encoded(key), data_dir=tmp_path)
    assert keys is not None
    assert (keys.keys, keys.source) == ((key,), "KEYTURN_MASTER_KEY")


def test_no_setting_and_no_key_file_is_no_key_and_creates_nothing(tmp_path: Path) -> None:
    assert configured_master_keys(master_keys=None, master_key=None, data_dir=tmp_path) is None
    assert not (tmp_path / "master.key").exists()


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    created = create_key_file(tmp_path)
    assert mode(tmp_path / "master.key") == 0o600
    assert read_key_file(tmp_path / "master.key").keys == created.keys
    with pytest.raises(FileExistsError):
        create_key_file(tmp_path)


def test_rewritten_key_file_holds_the_new_ring_in_order_with_mode_0600(tmp_path: Path) -> None:
    first = create_key_file(tmp_path)
    rotated = (new_key(), *first.keys)
    write_key_file(tmp_path / "master.key", rotated)
    again = configured_master_keys(master_keys=None, master_key=None, data_dir=tmp_path)
    assert again is not None
    assert again.keys == rotated
    assert mode(tmp_path / "master.key") == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["master.key"]  # no temporary left


def test_repr_of_master_keys_shows_no_key_material() -> None:
    key = new_key()
    keys = MasterKeys((key,), "KEYTURN_MASTER_KEY")
    assert encoded(key) not in repr(keys)
    assert key.hex() not in repr(keys)
    assert key_id_of(key).hex() in keys.describe()


def test_keys_holding_every_key_id_the_data_needs_pass(tmp_path: Path) -> None:
    current, older = new_key(), new_key()
    keys = MasterKeys((current, older), "KEYTURN_MASTER_KEYS")
    in_use = Counter({key_id_of(current): 3, key_id_of(older): 1})
    require_keys_for_data(keys, in_use, key_file=tmp_path / "master.key")


def test_keys_lacking_a_key_id_the_data_needs_are_refused_naming_both(tmp_path: Path) -> None:
    held, needed = new_key(), new_key()
    keys = MasterKeys((held,), "KEYTURN_MASTER_KEY")
    with pytest.raises(KeysDoNotOpenData) as raised:
        require_keys_for_data(keys, Counter({key_id_of(needed): 2}), key_file=tmp_path / "k")
    message = str(raised.value)
    assert message.startswith(f"KEYTURN_MASTER_KEY (key id {key_id_of(held).hex()}) cannot open")
    assert f"needs key id {key_id_of(needed).hex()}" in message
    assert encoded(held) not in message


def test_no_key_over_existing_data_is_refused(tmp_path: Path) -> None:
    needed = new_key()
    with pytest.raises(KeysDoNotOpenData, match=f"sealed with key id {key_id_of(needed).hex()}"):
        require_keys_for_data(None, Counter({key_id_of(needed): 1}), key_file=tmp_path / "k")


def test_no_key_over_an_empty_database_passes(tmp_path: Path) -> None:
    require_keys_for_data(None, Counter(), key_file=tmp_path / "master.key")
