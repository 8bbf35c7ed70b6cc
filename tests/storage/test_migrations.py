"""The migrations build exactly the schema the code declares, can be undone, and move data
without changing what anything pulls."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from keyturn.app import Runtime
from keyturn.domain.environment import resolve_entries
from keyturn.domain.resources import Resource
from keyturn.domain.secrets import Secret, diff_secrets, merge_secrets
from keyturn.services.env import project_variables
from keyturn.storage.migrate import alembic_config, pending_migrations, upgrade
from keyturn.storage.repositories.deployments import open_copied_env
from keyturn.storage.repositories.resources import RESOURCE_FIELDS
from keyturn.storage.tables import deployments, metadata, resources
from tests.conftest import Partner, Workspace
from tests.storage_snapshot import database_snapshot


def test_migrated_schema_matches_the_tables(runtime: Runtime) -> None:
    with runtime.store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert not pending_migrations(runtime.store.engine)


def test_downgrade_to_base_and_upgrade_again(runtime: Runtime) -> None:
    engine = runtime.store.engine
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert pending_migrations(engine)
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}


# Deployments as revision 0002 stored them: every key of the env sealed in `deployment_env`.
deployments_0002 = sa.table(
    "deployments",
    *(sa.column(name) for name in ("id", "project_id", "name", "target", "git_branch", "url")),
    sa.column("created_at"),
)
versions_of_resources_0002 = sa.table(
    "secrets_versions", sa.column("resource_id"), sa.column("version"), sa.column("created_at")
)
versions_0002 = sa.table(
    "deployment_secrets_versions",
    sa.column("deployment_id"),
    sa.column("resource_id"),
    sa.column("secrets_version"),
)
# A deployment's references from revision 0005 until 0013 (which made them shared snapshots).
references_0011 = sa.table(
    "deployment_secrets_versions",
    *(
        sa.column(name)
        for name in ("deployment_id", "resource_id", "secrets_version", "env_var_prefix")
    ),
    *(sa.column(name) for name in ("in_production", "in_preview", "in_development")),
    *(sa.column(name) for name in ("make_sensitive", "created_at", "serving")),
)
# A deployment's copied variables until revision 0012: one sealed row per key.
deployment_env = sa.table(
    "deployment_env",
    sa.column("deployment_id"),
    sa.column("key"),
    sa.column("type"),
    sa.column("value_ciphertext"),
)


def _migrate(runtime: Runtime, revision: str) -> None:
    config = alembic_config()
    config.attributes["keys"] = runtime.store.keys
    with runtime.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def _deploy_as_0002(
    runtime: Runtime, project_id: str, target: str, git_branch: str | None = None
) -> str:
    """Freeze the project's env the way revision 0002 did: a sealed row per key."""
    deployment_id = runtime.store.ids.new("dpl")
    with runtime.store.write() as uow:
        project = uow.projects.by_id(project_id)
        assert project is not None
        variables = project_variables(uow, project)
        frozen = resolve_entries(
            ((var.key, var, var.git_branch) for var in variables if target in var.targets),
            git_branch,
        )
        links = uow.connections.of_projects([project_id])
    with runtime.store.engine.begin() as connection:
        connection.execute(
            deployments_0002.insert().values(
                id=deployment_id,
                project_id=project_id,
                name="web",
                target=target,
                git_branch=git_branch,
                url="web.keyturn.localhost",
                created_at=runtime.store.clock.now_ms(),
            )
        )
        for key, var in frozen.items():
            connection.execute(
                deployment_env.insert().values(
                    deployment_id=deployment_id,
                    key=key,
                    type=var.type,
                    value_ciphertext=runtime.store.keys.seal(
                        var.value, associated_data=f"deployment-env/{deployment_id}/{key}"
                    ),
                )
            )
        for conn, resource in links:
            if target in conn.environments:
                connection.execute(
                    versions_0002.insert().values(
                        deployment_id=deployment_id,
                        resource_id=resource.internal_id,
                        secrets_version=resource.secrets_version,
                    )
                )
    return deployment_id


