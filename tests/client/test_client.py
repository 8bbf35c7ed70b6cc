"""The client against the real server over HTTP: every method, blocking and async, on both
databases."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from keyturn.client import APIError, AsyncClient, Client, ConnectionFailed, Secret
from tests.client.conftest import ClientFactory
from tests.conftest import ADMIN_TOKEN
from tests.live_server import LiveServer, World, seed_world


@contextmanager
def socket_closed_port() -> Iterator[str]:
    """The URL of a port that was just free: nothing listens there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}"


def _import(partner: object, world: World, resource_id: str = "db1", **extra: object) -> None:
    answer = partner.import_resource(  # type: ignore[attr-defined]
        world.installation_id,
        resource_id,
        product_id=world.product_id,
        name=f"{resource_id} name",
        status="ready",
        **extra,
    )
    assert answer.name == f"{resource_id} name"


def test_bootstrap_methods_return_ids_with_vercel_prefixes(world: World) -> None:
    assert world.team_id.startswith("team_")
    assert world.integration_id.startswith("oac_")
    assert world.product_id.startswith("iap_")
    assert world.installation_id.startswith("icfg_")
    assert world.token
    assert world.user_token


def test_import_then_get_resource_shows_names_and_version_never_values(
    api: ClientFactory, world: World
) -> None:
    partner = api(world.token)
    _import(
        partner,
        world,
        metadata={"region": "eu"},
        secrets=[Secret("PGHOST", "db.internal"), {"name": "PGPASSWORD", "value": "s3cret"}],
    )
    resource = partner.get_resource(world.installation_id, "db1")
    assert resource.id == "db1"
    assert resource.internal_id.startswith("res_")
    assert resource.status == "ready"
    assert resource.product_id == world.product_id
    assert resource.metadata == {"region": "eu"}
    assert resource.secrets_version == 1
    assert sorted(resource.secret_names) == ["PGHOST", "PGPASSWORD"]
    assert "s3cret" not in repr(resource)


def test_list_resources_gives_each_resource_with_its_partner_id(
    api: ClientFactory, world: World
) -> None:
    partner = api(world.token)
    _import(partner, world, "db1")
    _import(partner, world, "db2")
    listed = partner.list_resources(world.installation_id)
    assert sorted(r.partner_id for r in listed) == ["db1", "db2"]


def test_update_resource_secrets_full_replace_then_partial_keeps_unsent(
    api: ClientFactory, world: World
) -> None:
    partner = api(world.token)
    _import(partner, world)
    partner.update_resource_secrets(
        world.installation_id,
        "db1",
        [
            Secret("A", "1", prefix="ACME"),
            {"name": "B", "value": "2", "environmentOverrides": {"preview": "2p"}},
        ],
    )
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("C", "3")], partial=True)
    resource = partner.get_resource(world.installation_id, "db1")
    assert sorted(resource.secret_names) == ["A", "B", "C"]
    assert resource.secrets_version == 2
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("C", "3")])
    assert partner.get_resource(world.installation_id, "db1").secret_names == ["C"]


def test_patch_resource_renames_and_patches_secrets_partially(
    api: ClientFactory, world: World
) -> None:
    partner = api(world.token)
    _import(partner, world, secrets=[Secret("A", "1")])
    answer = partner.patch_resource(
        world.installation_id, "db1", name="renamed", secrets=[Secret("B", "2")], partial=True
    )
    assert answer.name == "renamed"
    resource = partner.get_resource(world.installation_id, "db1")
    assert resource.name == "renamed"
    assert sorted(resource.secret_names) == ["A", "B"]
    partner.patch_resource(world.installation_id, "db1", status="suspended", secrets=[])
    resource = partner.get_resource(world.installation_id, "db1")
    assert (resource.status, resource.secret_names) == ("suspended", [])


def test_delete_resource_then_get_raises_not_found(api: ClientFactory, world: World) -> None:
    partner = api(world.token)
    _import(partner, world)
    partner.delete_resource(world.installation_id, "db1")
    with pytest.raises(APIError) as caught:
        partner.get_resource(world.installation_id, "db1")
    assert (caught.value.status, caught.value.code) == (404, "not_found")


