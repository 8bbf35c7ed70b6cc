"""The HTTP part of `make bench`: the real `keyturn serve` over real sockets, driven by wrk.

What it answers: what does a request cost the server process, next to a bare FastAPI app that
only validates the same secrets body (bench/bare_app.py), measured in the same run? For each
case: requests per second, p50 and p99 latency (wrk's --latency), and the server's CPU time per
request (utime + stime of the server's whole process tree from /proc, before and after, divided
by the requests wrk completed).

On a 2-core machine the server is pinned to core 0 and wrk to core 1 (taskset), so the two do
not compete. The 2-worker rows give the server both cores and leave wrk unpinned. The scaling
pair (env pull, 1 and 2 workers) keeps wrk pinned to core 1 both times, the 1-worker server on
core 0 and the 2-worker one on both: on 2 cores there is no third for wrk, so its own CPU per
request is measured too (from its rusage) and printed with the ratio, as the share of core 1
it took from the second worker. With PostgreSQL, the database server's processes (unpinned)
are measured the same way ("db us/req"): on 2 cores they share the cores with the workers.
The cases are in http_cases.py, the table and the verdicts in http_report.py; see
docs/performance.md for the targets and a measured table.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.http_cases import (
    CONNECTIONS,
    CROWD,
    WRITE_CASES,
    Case,
    Seeded,
    bare_cases,
    keyturn_cases,
    seed,
)
from bench.http_report import Measured, verdicts
from bench.world import ADMIN_TOKEN
from keyturn.storage.engine import create_database_engine

REPOSITORY = Path(__file__).resolve().parent.parent
SERVER_CORE = "0"
LOAD_CORE = "1"
BOTH_CORES = "0,1"
DURATION_S = 3
WARMUP_S = 1
START_DEADLINE_S = 60


class LoadGeneratorMissing(RuntimeError):
    """wrk is not installed and could not be installed."""


def find_wrk() -> str:
    """wrk's path; on Debian it is installed with apt-get when missing (the bench runs as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        subprocess.run([apt, "install", "-y", "wrk"], capture_output=True, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    raise LoadGeneratorMissing(
        "wrk is not installed and `apt-get install -y wrk` did not work; install wrk to run "
        "the HTTP part"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pin(cores: str | None) -> list[str]:
    taskset = shutil.which("taskset")
    if cores is None or taskset is None or (os.cpu_count() or 1) < 2:
        return []
    return [taskset, "-c", cores]


