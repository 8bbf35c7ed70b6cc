"""`POST {owner path}/secrets/redeploy-stale` (CONTRACT.md 5.2): redeploy every connected
project's target and branch whose newest live deployment runs an older version."""

from __future__ import annotations

from typing import Any

from keyturn.app import Runtime
from tests.conftest import seed_partner
from tests.http.lifecycle.conftest import Ledger
from tests.storage_snapshot import database_snapshot


def _project(ledger: Ledger, name: str, **options: object) -> str:
    project_id = ledger.workspace.create_project(name)
    assert ledger.workspace.connect(project_id, **options).status_code == 201
    return project_id


def _deploy(ledger: Ledger, project_id: str, target: str, **extra: object) -> dict[str, Any]:
    return ledger.deploy({"project": project_id, "target": target, **extra})


def test_redeploys_each_group_whose_newest_deployment_is_stale(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, "web")
    api = _project(ledger, "api")
    stale_prod = _deploy(ledger, web, "production")
    stale_branch = _deploy(ledger, web, "preview", gitBranch="feature")
    ledger.put({"A": "two"})
    _deploy(ledger, api, "production")  # fresh: stays
    old_preview = _deploy(ledger, api, "preview")
    ledger.put({"A": "three"})
    fresh_preview = _deploy(ledger, api, "preview")  # newer than old_preview: nothing to do
    response = ledger.redeploy_stale()
    assert response.status_code == 201, response.text
    made = response.json()["deployments"]
    assert sorted((d["projectId"], d["target"], d["gitBranch"]) for d in made) == sorted(
        [(web, "production", None), (web, "preview", "feature"), (api, "production", None)]
    )
    for deployment in made:
        assert deployment["secretsVersions"][0]["secretsVersion"] == 3
        assert deployment["secretsVersions"][0]["currentVersion"] == 3
        assert ledger.workspace.deployment_env(deployment["id"]) == {"A": "three"}
    assert {d["id"] for d in made}.isdisjoint(
        {stale_prod["id"], stale_branch["id"], old_preview["id"], fresh_preview["id"]}
    )
    # The redeploys serve now; the deployments they replace still run, superseded.
    values = ledger.values()
    assert (values[("A", 3)]["liveDeployments"], values[("A", 3)]["servingDeployments"]) == (4, 4)
    assert (values[("A", 1)]["liveDeployments"], values[("A", 1)]["servingDeployments"]) == (2, 0)
    again = ledger.redeploy_stale()
    assert (again.status_code, again.json()) == (201, {"deployments": []})


def test_nothing_stale_is_a_201_with_no_deployments(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, "web")
    _deploy(ledger, web, "production")
    response = ledger.redeploy_stale()
    assert (response.status_code, response.json()) == (201, {"deployments": []})


def test_a_disconnected_project_is_not_redeployed(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, "web")
    _deploy(ledger, web, "production")
    ledger.put({"A": "two"})
    gone = ledger.client.delete(
        f"{ledger.workspace.connections_path()}/{web}", headers=ledger.workspace.headers
    )
    assert gone.status_code == 204
    assert ledger.redeploy_stale().json() == {"deployments": []}


def test_a_newest_deployment_made_without_the_resource_is_not_stale_for_it(
    ledger: Ledger,
) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, "web", envVarEnvironments=["production"])
    _deploy(ledger, web, "preview")
    ledger.put({"A": "two"})
    assert ledger.redeploy_stale().json() == {"deployments": []}


def test_refusals_change_nothing(ledger: Ledger, runtime: Runtime) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, "web")
    _deploy(ledger, web, "production")
    ledger.put({"A": "two"})
    other = seed_partner(ledger.client, "other")
    client = ledger.client
    path = ledger.owner_path() + "/secrets/redeploy-stale"
    before = database_snapshot(runtime)
    answers = [
        (client.post(path), 401),
        (client.post(path, headers=ledger.partner.auth()), 403),  # an integration token
        (client.post(path, headers=other.auth(other.user_token)), 403),  # another team
        (
            client.post(
                ledger.owner_path("nope") + "/secrets/redeploy-stale",
                headers=ledger.workspace.headers,
            ),
            404,
        ),
        (
            client.post(
                ledger.partner_path() + "/secrets/redeploy-stale", headers=ledger.partner.auth()
            ),
            404,  # owners only: the partner path has no such route
        ),
    ]
    assert [response.status_code for response, _ in answers] == [code for _, code in answers]
    assert database_snapshot(runtime) == before
    partner = ledger.partner
    assert partner.client.delete(partner.resource_path(), headers=partner.auth()).status_code == 204
    before = database_snapshot(runtime)
    deleted = ledger.redeploy_stale()
    assert (deleted.status_code, deleted.json()["error"]["code"]) == (404, "not_found")
    assert database_snapshot(runtime) == before


def test_redeploys_are_announced_as_the_calling_users_deployments(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, "web")
    _deploy(ledger, web, "production")
    ledger.put({"A": "two"})
    [made] = ledger.redeploy_stale().json()["deployments"]
    headers = ledger.workspace.headers
    user = ledger.client.get("/v2/user", headers=headers).json()["user"]["id"]
    events = ledger.client.get(
        "/v1/events", params={"type": "deployment.created"}, headers=headers
    ).json()["events"]
    [created] = [e["payload"] for e in events if e["payload"]["deployment"]["id"] == made["id"]]
    assert created["user"] == {"id": user}
