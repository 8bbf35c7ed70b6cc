"""State machine: partners, users and deployments interleaved, against a plain-Python model.

Rules: secrets PUTs (rotations, new names, removals), connects, disconnects, resource deletes
and re-imports, user variable creates, edits and deletes, deployments, redeploys and
deployment deletes.

Invariants after every step:
* a deployment's env never changes, whatever happened since to what it was built from (a
  deleted resource's secrets versions stay, as do other deployments' references); a deleted
  deployment answers 404;
* every project's env, per environment, equals the model's derivation;
* deployments share env snapshots: no two snapshots hold the same entries, and every snapshot
  is named by a live deployment (the last one's delete takes it with it);
* no response to a request without `decrypt=true` carries a secret value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.storage.tables import deployments, env_snapshot_versions, env_snapshots
from tests.conftest import Partner, Workspace

ENVIRONMENTS = ("production", "preview", "development")
SECRET_NAMES = ["DATABASE_URL", "PGHOST", "NEXT_PUBLIC_KEY"]
SECRET_VALUES = ["sv-alpha-7f1", "sv-bravo-2c9", "sv-charlie-88e", "sv-delta-401"]
USER_KEYS = ["DATABASE_URL", "ACME_PGHOST", "API_KEY", "DB1_DATABASE_URL"]
USER_VALUES = ["uv-one", "uv-two"]
RESOURCES = ["r1", "r2"]
PROJECTS = ["p1", "p2"]

runs = itertools.count()

secret_items = st.builds(
    lambda name, value, prefix, overrides: (name, value, prefix, overrides),
    st.sampled_from(SECRET_NAMES),
    st.sampled_from(SECRET_VALUES),
    st.sampled_from([None, "ACME"]),
    st.dictionaries(st.sampled_from(ENVIRONMENTS), st.sampled_from(SECRET_VALUES), max_size=2),
)
secret_sets = st.lists(secret_items, max_size=3, unique_by=lambda item: item[0])
environment_sets = st.sets(st.sampled_from(ENVIRONMENTS), min_size=1).map(
    lambda chosen: [e for e in ENVIRONMENTS if e in chosen]
)

Secret = tuple[str, str | None, dict[str, str]]  # value, prefix, overrides


def env_key(name: str, prefix: str | None) -> str:
    def join(rest: str) -> str:
        if not prefix:
            return rest
        return prefix + ("" if prefix.endswith("_") else "_") + rest

    if name.startswith("NEXT_PUBLIC_"):
        return "NEXT_PUBLIC_" + join(name.removeprefix("NEXT_PUBLIC_"))
    return join(name)


@dataclass
class ModelConnection:
    environments: list[str]
    prefix: str | None
    sensitive: bool


@dataclass
class Model:
    live: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(RESOURCES, True))
    secrets: dict[str, dict[str, Secret]] = field(
        default_factory=lambda: {r: {} for r in RESOURCES}
    )
    connections: dict[tuple[str, str], ModelConnection] = field(default_factory=dict)
    # (project, key) -> (id, value, targets)
    user_vars: dict[tuple[str, str], tuple[str, str, list[str]]] = field(default_factory=dict)

    def derived(
        self, resource: str, project: str, secrets: dict[str, Secret] | None = None
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """(key, env) -> (value as pulled, type) that `resource` gives `project`."""
        connection = self.connections.get((resource, project))
        if connection is None:
            return {}
        found = {}
        for name, (value, prefix, overrides) in (
            secrets if secrets is not None else self.secrets[resource]
        ).items():
            key = env_key(name, connection.prefix or prefix)
            for environment in connection.environments:
                sensitive = (
                    connection.sensitive
                    and environment != "development"
                    and not key.startswith("NEXT_PUBLIC_")
                )
                pulled = "" if sensitive else overrides.get(environment, value)
                found[(key, environment)] = (pulled, "sensitive" if sensitive else "encrypted")
        return found

    def taken(self, project: str, except_resource: str | None = None) -> set[tuple[str, str]]:
        keys = {
            (key, env)
            for (p, key), (_, _, targets) in self.user_vars.items()
            if p == project
            for env in targets
        }
        for resource in RESOURCES:
            if resource != except_resource:
                keys |= set(self.derived(resource, project))
        return keys

    def pull(self, project: str, environment: str) -> dict[str, str]:
        env = {
            key: value
            for (p, key), (_, value, targets) in self.user_vars.items()
            if p == project and environment in targets
        }
        for resource in RESOURCES:
            for (key, env_name), (value, _) in self.derived(resource, project).items():
                if env_name == environment:
                    env[key] = value
        return env


class ProjectEnvMachine(RuleBasedStateMachine):
    def __init__(self, partner: Partner, runtime: Runtime) -> None:
        super().__init__()
        self.partner = partner
        self.runtime = runtime
        self.workspace = Workspace(partner)
        self.client: TestClient = partner.client
        run = next(runs)
        self.resource_ids = {r: f"sm{run}-{r}" for r in RESOURCES}
        self.generation = dict.fromkeys(RESOURCES, 0)
        self.model = Model()
        self.project_ids = {p: self.workspace.create_project(f"sm{run}-{p}") for p in PROJECTS}
        self.deployments: list[
            tuple[str, str, str, dict[str, str]]
        ] = []  # id, project, target, env
        self.deleted_deployments: list[str] = []
        for resource in RESOURCES:
            self.partner.import_resource(self.resource_ids[resource])

    def _put(self, resource: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self.partner.put_secrets(body, self.resource_ids[resource])

    @rule(resource=st.sampled_from(RESOURCES), items=secret_sets, partial=st.booleans())
    def put_secrets(
        self, resource: str, items: list[tuple[str, str, str | None, dict[str, str]]], partial: bool
    ) -> None:
        body = {
            "secrets": [
                {
                    "name": n,
                    "value": v,
                    **({"prefix": p} if p else {}),
                    **({"environmentOverrides": o} if o else {}),
                }
                for n, v, p, o in items
            ],
            "partial": partial,
        }
        status, _ = self._put(resource, body)
        if not self.model.live[resource]:
            assert status == 404
            return
        sent = {n: (v, p, o) for n, v, p, o in items}
        after = {**self.model.secrets[resource], **sent} if partial else sent
        conflict = any(
            set(self.model.derived(resource, project, after))
            & self.model.taken(project, except_resource=resource)
            for project in PROJECTS
        )
        if conflict:
            assert status == 409
        else:
            assert status == 201
            self.model.secrets[resource] = after

    @rule(
        resource=st.sampled_from(RESOURCES),
        project=st.sampled_from(PROJECTS),
        environments=environment_sets,
        prefix=st.sampled_from([None, "DB1"]),
        sensitive=st.booleans(),
    )
    def connect(
        self,
        resource: str,
        project: str,
        environments: list[str],
        prefix: str | None,
        sensitive: bool,
    ) -> None:
        options: dict[str, object] = {
            "envVarEnvironments": environments,
            "makeEnvVarsSensitive": sensitive,
        }
        if prefix:
            options["envVarPrefix"] = prefix
        response = self.workspace.connect(
            self.project_ids[project], self.resource_ids[resource], **options
        )
        if not self.model.live[resource]:
            assert response.status_code == 404
            return
        if (resource, project) in self.model.connections:
            assert (response.status_code, response.json()["error"]["code"]) == (
                409,
                "already_connected",
            )
            return
        candidate = ModelConnection(environments, prefix, sensitive)
        self.model.connections[(resource, project)] = candidate
        if set(self.model.derived(resource, project)) & self.model.taken(
            project, except_resource=resource
        ):
            del self.model.connections[(resource, project)]
            assert (response.status_code, response.json()["error"]["code"]) == (
                409,
                "env_var_conflict",
            )
        else:
            assert response.status_code == 201, response.text

    @rule(resource=st.sampled_from(RESOURCES), project=st.sampled_from(PROJECTS))
    def disconnect(self, resource: str, project: str) -> None:
        response = self.client.delete(
            f"{self.workspace.connections_path(self.resource_ids[resource])}/{self.project_ids[project]}",
            headers=self.workspace.headers,
        )
        if (
            not self.model.live[resource]
            or self.model.connections.pop((resource, project), None) is None
        ):
            assert response.status_code == 404
        else:
            assert response.status_code == 204

    @rule(
        project=st.sampled_from(PROJECTS),
        key=st.sampled_from(USER_KEYS),
        value=st.sampled_from(USER_VALUES),
        var_targets=environment_sets,
    )
    def create_user_var(self, project: str, key: str, value: str, var_targets: list[str]) -> None:
        targets = var_targets
        response = self.workspace.add_var(
            self.project_ids[project],
            {"key": key, "value": value, "type": "encrypted", "target": targets},
        )
        derived_taken = self.model.taken(project) - {
            (k, env)
            for (p, k), (_, _, t) in self.model.user_vars.items()
            if p == project
            for env in t
        }
        if any((key, env) in derived_taken for env in targets):
            assert (response.status_code, response.json()["error"]["code"]) == (
                409,
                "env_var_conflict",
            )
            return
        assert response.status_code == 201
        existing = self.model.user_vars.get((project, key))
        if existing is not None and set(existing[2]) & set(targets):
            assert response.json()["created"] == []
            return
        if existing is not None:
            # Same key in other targets only: the model keeps one entry per key, so skip these.
            self.client.delete(
                f"/v9/projects/{self.project_ids[project]}/env/{response.json()['created'][0]['id']}",
                headers=self.workspace.headers,
            )
            return
        self.model.user_vars[(project, key)] = (response.json()["created"][0]["id"], value, targets)

    @precondition(lambda self: bool(self.model.user_vars))
    @rule(data=st.data())
    def delete_user_var(self, data: st.DataObject) -> None:
        project, key = data.draw(st.sampled_from(sorted(self.model.user_vars)))
        env_id = self.model.user_vars.pop((project, key))[0]
        response = self.client.delete(
            f"/v9/projects/{self.project_ids[project]}/env/{env_id}", headers=self.workspace.headers
        )
        assert response.status_code == 200

    @precondition(lambda self: bool(self.model.user_vars))
    @rule(data=st.data(), value=st.sampled_from(USER_VALUES), var_targets=environment_sets)
    def patch_user_var(self, data: st.DataObject, value: str, var_targets: list[str]) -> None:
        project, key = data.draw(st.sampled_from(sorted(self.model.user_vars)))
        env_id, _, targets = self.model.user_vars[(project, key)]
        response = self.client.patch(
            f"/v9/projects/{self.project_ids[project]}/env/{env_id}",
            json={"value": value, "target": var_targets},
            headers=self.workspace.headers,
        )
        others = self.model.taken(project) - {(key, env) for env in targets}
        if any((key, env) in others for env in var_targets):
            assert (response.status_code, response.json()["error"]["code"]) == (
                409,
                "env_var_conflict",
            )
            return
        assert response.status_code == 200, response.text
        self.model.user_vars[(project, key)] = (env_id, value, var_targets)

    @rule(
        project=st.sampled_from(PROJECTS), deploy_target=st.sampled_from(["production", "preview"])
    )
    def deploy(self, project: str, deploy_target: str) -> None:
        target = deploy_target
        deployment = self.workspace.deploy(
            {"name": f"d-{project}", "project": self.project_ids[project], "target": target}
        )
        self.deployments.append(
            (deployment["id"], project, target, self.model.pull(project, target))
        )

    @precondition(lambda self: bool(self.deployments))
    @rule(data=st.data())
    def redeploy(self, data: st.DataObject) -> None:
        original, project, target, _ = data.draw(st.sampled_from(self.deployments))
        deployment = self.workspace.deploy({"deploymentId": original})
        assert (deployment["target"], deployment["projectId"]) == (
            target,
            self.project_ids[project],
        )
        self.deployments.append(
            (deployment["id"], project, target, self.model.pull(project, target))
        )

    @precondition(lambda self: bool(self.deployments))
    @rule(data=st.data())
    def delete_deployment(self, data: st.DataObject) -> None:
        deployment = data.draw(st.sampled_from(self.deployments))
        response = self.client.delete(
            f"/v13/deployments/{deployment[0]}", headers=self.workspace.headers
        )
        assert response.status_code == 200, response.text
        self.deployments.remove(deployment)
        self.deleted_deployments.append(deployment[0])

    @rule(resource=st.sampled_from(RESOURCES))
    def delete_or_reimport_resource(self, resource: str) -> None:
        if self.model.live[resource]:
            response = self.client.delete(
                self.partner.resource_path(self.resource_ids[resource]), headers=self.partner.auth()
            )
            assert response.status_code == 204
            self.model.live[resource] = False
            self.model.secrets[resource] = {}
            for link in [link for link in self.model.connections if link[0] == resource]:
                del self.model.connections[link]
        else:
            self.partner.import_resource(self.resource_ids[resource])
            self.model.live[resource] = True

    @invariant()
    def deployments_never_change(self) -> None:
        for deployment_id, _, _, frozen in self.deployments:
            assert self.workspace.deployment_env(deployment_id) == frozen
        for deployment_id in self.deleted_deployments:
            response = self.client.get(
                f"/v3/env/pull/{deployment_id}", headers=self.workspace.headers
            )
            assert response.status_code == 404, response.text

    @invariant()
    def snapshots_are_shared_and_collected(self) -> None:
        with self.runtime.store.engine.connect() as connection:
            snapshots = set(connection.execute(select(env_snapshots.c.id)).scalars())
            named = set(
                connection.execute(
                    select(deployments.c.env_snapshot_id).where(
                        deployments.c.env_snapshot_id.is_not(None)
                    )
                ).scalars()
            )
            contents: dict[int, set[tuple[Any, ...]]] = {}
            for snapshot_id, *entry in connection.execute(select(env_snapshot_versions)):
                contents.setdefault(snapshot_id, set()).add(tuple(entry))
        assert named == snapshots
        assert set(contents) == snapshots
        assert len({frozenset(entries) for entries in contents.values()}) == len(snapshots)

    @invariant()
    def projects_match_the_model(self) -> None:
        for project, project_id in self.project_ids.items():
            for environment in ENVIRONMENTS:
                assert self.workspace.pull(project_id, environment) == self.model.pull(
                    project, environment
                )

    @invariant()
    def no_secret_value_without_decrypt(self) -> None:
        responses = [
            self.client.get(f"/v10/projects/{project_id}/env", headers=self.workspace.headers)
            for project_id in self.project_ids.values()
        ]
        responses += [
            self.client.get(self.partner.resource_path(rid), headers=self.partner.auth())
            for rid in self.resource_ids.values()
        ]
        for response in responses:
            for value in SECRET_VALUES:
                assert value not in response.text


def test_project_env_follows_the_model(partner: Partner, runtime: Runtime) -> None:
    run_state_machine_as_test(
        lambda: ProjectEnvMachine(partner, runtime),
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