def test_rule_broken_raises_api_error_with_the_contract_code_and_no_value(
    api: ClientFactory, world: World
) -> None:
    partner = api(world.token)
    _import(partner, world)
    with pytest.raises(APIError) as caught:
        partner.update_resource_secrets(
            world.installation_id, "db1", [Secret("1BAD", "value-never-shown")]
        )
    assert (caught.value.status, caught.value.code) == (422, "invalid_secret_name")
    assert "value-never-shown" not in str(caught.value)
    assert partner.get_resource(world.installation_id, "db1").secrets_version == 0


def test_bad_body_raises_api_error_whose_fields_name_the_item(
    api: ClientFactory, world: World
) -> None:
    partner = api(world.token)
    _import(partner, world)
    with pytest.raises(APIError) as caught:
        partner.update_resource_secrets(
            world.installation_id, "db1", [{"name": "A", "value": "1", "colour": "red"}]
        )
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    assert [field.key for field in caught.value.fields] == ["secrets[0].colour"]


def test_unknown_token_raises_unauthorized_with_invalid_token_detail(api: ClientFactory) -> None:
    with pytest.raises(APIError) as caught:
        api("kt_not_a_token_of_anyone").list_projects()
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert caught.value.details.get("invalidToken") is True


def test_projects_create_get_list_delete(api: ClientFactory, world: World) -> None:
    owner = api(world.user_token)
    project = owner.create_project("web")
    assert project.id.startswith("prj_")
    assert project.account_id == world.team_id
    assert owner.get_project("web").id == project.id
    assert [p.id for p in owner.list_projects()] == [project.id]
    owner.delete_project(project.id)
    with pytest.raises(APIError) as caught:
        owner.get_project(project.id)
    assert caught.value.status == 404


def test_connect_derives_env_vars_that_list_env_get_env_and_pull_env_show(
    api: ClientFactory, world: World
) -> None:
    partner, owner = api(world.token), api(world.user_token)
    _import(
        partner,
        world,
        secrets=[Secret("PGHOST", "db.internal", environment_overrides={"preview": "db.preview"})],
    )
    project = owner.create_project("web")
    connection = owner.connect(
        world.installation_id,
        "db1",
        project.id,
        environments=["production", "preview"],
        prefix="DB1",
    )
    assert connection.project_id == project.id
    assert connection.env_var_environments == ["production", "preview"]
    assert connection.env_var_prefix == "DB1"
    listed = owner.list_connections(world.installation_id, "db1")
    assert [c.id for c in listed] == [connection.id]

    envs = owner.list_env(project.id, target="production", decrypt=True)
    assert [(e.key, e.value) for e in envs] == [("DB1_PGHOST", "db.internal")]
    hint = envs[0].content_hint
    assert hint is not None
    assert hint.integration_configuration_id == world.installation_id
    assert "db.internal" not in repr(envs[0])
    assert owner.get_env(project.id, envs[0].id).value == "db.internal"
    assert owner.pull_env(project.id, "preview") == {"DB1_PGHOST": "db.preview"}
    assert owner.pull_env(project.id, "development") == {}

    owner.disconnect(world.installation_id, "db1", project.id)
    assert owner.pull_env(project.id, "production") == {}


def test_pull_env_with_a_git_branch_holding_a_slash(api: ClientFactory, world: World) -> None:
    partner, owner = api(world.token), api(world.user_token)
    _import(partner, world, secrets=[Secret("KEY", "v")])
    project = owner.create_project("web")
    owner.connect(world.installation_id, "db1", project.id)
    assert owner.pull_env(project.id, "preview", git_branch="feature/login") == {"KEY": "v"}


