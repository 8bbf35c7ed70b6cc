"""Crash recovery: an acknowledged secrets write survives `kill -9` of the server mid-load.

A partner that got 201 may revoke the old credentials, so a 201 must mean "on disk". Several
threads send partial PUTs, each adding one distinct name with a value of a few KiB; after a
number of 201s the `keyturn serve` process is killed with SIGKILL, restarted on the same
database, and the load goes on; three kills in all, on SQLite and on PostgreSQL. Then:

* every acknowledged name is there, with exactly the value sent (no torn or mixed value);
* no name is there that was never sent, or whose request could not even connect;
* a request cut off by the kill may or may not have committed, but all of it or none of it;
* the secrets version equals the number of names, and the database holds versions 1..n with no
  gap and one secret row per version.

What this kills is keyturn, not the database: a power cut (the reason for SQLite's
`synchronous=FULL`) is covered by the PRAGMA's own test in tests/unit/storage. The test
clusters of PostgreSQL run with `fsync` off; that is fine here, since PostgreSQL itself keeps
running and only its client dies.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, select

from keyturn.storage.engine import normalize_database_url
from keyturn.storage.tables import resource_secrets, resources, secrets_versions
from tests.concurrency.conftest import Seeded, ServerProcesses, seed

THREADS = 4
KILLS = 3
ACKS_BEFORE_KILL = 25
# Per round, from the first PUT to the kill; a stuck server fails the test instead of hanging it.
ROUND_DEADLINE_S = 20

pytestmark = pytest.mark.slow


def value_of(name: str) -> str:
    """A 4 KiB value that names its secret: a torn or swapped value cannot pass for it."""
    return f"{name}=" + hashlib.sha256(name.encode()).hexdigest() * 64


@dataclass
class Outcomes:
    """What the load saw, per secret name, across every round."""

    acknowledged: set[str] = field(default_factory=set)
    # Cut off after the request may have reached the server: committed or not, never half.
    in_doubt: set[str] = field(default_factory=set)
    # Refused at connect: the server cannot have seen these.
    never_sent: set[str] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_until_killed(
    servers: ServerProcesses, base: str, seeded: Seeded, round_: int, outcomes: Outcomes
) -> None:
    """Run the threads against `base`; SIGKILL the server after ACKS_BEFORE_KILL 201s."""
    acks_this_round = 0
    enough = threading.Event()
    path = f"/v1/installations/{seeded.installation_id}/resources/db/secrets"

    def worker(thread: int) -> None:
        nonlocal acks_this_round
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {seeded.token}"}, timeout=30
        ) as http:
            for update in range(10_000):
                name = f"K{round_}_T{thread}_S{update}"
                body = {"secrets": [{"name": name, "value": value_of(name)}], "partial": True}
                try:
                    response = http.put(path, json=body)
                except httpx.ConnectError:
                    with outcomes.lock:
                        outcomes.never_sent.add(name)
                    return
                except httpx.TransportError:
                    with outcomes.lock:
                        outcomes.in_doubt.add(name)
                    return
                with outcomes.lock:
                    if response.status_code != 201:
                        outcomes.unexpected.append(f"{name}: {response.status_code}")
                        enough.set()
                        return
                    outcomes.acknowledged.add(name)
                    acks_this_round += 1
                    if acks_this_round >= ACKS_BEFORE_KILL:
                        enough.set()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    reached = enough.wait(timeout=ROUND_DEADLINE_S)
    servers.kill(base)
    for thread in threads:
        thread.join(timeout=60)
    assert reached, f"round {round_}: only {acks_this_round} acknowledgements in time"
    assert not outcomes.unexpected, outcomes.unexpected


def stored_versions(database_url: str) -> tuple[list[int], list[int]]:
    """The resource's version numbers, and the first version of each of its secret rows."""
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            internal_id = connection.execute(
                select(resources.c.internal_id).where(resources.c.partner_id == "db")
            ).scalar_one()
            versions = connection.execute(
                select(secrets_versions.c.version).where(
                    secrets_versions.c.resource_id == internal_id
                )
            ).scalars()
            rows = connection.execute(
                select(resource_secrets.c.valid_from).where(
                    resource_secrets.c.resource_id == internal_id
                )
            ).scalars()
            return sorted(versions), sorted(rows)
    finally:
        engine.dispose()


def pulled_values(base: str, seeded: Seeded) -> dict[str, str]:
    """The secrets as a connected project sees them: the decrypted values, through the API."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {seeded.user_token}"}, timeout=30
    ) as http:
        project = http.post("/v11/projects", json={"name": "after-crash"})
        assert project.status_code == 200, project.text
        project_id = project.json()["id"]
        connected = http.post(
            f"/v1/integrations/installations/{seeded.installation_id}/resources/db/connections",
            json={"projectId": project_id, "envVarEnvironments": ["production"]},
        )
        assert connected.status_code == 201, connected.text
        pulled = http.get(f"/v3/env/pull/{project_id}/production")
        assert pulled.status_code == 200, pulled.text
        env: dict[str, str] = pulled.json()["env"]
        return env


def test_acknowledged_writes_survive_kill_9_mid_load(
    start_server: ServerProcesses, database_url: str
) -> None:
    base = start_server()
    seeded = seed(base)
    outcomes = Outcomes()
    for round_ in range(KILLS):
        load_until_killed(start_server, base, seeded, round_, outcomes)
        base = start_server()

    resource = httpx.get(
        f"{base}/v1/installations/{seeded.installation_id}/resources/db",
        headers={"Authorization": f"Bearer {seeded.token}"},
    ).json()
    names = set(resource["secretNames"])
    assert len(outcomes.acknowledged) >= KILLS * ACKS_BEFORE_KILL
    assert outcomes.acknowledged <= names, sorted(outcomes.acknowledged - names)
    assert names <= outcomes.acknowledged | outcomes.in_doubt, sorted(
        names - outcomes.acknowledged - outcomes.in_doubt
    )
    assert not names & outcomes.never_sent

    # One effective PUT, one new name, one version: contiguous, nothing half written.
    version_count = len(names)
    assert resource["secretsVersion"] == version_count
    versions, secret_rows = stored_versions(database_url)
    assert versions == list(range(1, version_count + 1))
    assert secret_rows == list(range(1, version_count + 1))

    env = pulled_values(base, seeded)
    assert set(env) == names
    torn = sorted(name for name, value in env.items() if value != value_of(name))
    assert not torn, torn
