"""`make bench`: median latencies of keyturn's hot paths on SQLite and PostgreSQL.

What it answers: does a secrets rotation PUT cost the same whatever the number of projects
connected to the resource (1, 100, 1,000, 10,000)? Integration env vars are derived on read, so
it should. It also times `env pull` and a deployment of a project with 20 connected resources,
re-encrypting every ciphertext under a new master key, and what SQLite's `synchronous=FULL`
(keyturn's setting) costs a rotation against NORMAL. Then its HTTP part (bench/http.py)
measures the real `keyturn serve` over sockets with wrk, next to a bare FastAPI app. See
docs/performance.md for the method and measured tables.

Run from the repository root:
`.venv/bin/python -m bench [--quick] [--samples N] [--database NAME] [--part PART]`.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.postgres_cluster import PostgresClusterError

from bench.dashboard import run_dashboard
from bench.databases import postgres_database, sqlite_database, work_directory
from bench.durability import measure_synchronous_modes
from bench.emulator import START_SAMPLES, measure_resets, measure_starts, verdicts
from bench.events import measure_events
from bench.http import (
    DURATION_S,
    WARMUP_S,
    LoadGeneratorMissing,
    Target,
    database_server_pid,
    measure_http,
)
from bench.http_report import http_table
from bench.ledger import FEWEST, TARGET_MS, TARGET_RATIO, UsageCase, measure_usage
from bench.measure import (
    SAFE_WRITE_TARGET_RATIO,
    SAMPLES,
    Result,
    measure_name_additions,
    measure_pull_and_deploy,
    measure_reencrypt,
    measure_rotations,
    measure_safe_writes,
)
from bench.report import Row, header, source_revision, table, verdict
from bench.storage import (
    CPU_TARGET_MS,
    NAME_ADDING_TARGET_RATIO,
    STORAGE_TARGET_BYTES,
    STORED_DEPLOYMENTS,
    StorageCosts,
    measure_deployment_storage,
    measure_service_cpu,
)
from bench.world import ADMIN_TOKEN, PROJECT_COUNT, SIZES, build_world
from keyturn.app import build_runtime, create_app
from keyturn.settings import Settings

# --quick: enough to see a regression, not to quote.
QUICK_SAMPLES = 10
QUICK_DURATION_S = 1

DATABASES: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "sqlite": sqlite_database,
    "postgresql": lambda _work_dir: postgres_database(),
}


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def run_database(
    name: str, url: str, data_dir: Path, samples: int, storage: dict[str, list[StorageCosts]]
) -> Iterator[Row]:
    master_key = new_key()
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        admin_token=SecretStr(ADMIN_TOKEN),
        master_key=SecretStr(master_key),
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            started = time.perf_counter()
            world = build_world(client, runtime.store.engine)
            progress(
                f"{name}: seeded {PROJECT_COUNT:,} projects and {world.connection_rows:,} "
                f"connections in {time.perf_counter() - started:.1f}s; measuring rotations"
            )
            rotations = measure_rotations(world, samples)
            progress(f"{name}: measuring PUTs that add a name")
            additions = measure_name_additions(world)
            progress(f"{name}: measuring rotations with Idempotency-Key and If-Match")
            plain_put, keyed_put = measure_safe_writes(world, samples)
            progress(f"{name}: measuring env pull and deployments")
            pull, deploy = measure_pull_and_deploy(world, samples)
            progress(f"{name}: measuring server CPU and deployment storage")
            service_cpu = measure_service_cpu(world, runtime, samples)
            storage[name] = measure_deployment_storage(world, runtime.store.engine)
            progress(f"{name}: measuring the usage ledger (100 and 10,000 deployments, 3 cases)")
            usage, usage_cpu = measure_usage(world, runtime.store.engine, samples)
    finally:
        runtime.store.engine.dispose()
    progress(f"{name}: measuring re-encryption under a new master key")
    rotated = build_runtime(
        settings.model_copy(
            update={"master_key": None, "master_keys": SecretStr(f"{new_key()},{master_key}")}
        )
    )
    try:
        reencrypted = measure_reencrypt(rotated.store)
    finally:
        rotated.store.engine.dispose()
    baseline = rotations[SIZES[0]].median
    for size, result in rotations.items():
        yield Row(name, result.case, result.median, result.p90, result.median / baseline, size)
    first_addition = additions[SIZES[0]].median
    for result in additions.values():
        yield Row(name, result.case, result.median, result.p90, result.median / first_addition)
    yield Row(name, plain_put.case, plain_put.median, plain_put.p90, 1.0)
    yield Row(
        name, keyed_put.case, keyed_put.median, keyed_put.p90, keyed_put.median / plain_put.median
    )
    for result in (pull, deploy, *service_cpu, reencrypted):
        yield Row(name, result.case, result.median, result.p90)
    yield from usage_rows(name, usage, usage_cpu)


def usage_rows(
    name: str, usage: dict[UsageCase, Result], cpu: dict[UsageCase, Result]
) -> Iterator[Row]:
    """The ledger's rows; the ratio column compares with the 100-deployment case here."""
    for results in (usage, cpu):
        fewest = results[FEWEST].median
        for result in results.values():
            yield Row(name, result.case, result.median, result.p90, result.median / fewest)


