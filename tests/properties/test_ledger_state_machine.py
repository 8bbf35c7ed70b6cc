"""State machine: the usage ledger and the secrets history against a plain-Python model.

Rules: secrets PUTs (full, partial and no-op), rollbacks (5.4: to any version the resource
had, the current one included, or to one it never had, which answers 404 and changes nothing),
connects (with or without a prefix of their own, so that one version's deployments spread over
several env snapshots), disconnects, deploys, redeploys, redeploy-stale, deployment deletes,
and resource deletes and re-imports. The model keeps every version's whole set, so that a
rollback is `Model.write` of version n's set with `source: "rollback"`.

Invariants after every step, for every live resource:
* `usage` equals the model's answer for every value: its versions, `current`, counts,
  `servingDeployments`, the newest 100 ids, `safeToRevoke`, and `supersededAt` equal to the
  `createdAt` of the version that ended it;
* `versions` lists exactly the model's versions with their source and their added, changed and
  removed names;
* a deleted resource answers 404 on both;
* the values announced by `resource.secrets.value-revocable` events (6.1) are exactly the
  values `usage` ever answered `safeToRevoke: true` for, each announced once;
* the ledger's kept counts per version equal a recount of the deployments.
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

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from tests.conftest import Partner, Workspace
from tests.storage.test_version_usage import assert_counts_hold

RESOURCES = ["r1", "r2"]
# Disjoint names per resource: no key conflict can refuse a connect or a PUT.
NAMES = {"r1": ["A_URL", "A_HOST"], "r2": ["B_URL", "B_KEY"]}
VALUES = ["v-one", "v-two", "v-three"]
PROJECTS = ["p1", "p2"]
TARGETS = ["production", "preview"]
# Weighted towards no branch, so that groups repeat and deployments supersede each other.
BRANCHES = [None, None, "feat"]
ENVIRONMENT_CHOICES = [["production", "preview", "development"], ["production"], ["preview"]]
# Names stay disjoint across resources whatever the prefix.
PREFIXES = [None, None, "P1", "P2"]
MAX_IDS = 100
REVOCABLE = "resource.secrets.value-revocable"

runs = itertools.count()

# name -> (value, preview override or None)
SecretSet = dict[str, tuple[str, str | None]]


def secret_sets(resource: str) -> st.SearchStrategy[SecretSet]:
    return st.dictionaries(
        st.sampled_from(NAMES[resource]),
        st.tuples(st.sampled_from(VALUES), st.sampled_from([None, "v-preview"])),
        max_size=2,
    )


@dataclass
class Row:
    """One stored value: versions `start` to `end` (exclusive; None while current)."""

    name: str
    start: int
    end: int | None = None


@dataclass
class ModelResource:
    generation: int = 0
    live: bool = True
    version: int = 0
    secrets: SecretSet = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    # version -> (added, changed, removed), sorted names
    changes: dict[int, tuple[list[str], list[str], list[str]]] = field(default_factory=dict)
    # version -> 5.1 `source`
    sources: dict[int, str] = field(default_factory=dict)
    # version -> the whole set it made, what a rollback to it restores
    sets: dict[int, SecretSet] = field(default_factory=dict)


@dataclass
class ModelDeployment:
    id: str
    project: str
    target: str
    branch: str | None
    created_at: int
    # (resource, generation) -> secrets version recorded
    recorded: dict[tuple[str, int], int]

    @property
    def group(self) -> tuple[str, str, str | None]:
        return (self.project, self.target, self.branch)

    @property
    def order(self) -> tuple[int, str]:
        return (self.created_at, self.id)


@dataclass
class Model:
    resources: dict[str, ModelResource] = field(
        default_factory=lambda: {r: ModelResource() for r in RESOURCES}
    )
    # (resource, project) -> environments
    connections: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    deployments: dict[str, ModelDeployment] = field(default_factory=dict)

    def write(self, resource: str, new: SecretSet, source: str = "update") -> None:
        """Make `new` the resource's set: a version made by `source` if anything changed."""
        model = self.resources[resource]
        old = model.secrets
        added = sorted(new.keys() - old.keys())
        removed = sorted(old.keys() - new.keys())
        changed = sorted(name for name in new.keys() & old.keys() if new[name] != old[name])
        if not (added or removed or changed):
            return
        model.version += 1
        for row in model.rows:
            if row.end is None and row.name in set(removed) | set(changed):
                row.end = model.version
        model.rows += [Row(name, model.version) for name in added + changed]
        model.secrets = dict(new)
        model.changes[model.version] = (added, changed, removed)
        model.sources[model.version] = source
        model.sets[model.version] = dict(new)

    def record(self, project: str, target: str) -> dict[tuple[str, int], int]:
        return {
            (resource, self.resources[resource].generation): self.resources[resource].version
            for (resource, connected), environments in self.connections.items()
            if connected == project and target in environments and self.resources[resource].live
        }

    def newest_of_groups(self) -> dict[tuple[str, str, str | None], ModelDeployment]:
        newest: dict[tuple[str, str, str | None], ModelDeployment] = {}
        for deployment in self.deployments.values():
            current = newest.get(deployment.group)
            if current is None or deployment.order > current.order:
                newest[deployment.group] = deployment
        return newest

    def usage(self, resource: str) -> list[dict[str, Any]]:
        model = self.resources[resource]
        key = (resource, model.generation)
        serving = {d.id for d in self.newest_of_groups().values()}
        values = []
        for row in sorted(model.rows, key=lambda r: (r.name, -r.start)):
            using = [
                d
                for d in self.deployments.values()
                if key in d.recorded
                and row.start <= d.recorded[key]
                and (row.end is None or d.recorded[key] < row.end)
            ]
            using.sort(key=lambda d: d.order, reverse=True)
            values.append(
                {
                    "name": row.name,
                    "fromVersion": row.start,
                    "toVersion": None if row.end is None else row.end - 1,
                    "current": row.end is None,
                    "liveDeployments": len(using),
                    "servingDeployments": sum(d.id in serving for d in using),
                    "deploymentIds": [d.id for d in using[:MAX_IDS]],
                    "safeToRevoke": row.end is not None and not using,
                }
            )
        return values

    def stale_groups(self, resource: str) -> set[tuple[str, str, str | None]]:
        model = self.resources[resource]
        key = (resource, model.generation)
        connected = {p for (r, p) in self.connections if r == resource}
        return {
            group
            for group, newest in self.newest_of_groups().items()
            if newest.project in connected
            and key in newest.recorded
            and newest.recorded[key] != model.version
        }


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, partner: Partner, clock: SettableClock, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime
        self.partner = partner
        self.clock = clock
        self.workspace = Workspace(partner)
        self.client: TestClient = partner.client
        run = next(runs)
        # (resource internal id, name, fromVersion, toVersion) of every announcement since this
        # run began, and of every value `usage` has answered safe to revoke.
        self.announced: list[tuple[str, str, int, int]] = []
        self.ever_revocable: set[tuple[str, str, int, int]] = set()
        self.events_after = self._read_announcements(None)
        self.announced.clear()  # earlier runs' (the team is shared)
        self.resource_ids = {r: f"lm{run}-{r}" for r in RESOURCES}
        self.model = Model()
        self.project_ids = {p: self.workspace.create_project(f"lm{run}-{p}") for p in PROJECTS}
        self.project_names = {v: k for k, v in self.project_ids.items()}
        for resource in RESOURCES:
            self.partner.import_resource(self.resource_ids[resource])
        # A head start, so that short runs begin with deployments of several versions
        # (hypothesis tries many short runs): each resource connected to one project in every
        # environment with one secret, a deployment of each project, then a second version.
        for resource, project in zip(RESOURCES, PROJECTS, strict=True):
            self.connect(resource, project, ENVIRONMENT_CHOICES[0])
            first = {NAMES[resource][0]: (VALUES[0], None)}
            assert self._put(resource, first, False) == 201
            self.model.write(resource, first)
            self.deploy(project, "production", None)
            self.deploy(project, "preview", None)
            second = {NAMES[resource][0]: (VALUES[1], None)}
            assert self._put(resource, second, True) == 201
            self.model.write(resource, second)

    def _read_announcements(self, after: str | None) -> str | None:
        """Read the value-revocable events after `after` into `announced`; the last id read."""
        while True:
            params: dict[str, Any] = {"type": REVOCABLE, "limit": 100}
            if after is not None:
                params["after"] = after
            response = self.client.get("/v1/events", params=params, headers=self.workspace.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            for item in page["events"]:
                payload = item["payload"]
                self.announced.append(
                    (
                        payload["resource"]["internalId"],
                        payload["name"],
                        payload["fromVersion"],
                        payload["toVersion"],
                    )
                )
                after = item["id"]
            if page["next"] is None:
                return after

    def _owner_path(self, resource: str) -> str:
        return (
            f"/v1/integrations/installations/{self.partner.installation_id}"
            f"/resources/{self.resource_ids[resource]}"
        )

    def _put(self, resource: str, sent: SecretSet, partial: bool) -> int:
        body = {
            "secrets": [
                {
                    "name": name,
                    "value": value,
                    **({"environmentOverrides": {"preview": override}} if override else {}),
                }
                for name, (value, override) in sent.items()
            ],
            "partial": partial,
        }
        status, _ = self.partner.put_secrets(body, self.resource_ids[resource])
        return status

    def _add_deployment(self, body: dict[str, Any], recorded: dict[tuple[str, int], int]) -> None:
        self.model.deployments[body["id"]] = ModelDeployment(
            id=body["id"],
            project=self.project_names[body["projectId"]],
            target=body["target"],
            branch=body["gitBranch"],
            created_at=body["createdAt"],
            recorded=recorded,
        )

    @rule(resource=st.sampled_from(RESOURCES), data=st.data(), partial=st.booleans())
    def put_secrets(self, resource: str, data: st.DataObject, partial: bool) -> None:
        sent = data.draw(secret_sets(resource))
        status = self._put(resource, sent, partial)
        model = self.model.resources[resource]
        if not model.live:
            assert status == 404
            return
        assert status == 201
        self.model.write(resource, {**model.secrets, **sent} if partial else sent)

    @precondition(lambda self: any(r.live for r in self.model.resources.values()))
    @rule(data=st.data())
    def put_the_same_again(self, data: st.DataObject) -> None:
        """A no-op PUT: 201 and no version."""
        resource = data.draw(
            st.sampled_from([r for r in RESOURCES if self.model.resources[r].live])
        )
        assert self._put(resource, self.model.resources[resource].secrets, False) == 201

    @rule(
        data=st.data(),
        # Weighted towards versions a live resource had: those are the ones that change things.
        known=st.sampled_from([True, True, True, False]),
    )
    def rollback(self, data: st.DataObject, known: bool) -> None:
        """Roll a resource back to a version it had, or (any resource, deleted ones included)
        to one it never had: 404."""
        with_versions = [r for r, m in self.model.resources.items() if m.live and m.sets]
        known = known and bool(with_versions)
        resource = data.draw(st.sampled_from(with_versions if known else RESOURCES))
        model = self.model.resources[resource]
        if known:
            # Mostly versions whose set differs from the current one (a new version), else any
            # (the current set again included: no new version).
            differing = [v for v, kept in model.sets.items() if kept != model.secrets]
            mostly = data.draw(st.integers(0, 3)) > 0
            pool = differing if differing and mostly else list(model.sets)
            version = data.draw(st.sampled_from(sorted(pool)))
        else:
            version = data.draw(st.integers(model.version + 1, model.version + 3))
        response = self.client.post(
            self.partner.resource_path(self.resource_ids[resource]) + "/secrets/rollback",
            json={"version": version},
            headers=self.partner.auth(),
        )
        if not model.live or version not in model.sets:
            # The invariant checks that nothing changed.
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 201, response.text
        self.model.write(resource, model.sets[version], "rollback")
        assert response.json() == {"version": model.version}

    @rule(
        resource=st.sampled_from(RESOURCES),
        project=st.sampled_from(PROJECTS),
        environments=st.sampled_from(ENVIRONMENT_CHOICES),
        prefix=st.sampled_from(PREFIXES),
    )
    def connect(
        self, resource: str, project: str, environments: list[str], prefix: str | None = None
    ) -> None:
        options: dict[str, Any] = {"envVarEnvironments": environments}
        if prefix is not None:
            options["envVarPrefix"] = prefix
        response = self.workspace.connect(
            self.project_ids[project], self.resource_ids[resource], **options
        )
        if not self.model.resources[resource].live:
            assert response.status_code == 404
        elif (resource, project) in self.model.connections:
            assert response.status_code == 409
        else:
            assert response.status_code == 201, response.text
            self.model.connections[(resource, project)] = environments

    @rule(resource=st.sampled_from(RESOURCES), project=st.sampled_from(PROJECTS))
    def disconnect(self, resource: str, project: str) -> None:
        response = self.client.delete(
            f"{self.workspace.connections_path(self.resource_ids[resource])}"
            f"/{self.project_ids[project]}",
            headers=self.workspace.headers,
        )
        if (
            not self.model.resources[resource].live
            or self.model.connections.pop((resource, project), None) is None
        ):
            assert response.status_code == 404
        else:
            assert response.status_code == 204

    @rule(
        project=st.sampled_from(PROJECTS),
        deploy_target=st.sampled_from(TARGETS),
        branch=st.sampled_from(BRANCHES),
        later=st.booleans(),
    )
    def deploy(
        self, project: str, deploy_target: str, branch: str | None, later: bool = True
    ) -> None:
        """Deploy; `later` moves the clock first, else the deployment may tie with the last
        one's millisecond (the id then decides which is newer)."""
        if later:
            self.clock.advance(1)
        # `target` is a keyword of hypothesis's `rule`: the deployment's is `deploy_target`.
        target = deploy_target
        body: dict[str, Any] = {"project": self.project_ids[project], "target": target}
        if branch is not None:
            body["gitBranch"] = branch
        recorded = self.model.record(project, target)
        self._add_deployment(self.workspace.deploy(body), recorded)

    @precondition(lambda self: bool(self.model.deployments))
    @rule(data=st.data(), later=st.booleans())
    def redeploy(self, data: st.DataObject, later: bool) -> None:
        if later:
            self.clock.advance(1)
        original = self.model.deployments[
            data.draw(st.sampled_from(sorted(self.model.deployments)))
        ]
        recorded = self.model.record(original.project, original.target)
        made = self.workspace.deploy({"deploymentId": original.id})
        assert (made["target"], made["gitBranch"]) == (original.target, original.branch)
        self._add_deployment(made, recorded)

    @precondition(lambda self: bool(self.model.deployments))
    @rule(data=st.data(), newest=st.booleans())
    def delete_deployment(self, data: st.DataObject, newest: bool) -> None:
        """Delete any deployment, or (the case that hands `serving` on) a group's newest."""
        candidates = (
            [d.id for d in self.model.newest_of_groups().values()]
            if newest
            else list(self.model.deployments)
        )
        deployment_id = data.draw(st.sampled_from(sorted(candidates)))
        response = self.client.delete(
            f"/v13/deployments/{deployment_id}", headers=self.workspace.headers
        )
        assert response.status_code == 200
        del self.model.deployments[deployment_id]

    @rule(resource=st.sampled_from(RESOURCES))
    def redeploy_stale(self, resource: str) -> None:
        response = self.client.post(
            self._owner_path(resource) + "/secrets/redeploy-stale", headers=self.workspace.headers
        )
        if not self.model.resources[resource].live:
            assert response.status_code == 404
            return
        assert response.status_code == 201, response.text
        expected = self.model.stale_groups(resource)
        made = response.json()["deployments"]
        groups = [(self.project_names[d["projectId"]], d["target"], d["gitBranch"]) for d in made]
        assert sorted(groups, key=repr) == sorted(expected, key=repr)
        for body, (project, target, _) in zip(made, groups, strict=True):
            self._add_deployment(body, self.model.record(project, target))

    @rule(resource=st.sampled_from(RESOURCES))
    def delete_or_reimport_resource(self, resource: str) -> None:
        model = self.model.resources[resource]
        if model.live:
            response = self.client.delete(
                self.partner.resource_path(self.resource_ids[resource]),
                headers=self.partner.auth(),
            )
            assert response.status_code == 204
            for link in [link for link in self.model.connections if link[0] == resource]:
                del self.model.connections[link]
            model.live = False
        else:
            self.partner.import_resource(self.resource_ids[resource])
            self.model.resources[resource] = ModelResource(generation=model.generation + 1)

    @invariant()
    def ledger_matches_the_model(self) -> None:
        for resource in RESOURCES:
            model = self.model.resources[resource]
            partner_path = self.partner.resource_path(self.resource_ids[resource])
            usage = self.client.get(partner_path + "/secrets/usage", headers=self.partner.auth())
            versions = self.client.get(
                self._owner_path(resource) + "/secrets/versions",
                params={"limit": "100"},
                headers=self.workspace.headers,
            )
            if not model.live:
                assert (usage.status_code, versions.status_code) == (404, 404)
                continue
            assert versions.status_code == 200, versions.text
            listed = versions.json()
            assert listed["currentVersion"] == model.version
            assert [
                (v["version"], v["source"], (v["added"], v["changed"], v["removed"]))
                for v in listed["versions"]
            ] == [
                (v, model.sources[v], model.changes[v]) for v in sorted(model.changes, reverse=True)
            ]
            created = {v["version"]: v["createdAt"] for v in listed["versions"]}
            assert usage.status_code == 200, usage.text
            body = usage.json()
            assert body["currentVersion"] == model.version
            for value in body["values"]:
                superseded = None if value["current"] else created[value["toVersion"] + 1]
                assert value["supersededAt"] == superseded
                assert value["expiresAt"] is None
            assert [
                {k: v for k, v in value.items() if k not in ("supersededAt", "expiresAt")}
                for value in body["values"]
            ] == self.model.usage(resource)

    @invariant()
    def kept_counts_match_a_recount(self) -> None:
        assert_counts_hold(self.runtime)

    @invariant()
    def announcements_match_safe_to_revoke(self) -> None:
        for resource in RESOURCES:
            if not self.model.resources[resource].live:
                continue
            internal_id = self.partner.get_resource(self.resource_ids[resource])["internalId"]
            usage = self.client.get(
                self.partner.resource_path(self.resource_ids[resource]) + "/secrets/usage",
                headers=self.partner.auth(),
            )
            assert usage.status_code == 200, usage.text
            self.ever_revocable |= {
                (str(internal_id), v["name"], v["fromVersion"], v["toVersion"])
                for v in usage.json()["values"]
                if v["safeToRevoke"]
            }
        self.events_after = self._read_announcements(self.events_after)
        assert len(self.announced) == len(set(self.announced)), "a value announced twice"
        assert set(self.announced) == self.ever_revocable


def test_ledger_follows_the_model(partner: Partner, clock: SettableClock, runtime: Runtime) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(partner, clock, runtime),
        settings=settings(
            # A few seconds per database; `make fuzz`-style longer runs only raise these.
            max_examples=6,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
