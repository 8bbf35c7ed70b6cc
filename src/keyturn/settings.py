"""Settings, read from `KEYTURN_*` environment variables and validated before anything starts.

Every field here is documented in docs/configuration.md; a test fails when one is not.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keyturn.domain.accounts import partner_url_problem
from keyturn.domain.ids import TOKEN_SHAPE
from keyturn.storage.encryption import decode_master_key
from keyturn.storage.engine import normalize_database_url
from keyturn.storage.master_keys import decode_key_list

DEFAULT_DATA_DIR = Path(".keyturn")
# The admin token creates teams and tokens: a short one could be guessed. 32 characters of the
# token alphabet are over 190 bits, as many as the tokens keyturn generates itself.
MIN_ADMIN_TOKEN_LENGTH = 32
DATABASE_FILE_NAME = "keyturn.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEYTURN_", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Folder for the SQLite database, the master key file and the admin token "
        "digest.",
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path/to.db or postgresql://user:pass@host:5432/db; "
        "default: SQLite in the data directory.",
    )
    host: str = Field(default="127.0.0.1", description="Address the server listens on.")
    port: int = Field(
        default=3000,
        ge=0,
        le=65535,
        description="Port the server listens on; 0: a free one, printed in the start line "
        "(one worker only).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bootstrap token; generated on first start and printed once when unset.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 random bytes, the AES-256-GCM key; default: a key file "
        "created in the data directory.",
    )
    # Declared after master_key: its validator reads master_key to refuse both being set.
    master_keys: SecretStr | None = Field(
        default=None,
        description="A key ring: comma-separated base64 keys, the current one first, older "
        "ones only to open what they sealed; instead of KEYTURN_MASTER_KEY.",
    )

    workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Server processes; default: the number of CPU cores this process may use.",
    )
    access_log: bool = Field(
        default=False, description="Log one line per request (uvicorn's access log)."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The issuer of the tokens keyturn signs for partners; default: the "
        "server's base URL as each request reaches it.",
    )
    partner_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds each attempt of a call to a partner's rotate endpoint may take.",
    )
    rotation_timeout_h: float = Field(
        default=24.0,
        gt=0,
        le=8760,
        description="Hours a rotation request may stay pending before it fails.",
    )
    emulator: bool = Field(
        default=False,
        description="Emulator mode: the /v1/admin/reset, seed, faults, clock and requests "
        "controls, in one worker.",
    )
    access_token_ttl_s: int = Field(
        default=3600,
        ge=1,
        le=366 * 24 * 3600,
        description="Seconds an installation access token made by credentials/rotate lives.",
    )
    delivery: bool = Field(
        default=True,
        description="Deliver webhooks in the background of `keyturn serve`; `off` leaves that "
        "to `keyturn deliver` processes.",
    )
    webhook_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts per webhook delivery before it is failed (retries back off "
        "exponentially, with jitter).",
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a receiver has to answer a delivery with a 2xx.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_is_usable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                normalize_database_url(value)
            except ValueError as exc:
                raise ValueError(f"the database URL {exc}") from exc
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _oidc_issuer_is_a_url(cls, value: str | None) -> str | None:
        if value is not None:
            problem = partner_url_problem(value)
            if problem is not None:
                raise ValueError(f"KEYTURN_OIDC_ISSUER {problem}")
        return value

    @field_validator("admin_token")
    @classmethod
    def _admin_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        if not TOKEN_SHAPE.fullmatch(value.get_secret_value()):
            raise ValueError(
                "KEYTURN_ADMIN_TOKEN must be at most 256 letters, digits or underscores "
                "(the vercel CLI refuses any other character)"
            )
        if len(value.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"KEYTURN_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters "
                "(openssl rand -hex 32 makes one)"
            )
        return value

    @field_validator("master_key")
    @classmethod
    def _master_key_is_usable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_master_key(value.get_secret_value())
        return value

    @field_validator("master_keys")
    @classmethod
    def _master_keys_are_usable(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None:
            return value
        if info.data.get("master_key") is not None:
            # Two sources of truth for the current key: refuse rather than pick one silently.
            raise ValueError(
                "KEYTURN_MASTER_KEY is set too; set only one of them (KEYTURN_MASTER_KEYS "
                "holds the current key first, then the older ones)"
            )
        decode_key_list(value.get_secret_value())
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_FILE_NAME).resolve()}"

    @property
    def resolved_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        # The cores this process may run on (taskset, cgroups' cpusets), not all of the machine's.
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
