"""Where the master keys come from, and the rule that they must open the data that exists.

Exactly one source holds the key ring, the current key first:

* `KEYTURN_MASTER_KEYS`: comma-separated base64 keys;
* `KEYTURN_MASTER_KEY`: one key;
* otherwise the key file `master.key` in the data directory: one base64 key per line.

Older keys in a ring only open what they sealed; everything new is sealed with the current key.
A key file is created only when there is no key anywhere and the database holds no ciphertext:
a fresh key over existing data would leave every value unreadable. Rotating rewrites the key file
whole (a temporary file renamed over it), so a crash leaves either the old ring or the new one.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from keyturn.storage.encryption import (
    KEY_BYTES,
    InvalidMasterKey,
    KeyRing,
    decode_master_key,
    key_id_of,
)

KEY_FILE_NAME = "master.key"
MASTER_KEYS_SETTING = "KEYTURN_MASTER_KEYS"
MASTER_KEY_SETTING = "KEYTURN_MASTER_KEY"


class KeysDoNotOpenData(ValueError):
    """The configured keys (or their absence) cannot open ciphertexts the database holds."""


@dataclass(frozen=True)
class MasterKeys:
    """A key ring and where the operator keeps it; never shows key material."""

    keys: tuple[bytes, ...] = field(repr=False)
    # How the operator names the source: a setting, or "the key file <path>".
    source: str
    # The key file the ring was read from; None when it comes from a setting.
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidMasterKey(f"{self.source} holds no key")

    @property
    def ring(self) -> KeyRing:
        return KeyRing(*self.keys)

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        """Ids of the keys, the current one first."""
        return tuple(key_id_of(key) for key in self.keys)

    def describe(self) -> str:
        """The source and its key ids, e.g. `KEYTURN_MASTER_KEY (key id 1a2b...)`."""
        return f"{self.source} ({_key_ids_phrase(self.key_ids)})"


def new_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_master_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode_key_list(encoded: str) -> tuple[bytes, ...]:
    """Keys separated by commas or newlines, blank entries ignored; at least one."""
    parts = [part for part in encoded.replace("\n", ",").split(",") if part.strip()]
    if not parts:
        raise InvalidMasterKey("the key ring holds no key")
    keys = []
    for position, part in enumerate(parts, start=1):
        try:
            keys.append(decode_master_key(part))
        except InvalidMasterKey as exc:
            raise InvalidMasterKey(f"key {position} of {len(parts)}: {exc}") from exc
    return tuple(keys)


def encode_key_list(keys: Iterable[bytes], separator: str = ",") -> str:
    return separator.join(encode_master_key(key) for key in keys)


def configured_master_keys(
    *, master_keys: str | None, master_key: str | None, data_dir: Path
) -> MasterKeys | None:
    """The ring from the settings, else from the key file; None when neither holds a key."""
    if master_keys is not None:
        return MasterKeys(decode_key_list(master_keys), MASTER_KEYS_SETTING)
    if master_key is not None:
        return MasterKeys((decode_master_key(master_key),), MASTER_KEY_SETTING)
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        return None
    return read_key_file(path)


def read_key_file(path: Path) -> MasterKeys:
    try:
        keys = decode_key_list(path.read_text())
    except InvalidMasterKey as exc:
        raise InvalidMasterKey(f"the key file {path}: {exc}") from exc
    return MasterKeys(keys, f"the key file {path}", key_file=path)


def create_key_file(data_dir: Path) -> MasterKeys:
    """A new key in `data_dir/master.key` (mode 0600); refuses to replace an existing file."""
    path = data_dir / KEY_FILE_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(encode_key_list([new_master_key()], "\n") + "\n")
    return read_key_file(path)


def write_key_file(path: Path, keys: Sequence[bytes]) -> MasterKeys:
    """Replace the key file with `keys` (current first), atomically, mode 0600."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(encode_key_list(keys, "\n") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return read_key_file(path)


def require_keys_for_data(
    keys: MasterKeys | None, in_use: Mapping[bytes, int], *, key_file: Path
) -> None:
    """Refuse keys that cannot open every ciphertext in `in_use` (key id -> count)."""
    if keys is None:
        if in_use:
            raise KeysDoNotOpenData(
                f"no master key: {MASTER_KEY_SETTING} and {MASTER_KEYS_SETTING} are unset and "
                f"{key_file} does not exist, but the database holds data sealed with "
                f"{_key_ids_phrase(sorted(in_use))}; restore the key file from a backup or set "
                "the key (keyturn does not make a new key over existing data)"
            )
        return
    missing = sorted(set(in_use) - set(keys.key_ids))
    if missing:
        raise KeysDoNotOpenData(
            f"{keys.describe()} cannot open the data, which needs {_key_ids_phrase(missing)}; "
            f"set the key the data was sealed with (older keys follow the current one in "
            f"{MASTER_KEYS_SETTING}, or one per line in {KEY_FILE_NAME})"
        )


def _key_ids_phrase(key_ids: Iterable[bytes]) -> str:
    ids = [key_id.hex() for key_id in key_ids]
    return ("key id " if len(ids) == 1 else "key ids ") + ", ".join(ids)
