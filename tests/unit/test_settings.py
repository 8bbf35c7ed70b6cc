"""Settings are validated before anything starts, with a reason naming the setting."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from keyturn.settings import Settings


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: object) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/keyturn.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"database_url": "mysql://u@h/db"}, "database_url"),
        ({"admin_token": SecretStr("has-dash")}, "admin_token"),
        ({"admin_token": SecretStr("kt_admin_" + "a" * 22)}, "at least 32 characters"),
        ({"master_key": SecretStr("c2hvcnQ=")}, "master_key"),
        ({"port": 70000}, "port"),
    ],
)
def test_unusable_setting_is_refused_naming_it(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(**overrides)  # type: ignore[arg-type]


def test_admin_token_of_32_characters_is_accepted() -> None:
    token = "kt_admin_" + "a" * 23
    assert Settings(admin_token=SecretStr(token)).admin_token == SecretStr(token)


def test_settings_repr_hides_secrets() -> None:
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    token = "kt_admin_secret_of_at_least_32_chars"
    settings = Settings(admin_token=SecretStr(token), master_key=SecretStr(key))
    assert token not in repr(settings)
    assert key not in repr(settings)


def test_master_key_and_master_keys_both_set_are_refused_naming_both() -> None:
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    with pytest.raises(ValidationError, match="master_keys") as raised:
        Settings(master_key=SecretStr(key), master_keys=SecretStr(key))
    assert "KEYTURN_MASTER_KEY is set too" in str(raised.value)


def test_master_keys_with_an_unusable_key_is_refused() -> None:
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    with pytest.raises(ValidationError, match="key 2 of 2"):
        Settings(master_keys=SecretStr(f"{key},c2hvcnQ="))
