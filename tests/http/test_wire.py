"""Wire models: values stay out of `repr`; free-form objects are bounded in depth and size."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from keyturn.http.wire import MAX_FREE_FORM_BYTES, MAX_FREE_FORM_DEPTH, SecretIn
from keyturn.http.wire_projects import UserEnvVarIn, UserEnvVarPatchIn
from tests.conftest import Partner
from tests.http.refusals import raw_json, refused_400


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


# Free-form objects (`metadata`, `billingPlan`, `notification`, `extras`) through the real app.

FREE_FORM_FIELDS = ["metadata", "billingPlan", "notification", "extras"]


def _nested(levels: int) -> dict[str, object]:
    """An object `levels` deep counting itself: `{"a": {"a": ... {}}}`."""
    node: dict[str, object] = {}
    for _ in range(levels - 1):
        node = {"a": node}
    return node


@pytest.mark.parametrize("field", FREE_FORM_FIELDS)
def test_free_form_object_deeper_than_the_limit_is_400_naming_where(
    runtime: Runtime, client: TestClient, partner: Partner, field: str
) -> None:
    partner.import_resource("db1")
    body = raw_json({field: _nested(MAX_FREE_FORM_DEPTH + 1)})
    error = refused_400(runtime, client, "PATCH", partner.resource_path(), partner.auth(), body)
    where = field + ".a" * MAX_FREE_FORM_DEPTH
    assert error["message"] == f"{where}: nests deeper than {MAX_FREE_FORM_DEPTH} levels"


@pytest.mark.parametrize("field", FREE_FORM_FIELDS)
def test_free_form_object_past_the_size_limit_is_400(
    runtime: Runtime, client: TestClient, partner: Partner, field: str
) -> None:
    partner.import_resource("db1")
    # {"x":"..."} is 8 bytes of syntax around the string.
    too_big = {"x": "é" * ((MAX_FREE_FORM_BYTES - 8) // 2 + 1)}
    body = raw_json({field: too_big})
    error = refused_400(runtime, client, "PATCH", partner.resource_path(), partner.auth(), body)
    assert (
        error["message"] == f"{field}: is larger than {MAX_FREE_FORM_BYTES} bytes as compact JSON"
    )


@pytest.mark.parametrize("field", FREE_FORM_FIELDS)
def test_free_form_object_at_the_limits_reads_back_equal(
    client: TestClient, partner: Partner, field: str
) -> None:
    deepest = _nested(MAX_FREE_FORM_DEPTH)
    # Exactly the limit as compact UTF-8 JSON, two-byte characters included.
    largest = {"x": "é" * ((MAX_FREE_FORM_BYTES - 8) // 2)}
    assert len(json.dumps(largest, ensure_ascii=False, separators=(",", ":")).encode()) == (
        MAX_FREE_FORM_BYTES
    )
    for value in (deepest, largest):
        partner.import_resource("db1", **{field: value})
        assert partner.get_resource("db1")[field] == value
        listed = client.get(
            f"/v1/installations/{partner.installation_id}/resources", headers=partner.auth()
        ).json()["resources"]
        assert listed[0][field] == value


def test_nesting_that_used_to_break_every_read_is_refused_and_reads_still_work(
    runtime: Runtime, client: TestClient, partner: Partner
) -> None:
    partner.import_resource("db1", metadata={"ok": True})
    body = raw_json({"metadata": _nested(300)})
    refused_400(runtime, client, "PATCH", partner.resource_path(), partner.auth(), body)
    assert partner.get_resource("db1")["metadata"] == {"ok": True}
    listing = client.get(
        f"/v1/installations/{partner.installation_id}/resources", headers=partner.auth()
    )
    assert listing.status_code == 200


def test_free_form_path_keeps_keys_that_look_like_pydantic_markers(
    runtime: Runtime, client: TestClient, partner: Partner
) -> None:
    partner.import_resource("db1")
    body = raw_json({"metadata": {"[key]": _nested(MAX_FREE_FORM_DEPTH)}})
    error = refused_400(runtime, client, "PATCH", partner.resource_path(), partner.auth(), body)
    assert error["message"].startswith("metadata.[key]" + ".a" * (MAX_FREE_FORM_DEPTH - 1) + ":")
