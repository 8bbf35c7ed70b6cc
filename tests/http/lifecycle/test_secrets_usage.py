"""`GET {partner or owner path}/secrets/usage` (CONTRACT.md 5.2) and `currentVersion` on
deployments: which live deployments still run each stored value."""

from __future__ import annotations

import pytest

from keyturn.app import Runtime
from keyturn.domain.secrets import Secret, VersionProvenance
from keyturn.services.secrets import apply_secrets, find_live_resource
from tests.conftest import seed_partner
from tests.http.lifecycle.conftest import Ledger
from tests.storage_snapshot import database_snapshot

HOUR_MS = 3_600_000


def _project(ledger: Ledger, name: str = "web", **options: object) -> str:
    project_id = ledger.workspace.create_project(name)
    assert ledger.workspace.connect(project_id, **options).status_code == 201
    return project_id


def _deploy(ledger: Ledger, project_id: str, target: str = "production", **extra: object) -> str:
    body = {"name": "web", "project": project_id, "target": target, **extra}
    deployment_id: str = ledger.deploy(body)["id"]
    return deployment_id


def _delete(ledger: Ledger, deployment_id: str) -> None:
    response = ledger.client.delete(
        f"/v13/deployments/{deployment_id}", headers=ledger.workspace.headers
    )
    assert response.status_code == 200, response.text


def test_usage_counts_live_and_serving_deployments_per_value(ledger: Ledger) -> None:
    ledger.put({"DATABASE_URL": "url-1", "PGHOST": "host-1"})
    web = _project(ledger)
    first = _deploy(ledger, web)
    ledger.put({"DATABASE_URL": "url-2"}, partial=True)
    second = _deploy(ledger, web)
    version_2 = ledger.versions()["versions"][0]
    body = ledger.usage()
    assert body["currentVersion"] == 2
    assert [(v["name"], v["fromVersion"]) for v in body["values"]] == [
        ("DATABASE_URL", 2),
        ("DATABASE_URL", 1),
        ("PGHOST", 1),
    ]
    assert body["values"] == [
        {
            "name": "DATABASE_URL",
            "fromVersion": 2,
            "toVersion": None,
            "current": True,
            "supersededAt": None,
            "expiresAt": None,
            "liveDeployments": 1,
            "servingDeployments": 1,
            "deploymentIds": [second],
            "safeToRevoke": False,
        },
        {
            "name": "DATABASE_URL",
            "fromVersion": 1,
            "toVersion": 1,
            "current": False,
            "supersededAt": version_2["createdAt"],
            "expiresAt": None,
            "liveDeployments": 1,
            "servingDeployments": 0,  # `second` is now the newest of web's production
            "deploymentIds": [first],
            "safeToRevoke": False,
        },
        {
            "name": "PGHOST",
            "fromVersion": 1,
            "toVersion": None,
            "current": True,
            "supersededAt": None,
            "expiresAt": None,
            "liveDeployments": 2,
            "servingDeployments": 1,
            "deploymentIds": [second, first],
            "safeToRevoke": False,
        },
    ]
    for value in ("url-1", "url-2", "host-1"):
        assert value not in ledger.get("/secrets/usage").text


def test_a_deleted_deployment_no_longer_counts_and_the_old_value_is_revocable(
    ledger: Ledger,
) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger)
    old = _deploy(ledger, web)
    ledger.put({"A": "two"})
    new = _deploy(ledger, web)
    _delete(ledger, new)
    values = ledger.values()
    # With `new` gone, `old` is the newest of its group again: it serves.
    assert (values[("A", 1)]["liveDeployments"], values[("A", 1)]["servingDeployments"]) == (1, 1)
    _delete(ledger, old)
    values = ledger.values()
    assert values[("A", 1)]["safeToRevoke"] is True
    assert values[("A", 1)]["deploymentIds"] == []
    assert values[("A", 2)]["safeToRevoke"] is False  # current values never are


def test_serving_is_per_project_target_and_git_branch(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger)
    api = _project(ledger, "api")
    kept = [
        _deploy(ledger, web, "production"),
        _deploy(ledger, web, "preview"),
        _deploy(ledger, web, "preview", gitBranch="feature"),
        _deploy(ledger, api, "production"),
    ]
    superseded = _deploy(ledger, web, "preview", gitBranch="other")
    kept.append(_deploy(ledger, web, "preview", gitBranch="other"))
    value = ledger.values()[("A", 1)]
    assert (value["liveDeployments"], value["servingDeployments"]) == (6, 5)
    assert value["deploymentIds"] == _newest_first(ledger, [*kept, superseded])


