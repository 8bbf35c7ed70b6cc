"""`keyturn secrets versions|usage` and `keyturn redeploy-stale` against a live server."""

from __future__ import annotations

import json

from keyturn.client import Client, Secret
from keyturn.domain.clock import SettableClock
from tests.cli.conftest import Seeded, run
from tests.conftest import ADMIN_TOKEN
from tests.scripted_server import Answer, ScriptedServer
from tests.scripted_server import scripted as scripted


def _rotate_after_a_deployment(seeded: Seeded) -> str:
    with seeded.owner() as owner:
        deployment_id = owner.create_deployment("web", project=seeded.project_id).id
    with seeded.partner() as partner:
        partner.update_resource_secrets(seeded.world.installation_id, "db1", [Secret("OLD", "2")])
    return deployment_id


def test_secrets_versions_as_json_and_as_a_table(seeded: Seeded) -> None:
    _rotate_after_a_deployment(seeded)
    args = ("secrets", "versions", seeded.world.installation_id, "db1")
    code, out, _ = run(seeded, seeded.world.token, *args, "--json")
    assert code == 0
    body = json.loads(out)
    assert body["currentVersion"] == 2
    assert [(v["version"], v["changed"]) for v in body["versions"]] == [(2, ["OLD"]), (1, [])]
    code, out, _ = run(seeded, seeded.world.user_token, *args, "--owner")
    assert (code, "current version 2" in out) == (0, True)


def test_secrets_usage_lists_the_value_a_live_deployment_still_runs(seeded: Seeded) -> None:
    deployment_id = _rotate_after_a_deployment(seeded)
    args = ("secrets", "usage", seeded.world.installation_id, "db1", "--state", "in-use")
    code, out, _ = run(seeded, seeded.world.token, *args, "--json")
    assert code == 0
    (value,) = json.loads(out)["values"]
    assert (value["fromVersion"], value["deploymentIds"]) == (1, [deployment_id])
    code, out, _ = run(seeded, seeded.world.token, *args)
    assert (code, "safe to revoke" in out) == (0, True)


def test_redeploy_stale_redeploys_then_finds_nothing(seeded: Seeded, clock: SettableClock) -> None:
    _rotate_after_a_deployment(seeded)
    # The test's clock stands still: move it so that the redeploy is the newer deployment.
    clock.advance(1000)
    args = ("redeploy-stale", seeded.world.installation_id, "db1", "--json")
    code, out, _ = run(seeded, seeded.world.user_token, *args)
    assert code == 0
    assert [d["projectId"] for d in json.loads(out)] == [seeded.project_id]
    code, out, _ = run(seeded, seeded.world.user_token, *args)
    assert (code, json.loads(out)) == (0, [])


def test_secrets_usage_with_a_bad_state_exits_1(seeded: Seeded) -> None:
    args = ("secrets", "usage", seeded.world.installation_id, "db1", "--state", "nope")
    code, _, err = run(seeded, seeded.world.token, *args)
    assert code == 1
    assert "400 bad_request" in err


def test_rotate_prints_the_completed_rotation_and_a_refusal_exits_1(
    seeded: Seeded, scripted: ScriptedServer
) -> None:
    with Client(seeded.url, ADMIN_TOKEN) as admin:
        admin.update_integration(seeded.world.integration_id, base_url=scripted.url)
    new_secrets = {"sync": True, "secrets": [{"name": "OLD", "value": "rotated"}]}
    scripted.script = [Answer(200, new_secrets), Answer(400, {})]
    args = ("rotate", seeded.world.installation_id, "db1", "--reason", "leaked")
    code, out, _ = run(seeded, seeded.world.user_token, *args, "--json")
    assert code == 0
    assert (json.loads(out)["status"], json.loads(out)["version"]) == ("completed", 2)
    code, _, err = run(seeded, seeded.world.user_token, *args)
    assert code == 1
    assert "502 partner_error" in err
