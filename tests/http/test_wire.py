"""Wire models keep values out of `repr`, so a log line or a traceback never shows one."""

from __future__ import annotations

from keyturn.http.wire import SecretIn
from keyturn.http.wire_projects import UserEnvVarIn, UserEnvVarPatchIn


def test_wire_models_hide_values_in_repr() -> None:
    secret = SecretIn(name="DB", value="hunter2", environmentOverrides={"preview": "swordfish"})
    created = UserEnvVarIn(key="K", value="hunter3", target="production")
    patched = UserEnvVarPatchIn(value="hunter4")
    assert "DB" in repr(secret)
    for model, value in (
        (secret, "hunter2"),
        (secret, "swordfish"),
        (created, "hunter3"),
        (patched, "hunter4"),
    ):
        assert value not in repr(model)
