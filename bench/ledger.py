"""The usage ledger at scale: `GET .../secrets/usage` of a resource with 50 secrets versions
and 20 secrets, run by 10,000 live deployments, next to the same resource run by 100.

The secrets go through the HTTP API (an import, then 49 PUTs each rotating one secret, so
values span different stretches of versions). The deployments and their references are
bulk-inserted with SQLAlchemy Core, as `deployments.add` would write them (bench/snapshots.py):
spread evenly over the versions in creation order, five per project and target over 1,000
projects, the newest of each group serving. In the first two cases the deployments of one
version share one env snapshot, as the projects are connected alike; in the third each project
is connected with its own prefix, so the 10,000 deployments spread over 5,000 snapshots (two
per project and version) and a version's deployments over 100 of them. 10,000 deployment
requests would take longer than the benchmark, and seeding is not what is measured. The
targets (issue 9): median under 50 ms on each database, and each 10,000-deployment query
within 3x of the 100-deployment one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text

from bench.measure import SAMPLES, WARMUP_ROUNDS, Result, timed
from bench.snapshots import insert_deployments
from bench.world import SECRETS_PER_RESOURCE, World, expect, secret_values
from keyturn.domain.deployments import SecretsVersionUsed
from keyturn.domain.ids import IdSource
from keyturn.storage.tables import env_snapshot_versions, projects

VERSIONS = 50
DEPLOYMENT_PROJECTS = 1_000
TARGET_MS = 50.0
TARGET_RATIO = 3.0


@dataclass(frozen=True, slots=True)
class UsageCase:
    """One resource of the ledger's bench: how many deployments run it, and whether each
    project is connected with its own prefix (so that its deployments name their own
    snapshots) or all alike (one snapshot per version)."""

    key: str
    deployments: int
    snapshots: int  # what seeding them makes, checked

    @property
    def spread(self) -> bool:
        return self.snapshots > VERSIONS

    @property
    def label(self) -> str:
        if self.spread:
            return f"{self.deployments:,} live deployments over {self.snapshots:,} snapshots"
        return f"{self.deployments:,} live deployments"


FEWEST = UsageCase("100", 100, snapshots=VERSIONS)
CASES = (
    FEWEST,
    UsageCase("10000", 10_000, snapshots=VERSIONS),
    UsageCase("spread", 10_000, snapshots=5_000),
)


def measure_usage(
    world: World, engine: Engine, samples: int = SAMPLES
) -> tuple[dict[UsageCase, Result], dict[UsageCase, Result]]:
    """Latency of the usage ledger per case, and this process's CPU time per request (the
    whole request on SQLite, which runs in the process; on PostgreSQL the database's own work
    is in its server processes and not counted): on a shared machine the wall time waits for
    a core too, the CPU time does not."""
    client = world.client
    headers = world.partner_headers()
    paths = {case: _seed(world, engine, case) for case in CASES}
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE env_snapshot_versions, env_snapshots, deployments")
            )
    for case, path in paths.items():
        _check(expect(client.get(path, headers=headers), 200), case)
    times: dict[UsageCase, list[float]] = {case: [] for case in CASES}
    cpu: dict[UsageCase, list[float]] = {case: [] for case in CASES}

    def ask(path: str) -> tuple[float, float]:
        started = time.process_time()
        elapsed = timed(lambda: client.get(path, headers=headers), 200)
        return elapsed, (time.process_time() - started) * 1000

    for round_number in range(WARMUP_ROUNDS + samples):
        # Interleaved, the order turning each round, as measure.py does.
        order = CASES if round_number % 2 else CASES[::-1]
        for case in order:
            elapsed, spent = ask(paths[case])
            if round_number >= WARMUP_ROUNDS:
                times[case].append(elapsed)
                cpu[case].append(spent)
    return (
        {case: Result(f"secrets usage, {case.label}", times[case]) for case in CASES},
        {case: Result(f"secrets usage, {case.label}, CPU", cpu[case]) for case in CASES},
    )


def _seed(world: World, engine: Engine, case: UsageCase) -> str:
    """A resource of 50 versions and 20 secrets, and the case's deployments running it."""
    client = world.client
    headers = world.partner_headers()
    partner_id = f"usage-{case.key}"
    names = [f"U{case.key.upper()}_SECRET_{i:02d}" for i in range(SECRETS_PER_RESOURCE)]
    product = expect(
        client.get(
            world.resource_path(next(iter(world.sized_resources.values()))), headers=headers
        ),
        200,
    )["productId"]
    body = {
        "productId": product,
        "name": partner_id,
        "status": "ready",
        "secrets": secret_values(names, "v1"),
    }
    expect(client.put(world.resource_path(partner_id), json=body, headers=headers), 200)
    for version in range(2, VERSIONS + 1):
        rotated = secret_values([names[(version - 2) % len(names)]], f"v{version}")
        put = client.put(
            world.secrets_path(partner_id),
            json={"secrets": rotated, "partial": True},
            headers=headers,
        )
        expect(put, 201)
    internal_id = expect(client.get(world.resource_path(partner_id), headers=headers), 200)[
        "internalId"
    ]
    with engine.begin() as connection:
        project_ids = list(
            connection.execute(
                select(projects.c.id)
                .where(projects.c.team_id == world.team_id)
                .order_by(projects.c.name)
                .limit(DEPLOYMENT_PROJECTS)
            ).scalars()
        )
        deployment_rows, references = _deployments(internal_id, project_ids, case)
        insert_deployments(connection, deployment_rows, references)
        snapshots = connection.execute(
            select(func.count()).where(env_snapshot_versions.c.resource_id == internal_id)
        ).scalar_one()
    if snapshots != case.snapshots:
        raise RuntimeError(f"{case.label}: seeding made {snapshots:,} snapshots")
    return world.resource_path(partner_id) + "/secrets/usage"


