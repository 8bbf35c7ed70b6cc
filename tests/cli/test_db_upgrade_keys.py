"""`keyturn db upgrade` hands the configured master key to migrations that move sealed values
(revision 0012), and refuses, changing nothing, when there is none."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from keyturn.app import Runtime
from keyturn.storage.migrate import alembic_config, pending_migrations
from tests.cli.test_cli import clean_env, keyturn
from tests.conftest import Partner, Workspace


def _deployment_with_a_user_variable(partner: Partner, workspace: Workspace) -> str:
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "db-1"}])
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    body = {"key": "API_KEY", "value": "user-1", "type": "encrypted", "target": ["production"]}
    assert workspace.add_var(project, body).status_code == 201
    deployment: str = workspace.deploy({"name": "web", "project": project, "target": "production"})[
        "id"
    ]
    return deployment


def _downgrade_to_rows_per_variable(runtime: Runtime) -> None:
    config = alembic_config()
    config.attributes["keys"] = runtime.store.keys
    with runtime.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")


def test_db_upgrade_moves_copied_variables_with_the_configured_key(
    runtime: Runtime,
    partner: Partner,
    workspace: Workspace,
    database_url: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    deployment = _deployment_with_a_user_variable(partner, workspace)
    _downgrade_to_rows_per_variable(runtime)
    database = ("--database-url", database_url)

    refused = keyturn("db", "upgrade", *database, env=clean_env(tmp_path / "no-key"))
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "needs the master key" in refused.stderr
    assert pending_migrations(runtime.store.engine)

    env = clean_env(tmp_path / "with-key", KEYTURN_MASTER_KEY=master_key)
    upgraded = keyturn("db", "upgrade", *database, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert not pending_migrations(runtime.store.engine)
    assert workspace.deployment_env(deployment) == {"URL": "db-1", "API_KEY": "user-1"}
