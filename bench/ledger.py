"""The usage ledger at scale: `GET .../secrets/usage` of a resource with 50 secrets versions
and 20 secrets, run by 10,000 live deployments, next to the same resource run by 100.

The secrets go through the HTTP API (an import, then 49 PUTs each rotating one secret, so
values span different stretches of versions). The deployments and their references are
bulk-inserted with SQLAlchemy Core, as `deployments.add` would write them (bench/snapshots.py):
spread evenly over the versions in creation order, five per project and target over 1,000
projects, the newest of each group serving; the deployments of one version share one env
snapshot, as the projects are connected alike. 10,000 deployment requests would take longer
than the benchmark, and seeding is not what is measured. The target (issue 9): median under
50 ms on each database, and the 10,000-deployment query within 3x of the 100-deployment one.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, select, text

from bench.measure import SAMPLES, WARMUP_ROUNDS, Result, timed
from bench.snapshots import insert_deployments
from bench.world import SECRETS_PER_RESOURCE, World, expect, secret_values
from keyturn.domain.deployments import SecretsVersionUsed
from keyturn.domain.ids import IdSource
from keyturn.storage.tables import projects

VERSIONS = 50
DEPLOYMENT_COUNTS = (100, 10_000)
DEPLOYMENT_PROJECTS = 1_000
TARGET_MS = 50.0
TARGET_RATIO = 3.0


def measure_usage(
    world: World, engine: Engine, samples: int = SAMPLES
) -> tuple[dict[int, Result], dict[int, Result]]:
    """Latency of the usage ledger per number of live deployments, and this process's CPU time
    per request (the whole request on SQLite, which runs in the process; on PostgreSQL the
    database's own work is in its server processes and not counted): on a shared machine the
    wall time waits for a core too, the CPU time does not."""
    client = world.client
    headers = world.partner_headers()
    paths = {count: _seed(world, engine, count) for count in DEPLOYMENT_COUNTS}
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE env_snapshot_versions, env_snapshots, deployments")
            )
    for count, path in paths.items():
        _check(expect(client.get(path, headers=headers), 200), count)
    times: dict[int, list[float]] = {count: [] for count in DEPLOYMENT_COUNTS}
    cpu: dict[int, list[float]] = {count: [] for count in DEPLOYMENT_COUNTS}

    def ask(path: str) -> tuple[float, float]:
        started = time.process_time()
        elapsed = timed(lambda: client.get(path, headers=headers), 200)
        return elapsed, (time.process_time() - started) * 1000

    for round_number in range(WARMUP_ROUNDS + samples):
        # Interleaved, the order turning each round, as measure.py does.
        order = DEPLOYMENT_COUNTS if round_number % 2 else DEPLOYMENT_COUNTS[::-1]
        for count in order:
            elapsed, spent = ask(paths[count])
            if round_number >= WARMUP_ROUNDS:
                times[count].append(elapsed)
                cpu[count].append(spent)
    return (
        {
            count: Result(f"secrets usage, {count:,} live deployments", times[count])
            for count in DEPLOYMENT_COUNTS
        },
        {
            count: Result(f"secrets usage, {count:,} live deployments, CPU", cpu[count])
            for count in DEPLOYMENT_COUNTS
        },
    )


def _seed(world: World, engine: Engine, count: int) -> str:
    """A resource of 50 versions and 20 secrets, and `count` deployments running it."""
    client = world.client
    headers = world.partner_headers()
    partner_id = f"usage-{count}"
    names = [f"U{count}_SECRET_{i:02d}" for i in range(SECRETS_PER_RESOURCE)]
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
        deployment_rows, references = _deployments(internal_id, project_ids, count)
        insert_deployments(connection, deployment_rows, references)
    return world.resource_path(partner_id) + "/secrets/usage"


def _deployments(
    resource_id: str, project_ids: list[str], count: int
) -> tuple[list[dict[str, Any]], dict[str, list[SecretsVersionUsed]]]:
    start = 1_700_000_000_000
    groups = [(project, target) for project in project_ids for target in ("production", "preview")]
    ids = IdSource()
    deployment_rows: list[dict[str, Any]] = []
    references: dict[str, list[SecretsVersionUsed]] = {}
    newest: dict[tuple[str, str], str] = {}
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
            )
        ]
        newest[(project_id, target)] = deployment_id
    serving = set(newest.values())
    for row in deployment_rows:
        row["serving"] = row["id"] in serving
    return deployment_rows, references


def _check(body: dict[str, Any], count: int) -> None:
    """Each secret's values together count every deployment once: the answer is whole."""
    per_name: dict[str, int] = {}
    for value in body["values"]:
        per_name[value["name"]] = per_name.get(value["name"], 0) + value["liveDeployments"]
    if body["currentVersion"] != VERSIONS or set(per_name.values()) != {count}:
        raise RuntimeError(f"the usage of the {count:,}-deployment resource is not whole")