def print_storage_verdicts(name: str, rows: list[Row], measured: list[StorageCosts]) -> None:
    """Issue 8's storage targets: name-adding PUT ratio, server CPU, bytes per deployment."""
    for row in rows:
        if row.database != name:
            continue
        if row.case == "adding a name, 10,000 projects" and row.ratio is not None:
            met = "MET" if row.ratio <= NAME_ADDING_TARGET_RATIO else "NOT MET"
            print(
                f"verdict {name}: 10,000-project name-adding PUT = {row.ratio:.2f}x "
                f"the 1-project one (target <= {NAME_ADDING_TARGET_RATIO:g}x): {met}"
            )
        if row.case.endswith("server CPU") and not row.case.startswith("deployment env"):
            met = "MET" if row.median_ms <= CPU_TARGET_MS else "NOT MET"
            print(
                f"verdict {name}: {row.case} median {row.median_ms:.2f} ms "
                f"(target <= {CPU_TARGET_MS:g} ms): {met}"
            )
        if row.case.endswith("Idempotency-Key + If-Match") and row.ratio is not None:
            met = "MET" if row.ratio <= SAFE_WRITE_TARGET_RATIO else "NOT MET"
            print(
                f"verdict {name}: rotation PUT with Idempotency-Key and If-Match = "
                f"{row.ratio:.2f}x the plain one (target <= {SAFE_WRITE_TARGET_RATIO:g}x): {met}"
            )
    for costs in measured:
        for what, size in (
            ("bytes of row values", costs.payload_bytes),
            ("bytes on disk, indexes included,", costs.disk_bytes),
        ):
            met = "MET" if size <= STORAGE_TARGET_BYTES else "NOT MET"
            verdict = (
                "the worst case, no target)"
                if costs.worst_case
                else f"target <= {STORAGE_TARGET_BYTES:,}): {met}"
            )
            print(
                f"storage {name}: {size:,.0f} {what} per deployment of {costs.of}, "
                f"over {STORED_DEPLOYMENTS} deployments ({verdict}"
            )


def print_usage_verdicts(name: str, rows: list[Row]) -> None:
    """Issue 9's ledger targets: under 50 ms, and 10,000 deployments (sharing snapshots or
    spread over many) within 3x of 100."""
    for row in rows:
        if row.database != name or not row.case.startswith("secrets usage"):
            continue
        if row.case.endswith("CPU"):
            continue  # context for the wall times, not a target of its own
        met = "MET" if row.median_ms < TARGET_MS else "NOT MET"
        print(
            f"verdict {name}: {row.case} median {row.median_ms:.2f} ms "
            f"(target < {TARGET_MS:g} ms): {met}"
        )
        if row.ratio is not None and row.case != f"secrets usage, {FEWEST.label}":
            met = "MET" if row.ratio <= TARGET_RATIO else "NOT MET"
            print(
                f"verdict {name}: usage with {row.case.removeprefix('secrets usage, ')} = "
                f"{row.ratio:.2f}x the one with {FEWEST.label} "
                f"(target <= {TARGET_RATIO:g}x): {met}"
            )


