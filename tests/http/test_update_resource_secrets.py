"""The seed endpoint, `PUT .../resources/{resourceId}/secrets` (CONTRACT.md 2.1).

Every refusal is checked for its status and error code and for changing nothing at all: the
whole database is compared before and after.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import Partner, admin_headers, seed_partner
from tests.storage_snapshot import database_snapshot

SECRET_VALUE = "postgres://user:correct-horse-battery@db.internal/app"


@pytest.fixture
def seeded(partner: Partner) -> Partner:
    partner.import_resource("db1")
    status, _ = partner.put_secrets(
        {
            "secrets": [
                {"name": "DATABASE_URL", "value": SECRET_VALUE},
                {"name": "PGHOST", "value": "db.internal", "prefix": "ACME"},
            ]
        }
    )
    assert status == 201
    return partner


def _refused(
    runtime: Runtime,
    client: TestClient,
    path: str,
    body: bytes | str | object,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    """Send the request; assert it changed nothing; return its status and body."""
    before = database_snapshot(runtime)
    if isinstance(body, bytes | str):
        response = client.put(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    else:
        response = client.put(path, json=body, headers=headers)
    assert database_snapshot(runtime) == before
    assert response.status_code < 500
    return response.status_code, response.json()


VALID = {"secrets": [{"name": "NEW_SECRET", "value": "v"}]}


class TestAuth:
    def test_missing_token_is_401_missing_token(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        status, body = _refused(runtime, client, seeded.resource_path() + "/secrets", VALID, {})
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
        assert body["error"]["missingToken"] is True

    @pytest.mark.parametrize(
        "header",
        ["Bearer kt_integration_unknown", "Bearer bad-chars!", "Basic abc", "Bearer", "token"],
    )
    def test_unknown_or_malformed_token_is_401_invalid_token(
        self, seeded: Partner, runtime: Runtime, client: TestClient, header: str
    ) -> None:
        status, body = _refused(
            runtime, client, seeded.resource_path() + "/secrets", VALID, {"Authorization": header}
        )
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
        assert body["error"]["invalidToken"] is True

    def test_token_of_another_installation_is_403(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        other = seed_partner(client, "other")
        status, body = _refused(
            runtime, client, seeded.resource_path() + "/secrets", VALID, other.auth()
        )
        assert (status, body["error"]["code"]) == (403, "forbidden")

    def test_token_on_an_installation_that_does_not_exist_is_403(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        status, body = _refused(
            runtime,
            client,
            "/v1/installations/icfg_nope/resources/db1/secrets",
            VALID,
            seeded.auth(),
        )
        assert (status, body["error"]["code"]) == (403, "forbidden")

    @pytest.mark.parametrize("kind", ["user", "admin"])
    def test_user_or_admin_token_on_partner_endpoint_is_403(
        self, seeded: Partner, runtime: Runtime, client: TestClient, kind: str
    ) -> None:
        headers = seeded.auth(seeded.user_token) if kind == "user" else admin_headers()
        status, body = _refused(
            runtime, client, seeded.resource_path() + "/secrets", VALID, headers
        )
        assert (status, body["error"]["code"]) == (403, "forbidden")

    def test_auth_is_checked_before_the_resource(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        status, _ = _refused(runtime, client, seeded.resource_path("nope") + "/secrets", VALID, {})
        assert status == 401


class TestNotFound:
    def test_unknown_resource_is_404(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        status, body = _refused(
            runtime, client, seeded.resource_path("nope") + "/secrets", VALID, seeded.auth()
        )
        assert (status, body["error"]["code"]) == (404, "not_found")

    def test_404_comes_before_a_bad_body(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        status, _ = _refused(
            runtime, client, seeded.resource_path("nope") + "/secrets", b"not json", seeded.auth()
        )
        assert status == 404

    def test_deleted_resource_is_404(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        assert client.delete(seeded.resource_path(), headers=seeded.auth()).status_code == 204
        status, body = _refused(
            runtime, client, seeded.resource_path() + "/secrets", VALID, seeded.auth()
        )
        assert (status, body["error"]["code"]) == (404, "not_found")

    def test_deprecated_path_with_another_product_is_404(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        path = (
            f"/v1/installations/{seeded.installation_id}/products/{seeded.other_product_id}"
            "/resources/db1/secrets"
        )
        status, body = _refused(runtime, client, path, VALID, seeded.auth())
        assert (status, body["error"]["code"]) == (404, "not_found")


BAD_BODIES: list[tuple[str, bytes | object, str]] = [
    ("not JSON", b"{not json", "body"),
    ("empty body", b"", "body"),
    ("a JSON array", [1, 2], "body"),
    ("a JSON string", "just a string", "body"),
    ("secrets missing", {}, "secrets"),
    ("secrets not an array", {"secrets": {"name": "A"}}, "secrets"),
    ("an item not an object", {"secrets": ["A"]}, "secrets[0]"),
    ("name missing", {"secrets": [{"value": "v"}]}, "secrets[0].name"),
    ("value missing", {"secrets": [{"name": "A"}]}, "secrets[0].value"),
    ("name not a string", {"secrets": [{"name": 5, "value": "v"}]}, "secrets[0].name"),
    ("value not a string", {"secrets": [{"name": "A", "value": 5}]}, "secrets[0].value"),
    ("value null", {"secrets": [{"name": "A", "value": None}]}, "secrets[0].value"),
    (
        "prefix not a string",
        {"secrets": [{"name": "A", "value": "v", "prefix": 1}]},
        "secrets[0].prefix",
    ),
    (
        "prefix null",
        {"secrets": [{"name": "A", "value": "v", "prefix": None}]},
        "secrets[0].prefix",
    ),
    (
        "overrides not an object",
        {"secrets": [{"name": "A", "value": "v", "environmentOverrides": "prod"}]},
        "secrets[0].environmentOverrides",
    ),
    (
        "override not a string",
        {"secrets": [{"name": "A", "value": "v", "environmentOverrides": {"preview": 1}}]},
        "secrets[0].environmentOverrides.preview",
    ),
    (
        "override for an unknown environment",
        {"secrets": [{"name": "A", "value": "v", "environmentOverrides": {"staging": "x"}}]},
        "secrets[0].environmentOverrides.staging",
    ),
    ("partial not a boolean", {"secrets": [], "partial": "true"}, "partial"),
    ("partial a number", {"secrets": [], "partial": 1}, "partial"),
    ("unknown body key", {"secrets": [], "force": True}, "force"),
    (
        "unknown item key",
        {"secrets": [{"name": "A", "value": "v", "type": "x"}]},
        "secrets[0].type",
    ),
    (
        "second item bad",
        {"secrets": [{"name": "A", "value": "v"}, {"name": "B"}]},
        "secrets[1].value",
    ),
    ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, "body"),
    ("invalid UTF-8", b'{"secrets": [{"name": "A", "value": "\xff\xfe"}]}', "body"),
]


class TestBadRequest:
    @pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
    def test_bad_body_is_400_naming_the_field(
        self,
        seeded: Partner,
        runtime: Runtime,
        client: TestClient,
        case: str,
        body: bytes | object,
        field: str,
    ) -> None:
        status, answer = _refused(
            runtime, client, seeded.resource_path() + "/secrets", body, seeded.auth()
        )
        assert status == 400, case
        assert answer["error"]["code"] == "bad_request"
        assert field in answer["error"]["message"]

    def test_400_comes_before_422(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        body = {"secrets": [{"name": "1BAD", "value": "v"}, {"name": "A", "value": 1}]}
        status, _ = _refused(
            runtime, client, seeded.resource_path() + "/secrets", body, seeded.auth()
        )
        assert status == 400

    def test_error_message_never_quotes_a_value(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        body = {
            "secrets": [{"name": "A", "value": "v", "environmentOverrides": {"preview": 99}}],
            "x": "hunter2",
        }
        _, answer = _refused(
            runtime, client, seeded.resource_path() + "/secrets", body, seeded.auth()
        )
        assert "hunter2" not in json.dumps(answer)

    def test_oversize_body_is_413(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        body = {"secrets": [{"name": "A", "value": "x" * (1024 * 1024 + 1)}]}
        status, answer = _refused(
            runtime, client, seeded.resource_path() + "/secrets", body, seeded.auth()
        )
        assert (status, answer["error"]["code"]) == (413, "payload_too_large")


def _secret(name: str, value: str = "v", **extra: object) -> dict[str, object]:
    return {"name": name, "value": value, **extra}


RULES: list[tuple[str, object, str]] = [
    ("empty name", {"secrets": [_secret("")]}, "invalid_secret_name"),
    ("name starting with a digit", {"secrets": [_secret("1DB")]}, "invalid_secret_name"),
    ("name with a dash", {"secrets": [_secret("DB-URL")]}, "invalid_secret_name"),
    ("name of 257 characters", {"secrets": [_secret("A" * 257)]}, "invalid_secret_name"),
    (
        "derived key over 256 characters",
        {"secrets": [_secret("A" * 250, prefix="PREFIX_LONG")]},
        "invalid_secret_name",
    ),
    ("prefix starting with underscore", {"secrets": [_secret("A", prefix="_X")]}, "invalid_prefix"),
    ("empty prefix", {"secrets": [_secret("A", prefix="")]}, "invalid_prefix"),
    ("prefix with a dash", {"secrets": [_secret("A", prefix="AC-ME")]}, "invalid_prefix"),
    ("same name twice", {"secrets": [_secret("A"), _secret("A", "w")]}, "duplicate_secret_name"),
    ("reserved TZ", {"secrets": [_secret("TZ")]}, "reserved_secret_name"),
    ("reserved AWS_SECRET_KEY", {"secrets": [_secret("AWS_SECRET_KEY")]}, "reserved_secret_name"),
    ("reserved NOW_REGION", {"secrets": [_secret("NOW_REGION")]}, "reserved_secret_name"),
    ("value over 64 KiB", {"secrets": [_secret("A", "x" * (64 * 1024 + 1))]}, "value_too_large"),
    (
        "override over 64 KiB",
        {"secrets": [_secret("A", environmentOverrides={"preview": "x" * (64 * 1024 + 1)})]},
        "value_too_large",
    ),
    ("501 secrets", {"secrets": [_secret(f"S{i}") for i in range(501)]}, "too_many_secrets"),
    (
        "499 more than the 2 kept by a partial update",
        {"secrets": [_secret(f"S{i}") for i in range(499)], "partial": True},
        "too_many_secrets",
    ),
]


class TestRules:
    @pytest.mark.parametrize(("case", "body", "code"), RULES, ids=[c[0] for c in RULES])
    def test_rule_broken_is_422_with_its_code(
        self,
        seeded: Partner,
        runtime: Runtime,
        client: TestClient,
        case: str,
        body: object,
        code: str,
    ) -> None:
        status, answer = _refused(
            runtime, client, seeded.resource_path() + "/secrets", body, seeded.auth()
        )
        assert (status, answer["error"]["code"]) == (422, code), case

    def test_value_of_exactly_64_kib_is_accepted(self, seeded: Partner) -> None:
        status, _ = seeded.put_secrets(
            {"secrets": [_secret("A", "x" * 64 * 1024)], "partial": True}
        )
        assert status == 201

    def test_500_secrets_are_accepted(self, seeded: Partner) -> None:
        status, _ = seeded.put_secrets({"secrets": [_secret(f"S{i}") for i in range(500)]})
        assert status == 201
        assert len(seeded.get_resource()["secretNames"]) == 500  # type: ignore[arg-type]

    def test_uninstalled_resource_is_422_resource_not_active(
        self, seeded: Partner, runtime: Runtime, client: TestClient
    ) -> None:
        seeded.import_resource("db1", status="uninstalled")
        status, answer = _refused(
            runtime, client, seeded.resource_path() + "/secrets", VALID, seeded.auth()
        )
        assert (status, answer["error"]["code"]) == (422, "resource_not_active")

    def test_rule_message_names_the_field(self, seeded: Partner) -> None:
        status, answer = seeded.put_secrets({"secrets": [_secret("OK"), _secret("BAD-NAME")]})
        assert status == 422
        assert "secrets[1].name" in answer["error"]["message"]  # type: ignore[index]


class TestSuccess:
    def test_full_replace_removes_names_not_sent(self, seeded: Partner) -> None:
        status, body = seeded.put_secrets({"secrets": [_secret("ONLY", "1")]})
        assert (status, body) == (201, {})
        resource = seeded.get_resource()
        assert resource["secretNames"] == ["ONLY"]
        assert resource["secretsVersion"] == 2

    def test_partial_update_keeps_unsent_secrets(self, seeded: Partner) -> None:
        status, _ = seeded.put_secrets({"secrets": [_secret("EXTRA")], "partial": True})
        assert status == 201
        assert seeded.get_resource()["secretNames"] == ["DATABASE_URL", "EXTRA", "PGHOST"]

    def test_partial_with_empty_list_is_a_no_op(self, seeded: Partner, runtime: Runtime) -> None:
        before = database_snapshot(runtime)
        assert seeded.put_secrets({"secrets": [], "partial": True})[0] == 201
        assert database_snapshot(runtime) == before

    def test_full_replace_with_empty_list_removes_everything(self, seeded: Partner) -> None:
        assert seeded.put_secrets({"secrets": []})[0] == 201
        resource = seeded.get_resource()
        assert (resource["secretNames"], resource["secretsVersion"]) == ([], 2)

    def test_request_changing_nothing_makes_no_version(
        self, seeded: Partner, runtime: Runtime
    ) -> None:
        before = database_snapshot(runtime)
        same = {
            "secrets": [
                {"name": "PGHOST", "value": "db.internal", "prefix": "ACME"},
                {"name": "DATABASE_URL", "value": SECRET_VALUE},
            ]
        }
        assert seeded.put_secrets(same) == (201, {})
        assert database_snapshot(runtime) == before
        assert seeded.get_resource()["secretsVersion"] == 1

    @pytest.mark.parametrize(
        "changed",
        [
            {"name": "PGHOST", "value": "db2.internal", "prefix": "ACME"},
            {"name": "PGHOST", "value": "db.internal", "prefix": "OTHER"},
            {"name": "PGHOST", "value": "db.internal"},
            {
                "name": "PGHOST",
                "value": "db.internal",
                "prefix": "ACME",
                "environmentOverrides": {"preview": "p"},
            },
        ],
        ids=["value", "prefix", "prefix removed", "override added"],
    )
    def test_any_change_of_a_secret_makes_a_version(
        self, seeded: Partner, changed: dict[str, object]
    ) -> None:
        assert seeded.put_secrets({"secrets": [changed], "partial": True})[0] == 201
        assert seeded.get_resource()["secretsVersion"] == 2

    def test_deprecated_path_by_product_slug_and_id(
        self, seeded: Partner, client: TestClient
    ) -> None:
        for reference, version in ((seeded.product_slug, 2), (seeded.product_id, 3)):
            path = (
                f"/v1/installations/{seeded.installation_id}/products/{reference}"
                "/resources/db1/secrets"
            )
            body = {"secrets": [_secret("ROTATED", str(version))], "partial": True}
            response = client.put(path, json=body, headers=seeded.auth())
            assert (response.status_code, response.json()) == (201, {})
            assert seeded.get_resource()["secretsVersion"] == version

    def test_secret_values_never_appear_in_responses(
        self, seeded: Partner, client: TestClient
    ) -> None:
        responses = [
            client.get(seeded.resource_path(), headers=seeded.auth()),
            client.get(
                f"/v1/installations/{seeded.installation_id}/resources", headers=seeded.auth()
            ),
            client.put(
                seeded.resource_path() + "/secrets",
                json={"secrets": [_secret("X", SECRET_VALUE)], "partial": True},
                headers=seeded.auth(),
            ),
        ]
        for response in responses:
            assert SECRET_VALUE not in response.text
            assert "correct-horse" not in response.text