def _newest_first(ledger: Ledger, ids: list[str]) -> list[str]:
    """`ids` in the ledger's order: by creation time, then id, newest first."""
    created = {
        deployment_id: ledger.deployment(deployment_id)["createdAt"] for deployment_id in ids
    }
    return sorted(ids, key=lambda d: (created[d], d), reverse=True)


def test_a_deployment_counts_once_for_each_value_it_runs(ledger: Ledger) -> None:
    ledger.put({"A": "a1", "B": "b1"})
    web = _project(ledger)
    first = _deploy(ledger, web)
    ledger.put({"A": "a2"}, partial=True)
    ledger.put({"B": "b2"}, partial=True)
    third = _deploy(ledger, web, "preview")
    values = ledger.values()
    # A's first value held in version 1 only; A's second in 2 and 3; B's first in 1 and 2.
    assert values[("A", 1)]["deploymentIds"] == [first]
    assert values[("A", 2)]["deploymentIds"] == [third]
    assert values[("B", 1)]["deploymentIds"] == [first]
    assert values[("B", 3)]["deploymentIds"] == [third]
    assert (values[("A", 2)]["fromVersion"], values[("A", 2)]["toVersion"]) == (2, None)
    assert (values[("B", 1)]["fromVersion"], values[("B", 1)]["toVersion"]) == (1, 2)


def test_removed_names_keep_their_past_values(ledger: Ledger) -> None:
    ledger.put({"A": "one", "B": "two"})
    web = _project(ledger)
    used = _deploy(ledger, web)
    ledger.put({"A": "one"})
    version_2 = ledger.versions()["versions"][0]
    removed = ledger.values()[("B", 1)]
    assert (removed["toVersion"], removed["current"], removed["supersededAt"]) == (
        1,
        False,
        version_2["createdAt"],
    )
    assert removed["deploymentIds"] == [used]
    assert ledger.values()[("A", 1)]["current"] is True


def test_a_deployment_of_a_target_the_connection_skips_uses_nothing(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger, envVarEnvironments=["production"])
    _deploy(ledger, web, "preview")
    assert ledger.values()[("A", 1)]["liveDeployments"] == 0


def test_at_most_100_deployment_ids_newest_first(ledger: Ledger) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger)
    ids = [_deploy(ledger, web, "preview", gitBranch=f"b{n}") for n in range(101)]
    newest = _newest_first(ledger, ids)[:100]
    value = ledger.values()[("A", 1)]
    assert (value["liveDeployments"], value["servingDeployments"]) == (101, 101)
    assert value["deploymentIds"] == newest


def test_deployments_spread_over_many_snapshots_count_and_list_as_one_range(
    ledger: Ledger,
) -> None:
    """A prefix per project gives each project's deployments their own env snapshot: a
    version's counts and newest ids are still every live deployment of it, across them."""
    ledger.put({"A": "one"})
    projects = [_project(ledger, f"p{n}", envVarPrefix=f"P{n}") for n in range(12)]
    ids = [
        _deploy(ledger, project, target)
        for target in ("production", "preview")
        for project in projects
    ]
    ids += [
        _deploy(ledger, project, "preview", gitBranch=f"b{n}")
        for n in range(80)
        for project in projects[:1]
    ]
    ledger.put({"A": "two"})
    later = [_deploy(ledger, project) for project in projects[:3]]
    _delete(ledger, ids[0])  # neither newest nor serving: p0's production of version 1
    _delete(ledger, later[2])  # the newest of p2's production: version 1 serves there again
    old, new = ledger.values()[("A", 1)], ledger.values()[("A", 2)]
    kept = ids[1:]
    assert (old["liveDeployments"], old["servingDeployments"]) == (len(kept), len(kept) - 1)
    assert old["deploymentIds"] == _newest_first(ledger, kept)[:100]
    assert (new["liveDeployments"], new["servingDeployments"]) == (2, 2)
    assert new["deploymentIds"] == _newest_first(ledger, later[:2])


