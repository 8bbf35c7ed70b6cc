"""The timed requests: rotations round-robin across the sized resources, then pull and deploy.

Each sample is the wall time of one request through the TestClient (the whole ASGI app, in
this process): body encoding, routing, authentication, the database and the response. Requests
of the cases compared are interleaved, and the order of a round turns each time, so that a
burst of machine noise, a garbage collection or a checkpoint falls on every case alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.world import PULL_RESOURCES, SECRETS_PER_RESOURCE, SIZES, World, expect, secret_values
from keyturn.services.keys import reencrypt
from keyturn.storage.unit_of_work import Store

T = TypeVar("T")

SAMPLES = 50
WARMUP_ROUNDS = 5


@dataclass(frozen=True)
class Result:
    case: str
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.samples_ms, n=10, method="inclusive")[-1]


def timed(send: Callable[[], Any], status: int) -> float:
    """Milliseconds `send` took; the status is checked after the clock stops."""
    start = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - start
    expect(response, status)
    return elapsed * 1000


def _turned(items: list[T], round_number: int) -> list[T]:
    shift = round_number % len(items)
    return items[shift:] + items[:shift]


def measure_rotations(world: World, samples: int = SAMPLES) -> dict[int, Result]:
    """Median latency of a 20-secret rotation PUT, per number of connected projects."""
    client = world.client
    headers = world.partner_headers()
    sizes = list(SIZES)
    times: dict[int, list[float]] = {size: [] for size in sizes}

    def rotate(size: int, tag: str) -> float:
        partner_id = world.sized_resources[size]
        body = {"secrets": secret_values(world.secret_names[partner_id], tag), "partial": False}
        path = world.secrets_path(partner_id)
        return timed(lambda: client.put(path, json=body, headers=headers), 201)

    for round_number in range(WARMUP_ROUNDS):
        for size in _turned(sizes, round_number):
            rotate(size, f"warm{round_number}")
    for round_number in range(samples):
        for size in _turned(sizes, round_number):
            times[size].append(rotate(size, f"r{round_number}"))
    # Every PUT must have written a new version: a no-op PUT would be cheap and prove nothing.
    for size in sizes:
        partner_id = world.sized_resources[size]
        resource = expect(client.get(world.resource_path(partner_id), headers=headers), 200)
        expected = 1 + WARMUP_ROUNDS + samples
        if resource["secretsVersion"] != expected:
            raise RuntimeError(
                f"{partner_id} is at secrets version {resource['secretsVersion']}, "
                f"expected {expected}: a rotation did not write a new version"
            )
    return {
        size: Result(f"rotation PUT, {size:,} project{'s' if size > 1 else ''}", times[size])
        for size in sizes
    }


ADDING_SAMPLES = 10


def measure_name_additions(world: World, samples: int = ADDING_SAMPLES) -> dict[int, Result]:
    """Median latency of a partial PUT adding one new secret name, per connected projects.

    Unlike a rotation, a new name must be checked for conflicts in every connected project
    (CONTRACT.md 2.1 step 5), so this cost does grow with them; the table shows by how much.
    """
    client = world.client
    headers = world.partner_headers()
    sizes = list(SIZES)
    times: dict[int, list[float]] = {size: [] for size in sizes}

    # Names differ per size: the sized resources share their first projects, so the same new
    # name on two of them would (rightly) be refused as a conflict.
    def add_name(size: int, name: str) -> float:
        body = {"secrets": [{"name": name, "value": f"{name.lower()}-value"}], "partial": True}
        path = world.secrets_path(world.sized_resources[size])
        return timed(lambda: client.put(path, json=body, headers=headers), 201)

    add_warm = 2
    for round_number in range(add_warm):
        for size in _turned(sizes, round_number):
            add_name(size, f"WARM_{size}_{round_number}")
    for round_number in range(samples):
        for size in _turned(sizes, round_number):
            times[size].append(add_name(size, f"ADDED_{size}_{round_number}"))
    return {
        size: Result(f"adding a name, {size:,} project{'s' if size > 1 else ''}", times[size])
        for size in sizes
    }


# Issue 9: a rotation PUT with Idempotency-Key and If-Match within this factor of one without.
SAFE_WRITE_TARGET_RATIO = 1.2


def measure_safe_writes(world: World, samples: int = SAMPLES) -> tuple[Result, Result]:
    """A 20-secret rotation PUT of the 1,000-project resource, plain and with a fresh
    `Idempotency-Key` and an `If-Match` of the current version, interleaved on that resource.

    Each keyed PUT is a first use of its key (the cost every write pays to be retryable, not a
    replay, which is cheaper): the key is claimed and its answer kept in the write's own
    transaction, beside the If-Match check under the resource's lock.
    """
    client = world.client
    headers = world.partner_headers()
    partner_id = world.sized_resources[1_000]
    path = world.secrets_path(partner_id)
    names = world.secret_names[partner_id]
    version = expect(client.get(world.resource_path(partner_id), headers=headers), 200)[
        "secretsVersion"
    ]

    def plain(tag: str) -> float:
        body = {"secrets": secret_values(names, tag)}
        return timed(lambda: client.put(path, json=body, headers=headers), 201)

    def keyed(tag: str) -> float:
        body = {"secrets": secret_values(names, tag)}
        conditional = {**headers, "Idempotency-Key": f"bench-{tag}", "If-Match": f'"{version}"'}
        return timed(lambda: client.put(path, json=body, headers=conditional), 201)

    cases: list[tuple[str, Callable[[str], float]]] = [("plain", plain), ("keyed", keyed)]
    times: dict[str, list[float]] = {"plain": [], "keyed": []}
    for round_number in range(WARMUP_ROUNDS + samples):
        for name, run in _turned(cases, round_number):
            elapsed = run(f"safe{round_number}{name}")
            version += 1
            if round_number >= WARMUP_ROUNDS:
                times[name].append(elapsed)
    return (
        Result("rotation PUT, 1,000 projects, plain", times["plain"]),
        Result("rotation PUT, 1,000 projects, Idempotency-Key + If-Match", times["keyed"]),
    )


def measure_pull_and_deploy(world: World, samples: int = SAMPLES) -> tuple[Result, Result]:
    """`env pull` and a production deployment of the project with 20 connected resources."""
    client = world.client
    headers = world.user_headers()
    pull_path = f"/v3/env/pull/{world.pull_project_id}/production"
    deploy_body = {
        "name": world.pull_project_name,
        "project": world.pull_project_id,
        "target": "production",
    }

    def pull() -> float:
        return timed(lambda: client.get(pull_path, headers=headers), 200)

    def deploy() -> float:
        return timed(
            lambda: client.post("/v13/deployments", json=deploy_body, headers=headers), 200
        )

    keys = PULL_RESOURCES * SECRETS_PER_RESOURCE
    pulled = expect(client.get(pull_path, headers=headers), 200)["env"]
    if len(pulled) != keys:
        raise RuntimeError(f"env pull answered {len(pulled)} keys, expected {keys}")

    cases: list[tuple[str, Callable[[], float]]] = [("pull", pull), ("deploy", deploy)]
    times: dict[str, list[float]] = {"pull": [], "deploy": []}
    for round_number in range(WARMUP_ROUNDS):
        for _, run in _turned(cases, round_number):
            run()
    for round_number in range(samples):
        for name, run in _turned(cases, round_number):
            times[name].append(run())
    return (
        Result(f"env pull, {keys} keys", times["pull"]),
        Result(f"deployment, {keys} keys", times["deploy"]),
    )


REENCRYPT_BATCH = 500


def measure_reencrypt(store: Store, batch_size: int = REENCRYPT_BATCH) -> Result:
    """`keyturn db reencrypt` over the whole world, its store's ring rotated: time per batch.

    A sample is one batch, its own transaction: select, open, seal, compare-and-set each row,
    commit. Every ciphertext the world holds is rewritten once.
    """
    samples: list[float] = []
    last = time.perf_counter()

    def lap(found: int) -> None:
        nonlocal last
        now = time.perf_counter()
        samples.append((now - last) * 1000)
        last = now

    result = reencrypt(store, batch_size=batch_size, on_batch=lap)
    if result.remaining or result.rewritten < 2 * batch_size:
        raise RuntimeError(
            f"re-encryption left {result.remaining} and rewrote {result.rewritten}: not measured"
        )
    return Result(f"re-encrypt, batch of {batch_size}", samples)
