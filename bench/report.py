"""The printed report: a header naming the machine, one aligned table, one verdict per database."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The design target: a rotation costs the same whatever the number of connected projects.
TARGET_RATIO = 1.2

COLUMNS = ("database", "case", "median ms", "p90 ms", "ratio to 1 project")
RIGHT_ALIGNED = frozenset({2, 3, 4})


@dataclass(frozen=True)
class Row:
    database: str
    case: str
    median_ms: float
    p90_ms: float
    ratio: float | None = None
    # For rotations: how many projects the rotated resource is connected to.
    projects: int | None = None

    def cells(self) -> tuple[str, ...]:
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        return (self.database, self.case, f"{self.median_ms:.2f}", f"{self.p90_ms:.2f}", ratio)


REPOSITORY = Path(__file__).resolve().parent.parent


def header(samples: int, source: str) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        f"keyturn bench | {now} | Python {platform.python_version()} | "
        f"{os.cpu_count()} CPUs | {platform.platform()} | {samples} samples per case\n"
        f"source: {source}"
    )


def source_revision() -> str:
    """The commit measured, and which files of src/ differ from it (read-only git).

    The digest of the diff tells two runs over different uncommitted edits apart.
    """
    git = shutil.which("git")
    if git is None:
        return "unknown (git is not installed)"

    def ask(*args: str) -> str | None:
        # --no-optional-locks: `status` must not even refresh the index.
        result = subprocess.run(
            [git, "--no-optional-locks", "-C", str(REPOSITORY), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return result.stdout if result.returncode == 0 else None

    commit = (ask("rev-parse", "--short", "HEAD") or "").strip()
    if not commit:
        return "unknown (not a git checkout)"
    status = ask("status", "--porcelain", "--untracked-files=all", "--", "src") or ""
    paths = [line[3:] for line in status.splitlines()]
    if not paths:
        return f"commit {commit}, src/ unmodified"
    diff = ask("diff", "HEAD", "--", "src") or ""
    digest = hashlib.sha256(diff.encode()).hexdigest()[:8]
    return f"commit {commit}, uncommitted changes (diff {digest}) in {', '.join(paths)}"


def table(rows: Sequence[Row]) -> str:
    lines = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in RIGHT_ALIGNED else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(COLUMNS), rule, *(render(cells) for cells in lines[1:])])


def verdict(database: str, ratio: float) -> str:
    met = ratio <= TARGET_RATIO
    return (
        f"verdict {database}: 10,000-project rotation = {ratio:.2f}x the 1-project rotation "
        f"(target <= {TARGET_RATIO}x): {'MET' if met else 'NOT MET'}"
    )