# The resource columns revision 0002 had, in `Resource`'s field order.
RESOURCE_FIELDS_0002 = tuple(name for name in RESOURCE_FIELDS if name != "secrets_digest")


def _update_secrets_as_0002(
    runtime: Runtime, installation_id: str, partner_id: str, update: list[Secret]
) -> None:
    """A partial secrets update as revision 0002 stored it: a version row without provenance."""
    # Read with 0002's columns: today's `live` reads columns added later (secrets_digest).
    with runtime.store.engine.connect() as connection:
        row = connection.execute(
            select(*(resources.c[name] for name in RESOURCE_FIELDS_0002)).where(
                resources.c.installation_id == installation_id,
                resources.c.partner_id == partner_id,
                resources.c.deleted_at.is_(None),
            )
        ).one()
    resource = Resource(**dict(zip(RESOURCE_FIELDS_0002, row, strict=True)))
    with runtime.store.write() as uow:
        current = uow.secrets.current(resource)
        merged = merge_secrets(current, update, partial=True)
        version = resource.secrets_version + 1
        uow.secrets.write_version(resource, version, diff_secrets(current, merged), merged)
        uow.commit()
    with runtime.store.engine.begin() as connection:
        connection.execute(
            versions_of_resources_0002.insert().values(
                resource_id=resource.internal_id,
                version=version,
                created_at=runtime.store.clock.now_ms(),
            )
        )
        connection.execute(
            sa.update(resources)
            .where(resources.c.internal_id == resource.internal_id)
            .values(secrets_version=version)
        )


connections_0002 = sa.table(
    "connections",
    *(
        sa.column(name)
        for name in ("id", "resource_id", "project_id", "in_production", "in_preview")
    ),
    *(sa.column(name) for name in ("in_development", "env_var_prefix", "make_sensitive")),
    sa.column("created_at"),
)


def _internal_id(runtime: Runtime, installation_id: str, partner_id: str) -> str:
    with runtime.store.engine.connect() as connection:
        return str(
            connection.execute(
                select(resources.c.internal_id).where(
                    resources.c.installation_id == installation_id,
                    resources.c.partner_id == partner_id,
                    resources.c.deleted_at.is_(None),
                )
            ).scalar_one()
        )


def _disconnect_as_0002(
    runtime: Runtime, installation_id: str, partner_id: str, project_id: str
) -> None:
    resource_id = _internal_id(runtime, installation_id, partner_id)
    with runtime.store.engine.begin() as connection:
        gone = connection.execute(
            sa.delete(connections_0002).where(
                connections_0002.c.resource_id == resource_id,
                connections_0002.c.project_id == project_id,
            )
        )
        assert gone.rowcount == 1


def _connect_as_0002(
    runtime: Runtime, installation_id: str, partner_id: str, project_id: str, *, prefix: str
) -> None:
    with runtime.store.engine.begin() as connection:
        connection.execute(
            connections_0002.insert().values(
                id=runtime.store.ids.new("conn"),
                resource_id=_internal_id(runtime, installation_id, partner_id),
                project_id=project_id,
                in_production=True,
                in_preview=True,
                in_development=True,
                env_var_prefix=prefix,
                make_sensitive=False,
                created_at=runtime.store.clock.now_ms(),
            )
        )


def _pull_as_0002(runtime: Runtime, deployment_id: str) -> dict[str, str]:
    with runtime.store.engine.connect() as connection:
        rows = connection.execute(
            select(deployment_env).where(deployment_env.c.deployment_id == deployment_id)
        ).all()
    return {
        row.key: ""
        if row.type == "sensitive"
        else runtime.store.keys.open(
            row.value_ciphertext, associated_data=f"deployment-env/{deployment_id}/{row.key}"
        )
        for row in rows
    }


def _copied_keys(runtime: Runtime, deployment_id: str) -> set[str]:
    return set(_copied(runtime, deployment_id))


