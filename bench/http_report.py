"""The HTTP benchmark's rows, its table and its verdicts against issue 8's targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.http_cases import CONNECTIONS, CROWD, WRITE_CASES


@dataclass
class Measured:
    case: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    errors: int
    # wrk's own CPU per request: what the load generator took of the cores it ran on.
    load_cpu_us_per_request: float = 0.0
    # The database server's CPU per request (PostgreSQL's processes); None for SQLite.
    database_cpu_us_per_request: float | None = None
    label: dict[str, str] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


COMPARED_TO_BARE = {
    "/healthz": "/healthz",
    "no-op PUT": "PUT, body validated",
    "rotation PUT": "PUT, body validated",
}
# Targets of issue 8, as ratios from one run (docs/performance.md).
CPU_RATIO_TARGETS = {"/healthz": 1.5, "no-op PUT": 3.0, "rotation PUT": 5.0}
CPU_MS_TARGETS = {"env pull, 400 keys": 3.0, "deployment create, 400 keys": 3.0}
TAIL_TARGET = 5.0
SCALING_TARGET = 1.6


def _find(rows: list[Measured], case: str, **label: str) -> Measured | None:
    for row in rows:
        if row.case == case and all(row.label.get(k) == v for k, v in label.items()):
            if "scaling" not in label and row.label.get("scaling"):
                continue
            return row
    return None


def verdicts(rows: list[Measured]) -> list[str]:
    lines = []
    met = {True: "MET", False: "NOT MET"}
    databases = sorted({row.label["database"] for row in rows if "database" in row.label})
    for database in databases:
        one = {"database": database, "workers": "1", "conns": str(CONNECTIONS)}
        for case, target in CPU_RATIO_TARGETS.items():
            ours = _find(rows, case, **one)
            bare = _find(rows, COMPARED_TO_BARE[case], server="bare FastAPI")
            if ours and bare:
                ratio = ours.cpu_us_per_request / bare.cpu_us_per_request
                lines.append(
                    f"verdict {database}: {case} CPU = {ratio:.1f}x the bare app's "
                    f"(target <= {target}x): {met[ratio <= target]}"
                )
        for case, limit in CPU_MS_TARGETS.items():
            if ours := _find(rows, case, **one):
                ms = ours.cpu_us_per_request / 1000
                lines.append(
                    f"verdict {database}: {case} = {ms:.2f} ms CPU per request "
                    f"(target <= {limit} ms): {met[ms <= limit]}"
                )
        if database == "sqlite":
            for case in WRITE_CASES:
                if ours := _find(rows, case, database=database, workers="1", conns=str(CROWD)):
                    ratio = ours.p99_ms / ours.p50_ms
                    lines.append(
                        f"verdict {database}: {case} under {CROWD} connections, p99 = "
                        f"{ratio:.1f}x p50 (target <= {TAIL_TARGET}x): {met[ratio <= TAIL_TARGET]}"
                    )
        single = _find(rows, "env pull, 400 keys", database=database, workers="1", scaling="yes")
        double = _find(rows, "env pull, 400 keys", database=database, workers="2", scaling="yes")
        if single and double:
            ratio = double.per_second / single.per_second
            # The share of core 1 that wrk (pinned there) took while the second worker ran.
            wrk_share = double.load_cpu_us_per_request * double.per_second / 1e6
            split = double.label.get("split", "?")
            database_share = ""
            if single.database_cpu_us_per_request is not None:
                # What the database server took of the machine with one worker: on 2 cores
                # it already ran on the second core, the one a second worker would get.
                taken = single.database_cpu_us_per_request * single.per_second / 1e6
                database_share = f", the database server taking {taken:.0%} of a core with 1"
            lines.append(
                f"verdict {database}: env pull with 2 workers (cores 0-1) = {ratio:.2f}x the "
                f"req/s of 1 (core 0), wrk on core 1 taking {wrk_share:.0%} of it, the workers' "
                f"CPU split {split}{database_share}; target >= {SCALING_TARGET}x: "
                f"{met[ratio >= SCALING_TARGET]}"
            )
    for row in rows:
        if row.errors:
            lines.append(f"warning: {row.label['server']} {row.case}: {row.errors} errors")
    return lines


HTTP_COLUMNS = (
    "server",
    "workers",
    "conns",
    "case",
    "req/s",
    "p50 ms",
    "p99 ms",
    "CPU us/req",
    "wrk us/req",
    "db us/req",
)


def http_table(rows: list[Measured]) -> str:
    lines = [HTTP_COLUMNS]
    for row in rows:
        scaling = " (scaling)" if row.label.get("scaling") else ""
        lines.append(
            (
                row.label["server"],
                row.label["workers"],
                row.label["conns"],
                row.case + scaling,
                f"{row.per_second:,.0f}",
                f"{row.p50_ms:.2f}",
                f"{row.p99_ms:.2f}",
                f"{row.cpu_us_per_request:,.0f}",
                f"{row.load_cpu_us_per_request:,.0f}",
                ""
                if row.database_cpu_us_per_request is None
                else f"{row.database_cpu_us_per_request:,.0f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(HTTP_COLUMNS))]
    right = {1, 2, 4, 5, 6, 7, 8, 9}

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(lines[0]), rule, *(render(line) for line in lines[1:])])
