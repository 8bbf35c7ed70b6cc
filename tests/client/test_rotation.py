"""The client's rotation requests over real HTTP, blocking and async, on both databases, with a
scripted HTTP server standing in for the partner that keyturn calls."""

from __future__ import annotations

import pytest

from keyturn.client import APIError, Secret
from tests.client.conftest import ClientFactory
from tests.conftest import ADMIN_TOKEN
from tests.live_server import World
from tests.scripted_server import Answer, ScriptedServer
from tests.scripted_server import scripted as scripted


@pytest.fixture
def rotatable(api: ClientFactory, world: World, scripted: ScriptedServer) -> str:
    """db1 with KEY=one, connected to project web; the integration's baseUrl is the partner."""
    api(ADMIN_TOKEN).update_integration(world.integration_id, base_url=scripted.url)
    api(world.token).import_resource(
        world.installation_id,
        "db1",
        product_id=world.product_id,
        name="db1",
        status="ready",
        secrets=[Secret("KEY", "one")],
    )
    owner = api(world.user_token)
    project_id: str = owner.create_project("web").id
    owner.connect(world.installation_id, "db1", project_id)
    return project_id


def test_a_sync_answer_completes_the_rotation_at_once(
    api: ClientFactory, world: World, scripted: ScriptedServer, rotatable: str
) -> None:
    scripted.script = [Answer(200, {"sync": True, "secrets": [{"name": "KEY", "value": "two"}]})]
    owner = api(world.user_token)
    rotation = owner.request_rotation(world.installation_id, "db1", reason="leaked")
    assert (rotation.status, rotation.version, rotation.reason) == ("completed", 2, "leaked")
    assert rotation.id.startswith("rot_")
    assert owner.pull_env(rotatable, "production") == {"KEY": "two"}
    ((method, path, key),) = scripted.seen
    partner_path = f"/v1/installations/{world.installation_id}/resources/db1/secrets/rotate"
    assert (method, path) == ("POST", partner_path)
    assert key == rotation.id
    assert scripted.bodies == [{"reason": "leaked"}]
    resource = api(world.token).get_resource(world.installation_id, "db1")
    assert resource.secret_rotation_requested_reason == "leaked"
    assert resource.secret_rotation_completed_at == rotation.completed_at


def test_an_async_answer_leaves_it_pending_until_the_partners_next_update(
    api: ClientFactory, world: World, scripted: ScriptedServer, rotatable: str
) -> None:
    scripted.script = [Answer(202, {"sync": False})]
    owner, partner = api(world.user_token), api(world.token)
    rotation = owner.request_rotation(
        world.installation_id, "db1", delay_old_secrets_expiration_hours=1.5
    )
    assert (rotation.status, rotation.delay_old_secrets_expiration_hours) == ("pending", 1.5)
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("KEY", "two")])
    (done,) = partner.list_rotations(world.installation_id, "db1")
    assert (done.id, done.status, done.version) == (rotation.id, "completed", 2)
    assert owner.list_rotations(world.installation_id, "db1", owner=True) == [done]


def test_a_partner_refusal_raises_partner_error_with_the_failed_rotation(
    api: ClientFactory, world: World, scripted: ScriptedServer, rotatable: str
) -> None:
    refusal = {"error": {"code": "not_today", "message": "maintenance"}}
    scripted.script = [Answer(400, refusal)]
    owner = api(world.user_token)
    with pytest.raises(APIError) as caught:
        owner.request_rotation(world.installation_id, "db1")
    assert (caught.value.status, caught.value.code) == (502, "partner_error")
    failed = caught.value.details["rotation"]
    assert (failed["status"], failed["error"]["code"]) == ("failed", "not_today")
    # Final, not retried by the client: one rotation, one call to the partner.
    assert len(owner.list_rotations(world.installation_id, "db1", owner=True)) == 1
    assert len(scripted.seen) == 1
    assert owner.pull_env(rotatable, "production") == {"KEY": "one"}


def test_an_integration_without_base_url_refuses_rotation(
    api: ClientFactory, world: World, scripted: ScriptedServer, rotatable: str
) -> None:
    api(ADMIN_TOKEN).update_integration(world.integration_id, base_url=None)
    with pytest.raises(APIError) as caught:
        api(world.user_token).request_rotation(world.installation_id, "db1")
    assert (caught.value.status, caught.value.code) == (409, "rotation_not_supported")
    assert scripted.seen == []
