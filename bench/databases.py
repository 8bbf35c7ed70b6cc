"""The two databases the benchmark runs on, each migrated and thrown away afterwards.

SQLite is a file in a temporary directory; PostgreSQL is a private cluster started from the
installed server binaries (`tests.postgres_cluster`, the one the test suite uses), so neither
touches anything of the machine's own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.postgres_cluster import PostgresCluster

from keyturn.storage.engine import create_database_engine
from keyturn.storage.migrate import upgrade

BENCH_DATABASE = "keyturn_bench"


def migrate(url: str) -> None:
    engine = create_database_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def sqlite_database(work_dir: Path) -> Iterator[str]:
    """A migrated SQLite file under `work_dir` (deleted with it)."""
    url = f"sqlite:///{work_dir / 'bench.db'}"
    migrate(url)
    yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    """A migrated database in a throwaway cluster; the cluster is stopped and deleted after."""
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster.create_database(BENCH_DATABASE)
        url = cluster.url(BENCH_DATABASE)
        migrate(url)
        yield url
    finally:
        cluster.stop()


@contextmanager
def work_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="keyturn-bench-") as name:
        yield Path(name)
