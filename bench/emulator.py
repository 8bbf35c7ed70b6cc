"""The pytest plugin's own costs (issue 11): how long `keyturn_server` takes from its start to the
first answered request, and how long the `keyturn` fixture's reset takes with 1,000 rows seeded.

Both go through `keyturn.pytest_plugin.KeyturnServer`, as a partner's suite does: a real
`keyturn serve --emulator --port 0` subprocess on a fresh SQLite data directory. "First answered
request" is the first reset, the one the `keyturn` fixture sends before the first test: the
plugin's own `/readyz` wait is part of the start, and the first API call must not hide a cost
that `/readyz` skips. `--emulator-before DIR` serves the starts of a second source tree (a
`src/` directory, on `PYTHONPATH`) too, interleaved sample by sample with this checkout's, so a
change is measured against its base in one run under the same load.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.measure import Result
from keyturn.pytest_plugin import KeyturnServer

START_TARGET_S = 1.5
RESET_TARGET_MS = 50.0
SEEDED_ROWS = 1_000
START_SAMPLES = 9
RESET_WARMUP = 2
# The world reset empties: 10 resources of 10 secrets, each connected to 40 of 100 projects.
RESOURCES = 10
SECRETS_PER_RESOURCE = 10
PROJECTS = 100
PROJECTS_PER_RESOURCE = 40


def seeded_world() -> dict[str, Any]:
    """A section 7 fixture whose rows (with the events they write) number over 1,000."""
    return {
        "teams": [{"id": "team_bench", "slug": "bench", "tokens": [{}]}],
        "integrations": [{"slug": "bench-db", "products": [{"slug": "postgres"}]}],
        "installations": [{"id": "icfg_bench", "teamId": "team_bench", "integration": "bench-db"}],
        "resources": [
            {
                "installationId": "icfg_bench",
                "id": f"db{r}",
                "productId": "postgres",
                "name": f"db{r}",
                "status": "ready",
                "secrets": [
                    {"name": f"SECRET_{s}", "value": f"value-{r}-{s}"}
                    for s in range(SECRETS_PER_RESOURCE)
                ],
            }
            for r in range(RESOURCES)
        ],
        "projects": [
            {"id": f"prj_bench{p}", "teamId": "team_bench", "name": f"web{p}"}
            for p in range(PROJECTS)
        ],
        "connections": [
            {
                "installationId": "icfg_bench",
                "resourceId": f"db{r}",
                "projectId": f"prj_bench{(r * 7 + p) % PROJECTS}",
                "envVarPrefix": f"R{r}",
            }
            for r in range(RESOURCES)
            for p in range(PROJECTS_PER_RESOURCE)
        ],
    }


# The schema's version and the token-signing key stay through a reset (CONTRACT.md 7 names
# neither), so they are not counted as seeded rows.
NOT_EMPTIED = frozenset({"alembic_version", "signing_keys"})


def count_rows(database: Path) -> int:
    """Rows in the tables of keyturn's SQLite file that a reset empties."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if name not in NOT_EMPTIED
        ]
        # Names read from sqlite_master, quoted: not user input.
        return sum(
            connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608  # table names from sqlite_master
            for name in tables
        )


@contextmanager
def _source(src: Path | None) -> Iterator[None]:
    """Serve from `src` (put first on PYTHONPATH for the subprocess), or from this checkout."""
    if src is None:
        yield
        return
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), before]))
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def measure_starts(
    samples: int, before: Path | None, progress: Callable[[str], None]
) -> list[Result]:
    """Start to `/readyz` and start to the first reset answered, per source, interleaved."""
    sources: dict[str, Path | None] = {"": None}
    if before is not None:
        sources[" (before)"] = before
    ready: dict[str, list[float]] = {label: [] for label in sources}
    first: dict[str, list[float]] = {label: [] for label in sources}
    cpu: dict[str, list[float]] = {label: [] for label in sources}
    for sample in range(samples):
        # Alternate which source goes first, so neither always starts on a warmer machine.
        order = list(sources.items())
        if sample % 2:
            order.reverse()
        for label, src in order:
            with tempfile.TemporaryDirectory(prefix="keyturn-bench-start-") as work, _source(src):
                started = time.perf_counter()
                server = KeyturnServer.start(Path(work))
                answered = time.perf_counter()
                try:
                    server.reset()
                    reset = time.perf_counter()
                    used = cpu_ms(server.pid)
                finally:
                    server.stop()
            ready[label].append((answered - started) * 1000)
            first[label].append((reset - started) * 1000)
            if used is not None:
                cpu[label].append(used)
        progress(f"emulator: start {sample + 1}/{samples}")
    results = []
    for label in sources:
        results.append(Result(f"plugin start to /readyz{label}", ready[label]))
        results.append(Result(f"plugin start to first reset answered{label}", first[label]))
        if len(cpu[label]) >= 2:
            results.append(Result(f"server CPU to first reset answered{label}", cpu[label]))
    return results


def cpu_ms(pid: int) -> float | None:
    """The CPU time (user and system) a process has used so far; None off Linux.

    On a shared machine the wall time of a start moves with everyone else's load; the CPU it
    costs much less, so it tells what an idle machine would see.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of proc(5), in clock ticks; `fields` starts at 3.
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def measure_resets(samples: int, progress: Callable[[str], None]) -> tuple[Result, int]:
    """The `keyturn` fixture's reset after each seeding of `seeded_world()`, and its rows."""
    durations: list[float] = []
    rows = 0
    with tempfile.TemporaryDirectory(prefix="keyturn-bench-reset-") as work:
        server = KeyturnServer.start(Path(work))
        try:
            database = Path(work) / "data" / "keyturn.db"
            for sample in range(RESET_WARMUP + samples):
                server.seed(seeded_world())
                rows = count_rows(database)
                if rows < SEEDED_ROWS:
                    raise RuntimeError(f"the seeded world has {rows} rows, not {SEEDED_ROWS}")
                started = time.perf_counter()
                server.reset()
                elapsed = (time.perf_counter() - started) * 1000
                left = count_rows(database)
                if left > 0:
                    raise RuntimeError(f"reset left {left} rows")
                if sample >= RESET_WARMUP:
                    durations.append(elapsed)
            progress(f"emulator: {samples} resets of {rows:,} rows")
        finally:
            server.stop()
    return Result(f"reset with {rows:,} rows seeded", durations), rows


def verdicts(results: list[Result]) -> list[str]:
    lines = []
    for result in results:
        if result.case.startswith("plugin start to first reset answered"):
            met = "MET" if result.median <= START_TARGET_S * 1000 else "NOT MET"
            lines.append(
                f"verdict emulator: {result.case} median {result.median / 1000:.2f} s "
                f"(target <= {START_TARGET_S:g} s): {met}"
            )
        if result.case.startswith("reset with"):
            met = "MET" if result.median <= RESET_TARGET_MS else "NOT MET"
            lines.append(
                f"verdict emulator: {result.case} median {result.median:.1f} ms "
                f"(target <= {RESET_TARGET_MS:g} ms): {met}"
            )
    return lines
