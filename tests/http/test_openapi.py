"""/openapi.json documents every route: its body, its success shape and the errors it gives.

The fuzz run (tests/fuzz) checks that answers match the document; these tests check that the
document says enough for that check to mean something.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.conftest import Partner

ERROR_REF = "#/components/schemas/ErrorOut"
# Every route that takes a token says how it refuses one.
TOKEN_ERRORS = {"401", "403"}
PUBLIC = {"/healthz", "/readyz", "/.well-known/jwks", "/.well-known/openid-configuration"}
# The one route with two successes: the partner rotated (200) or will (202).
ROTATE = (
    "/v1/integrations/installations/{integrationConfigurationId}"
    "/resources/{resourceId}/secrets/rotate"
)


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_every_route_of_the_app_is_in_the_document(
    client: TestClient, spec: dict[str, Any]
) -> None:
    # The dashboard's pages (include_in_schema=False) are HTML for people, not the API.
    routes = [
        route
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.include_in_schema
    ]
    documented = {(path, method) for path, method, _ in operations(spec)}
    for route in routes:
        path = route.path.replace(":path}", "}")
        for method in route.methods:
            assert (path, method.lower()) in documented, (method, route.path)


def test_every_operation_documents_a_success_and_its_errors_with_the_error_body(
    spec: dict[str, Any],
) -> None:
    for path, method, operation in operations(spec):
        statuses = set(operation["responses"])
        successes = {status for status in statuses if status.startswith("2")}
        assert len(successes) == (2 if path == ROTATE else 1), (method, path, statuses)
        errors = statuses - successes
        if path not in PUBLIC:
            assert errors >= TOKEN_ERRORS | {"503"}, (method, path, errors)
            assert operation["security"] == [{"bearerToken": []}], (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= errors, (method, path, errors)
        for status in errors:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (method, path, status)


def test_no_operation_claims_fastapis_validation_answer(spec: dict[str, Any]) -> None:
    # keyturn answers a malformed parameter 400 bad_request; FastAPI's 422 body is never sent.
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, method, operation in operations(spec):
        for answer in operation["responses"].values():
            for media in answer.get("content", {}).values():
                assert "HTTPValidationError" not in str(media["schema"]), (method, path)


def test_error_body_schema_is_the_contracts(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetailOut"]
    assert set(detail["properties"]) == {
        "code",
        "message",
        "fields",
        "missingToken",
        "invalidToken",
        "rotation",
    }
    assert set(detail["required"]) == {"code", "message"}


def test_secrets_put_documents_each_item_field(spec: dict[str, Any]) -> None:
    put = spec["paths"][
        "/v1/installations/{integrationConfigurationId}/resources/{resourceId}/secrets"
    ]["put"]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    item = body["properties"]["secrets"]["items"]
    assert set(item["properties"]) == {"name", "value", "prefix", "environmentOverrides"}
    assert set(put["responses"]) == {
        *("201", "400", "401", "403", "404", "409", "412", "413", "422", "503")
    }


def _allows_null(schema: object) -> bool:
    if isinstance(schema, dict):
        if schema.get("type") == "null" or "null" in (schema.get("type") or []):
            return True
        if "default" in schema and schema["default"] is None:
            return True
        return any(_allows_null(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_allows_null(item) for item in schema)
    return False


# The one body where `null` means something: it clears a setting (CONTRACT.md 1).
NULL_CLEARS = ("patch", "/v1/admin/integrations/{idOrSlug}")


def test_no_request_body_field_is_documented_as_nullable(spec: dict[str, Any]) -> None:
    # The server refuses an explicit null for every field (400 naming it); the document agrees.
    for path, method, operation in operations(spec):
        if "requestBody" in operation and (method, path) != NULL_CLEARS:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert not _allows_null(schema), (method, path)


def test_integration_patch_documents_null_as_clearing(spec: dict[str, Any]) -> None:
    method, path = NULL_CLEARS
    schema = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    for field in ("baseUrl", "webhookUrl", "events"):
        assert _allows_null(schema["properties"][field]), field


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", None), ("ownership", None), ("metadata", None), ("secrets", None)],
)
def test_explicit_null_for_an_optional_field_is_400_naming_it(
    partner: Partner, field: str, value: None
) -> None:
    partner.import_resource("db1")
    response = partner.client.patch(
        partner.resource_path("db1"), json={field: value}, headers=partner.auth()
    )
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, "bad_request")
    assert error["fields"][0]["key"] == field
    assert partner.get_resource("db1")["name"] == "db1"


def test_env_var_create_documents_one_variable_or_a_list(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/v10/projects/{idOrName}/env"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    shapes = {branch["type"] for branch in schema["anyOf"]}
    assert shapes == {"object", "array"}


def test_every_documented_body_is_closed(spec: dict[str, Any]) -> None:
    # A field the server adds but the document lacks then fails the fuzz run's schema check.
    for name, schema in spec["components"]["schemas"].items():
        if schema.get("type") == "object" and "properties" in schema:
            assert schema.get("additionalProperties") is False, name


def test_a_non_null_default_stays_documented(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/v10/projects/{idOrName}/env"]["post"]
    branches = post["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    one = next(branch for branch in branches if branch["type"] == "object")
    assert one["properties"]["type"]["default"] == "encrypted"


WRITES = {"post", "put", "patch", "delete"}


def test_every_scoped_write_documents_the_idempotency_key_and_its_answers(
    spec: dict[str, Any],
) -> None:
    writes = [
        (path, method, operation)
        for path, method, operation in operations(spec)
        if method in WRITES and not path.startswith("/v1/admin/")
    ]
    assert len(writes) > 10
    for path, method, operation in writes:
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, (method, path)
        assert {"400", "409", "422"} <= set(operation["responses"]), (method, path)


def test_conditional_writes_document_their_header_and_412(spec: dict[str, Any]) -> None:
    resource = "/v1/installations/{integrationConfigurationId}/resources/{resourceId}"
    by_product = (
        "/v1/installations/{integrationConfigurationId}/products/{integrationProductIdOrSlug}"
        "/resources/{resourceId}/secrets"
    )
    conditional = [
        (resource + "/secrets", "put", "If-Match"),
        (by_product, "put", "If-Match"),
        (resource, "patch", "If-Match"),
        (resource + "/secrets/rollback", "post", "If-Match"),
        (resource, "put", "If-None-Match"),
    ]
    for path, method, header in conditional:
        operation = spec["paths"][path][method]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert header in headers, (method, path)
        assert "412" in operation["responses"], (method, path)


STRING = {"type": "string"}
OPTIONAL_STRING = {"anyOf": [STRING, {"type": "null"}]}


def test_env_pull_documents_its_path_and_branch_parameters(spec: dict[str, Any]) -> None:
    pull = spec["paths"]["/v3/env/pull/{projectId}/{target}"]["get"]
    by_branch = spec["paths"]["/v3/env/pull/{projectId}/{target}/{gitBranch}"]["get"]
    path = [
        {"name": name, "in": "path", "required": True, "schema": {**STRING, "title": title}}
        for name, title in (("projectId", "Projectid"), ("target", "Target"))
    ]
    branch = {"schema": {**OPTIONAL_STRING, "title": "Gitbranch"}, "name": "gitBranch"}
    assert pull["parameters"] == [*path, {**branch, "in": "query", "required": False}]
    assert by_branch["parameters"] == [*path, {**branch, "in": "path", "required": True}]
    assert pull["operationId"] != by_branch["operationId"]
    assert {pull["summary"], by_branch["summary"]} == {"Pull Project Env"}
    assert "`vercel env pull`" in pull["description"]


def test_deployment_create_documents_its_body_and_no_parameter_but_the_key(
    spec: dict[str, Any],
) -> None:
    create = spec["paths"]["/v13/deployments"]["post"]
    assert [p["name"] for p in create["parameters"]] == ["Idempotency-Key"]
    assert create["requestBody"]["required"] is True
    assert create["summary"] == "Create Deployment"
    assert "frozen now" in create["description"]