def _copied(runtime: Runtime, deployment_id: str) -> dict[str, tuple[str, str]]:
    """The deployment's copied variables, {key: (value, type)}, as the newest schema seals them."""
    with runtime.store.engine.connect() as connection:
        sealed = connection.execute(
            select(deployments.c.copied_env_ciphertext).where(deployments.c.id == deployment_id)
        ).scalar_one()
    return open_copied_env(runtime.store.keys, deployment_id, sealed)


def _tokens_expiry_column(runtime: Runtime, *, present: bool) -> None:
    """This test drives today's API on a 0002 schema, and today's token look-up reads
    `tokens.expires_at` (revision 0008): the column is added by hand while the schema is at 0002,
    and taken away again before the upgrade adds it for real."""
    statement = (
        "ALTER TABLE tokens ADD COLUMN expires_at BIGINT"
        if present
        else "ALTER TABLE tokens DROP COLUMN expires_at"
    )
    with runtime.store.engine.begin() as connection:
        connection.execute(sa.text(statement))


def connected_projects(partner: Partner, workspace: Workspace) -> tuple[str, str]:
    """Two resources and two projects connected to them in different shapes: `web` to db1
    (prefixed, sensitive, production and preview) and db2, `api` to db1 in preview."""
    partner.import_resource(
        "db1",
        secrets=[
            {"name": "URL", "value": "db1-url-1", "environmentOverrides": {"preview": "db1-pre"}},
            {"name": "NEXT_PUBLIC_HOST", "value": "db1-host", "prefix": "ACME"},
        ],
    )
    partner.import_resource("db2", secrets=[{"name": "TOKEN", "value": "db2-token-1"}])
    web, api = workspace.create_project("web"), workspace.create_project("api")
    assert (
        workspace.connect(
            web,
            "db1",
            envVarPrefix="DB1",
            makeEnvVarsSensitive=True,
            envVarEnvironments=["production", "preview"],
        ).status_code
        == 201
    )
    assert workspace.connect(web, "db2").status_code == 201
    assert workspace.connect(api, "db1", envVarEnvironments=["preview"]).status_code == 201
    return web, api


def test_upgrade_to_references_keeps_what_every_deployment_pulls(
    runtime: Runtime, partner: Partner, workspace: Workspace
) -> None:
    client = partner.client
    web, api = connected_projects(partner, workspace)
    created = workspace.add_var(
        web, {"key": "API_KEY", "value": "user-1", "type": "encrypted", "target": ["production"]}
    )
    user_var = created.json()["created"][0]["id"]
    workspace.add_var(
        web,
        {"key": "FLAG", "value": "on", "type": "plain", "target": ["preview"], "gitBranch": "feat"},
    )

    _migrate(runtime, "0002")
    _tokens_expiry_column(runtime, present=True)
    made = {
        "web production": _deploy_as_0002(runtime, web, "production"),
        "web preview feat": _deploy_as_0002(runtime, web, "preview", "feat"),
        "api preview": _deploy_as_0002(runtime, api, "preview"),
    }
    # Later changes, each of which a deployment must not see: a rotation, a user edit...
    _update_secrets_as_0002(
        runtime, partner.installation_id, "db1", [Secret(name="URL", value="db1-url-2")]
    )
    patched = client.patch(
        f"/v9/projects/{web}/env/{user_var}", json={"value": "user-2"}, headers=workspace.headers
    )
    assert patched.status_code == 200
    made["web production, later"] = _deploy_as_0002(runtime, web, "production")
    # ...a disconnect (the shape of web's db2 connection is then lost)...
    # (Written as revision 0002 wrote them: today's code also writes events and reads columns
    # 0002 did not have.)
    _disconnect_as_0002(runtime, partner.installation_id, "db2", web)
    # ...a reconnection with another shape, after "api preview" was made...
    _disconnect_as_0002(runtime, partner.installation_id, "db1", api)
    _connect_as_0002(runtime, partner.installation_id, "db1", api, prefix="OTHER")
    made["api preview, reconnected"] = _deploy_as_0002(runtime, api, "preview")
    # ...and a deleted resource.
    with runtime.store.engine.begin() as connection:
        connection.execute(
            sa.update(resources)
            .where(resources.c.internal_id == _internal_id(runtime, partner.installation_id, "db1"))
            .values(deleted_at=runtime.store.clock.now_ms())
        )

    before = {name: _pull_as_0002(runtime, d) for name, d in made.items()}
    assert before["web production"] == {
        "API_KEY": "user-1",
        "DB1_URL": "",
        "NEXT_PUBLIC_DB1_HOST": "db1-host",
        "TOKEN": "db2-token-1",
    }
    assert before["web production, later"]["API_KEY"] == "user-2"
    assert before["api preview"] == {"URL": "db1-pre", "NEXT_PUBLIC_ACME_HOST": "db1-host"}

    _tokens_expiry_column(runtime, present=False)
    _migrate(runtime, "head")

    assert {name: workspace.deployment_env(d) for name, d in made.items()} == before
    # db1's connection to web still exists and is older: its keys are now derived, not copied;
    # db2's is gone, so its key stays copied. api's first connection was replaced: copied too.
    assert _copied_keys(runtime, made["web production"]) == {"API_KEY", "TOKEN"}
    assert _copied_keys(runtime, made["web preview feat"]) == {"FLAG", "TOKEN"}
    assert _copied_keys(runtime, made["api preview"]) == {"URL", "NEXT_PUBLIC_ACME_HOST"}
    assert _copied_keys(runtime, made["api preview, reconnected"]) == set()


