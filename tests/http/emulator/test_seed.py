"""`POST /v1/admin/seed` (CONTRACT.md 7): a world in one transaction, or nothing."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.http.emulator.world import (
    ACCESS_TOKEN,
    INSTALLATION,
    PROJECT,
    USER_TOKEN,
    row_counts,
    seed,
    world,
)

USER = {"Authorization": f"Bearer {USER_TOKEN}"}


def test_seed_creates_the_world_with_the_given_ids_and_tokens(emulator: TestClient) -> None:
    response = seed(emulator, world())

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["teams"][0]["id"] == "team_seeded1"
    assert body["teams"][0]["tokens"][0]["token"] == USER_TOKEN
    assert body["teams"][0]["tokens"][0]["id"].startswith("tok_")
    integration = body["integrations"][0]
    assert integration["id"] == integration["clientId"] == "oac_seeded1"
    assert integration["clientSecret"] == world()["integrations"][0]["clientSecret"]
    assert integration["baseUrl"] == "https://partner.example/api"
    assert (integration["webhookUrl"], integration["events"]) == (None, [])
    assert body["integrations"][0]["products"] == [
        {"id": "iap_seeded1", "slug": "postgres", "name": "Postgres"}
    ]
    assert body["installations"] == [
        {
            "id": INSTALLATION,
            "teamId": "team_seeded1",
            "integrationId": "oac_seeded1",
            "accessToken": ACCESS_TOKEN,
        }
    ]
    resource = body["resources"][0]
    assert resource["id"] == "db1"
    assert resource["internalId"].startswith("res_")
    assert (resource["secretsVersion"], resource["secretNames"]) == (1, ["DATABASE_URL", "PGHOST"])
    assert resource["productId"] == "iap_seeded1"
    assert resource["metadata"] == {"region": "fra1"}
    assert body["projects"][0]["id"] == PROJECT
    connection = body["connections"][0]
    assert connection["id"].startswith("conn_")
    assert connection["envVarEnvironments"] == ["production", "preview"]
    # The world works through the ordinary API, with the given tokens.
    production = emulator.get(f"/v3/env/pull/{PROJECT}/production", headers=USER).json()["env"]
    assert production == {"DATABASE_URL": "postgres://u:one@h/db", "ACME_PGHOST": "h"}
    development = emulator.get(f"/v3/env/pull/{PROJECT}/development", headers=USER).json()["env"]
    assert development == {}


def test_seed_makes_every_id_and_token_left_out(emulator: TestClient) -> None:
    fixture = {
        "teams": [{"slug": "t", "tokens": [{}]}],
        "integrations": [{"slug": "i", "products": [{"slug": "p"}]}],
    }
    body = seed(emulator, fixture).json()
    team_id = body["teams"][0]["id"]
    assert re.fullmatch(r"[A-Za-z0-9]{32,}", body["integrations"][0]["clientSecret"])
    assert team_id.startswith("team_")
    assert body["integrations"][0]["id"].startswith("oac_")
    installed = seed(emulator, {"installations": [{"teamId": team_id, "integration": "i"}]})
    assert installed.status_code == 201
    installation = installed.json()["installations"][0]
    assert installation["id"].startswith("icfg_")
    token = installation["accessToken"]
    listing = emulator.get(
        f"/v1/installations/{installation['id']}/resources",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listing.status_code == 200
    user = body["teams"][0]["tokens"][0]["token"]
    assert (
        emulator.get("/v9/projects", headers={"Authorization": f"Bearer {user}"}).status_code == 200
    )


def test_an_empty_fixture_creates_nothing_and_answers_empty_lists(emulator: TestClient) -> None:
    body = seed(emulator, {}).json()
    assert body == {
        key: []
        for key in [
            "teams",
            "integrations",
            "installations",
            "resources",
            "projects",
            "connections",
        ]
    }


Change = Callable[[dict[str, Any]], None]


def _set(path: list[str | int], value: object) -> Change:
    def change(fixture: dict[str, Any]) -> None:
        node: Any = fixture
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _add(part: str, item: dict[str, Any]) -> Change:
    def change(fixture: dict[str, Any]) -> None:
        fixture[part].append(item)

    return change


SECOND_RESOURCE = {
    "installationId": INSTALLATION,
    "id": "db2",
    "productId": "postgres",
    "name": "Other DB",
    "status": "ready",
    "secrets": [{"name": "DATABASE_URL", "value": "x"}],
}


@pytest.mark.parametrize(
    ("change", "status", "code", "named"),
    [
        pytest.param(
            _set(["resources", 0, "secrets", 1, "name"], "1PGHOST"),
            422,
            "invalid_secret_name",
            "resources[0].secrets[1].name",
            id="secret-name",
        ),
        pytest.param(
            _set(["resources", 0, "secrets", 1, "name"], "TZ"),
            422,
            "reserved_secret_name",
            "resources[0].secrets[1].name",
            id="reserved-name",
        ),
        pytest.param(
            _set(["resources", 0, "secrets", 1, "value"], 5),
            400,
            "bad_request",
            "resources[0].secrets[1].value",
            id="value-not-a-string",
        ),
        pytest.param(
            _set(["teams", 0, "id"], "prj_seeded1"),
            400,
            "bad_request",
            "teams[0].id",
            id="id-prefix",
        ),
        pytest.param(
            _set(["teams", 0, "tokens", 0, "token"], "kt-user-with-dashes-0001"),
            400,
            "bad_request",
            "teams[0].tokens[0].token",
            id="token-alphabet",
        ),
        pytest.param(
            _set(["installations", 0, "accessToken"], "short"),
            400,
            "bad_request",
            "installations[0].accessToken",
            id="token-too-short",
        ),
        pytest.param(
            _set(["installations", 0, "accessToken"], USER_TOKEN),
            422,
            "conflict",
            "installations[0].accessToken",
            id="token-taken",
        ),
        pytest.param(
            _set(["installations", 0, "accessToken"], ADMIN_TOKEN),
            422,
            "conflict",
            "installations[0].accessToken",
            id="token-is-the-admin-token",
        ),
        pytest.param(
            _add("teams", {"slug": "acme"}),
            422,
            "conflict",
            "teams[1].slug",
            id="slug-twice",
        ),
        pytest.param(
            _set(["installations", 0, "teamId"], "team_nobody"),
            422,
            "not_found",
            "installations[0].teamId",
            id="unknown-team",
        ),
        pytest.param(
            _set(["projects", 0, "name"], "Not A Name"),
            400,
            "bad_request",
            "projects[0].name",
            id="project-name",
        ),
        pytest.param(
            _set(["resources", 0, "productId"], "redis"),
            422,
            "not_found",
            "resources[0].productId",
            id="unknown-product",
        ),
        pytest.param(
            lambda fixture: (
                fixture["resources"].append(SECOND_RESOURCE),
                fixture["connections"].append(
                    {"installationId": INSTALLATION, "resourceId": "db2", "projectId": PROJECT}
                ),
            ),
            422,
            "env_var_conflict",
            "connections[1]",
            id="key-conflict",
        ),
        pytest.param(
            _set(["connections", 0, "envVarEnvironments"], ["staging"]),
            400,
            "bad_request",
            "connections[0].envVarEnvironments[0]",
            id="environment",
        ),
        pytest.param(
            _set(["integrations", 0, "clientSecret"], "too-short"),
            400,
            "bad_request",
            "integrations[0].clientSecret",
            id="client-secret",
        ),
        pytest.param(
            _set(["integrations", 0, "baseUrl"], "ftp://partner.example"),
            400,
            "bad_request",
            "integrations[0].baseUrl",
            id="base-url",
        ),
        pytest.param(
            _set(["integrations", 0, "events"], ["no.such.event"]),
            400,
            "bad_request",
            "integrations[0].events[0]",
            id="event-type",
        ),
        pytest.param(
            _set(["surprise"], []),
            400,
            "bad_request",
            "surprise",
            id="unknown-list",
        ),
    ],
)
def test_a_fixture_breaking_a_rule_names_the_item_and_creates_nothing(
    emulator: TestClient,
    emulator_runtime: Runtime,
    change: Change,
    status: int,
    code: str,
    named: str,
) -> None:
    fixture = copy.deepcopy(world())
    change(fixture)
    before = row_counts(emulator_runtime.store.engine)

    response = seed(emulator, fixture)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(named), error["message"]
    if status == 400:
        assert error["fields"][0]["key"] == named
    assert row_counts(emulator_runtime.store.engine) == before
    assert all(count == 0 for count in before.values())


def test_seeding_the_same_ids_again_is_refused_and_the_first_world_stays(
    emulator: TestClient, emulator_runtime: Runtime
) -> None:
    assert seed(emulator, world()).status_code == 201
    before = row_counts(emulator_runtime.store.engine)

    again = seed(emulator, world())

    assert again.status_code == 422
    assert again.json()["error"]["message"].startswith("teams[0].id")
    assert row_counts(emulator_runtime.store.engine) == before
    env = emulator.get(f"/v3/env/pull/{PROJECT}/production", headers=USER)
    assert env.json()["env"]["DATABASE_URL"] == "postgres://u:one@h/db"