def _tree_cpu_ticks(pid: int) -> int:
    """utime + stime of `pid` and all its descendants, in clock ticks."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime and stime (fields 14 and 15)
        pending += [int(child) for child in children]
    return total


@dataclass
class Server:
    """A server process on a port; stopped by its pid when the block ends."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def cpu_seconds(self) -> float:
        return _tree_cpu_ticks(self.process.pid) / os.sysconf("SC_CLK_TCK")

    def child_cpu_seconds(self) -> dict[int, float]:
        """CPU time of each direct child's tree (uvicorn's workers, when there are several)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = [int(child) for child in children.read_text().split()]
        except OSError:
            return {}
        ticks = os.sysconf("SC_CLK_TCK")
        return {pid: _tree_cpu_ticks(pid) / ticks for pid in pids}


@contextmanager
def _running(argv: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[Server]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=REPOSITORY)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        answered = 0
        # Several answers in a row: with workers, each must have started.
        while answered < 5:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")
            try:
                answered += httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@dataclass(frozen=True)
class Target:
    """How to start one keyturn server: its database and where its code comes from."""

    database: str
    url: str
    data_dir: Path
    master_key: str
    # Another installation's Python to serve with (a before/after comparison); None: this one.
    server_python: Path | None = None
    # The database server's main process (PostgreSQL's postmaster), whose tree's CPU is
    # measured too; None for SQLite, which runs inside the keyturn process.
    database_pid: int | None = None


def database_server_pid(url: str) -> int | None:
    """The PostgreSQL postmaster behind `url` (the parent of a backend), or None for SQLite."""
    if not url.startswith("postgresql"):
        return None
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            backend = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    finally:
        engine.dispose()
    stat = Path(f"/proc/{backend}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])  # the parent's pid (field 4)


def keyturn_server(
    target: Target, workers: int, cores: str | None, log: Path
) -> AbstractContextManager[Server]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("KEYTURN_")}
    env |= {
        "KEYTURN_DATABASE_URL": target.url,
        "KEYTURN_DATA_DIR": str(target.data_dir),
        "KEYTURN_ADMIN_TOKEN": ADMIN_TOKEN,
        "KEYTURN_MASTER_KEY": target.master_key,
        "KEYTURN_PORT": str(port),
        "KEYTURN_WORKERS": str(workers),
    }
    python = str(target.server_python or sys.executable)
    argv = [*_pin(cores), python, "-m", "keyturn.cli", "serve"]
    return _running(argv, env, log, port)


def bare_server(cores: str | None, log: Path) -> AbstractContextManager[Server]:
    port = _free_port()
    argv = [
        *_pin(cores),
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_app:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return _running(argv, dict(os.environ), log, port)


def _children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk runs, once each has been waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


LATENCY_LINE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
DONE_LINE = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _script(case: Case) -> str:
    lines = [f'wrk.method = "{case.method}"', 'wrk.headers["Content-Type"] = "application/json"']
    if case.token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {case.token}"')
    if case.body is not None:
        lines.append(f"wrk.body = [[{case.body}]]")
    if case.script is not None:
        lines.append(case.script)
    return "\n".join(lines) + "\n"


def run_wrk(
    wrk: str,
    server: Server,
    case: Case,
    connections: int,
    cores: str | None,
    work_dir: Path,
    duration_s: int = DURATION_S,
    database_pid: int | None = None,
) -> Measured:
    script = work_dir / f"{re.sub(r'[^a-z0-9]+', '-', case.name.lower())}.lua"
    script.write_text(_script(case))
    url = server.base + case.path

    def wrk_run(seconds: int) -> str:
        argv = [
            *_pin(cores),
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
        return result.stdout

    ticks = os.sysconf("SC_CLK_TCK")

    def database_cpu() -> float:
        return 0.0 if database_pid is None else _tree_cpu_ticks(database_pid) / ticks

    wrk_run(WARMUP_S)
    before, load_before, database_before = (
        server.cpu_seconds(),
        _children_cpu_seconds(),
        database_cpu(),
    )
    output = wrk_run(duration_s)
    cpu = server.cpu_seconds() - before
    load_cpu = _children_cpu_seconds() - load_before
    database_cpu_used = database_cpu() - database_before
    done = DONE_LINE.search(output)
    if done is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    requests = int(done.group(1))
    seconds = float(done.group(2)) * UNIT[done.group(3)] / 1e3
    latency = {match[0]: float(match[1]) * UNIT[match[2]] for match in LATENCY_LINE.findall(output)}
    errors = 0
    if non_2xx := NON_2XX.search(output):
        errors += int(non_2xx.group(1))
    if socket_errors := SOCKET_ERRORS.search(output):
        errors += sum(int(group) for group in socket_errors.groups())
    return Measured(
        case=case.name,
        requests=requests,
        seconds=seconds,
        p50_ms=latency.get("50", float("nan")),
        p99_ms=latency.get("99", float("nan")),
        cpu_us_per_request=cpu / max(requests, 1) * 1e6,
        errors=errors,
        load_cpu_us_per_request=load_cpu / max(requests, 1) * 1e6,
        database_cpu_us_per_request=(
            None if database_pid is None else database_cpu_used / max(requests, 1) * 1e6
        ),
    )


Progress = Callable[[str], None]


def measure_http(
    targets: list[Target], workers: list[int], progress: Progress, duration_s: int = DURATION_S
) -> tuple[list[Measured], list[str]]:
    """Every case on every target, the bare app once, `duration_s` of load each; returns the
    rows and the verdicts."""
    wrk = find_wrk()
    rows: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="keyturn-bench-http-") as name:
        work_dir = Path(name)
        seeded_of: dict[str, Seeded] = {}
        for target in targets:
            with keyturn_server(
                target, 1, None, work_dir / f"seed-{target.database}.log"
            ) as server:
                seeded_of[target.database] = seed(server.base)
        first = seeded_of[targets[0].database]
        progress("http: the bare FastAPI app")
        with bare_server(SERVER_CORE, work_dir / "bare.log") as server:
            for case in bare_cases(first):
                measured = run_wrk(wrk, server, case, CONNECTIONS, LOAD_CORE, work_dir, duration_s)
                measured.label = {
                    "server": "bare FastAPI",
                    "workers": "1",
                    "conns": str(CONNECTIONS),
                }
                rows.append(measured)
        for target in targets:
            seeded = seeded_of[target.database]
            cases = keyturn_cases(seeded)
            for count in workers:
                # One worker: pinned apart from wrk. Two: the server gets both cores.
                server_cores, load_cores = (
                    (SERVER_CORE, LOAD_CORE) if count == 1 else (BOTH_CORES, None)
                )
                progress(f"http: {target.database}, {count} worker(s)")
                log = work_dir / f"{target.database}-{count}.log"
                with keyturn_server(target, count, server_cores, log) as server:
                    for case in cases:
                        measured = run_wrk(
                            wrk,
                            server,
                            case,
                            CONNECTIONS,
                            load_cores,
                            work_dir,
                            duration_s,
                            target.database_pid,
                        )
                        measured.label = _label(target, count, CONNECTIONS)
                        rows.append(measured)
                    if target.database == "sqlite" and count == 1:
                        for case in cases:
                            if case.name in WRITE_CASES:
                                measured = run_wrk(
                                    wrk,
                                    server,
                                    case,
                                    CROWD,
                                    load_cores,
                                    work_dir,
                                    duration_s,
                                    target.database_pid,
                                )
                                measured.label = _label(target, count, CROWD)
                                rows.append(measured)
            if 2 in workers:
                progress(f"http: {target.database}, scaling, 1 and 2 workers")
                rows += _scaling(wrk, target, cases, work_dir, duration_s)
    return rows, verdicts(rows)


SCALING_ROUNDS = 3
SCALING_CONNECTIONS = 8


def _scaling(
    wrk: str, target: Target, cases: list[Case], work_dir: Path, duration_s: int
) -> list[Measured]:
    """The same read with 1 worker on core 0 and with 2 on both cores, wrk on core 1 each time.

    Both servers run at once and are loaded in turn, round after round: on a machine shared
    with other work, the load it carries then falls on both alike. Each row is the round of
    median throughput.
    """
    pull = next(case for case in cases if case.name.startswith("env pull"))
    rounds: dict[int, list[Measured]] = {1: [], 2: []}
    with (
        keyturn_server(target, 1, SERVER_CORE, work_dir / f"{target.database}-s1.log") as one,
        keyturn_server(target, 2, BOTH_CORES, work_dir / f"{target.database}-s2.log") as two,
    ):
        for _ in range(SCALING_ROUNDS):
            for count, server in ((1, one), (2, two)):
                before = server.child_cpu_seconds()
                measured = run_wrk(
                    wrk,
                    server,
                    pull,
                    SCALING_CONNECTIONS,
                    LOAD_CORE,
                    work_dir,
                    duration_s,
                    target.database_pid,
                )
                if count == 2:
                    # How the load spread over the two workers: the two busiest children
                    # (multiprocessing's resource tracker is a child too, and idle).
                    spent = sorted(
                        (
                            cpu - before.get(pid, 0.0)
                            for pid, cpu in server.child_cpu_seconds().items()
                        ),
                        reverse=True,
                    )[:2]
                    total = sum(spent) or 1.0
                    measured.label["split"] = "/".join(f"{part / total:.0%}" for part in spent)
                rounds[count].append(measured)
    rows = []
    for count, runs in rounds.items():
        median = sorted(runs, key=lambda row: row.per_second)[len(runs) // 2]
        median.label |= _label(target, count, SCALING_CONNECTIONS) | {"scaling": "yes"}
        rows.append(median)
    return rows


def _label(target: Target, workers: int, connections: int) -> dict[str, str]:
    source = "keyturn" if target.server_python is None else "keyturn (other)"
    return {
        "server": f"{source} {target.database}",
        "database": target.database,
        "workers": str(workers),
        "conns": str(connections),
    }