def test_downgrade_below_references_refuses_and_changes_nothing(
    runtime: Runtime, partner: Partner, workspace: Workspace
) -> None:
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "v1"}])
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    deployment = workspace.deploy({"name": "web", "project": project, "target": "production"})
    snapshot = database_snapshot(runtime)
    with pytest.raises(RuntimeError, match="cannot"):
        _migrate(runtime, "0002")
    assert database_snapshot(runtime) == snapshot
    assert workspace.deployment_env(deployment["id"]) == {"URL": "v1"}


def _rows_0009(runtime: Runtime, deployment_id: str) -> dict[str, tuple[str, str]]:
    """The deployment's copied variables as revisions 0002 to 0009 stored them, opened."""
    with runtime.store.engine.connect() as connection:
        rows = connection.execute(
            select(deployment_env).where(deployment_env.c.deployment_id == deployment_id)
        ).all()
    return {
        row.key: (
            runtime.store.keys.open(
                row.value_ciphertext, associated_data=f"deployment-env/{deployment_id}/{row.key}"
            ),
            row.type,
        )
        for row in rows
    }


DEPLOYMENT_COLUMNS_0009 = ("id", "project_id", "name", "target", "git_branch", "url", "created_at")


def _deploy_as_0009(runtime: Runtime, like: str, copied: dict[str, tuple[str, str]]) -> str:
    """A deployment written as revision 0009 wrote one: `like`'s references (its resources,
    versions and connection shapes) and a sealed `deployment_env` row per copied variable."""
    deployment_id = runtime.store.ids.new("dpl")
    columns = [c for c in deployments.c if c.name in DEPLOYMENT_COLUMNS_0009]
    with runtime.store.engine.begin() as connection:
        original = (
            connection.execute(select(*columns).where(deployments.c.id == like)).one()._asdict()
        )
        connection.execute(
            sa.insert(sa.table("deployments", *(sa.column(c.name) for c in columns))).values(
                {**original, "id": deployment_id, "created_at": original["created_at"] + 1}
            )
        )
        references = connection.execute(
            select(references_0011).where(references_0011.c.deployment_id == like)
        ).all()
        for reference in references:
            connection.execute(
                references_0011.insert().values(
                    {**reference._asdict(), "deployment_id": deployment_id, "serving": False}
                )
            )
        for key, (value, kind) in copied.items():
            connection.execute(
                deployment_env.insert().values(
                    deployment_id=deployment_id,
                    key=key,
                    type=kind,
                    value_ciphertext=runtime.store.keys.seal(
                        value, associated_data=f"deployment-env/{deployment_id}/{key}"
                    ),
                )
            )
    return deployment_id


