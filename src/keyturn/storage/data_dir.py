"""The data directory: the SQLite file, the master key file and the admin token's digest.

Files holding key material are created with mode 0600 (the master key file is rewritten only
by a key rotation, see master_keys.py); the admin token itself is never stored, only its digest,
so it is printed once when generated.
"""

from __future__ import annotations

import os
from pathlib import Path

from keyturn.domain.ids import IdSource, hash_token

ADMIN_TOKEN_DIGEST_FILE = "admin-token.sha256"  # noqa: S105  # a file name, not a secret


def prepare_data_dir(data_dir: Path) -> Path:
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return data_dir


def load_or_create_admin_token_digest(data_dir: Path, ids: IdSource) -> tuple[str, str | None]:
    """The admin token's digest, and the token itself when it was just generated."""
    path = data_dir / ADMIN_TOKEN_DIGEST_FILE
    token = ids.token("admin")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(hash_token(token) + "\n")
    return hash_token(token), token