def run_ledger(chosen: list[str], samples: int) -> int:
    """Only the usage ledger's measurement (`--part ledger`), on the same seeded world."""
    source = source_revision()
    rows: list[Row] = []
    with work_directory() as work_dir:
        for name in chosen:
            with DATABASES[name](work_dir) as url:
                settings = Settings(
                    data_dir=work_dir / f"{name}-ledger-data",
                    database_url=url,
                    admin_token=SecretStr(ADMIN_TOKEN),
                    master_key=SecretStr(new_key()),
                )
                runtime = build_runtime(settings)
                try:
                    with TestClient(create_app(runtime)) as client:
                        progress(f"{name}: seeding the world")
                        world = build_world(client, runtime.store.engine)
                        progress(f"{name}: measuring the usage ledger")
                        usage, cpu = measure_usage(world, runtime.store.engine, samples)
                finally:
                    runtime.store.engine.dispose()
            rows += usage_rows(name, usage, cpu)
    print(header(samples, source))
    print()
    print(table(rows))
    print()
    for name in chosen:
        print_usage_verdicts(name, rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    # A stopped benchmark still stops its servers and its PostgreSQL cluster (the `finally`s).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=SAMPLES, help="timed requests per case")
    parser.add_argument(
        "--database", choices=sorted(DATABASES), action="append", help="default: both"
    )
    parser.add_argument(
        "--part",
        choices=("all", "inprocess", "http", "ledger", "dashboard", "events", "emulator"),
        default="all",
        help="the in-process latency tables, the HTTP part (real server, wrk), the "
        "dashboard's pages at 1,000 projects and 10,000 deployments and the events part "
        "(outbox cost, delivery throughput); or only one of the usage ledger's in-process "
        "rows, the dashboard's or the events'",
    )
    parser.add_argument(
        "--workers", default="1,2", help="HTTP part: worker counts to measure (default 1,2)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a rough pass in about a third of the time: {QUICK_SAMPLES} samples per case "
        f"and {QUICK_DURATION_S} s of wrk per HTTP case",
    )
    parser.add_argument(
        "--emulator-before",
        type=Path,
        help="emulator part: also time the starts of this src/ directory (the code before a "
        "change), interleaved with this checkout's",
    )
    parser.add_argument(
        "--server-python",
        type=Path,
        help="HTTP part: serve with this Python, where another keyturn is installed (before/after)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.samples = min(args.samples, QUICK_SAMPLES)
    if args.samples < 2:
        parser.error("--samples must be at least 2")
    duration_s = QUICK_DURATION_S if args.quick else DURATION_S
    chosen = args.database or list(DATABASES)
    status = 0
    if args.part in ("all", "inprocess"):
        status = run_inprocess(chosen, args.samples)
    if args.part == "ledger":
        status = run_ledger(chosen, args.samples)
    if args.part in ("all", "http"):
        workers = [int(count) for count in args.workers.split(",")]
        status = run_http(chosen, workers, args.server_python, duration_s) or status
    if args.part in ("all", "dashboard"):
        with work_directory() as work_dir:
            status = (
                run_dashboard(DATABASES, chosen, work_dir, args.samples, new_key(), progress)
                or status
            )
    if args.part in ("all", "events"):
        status = run_events(chosen, args.samples) or status
    if args.part in ("all", "emulator"):
        status = run_emulator(args.samples, args.emulator_before) or status
    return status


def run_emulator(samples: int, before: Path | None) -> int:
    """The pytest plugin's part: start to first answer, and the reset of 1,000 seeded rows."""
    source = source_revision()
    # A start costs seconds: fewer samples than the per-request cases.
    starts = measure_starts(min(samples, START_SAMPLES), before, progress)
    reset, _rows = measure_resets(samples, progress)
    print(f"{header(samples, source)} | emulator part (SQLite, keyturn serve --emulator)")
    if before is not None:
        print(f"(before): the starts of the source tree {before}, interleaved")
    print()
    print(table([Row("sqlite", r.case, r.median, r.p90) for r in [*starts, reset]]))
    print()
    for line in verdicts([*starts, reset]):
        print(line)
    return 0


def run_events(chosen: list[str], samples: int) -> int:
    """The events part: what the outbox adds to a rotation PUT, and delivery throughput."""
    lines = []
    with work_directory() as work_dir:
        for name in chosen:
            progress(f"events: {name}: measuring the outbox and the delivery worker")
            try:
                lines += measure_events(name, DATABASES[name], work_dir, samples)
            except PostgresClusterError as exc:
                lines.append(f"events {name}: not measured: {str(exc).splitlines()[0]}")
    print(f"{header(samples, source_revision())} | events part")
    for line in lines:
        print(line)
    return 0


def run_http(
    chosen: list[str], workers: list[int], server_python: Path | None, duration_s: int
) -> int:
    """The HTTP part: `keyturn serve` over real sockets next to a bare FastAPI app."""
    source = source_revision()
    notes: list[str] = []
    with work_directory() as work_dir, ExitStack() as stack:
        targets = []
        for name in chosen:
            progress(f"http: {name}: preparing the database")
            try:
                url = stack.enter_context(DATABASES[name](work_dir))
            except PostgresClusterError as exc:
                notes.append(f"{name}: not measured: {str(exc).splitlines()[0]}")
                progress(notes[-1])
                continue
            key = base64.b64encode(secrets.token_bytes(32)).decode()
            targets.append(
                Target(
                    name,
                    url,
                    work_dir / f"{name}-http-data",
                    key,
                    server_python,
                    database_server_pid(url),
                )
            )
        try:
            rows, verdict_lines = measure_http(targets, workers, progress, duration_s)
        except LoadGeneratorMissing as exc:
            print(f"HTTP part not measured: {exc}")
            return 0
    print(f"{header(0, source).replace(' | 0 samples per case', '')} | HTTP part")
    if server_python is not None:
        print(f"server: keyturn as installed for {server_python} (not this checkout)")
    print(
        f"wrk: 1 thread, {duration_s} s per case after {WARMUP_S} s of warm-up; 1 worker: "
        "server on core 0, wrk on core 1; 2 workers: server on both, wrk unpinned; scaling "
        "rows: 1 worker on core 0 or 2 on both, wrk on core 1"
    )
    print()
    print(http_table(rows))
    print()
    for line in [*verdict_lines, *notes]:
        print(line)
    return 0


def run_inprocess(chosen: list[str], samples: int) -> int:
    source = source_revision()
    rows: list[Row] = []
    storage: dict[str, list[StorageCosts]] = {}
    notes: list[str] = []
    with work_directory() as work_dir:
        for name in chosen:
            progress(f"{name}: preparing the database")
            started = time.perf_counter()
            try:
                with DATABASES[name](work_dir) as url:
                    rows += run_database(name, url, work_dir / f"{name}-data", samples, storage)
            except PostgresClusterError as exc:
                notes.append(f"{name}: not measured: {str(exc).splitlines()[0]}")
                progress(notes[-1])
                continue
            progress(f"{name}: done in {time.perf_counter() - started:.1f}s")
        if "sqlite" in chosen:
            progress("sqlite: measuring rotations under synchronous=NORMAL and FULL")
            # Four times the samples: one fsync's cost moves with the disk's other load.
            modes = measure_synchronous_modes(work_dir, 4 * samples)
            rows += [
                Row("sqlite", result.case, result.median, result.p90) for result in modes.values()
            ]
            full, normal = modes["FULL"].median, modes["NORMAL"].median
            notes.append(
                f"durability sqlite: synchronous=FULL costs {full - normal:+.2f} ms per rotation "
                f"PUT ({full / normal:.2f}x NORMAL's median)"
            )

    if source_revision() != source:
        notes.append(
            "note: src/ changed while the benchmark ran; it measured the code loaded at its start"
        )
    print(header(samples, source))
    print()
    print(table(rows))
    print()
    for name in chosen:
        for row in rows:
            if row.database == name and row.projects == SIZES[-1] and row.ratio is not None:
                print(verdict(name, row.ratio))
    for name in chosen:
        print_storage_verdicts(name, rows, storage.get(name, []))
    for name in chosen:
        print_usage_verdicts(name, rows)
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
