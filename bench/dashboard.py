"""The dashboard's pages at scale: a team with 1,000 projects and 10,000 deployments.

Accounts, resources and their secrets go through the HTTP API; the projects, their
connections and the deployments (with the secrets version of each resource they recorded)
are bulk-inserted with SQLAlchemy Core, as bench/world.py does: seeding is not what is
measured. Every project is connected to one shared resource and to one of four others, so
the shared resource's page lists 1,000 connected projects; every deployment references both
of its project's resources, at version 1 (stale) or the current one. Each deployment has its
`deployment.created` event (built by the services' own payload builder) and a delivery of it
to one team webhook, so the events page and the webhook's page read 10,000 rows each.

Each sample is one GET through the TestClient, signed in with a session cookie: routing,
the session's token check, the page's one read transaction and the Jinja rendering, in
this process (server-side; no socket, no browser).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, insert, select, text

from bench.measure import Result
from bench.report import Row, header, source_revision, table
from bench.snapshots import insert_deployments
from bench.world import ADMIN_TOKEN, expect, secret_values
from keyturn.app import build_runtime, create_app
from keyturn.domain.clock import SystemClock
from keyturn.domain.deployments import SecretsVersionUsed
from keyturn.domain.event_payloads import Involved, deployment_created_event, event_body
from keyturn.domain.ids import IdSource
from keyturn.settings import Settings
from keyturn.storage.tables import (
    connections,
    deliveries,
    events,
    projects,
)

PROJECTS = 1_000
DEPLOYMENTS_PER_PROJECT = 10
OTHER_RESOURCES = 4
SECRETS_PER_RESOURCE = 10
ROTATIONS = 2  # versions 2 and 3: deployments at version 1 are stale
TARGET_MS = 100.0
WARMUP = 3


def run_dashboard(
    databases: dict[str, Callable[[Path], AbstractContextManager[str]]],
    chosen: list[str],
    work_dir: Path,
    samples: int,
    master_key: str,
    progress: Callable[[str], None],
) -> int:
    rows: list[Row] = []
    for name in chosen:
        progress(
            f"dashboard: {name}: seeding {PROJECTS:,} projects and "
            f"{PROJECTS * DEPLOYMENTS_PER_PROJECT:,} deployments"
        )
        with databases[name](work_dir) as url:
            settings = Settings(
                data_dir=work_dir / f"{name}-dashboard-data",
                database_url=url,
                admin_token=SecretStr(ADMIN_TOKEN),
                master_key=SecretStr(master_key),
            )
            runtime = build_runtime(settings)
            try:
                with TestClient(create_app(runtime)) as client:
                    pages = _seed(client, runtime.store.engine)
                    progress(f"dashboard: {name}: timing {len(pages)} pages")
                    rows += [
                        Row(name, r.case, r.median, r.p90) for r in _measure(client, pages, samples)
                    ]
            finally:
                runtime.store.engine.dispose()
    print(f"{header(samples, source_revision())} | dashboard pages")
    print()
    print(table(rows))
    print()
    for row in rows:
        met = "MET" if row.median_ms < TARGET_MS else "NOT MET"
        print(
            f"verdict {row.database}: {row.case} median {row.median_ms:.1f} ms "
            f"(target < {TARGET_MS:g} ms): {met}"
        )
    return 0


def _measure(client: TestClient, pages: dict[str, str], samples: int) -> Iterator[Result]:
    """Wall time of each page, and this process's CPU time for it: the app runs in a thread
    of this process, so on SQLite that is the server's whole work, and it does not move with
    the machine's other load as wall time does (PostgreSQL's own CPU is not counted)."""
    times: dict[str, list[float]] = {case: [] for case in pages}
    cpu: dict[str, list[float]] = {case: [] for case in pages}
    for round_number in range(WARMUP + samples):
        cases = list(pages)
        shift = round_number % len(cases)
        for case in cases[shift:] + cases[:shift]:
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(pages[case])
            elapsed = (time.perf_counter() - started) * 1000
            cpu_elapsed = (time.process_time() - cpu_started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{pages[case]} answered {response.status_code}")
            if round_number >= WARMUP:
                times[case].append(elapsed)
                cpu[case].append(cpu_elapsed)
    for case, samples_ms in times.items():
        yield Result(case, samples_ms)
    for case, samples_ms in cpu.items():
        yield Result(f"{case}, CPU", samples_ms)


def _seed(client: TestClient, engine: Engine) -> dict[str, str]:
    """The world, a signed-in session on `client`, and the pages to time {case: path}."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    team = expect(client.post("/v1/admin/teams", json={"slug": "dash"}, headers=admin), 201)
    user = expect(client.post(f"/v1/admin/teams/{team['id']}/tokens", json={}, headers=admin), 201)
    integration = expect(
        client.post(
            "/v1/admin/integrations",
            json={"slug": "dash-db", "products": [{"slug": "postgres"}]},
            headers=admin,
        ),
        201,
    )
    installation = expect(
        client.post(
            "/v1/admin/installations",
            json={"teamId": team["id"], "integration": "dash-db"},
            headers=admin,
        ),
        201,
    )
    partner = {"Authorization": f"Bearer {installation['accessToken']}"}
    base = f"/v1/installations/{installation['id']}/resources"
    internal: dict[str, str] = {}
    for index, partner_id in enumerate(["shared", *(f"db{i}" for i in range(OTHER_RESOURCES))]):
        names = [f"S{index}_SECRET_{i:02d}" for i in range(SECRETS_PER_RESOURCE)]
        body = {
            "productId": integration["products"][0]["id"],
            "name": partner_id,
            "status": "ready",
            "secrets": secret_values(names, "v1"),
        }
        expect(client.put(f"{base}/{partner_id}", json=body, headers=partner), 200)
        for rotation in range(ROTATIONS):
            rotated = {"secrets": secret_values(names, f"v{rotation + 2}")}
            expect(client.put(f"{base}/{partner_id}/secrets", json=rotated, headers=partner), 201)
        internal[partner_id] = expect(client.get(f"{base}/{partner_id}", headers=partner), 200)[
            "internalId"
        ]
    user_headers = {"Authorization": f"Bearer {user['token']}"}
    webhook = expect(
        client.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["deployment.created"]},
            headers=user_headers,
        ),
        200,
    )
    project_ids, deployment_ids = _bulk_insert(
        engine, team["id"], internal, installation["id"], webhook["id"]
    )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))

    form = client.get("/dashboard/sign-in").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if found is None:
        raise RuntimeError("the sign-in form has no CSRF field")
    signed_in = client.post(
        "/dashboard/sign-in",
        data={"token": user["token"], "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    if signed_in.status_code != 303:
        raise RuntimeError(f"sign-in answered {signed_in.status_code}")
    last_page = -(-PROJECTS // 50)
    return {
        "resources (5 resources)": "/dashboard",
        "resource page (1,000 connected projects)": (
            f"/dashboard/resources/{installation['id']}/shared"
        ),
        "projects, page 1 of 20": "/dashboard/projects",
        f"projects, page {last_page} of 20": f"/dashboard/projects?page={last_page}",
        "project page (10 deployments)": f"/dashboard/projects/{project_ids[0]}",
        "deployment page (2 resources)": f"/dashboard/deployments/{deployment_ids[0]}",
        "events, newest 25 of 10,000": "/dashboard/events",
        "events of one type": "/dashboard/events?type=deployment.created",
        "webhook page (10,000 deliveries)": f"/dashboard/webhooks/{webhook['id']}",
    }


def _bulk_insert(
    engine: Engine, team_id: str, internal: dict[str, str], installation_id: str, webhook_id: str
) -> tuple[list[str], list[str]]:
    now, ids = SystemClock().now_ms(), IdSource()
    others = [internal[f"db{i}"] for i in range(OTHER_RESOURCES)]
    project_rows: list[dict[str, Any]] = [
        {
            "id": ids.new("prj"),
            "team_id": team_id,
            "name": f"dash-{index:04d}",
            "created_at": now,
            "updated_at": now,
        }
        for index in range(PROJECTS)
    ]
    environments = {"in_production": True, "in_preview": True, "in_development": True}
    connection_rows: list[dict[str, Any]] = []
    deployment_rows: list[dict[str, Any]] = []
    references: dict[str, list[SecretsVersionUsed]] = {}
    event_rows: list[dict[str, Any]] = []
    partner_ids = {resource_id: partner_id for partner_id, resource_id in internal.items()}
    for index, project in enumerate(project_rows):
        linked = [internal["shared"], others[index % OTHER_RESOURCES]]
        for resource_id in linked:
            connection_rows.append(
                {
                    "id": ids.new("conn"),
                    "resource_id": resource_id,
                    "project_id": project["id"],
                    "env_var_prefix": None,
                    "make_sensitive": False,
                    "created_at": now,
                    **environments,
                }
            )
        for number in range(DEPLOYMENTS_PER_PROJECT):
            deployment_id = ids.new("dpl")
            created_at = now - (DEPLOYMENTS_PER_PROJECT - number) * 60_000
            deployment_rows.append(
                {
                    "id": deployment_id,
                    "project_id": project["id"],
                    "name": project["name"],
                    "target": "production" if number % 2 else "preview",
                    "git_branch": None,
                    "url": f"{project['name']}-{number}.keyturn.localhost",
                    "created_at": created_at,
                    # Targets alternate: the last two are their target's newest.
                    "serving": number >= DEPLOYMENTS_PER_PROJECT - 2,
                }
            )
            event = deployment_created_event(
                team_id=team_id,
                user_id=None,
                deployment_id=deployment_id,
                name=project["name"],
                url=deployment_rows[-1]["url"],
                project_id=project["id"],
                target=deployment_rows[-1]["target"],
                involved=[Involved(installation_id, partner_ids[r]) for r in linked],
            )
            event_id = ids.new("evt")
            event_rows.append(
                {
                    "id": event_id,
                    "type": event.type,
                    "team_id": team_id,
                    "project_id": project["id"],
                    "created_at": created_at,
                    "body": event_body(
                        event, event_id=event_id, created_at=created_at, team_id=team_id
                    ),
                }
            )
            references[deployment_id] = [
                SecretsVersionUsed(
                    resource_id=resource_id,
                    # The older half runs version 1: stale against the current 3.
                    secrets_version=1 if number < DEPLOYMENTS_PER_PROJECT // 2 else 3,
                    environments=("production", "preview", "development"),
                )
                for resource_id in linked
            ]
    with engine.begin() as connection:
        connection.execute(insert(projects), project_rows)
        connection.execute(insert(connections), connection_rows)
        insert_deployments(connection, deployment_rows, references)
        connection.execute(insert(events), event_rows)
        # Only the bulk events: the API's own events stay delivered only where it sent them.
        sequence = connection.execute(
            select(events.c.seq).where(events.c.id.in_([row["id"] for row in event_rows]))
        ).scalars()
        connection.execute(
            insert(deliveries),
            [
                {
                    "id": ids.new("dlv"),
                    "event_seq": seq,
                    "destination_kind": "webhook",
                    "destination_id": webhook_id,
                    "url": "http://127.0.0.1:9/hook",
                    "status": "delivered" if seq % 3 else "failed",
                    "attempts": 1 if seq % 3 else 8,
                    "next_attempt_at": None,
                    "last_status_code": 200 if seq % 3 else 500,
                    "last_error": None,
                    "delivered_at": now if seq % 3 else None,
                    "created_at": now,
                }
                for seq in sequence
            ],
        )
    return [row["id"] for row in project_rows], [row["id"] for row in deployment_rows]