def test_expires_at_follows_a_rotation_that_gave_a_delay(ledger: Ledger, runtime: Runtime) -> None:
    ledger.put({"A": "one", "B": "two"})
    with runtime.store.write() as uow:
        resource = find_live_resource(uow, ledger.partner.installation_id, "db1", for_update=True)
        apply_secrets(
            uow,
            resource,
            [Secret(name="A", value="rotated")],
            partial=False,
            provenance=VersionProvenance(
                source="rotation", rotation_id="rot_1", superseded_expire_after_ms=2 * HOUR_MS
            ),
        )
        uow.commit()
    ledger.put({"A": "again"})
    versions = {v["version"]: v for v in ledger.versions()["versions"]}
    values = ledger.values()
    # Version 2 completed the rotation: what it superseded (A's and removed B's first
    # values) expires two hours after it; what version 3 superseded has no date.
    assert values[("A", 1)]["expiresAt"] == versions[2]["createdAt"] + 2 * HOUR_MS
    assert values[("B", 1)]["expiresAt"] == versions[2]["createdAt"] + 2 * HOUR_MS
    assert values[("A", 2)]["expiresAt"] is None
    assert values[("A", 2)]["supersededAt"] == versions[3]["createdAt"]
    assert values[("A", 3)]["expiresAt"] is None


def test_the_state_filter_keeps_current_in_use_or_revocable_values(ledger: Ledger) -> None:
    ledger.put({"A": "a1", "B": "b1"})
    web = _project(ledger)
    _deploy(ledger, web)
    ledger.put({"A": "a2", "B": "b1"})
    ledger.put({"A": "a3", "B": "b1"})

    def keys(state: str) -> list[tuple[str, int]]:
        return [(v["name"], v["fromVersion"]) for v in ledger.usage(state=state)["values"]]

    assert keys("current") == [("A", 3), ("B", 1)]
    assert keys("in-use") == [("A", 1)]
    assert keys("revocable") == [("A", 2)]
    assert len(ledger.usage()["values"]) == 4


@pytest.mark.parametrize("state", ["", "CURRENT", "stale", "in_use"])
def test_an_unknown_state_is_a_400_naming_it(ledger: Ledger, runtime: Runtime, state: str) -> None:
    ledger.put({"A": "one"})
    before = database_snapshot(runtime)
    for owner in (False, True):
        response = ledger.get("/secrets/usage", owner=owner, state=state)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["fields"][0]["key"]) == ("bad_request", "state")
        assert error["message"].startswith("state:")
    assert database_snapshot(runtime) == before


def test_usage_of_a_deleted_resource_is_a_404_and_deployments_show_no_current_version(
    ledger: Ledger,
) -> None:
    ledger.put({"A": "one"})
    web = _project(ledger)
    deployment_id = _deploy(ledger, web)
    partner = ledger.partner
    assert ledger.deployment(deployment_id)["secretsVersions"][0]["currentVersion"] == 1
    ledger.put({"A": "two"})
    used = ledger.deployment(deployment_id)["secretsVersions"][0]
    assert (used["secretsVersion"], used["currentVersion"]) == (1, 2)
    assert partner.client.delete(partner.resource_path(), headers=partner.auth()).status_code == 204
    for owner in (False, True):
        response = ledger.get("/secrets/usage", owner=owner, state="bogus")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    used = ledger.deployment(deployment_id)["secretsVersions"][0]
    assert (used["secretsVersion"], used["currentVersion"]) == (1, None)
    listed = ledger.client.get("/v6/deployments", headers=ledger.workspace.headers).json()
    assert listed["deployments"][0]["secretsVersions"][0]["currentVersion"] is None


def test_usage_refuses_tokens_that_do_not_reach_the_resource(ledger: Ledger) -> None:
    other = seed_partner(ledger.client, "other")
    client = ledger.client
    partner_path = ledger.partner_path() + "/secrets/usage"
    owner_path = ledger.owner_path() + "/secrets/usage"
    assert client.get(partner_path).status_code == 401
    refused = [
        client.get(partner_path, headers=other.auth()),
        client.get(partner_path, headers=ledger.workspace.headers),
        client.get(owner_path, headers=other.auth(other.user_token)),
        client.get(owner_path, headers=ledger.partner.auth()),
    ]
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(403, "forbidden")] * 4
    unknown = client.get(
        "/v1/integrations/installations/icfg_nope/resources/db1/secrets/usage",
        headers=ledger.workspace.headers,
    )
    assert unknown.status_code == 404
