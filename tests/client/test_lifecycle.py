"""The client's rotation-lifecycle methods (secrets versions, usage, redeploy-stale) over real
HTTP, blocking and async, on both databases."""

from __future__ import annotations

import pytest

from keyturn.client import APIError, Secret
from keyturn.domain.clock import SettableClock
from tests.client.conftest import ClientFactory
from tests.live_server import World


@pytest.fixture
def deployed(api: ClientFactory, world: World) -> str:
    """db1 imported with KEY=one, connected to project web, deployed to production once."""
    partner, owner = api(world.token), api(world.user_token)
    partner.import_resource(
        world.installation_id,
        "db1",
        product_id=world.product_id,
        name="db1",
        status="ready",
        secrets=[Secret("KEY", "one")],
    )
    project = owner.create_project("web")
    owner.connect(world.installation_id, "db1", project.id)
    deployment_id: str = owner.create_deployment("web", project=project.id, target="production").id
    return deployment_id


def test_secrets_versions_newest_first_with_sources_and_names(
    api: ClientFactory, world: World, deployed: str
) -> None:
    partner = api(world.token)
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("KEY", "two")])
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("NEW", "n")], True)
    history = partner.secrets_versions(world.installation_id, "db1")
    assert history.current_version == 3
    assert [(v.version, v.source) for v in history.versions] == [
        (3, "update"),
        (2, "update"),
        (1, "import"),
    ]
    assert (history.versions[0].added, history.versions[1].changed) == (["NEW"], ["KEY"])
    page = partner.secrets_versions(world.installation_id, "db1", limit=1, until=3)
    assert [v.version for v in page.versions] == [2]
    owner_view = api(world.user_token).secrets_versions(world.installation_id, "db1", owner=True)
    assert owner_view == history


def test_secrets_versions_limit_out_of_range_raises_bad_request(
    api: ClientFactory, world: World, deployed: str
) -> None:
    with pytest.raises(APIError) as caught:
        api(world.token).secrets_versions(world.installation_id, "db1", limit=0)
    assert (caught.value.status, caught.value.code) == (400, "bad_request")


def test_secrets_usage_shows_the_old_value_in_use_until_its_deployment_is_deleted(
    api: ClientFactory, world: World, deployed: str
) -> None:
    partner, owner = api(world.token), api(world.user_token)
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("KEY", "two")])
    usage = partner.secrets_usage(world.installation_id, "db1")
    assert usage.current_version == 2
    (old,) = (v for v in usage.values if not v.current)
    assert (old.name, old.from_version, old.to_version) == ("KEY", 1, 1)
    assert (old.live_deployments, old.deployment_ids, old.safe_to_revoke) == (1, [deployed], False)
    assert partner.secrets_usage(world.installation_id, "db1", state="revocable").values == []
    owner.delete_deployment(deployed)
    revocable = owner.secrets_usage(world.installation_id, "db1", state="revocable", owner=True)
    assert [(v.name, v.from_version) for v in revocable.values] == [("KEY", 1)]


def test_redeploy_stale_redeploys_once_and_then_finds_nothing_stale(
    api: ClientFactory, world: World, deployed: str, clock: SettableClock
) -> None:
    partner, owner = api(world.token), api(world.user_token)
    # The test's clock stands still: move it so that the redeploy is the newer deployment.
    clock.advance(1000)
    assert owner.get_deployment(deployed).secrets_versions[0].current_version == 1
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("KEY", "two")])
    assert owner.get_deployment(deployed).secrets_versions[0].current_version == 2
    redeployed = owner.redeploy_stale(world.installation_id, "db1")
    assert len(redeployed) == 1
    assert owner.pull_deployment_env(redeployed[0].id) == {"KEY": "two"}
    assert owner.redeploy_stale(world.installation_id, "db1") == []


def test_rollback_restores_an_old_set_as_a_new_version(
    api: ClientFactory, world: World, deployed: str
) -> None:
    partner, owner = api(world.token), api(world.user_token)
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("KEY", "two")])
    assert partner.rollback(world.installation_id, "db1", 1).version == 3
    project_id = owner.get_deployment(deployed).project_id
    assert owner.pull_env(project_id, "production") == {"KEY": "one"}
    assert partner.get_resource(world.installation_id, "db1").secrets_version == 3
    # The set is already version 1's: no new version.
    assert partner.rollback(world.installation_id, "db1", 1).version == 3


def test_rollback_to_an_unknown_version_raises_not_found(
    api: ClientFactory, world: World, deployed: str
) -> None:
    with pytest.raises(APIError) as caught:
        api(world.token).rollback(world.installation_id, "db1", 9)
    assert (caught.value.status, caught.value.code) == (404, "not_found")