def _reflected_snapshot(runtime: Runtime) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table the database has now (its schema may be an older one)."""
    reflected = sa.MetaData()
    reflected.reflect(runtime.store.engine)
    with runtime.store.engine.connect() as connection:
        return {
            name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for name, table in reflected.tables.items()
        }


def _deployments_with_user_variables(workspace: Workspace, partner: Partner) -> dict[str, str]:
    partner.import_resource(
        "db1",
        secrets=[{"name": "URL", "value": "db-1", "environmentOverrides": {"preview": "db-pre"}}],
    )
    web = workspace.create_project("web")
    assert workspace.connect(web, "db1", makeEnvVarsSensitive=True).status_code == 201
    for body in (
        {"key": "API_KEY", "value": "user-1", "type": "encrypted", "target": ["production"]},
        {"key": "PLAIN", "value": "ünï ✓", "type": "plain", "target": ["production", "preview"]},
        {"key": "FLAG", "value": "on", "type": "plain", "target": ["preview"], "gitBranch": "feat"},
    ):
        assert workspace.add_var(web, body).status_code == 201
    made = {
        "production": workspace.deploy({"name": "web", "project": web, "target": "production"}),
        "preview feat": workspace.deploy(
            {"name": "web", "project": web, "target": "preview", "gitBranch": "feat"}
        ),
        "no user variables": workspace.deploy(
            {"name": "web", "project": workspace.create_project("bare"), "target": "production"}
        ),
    }
    return {name: deployment["id"] for name, deployment in made.items()}


def test_upgrade_to_sealed_copies_keeps_what_every_deployment_pulls(
    runtime: Runtime, partner: Partner, workspace: Workspace
) -> None:
    made = _deployments_with_user_variables(workspace, partner)
    before = {name: workspace.deployment_env(d) for name, d in made.items()}
    copied = {name: _copied(runtime, d) for name, d in made.items()}
    assert copied["production"] == {
        "API_KEY": ("user-1", "encrypted"),
        "PLAIN": ("ünï ✓", "plain"),
    }
    assert copied["no user variables"] == {}

    # Down to 0009: each copied variable becomes its own sealed row again.
    _migrate(runtime, "0009")
    assert {name: _rows_0009(runtime, d) for name, d in made.items()} == copied
    # A deployment made under 0009, with another value than the one it was modelled on.
    old = _deploy_as_0009(runtime, made["production"], {"API_KEY": ("user-0", "encrypted")})

    _migrate(runtime, "head")

    assert {name: workspace.deployment_env(d) for name, d in made.items()} == before
    assert {name: _copied(runtime, d) for name, d in made.items()} == copied
    # Its derived URL is sensitive in production, so pulled as "".
    assert workspace.deployment_env(old) == {"URL": "", "API_KEY": "user-0"}
    assert "deployment_env" not in inspect(runtime.store.engine).get_table_names()


def test_upgrade_without_the_master_key_refuses_and_changes_nothing(
    runtime: Runtime, partner: Partner, workspace: Workspace
) -> None:
    made = _deployments_with_user_variables(workspace, partner)
    before = {name: workspace.deployment_env(d) for name, d in made.items()}
    _migrate(runtime, "0009")
    snapshot = _reflected_snapshot(runtime)

    with pytest.raises(RuntimeError, match="revision 0012 has 4 copied variable rows"):
        upgrade(runtime.store.engine)

    assert _reflected_snapshot(runtime) == snapshot
    upgrade(runtime.store.engine, runtime.store.keys)
    assert {name: workspace.deployment_env(d) for name, d in made.items()} == before


def test_upgrade_of_a_database_without_copied_variables_needs_no_key(runtime: Runtime) -> None:
    _migrate(runtime, "0009")
    upgrade(runtime.store.engine)
    assert not pending_migrations(runtime.store.engine)