def test_deployments_freeze_env_and_redeploy_takes_the_current_one(
    api: ClientFactory, world: World
) -> None:
    partner, owner = api(world.token), api(world.user_token)
    _import(partner, world, secrets=[Secret("KEY", "one")])
    project = owner.create_project("web")
    owner.connect(world.installation_id, "db1", project.id)
    first = owner.create_deployment("web", project=project.id, target="production")
    assert (first.project_id, first.target, first.ready_state) == (
        project.id,
        "production",
        "READY",
    )
    internal_id = partner.get_resource(world.installation_id, "db1").internal_id
    used = [(v.resource_id, v.secrets_version) for v in first.secrets_versions]
    assert used == [(internal_id, 1)]
    partner.update_resource_secrets(world.installation_id, "db1", [Secret("KEY", "two")])
    assert owner.pull_deployment_env(first.id) == {"KEY": "one"}

    second = owner.redeploy(first.id)
    assert second.id != first.id
    assert owner.pull_deployment_env(second.id) == {"KEY": "two"}
    assert owner.get_deployment(first.id).id == first.id
    listed = owner.list_deployments(project_id=project.id, target="production")
    assert sorted(d.id for d in listed) == sorted([first.id, second.id])

    owner.delete_deployment(first.id)
    assert [d.id for d in owner.list_deployments(project_id=project.id)] == [second.id]


def test_nothing_listening_raises_connection_failed() -> None:
    with (
        socket_closed_port() as url,
        Client(url, "kt_token", max_retries=1) as client,
        pytest.raises(ConnectionFailed),
    ):
        client.list_projects()


def test_secret_repr_hides_value_and_overrides() -> None:
    secret = Secret("PGPASSWORD", "hunter2", environment_overrides={"preview": "hunter3"})
    assert "hunter2" not in repr(secret)
    assert "hunter3" not in repr(secret)
    assert "PGPASSWORD" in repr(secret)


def test_async_client_has_every_method_of_the_client_with_the_same_parameters() -> None:
    def methods(kind: type) -> dict[str, list[inspect.Parameter]]:
        return {
            name: list(inspect.signature(member).parameters.values())
            for name, member in inspect.getmembers(kind, inspect.isfunction)
            if not name.startswith("_")
        }

    blocking, asynchronous = methods(Client), methods(AsyncClient)
    assert blocking == asynchronous
    assert all(inspect.iscoroutinefunction(getattr(AsyncClient, name)) for name in asynchronous)


def test_async_client_serves_concurrent_calls_on_one_loop(live_server: LiveServer) -> None:
    async def scenario() -> list[str]:
        async with AsyncClient(live_server.url, ADMIN_TOKEN) as admin:
            teams = await asyncio.gather(*(admin.create_team(f"team-{n}") for n in range(5)))
        return sorted(team.slug for team in teams)

    assert asyncio.run(scenario()) == [f"team-{n}" for n in range(5)]


def test_blocking_client_closes_its_connections_as_a_context_manager(
    live_server: LiveServer,
) -> None:
    with Client(live_server.url, ADMIN_TOKEN) as admin:
        world = seed_world(admin, "ctx")
    assert world.installation_id.startswith("icfg_")
    with pytest.raises(RuntimeError):
        admin.create_team("after-close")


def test_integration_partner_settings_set_cleared_and_a_new_client_secret(
    api: ClientFactory,
) -> None:
    admin = api(ADMIN_TOKEN)
    created = admin.create_integration(
        "acme",
        [{"slug": "postgres"}],
        base_url="https://partner.example/api",
        webhook_url="https://partner.example/hooks",
    )
    assert created.client_id == created.id
    assert (created.base_url, created.webhook_url) == (
        "https://partner.example/api",
        "https://partner.example/hooks",
    )
    assert created.client_secret
    assert created.client_secret not in repr(created)
    # base_url given as None is sent as null and clears; webhook_url not given stays.
    updated = admin.update_integration("acme", base_url=None)
    assert (updated.base_url, updated.webhook_url) == (None, "https://partner.example/hooks")
    renewed = admin.new_client_secret(created.id)
    assert renewed.client_id == created.id
    assert renewed.client_secret != created.client_secret
    assert renewed.client_secret not in repr(renewed)


def test_integration_with_a_bad_base_url_raises_bad_request_naming_it(api: ClientFactory) -> None:
    with pytest.raises(APIError) as caught:
        api(ADMIN_TOKEN).create_integration("acme", [{"slug": "pg"}], base_url="ftp://nope")
    assert caught.value.status == 400
    assert "baseUrl" in caught.value.message