def _deployments(
    resource_id: str, project_ids: list[str], case: UsageCase
) -> tuple[list[dict[str, Any]], dict[str, list[SecretsVersionUsed]]]:
    start = 1_700_000_000_000
    groups = [(project, target) for project in project_ids for target in ("production", "preview")]
    ids = IdSource()
    deployment_rows: list[dict[str, Any]] = []
    references: dict[str, list[SecretsVersionUsed]] = {}
    newest: dict[tuple[str, str], str] = {}
    prefixes = {project: f"P{number}_" for number, project in enumerate(project_ids)}
    count = case.deployments
    for index in range(count):
        project_id, target = groups[index % len(groups)]
        deployment_id = ids.new("dpl")
        deployment_rows.append(
            {
                "id": deployment_id,
                "project_id": project_id,
                "name": "bench",
                "target": target,
                "git_branch": None,
                "url": f"bench-{index}.keyturn.localhost",
                "created_at": start + index,
            }
        )
        references[deployment_id] = [
            SecretsVersionUsed(
                resource_id=resource_id,
                # In creation order, evenly over the versions: version 1 first, 50 last.
                secrets_version=1 + index * VERSIONS // count,
                environments=("production", "preview", "development"),
                env_var_prefix=prefixes[project_id] if case.spread else None,
            )
        ]
        newest[(project_id, target)] = deployment_id
    serving = set(newest.values())
    for row in deployment_rows:
        row["serving"] = row["id"] in serving
    return deployment_rows, references


def _check(body: dict[str, Any], case: UsageCase) -> None:
    """Each secret's values together count every deployment once: the answer is whole."""
    per_name: dict[str, int] = {}
    for value in body["values"]:
        per_name[value["name"]] = per_name.get(value["name"], 0) + value["liveDeployments"]
    if body["currentVersion"] != VERSIONS or set(per_name.values()) != {case.deployments}:
        raise RuntimeError(f"the usage of the resource of {case.label} is not whole")
