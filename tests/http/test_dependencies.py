"""The caller dependency (http/dependencies.py): path and query parameters must be storable
text, and `?teamId=` / `?slug=` must name the user token's own team, on every route."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import Partner, Workspace, admin_headers, seed_partner
from tests.storage_snapshot import database_snapshot

NUL = "%00"  # percent-encoded: the server decodes it into the parameter


@pytest.fixture
def project_id(partner: Partner, workspace: Workspace) -> str:
    partner.import_resource("db1", secrets=[{"name": "DATABASE_URL", "value": "v"}])
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id).status_code == 201
    return project_id


# id: (who, method, path with {bad} where the NUL goes, the parameter named)
PATH_CASES = {
    "resource-get": ("partner", "GET", "{r}/a{bad}b", "resourceId"),
    "resource-import": ("partner", "PUT", "{r}/a{bad}b", "resourceId"),
    "resource-delete": ("partner", "DELETE", "{r}/a{bad}b", "resourceId"),
    "secrets-put": ("partner", "PUT", "{r}/a{bad}b/secrets", "resourceId"),
    "secrets-put-product": (
        "partner",
        "PUT",
        "/v1/installations/{i}/products/p{bad}/resources/db1/secrets",
        "integrationProductIdOrSlug",
    ),
    "installation": (
        "partner", "GET", "/v1/installations/icfg{bad}/resources", "integrationConfigurationId"
    ),
    "project-get": ("user", "GET", "/v9/projects/w{bad}eb", "idOrName"),
    "project-delete": ("user", "DELETE", "/v9/projects/w{bad}eb", "idOrName"),
    "env-list": ("user", "GET", "/v10/projects/w{bad}/env", "idOrName"),
    "env-get": ("user", "GET", "/v1/projects/{p}/env/e{bad}", "envId"),
    "env-patch": ("user", "PATCH", "/v9/projects/{p}/env/e{bad}", "envId"),
    "pull-project": ("user", "GET", "/v3/env/pull/p{bad}/production", "projectId"),
    "pull-target": ("user", "GET", "/v3/env/pull/{p}/prod{bad}", "target"),
    "pull-branch": ("user", "GET", "/v3/env/pull/{p}/preview/feat{bad}x", "gitBranch"),
    "pull-deployment": ("user", "GET", "/v3/env/pull/dpl{bad}", "deploymentId"),
    "deployment-get": ("user", "GET", "/v13/deployments/dpl{bad}", "deploymentId"),
    "connection-delete": ("user", "DELETE", "{c}/p{bad}", "projectId"),
    "team": ("user", "GET", "/v2/teams/t{bad}", "teamId"),
    "admin-team-tokens": ("admin", "POST", "/v1/admin/teams/t{bad}/tokens", "teamId"),
    "query-env-branch": ("user", "GET", "/v10/projects/{p}/env?gitBranch=a{bad}", "gitBranch"),
    "query-pull-branch": ("user", "GET", "/v3/env/pull/{p}/preview?gitBranch=a{bad}", "gitBranch"),
    "query-env-target": ("user", "GET", "/v10/projects/{p}/env?target=a{bad}", "target"),
    "query-deployments": ("user", "GET", "/v6/deployments?projectId=p{bad}", "projectId"),
    "query-team-id": ("user", "GET", "/v9/projects?teamId=t{bad}", "teamId"),
    "query-slug": ("user", "GET", "/v2/user?slug=s{bad}", "slug"),
    "query-upsert": ("user", "POST", "/v10/projects/{p}/env?upsert=t{bad}", "upsert"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("who", "method", "template", "parameter"),
    [pytest.param(*case, id=name) for name, case in PATH_CASES.items()],
)
def test_nul_in_a_path_or_query_parameter_is_400_naming_it(
    runtime: Runtime,
    client: TestClient,
    partner: Partner,
    workspace: Workspace,
    project_id: str,
    who: str,
    method: str,
    template: str,
    parameter: str,
) -> None:
    path = template.format(
        r=f"/v1/installations/{partner.installation_id}/resources",
        i=partner.installation_id,
        p=project_id,
        c=workspace.connections_path("db1"),
        bad=NUL,
    )
    headers = {"partner": partner.auth(), "user": workspace.headers, "admin": admin_headers()}[who]
    before = database_snapshot(runtime)
    response = client.request(method, path, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    kind = "query" if "?" in template else "path"
    assert error["message"] == (
        f"{kind} parameter {parameter}: must not contain the NUL character (U+0000)"
    )
    assert error["fields"][0]["key"] == parameter
    assert database_snapshot(runtime) == before


def test_nul_in_a_query_parameter_name_is_400(client: TestClient, workspace: Workspace) -> None:
    response = client.get(f"/v9/projects?a{NUL}b=1", headers=workspace.headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("query: a parameter's name must not")


def test_nul_in_a_path_without_a_token_is_401_first(client: TestClient, partner: Partner) -> None:
    response = client.get(f"/v1/installations/{partner.installation_id}/resources/a{NUL}b")
    assert response.status_code == 401


def test_invalid_utf8_in_a_path_is_decoded_as_replacement_characters_and_not_found(
    client: TestClient, partner: Partner
) -> None:
    # %ED%A0%80 would be a lone surrogate; the server decodes it to U+FFFD, valid text.
    response = client.get(f"{partner.resource_path('a%ED%A0%80b')}", headers=partner.auth())
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_resource_id_longer_than_256_characters_is_400_on_import(
    runtime: Runtime, client: TestClient, partner: Partner
) -> None:
    before = database_snapshot(runtime)
    response = client.put(
        partner.resource_path("r" * 257),
        json={"productId": partner.product_id, "name": "n", "status": "ready"},
        headers=partner.auth(),
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "resourceId: is longer than 256 characters"
    assert database_snapshot(runtime) == before
    partner.import_resource("r" * 256)
    assert partner.get_resource("r" * 256)["id"] == "r" * 256


def _user_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) that takes a user token, path parameters filled in, from OpenAPI."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, operations in paths.items()
        # Admin and partner routes take other tokens; the rest of these take none.
        if not path.startswith(
            ("/v1/admin", "/v1/installations", "/healthz", "/readyz", "/.well-known/")
        )
        for method in operations
    ]


@pytest.mark.parametrize("parameter", ["teamId", "slug"])
def test_every_user_route_refuses_another_teams_scope_with_403(
    runtime: Runtime, client: TestClient, partner: Partner, workspace: Workspace, parameter: str
) -> None:
    other = seed_partner(client, slug="other")
    reference = other.team_id if parameter == "teamId" else "other-team"
    routes = _user_routes(client)
    assert ("GET", "/v2/user") in routes
    assert len(routes) >= 20
    before = database_snapshot(runtime)
    for method, path in routes:
        response = client.request(
            method, path, params={parameter: reference}, headers=workspace.headers
        )
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "forbidden"
    assert database_snapshot(runtime) == before


@pytest.mark.parametrize("parameter", ["teamId", "slug"])
def test_v2_user_with_the_tokens_own_team_answers_the_user(
    client: TestClient, partner: Partner, workspace: Workspace, parameter: str
) -> None:
    reference = partner.team_id if parameter == "teamId" else "acme-team"
    response = client.get("/v2/user", params={parameter: reference}, headers=workspace.headers)
    assert response.status_code == 200
    assert response.json()["user"]["defaultTeamId"] == partner.team_id


def test_invalid_utf8_in_a_query_is_decoded_as_replacement_characters_and_answered(
    client: TestClient, workspace: Workspace, project_id: str
) -> None:
    response = client.get(
        f"/v10/projects/{project_id}/env?gitBranch=%ED%A0%80", headers=workspace.headers
    )
    assert response.status_code == 200, response.text
    assert [record["key"] for record in response.json()["envs"]] == ["DATABASE_URL"]
