"""A throwaway PostgreSQL cluster for the test suite.

Why this exists
---------------
keyturn's storage layer is written for PostgreSQL, and the behaviour the tests care about
(transaction isolation, row locks, constraint errors, ``CREATE DATABASE ... TEMPLATE``) only
means something on the real server.  SQLite or a mock would make the tests pass for the wrong
reasons, so the fixtures start a private PostgreSQL server from the installed server binaries
(``initdb``, ``pg_ctl``, ``postgres``), use it, and throw it away.

The cluster lives entirely in a fresh temporary directory: the data directory, the server log
and the Unix socket directory.  The server listens on ``127.0.0.1`` on a port picked by the
kernel, so it never collides with a system cluster and never touches ``/var/run/postgresql``.
Durability is switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``) because
the data is deleted at the end anyway, and authentication is ``trust`` for the superuser
``postgres``: only local processes on this machine can reach the server, and only while the
tests run.

Running as root
---------------
``initdb`` and ``pg_ctl`` refuse to run as root.  Containers and CI runners often run the tests
as root, so in that case the temporary directory is handed to the ``postgres`` system user
(created by the Debian/Ubuntu ``postgresql`` packages) and both programs are started through
``runuser -u postgres --``.  As an ordinary user they are run directly.  Either way the server
process belongs to whoever started it, and :meth:`PostgresCluster.stop` stops it and deletes
the directory.

Missing binaries
----------------
If no server binaries are installed, :class:`PostgresBinariesMissing` explains how to install
them.  ``KEYTURN_SKIP_POSTGRES=1`` lets a developer skip the PostgreSQL tests locally; CI never
sets it, so CI always runs them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = [
    "SKIP_ENV_VAR",
    "PostgresBinariesMissing",
    "PostgresCluster",
    "PostgresClusterError",
    "find_bindir",
]

SKIP_ENV_VAR = "KEYTURN_SKIP_POSTGRES"
"""Set to ``1`` to skip the PostgreSQL tests locally.  CI never sets it."""

SUPERUSER = "postgres"
"""Name of the cluster's superuser (``initdb -U``) and, when running as root, the OS user."""

_DEBIAN_GLOB_ROOT = Path("/usr/lib/postgresql")
_REQUIRED_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_LOG_TAIL_LINES = 40
_PORT_ATTEMPTS = 3
_START_TIMEOUT_S = 60
_COMMAND_TIMEOUT_S = 120


class PostgresClusterError(RuntimeError):
    """The throwaway cluster could not be created, started or stopped."""


class PostgresBinariesMissing(PostgresClusterError):
    """No PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``postgres``) were found."""

    def __init__(self) -> None:
        super().__init__(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found.\n"
            "The tests need a real PostgreSQL server. Install it with:\n"
            "    sudo apt-get install postgresql        (Debian/Ubuntu)\n"
            "The binaries are looked up via `pg_config --bindir`, then "
            f"{_DEBIAN_GLOB_ROOT}/<version>/bin, then PATH.\n"
            f"To skip the PostgreSQL tests locally, set {SKIP_ENV_VAR}=1 "
            "(CI never sets it, so CI always runs them)."
        )


def _has_server_programs(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_PROGRAMS)


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: "15" -> (15,), "9.6" -> (9, 6)
    return tuple(int(part) for part in path.parent.name.split("."))


def find_bindir() -> Path | None:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``.

    Looks, in order, at ``pg_config --bindir``, the highest version under
    ``/usr/lib/postgresql/*/bin`` (the Debian/Ubuntu layout, where the server binaries are not on
    PATH), and finally PATH.
    """
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            candidate = Path(result.stdout.strip())
            if result.stdout.strip() and _has_server_programs(candidate):
                return candidate

    versioned: list[Path] = []
    for candidate in _DEBIAN_GLOB_ROOT.glob("*/bin"):
        if re.fullmatch(r"\d+(\.\d+)*", candidate.parent.name) and _has_server_programs(candidate):
            versioned.append(candidate)
    if versioned:
        return max(versioned, key=_version_key)

    initdb = shutil.which("initdb")
    if initdb is not None:
        candidate = Path(initdb).resolve().parent
        if _has_server_programs(candidate):
            return candidate
    return None


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """The current environment without libpq/PostgreSQL variables (PGDATA, PGPORT, ...).

    They would otherwise leak into initdb/pg_ctl and silently point them elsewhere.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _tail(path: Path, start: int = 0, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            data = handle.read()
    except OSError:
        return "(no server log)"
    text = data.decode("utf-8", errors="replace").rstrip()
    if not text:
        return "(server log is empty)"
    return "\n".join(text.splitlines()[-lines:])


def _is_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (some init processes reap lazily)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) state ..." - comm may contain spaces and parentheses, state follows the last ")".
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """True if ``pid`` is a live process whose command line names ``data_dir``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _is_alive(pid) and os.fsencode(str(data_dir)) in cmdline


class PostgresCluster:
    """A private PostgreSQL server in a temporary directory, for one test session.

    Usage::

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("keyturn_test")
            engine = sqlalchemy.create_engine(cluster.url("keyturn_test"))
            ...
        finally:
            cluster.stop()

    or as a context manager (``with PostgresCluster() as cluster: ...``).

    ``create_database(name, template=...)`` copies a template database, which PostgreSQL only
    allows while nobody else is connected to the template: dispose SQLAlchemy engines that
    point at a template before copying it.
    """

    def __init__(self, bindir: Path | None = None) -> None:
        """Prepare a cluster; nothing is created until :meth:`start`.

        ``bindir`` overrides :func:`find_bindir`.  Raises :class:`PostgresBinariesMissing` if no
        server binaries can be found.
        """
        found = bindir if bindir is not None else find_bindir()
        if found is None or not _has_server_programs(found):
            raise PostgresBinariesMissing()
        self._bindir = found
        self._as_root = os.geteuid() == 0
        self._base_dir: Path | None = None
        self._port: int | None = None
        self._running = False

    # ------------------------------------------------------------------ properties

    @property
    def bindir(self) -> Path:
        """Directory of the server binaries in use."""
        return self._bindir

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._running

    @property
    def user(self) -> str:
        """The superuser name; connections need no password (``trust``)."""
        return SUPERUSER

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only while running)."""
        if self._port is None or not self._running:
            raise PostgresClusterError("the cluster is not running; call start() first")
        return self._port

    @property
    def base_dir(self) -> Path:
        """The temporary directory holding everything (only while running)."""
        if self._base_dir is None or not self._running:
            raise PostgresClusterError("the cluster is not running; call start() first")
        return self._base_dir

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's Unix socket."""
        return self.base_dir

    @property
    def log_file(self) -> Path:
        """The server log written by ``pg_ctl -l``."""
        return self.base_dir / "server.log"

    # ------------------------------------------------------------------ connection info

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL for ``dbname``: ``postgresql+psycopg://postgres@127.0.0.1:PORT/DB``."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def conninfo(self, dbname: str) -> str:
        """libpq connection string for ``dbname``, for ``psycopg.connect``."""
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, dbname=dbname, sslmode="disable"
        )

    # ------------------------------------------------------------------ databases

    def create_database(self, name: str, template: str | None = None) -> None:
        """``CREATE DATABASE name [TEMPLATE template]``.

        Copying a template fails while any other session is connected to it.
        """
        if template is None:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        else:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        self._admin_execute(statement)

    def drop_database(self, name: str, *, missing_ok: bool = False) -> None:
        """``DROP DATABASE name WITH (FORCE)``: open connections to it are terminated."""
        if_exists = sql.SQL("IF EXISTS ") if missing_ok else sql.SQL("")
        statement = sql.SQL("DROP DATABASE {}{} WITH (FORCE)").format(
            if_exists, sql.Identifier(name)
        )
        self._admin_execute(statement)

    def _admin_execute(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block, hence autocommit.
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create the temporary directory, run ``initdb`` and start the server.

        On any failure everything created so far is stopped and removed before the exception
        propagates.
        """
        if self._running or self._base_dir is not None:
            raise PostgresClusterError("the cluster was already started")
        self._base_dir = Path(tempfile.mkdtemp(prefix="keyturn-pg-")).resolve()
        atexit.register(self.stop)
        try:
            if self._as_root:
                self._hand_to_postgres_user(self._base_dir)
            self._initdb(self._base_dir)
            self._start_server(self._base_dir)
        except BaseException:
            self._teardown()
            raise
        self._running = True

    def stop(self) -> None:
        """Stop the server and delete the temporary directory.  Safe to call more than once."""
        self._teardown()

    def restart(self) -> None:
        """Restart the server on its data directory, port and options (``pg_ctl restart -m
        fast``): every open connection is closed, as a database server's restart does."""
        base_dir = self.base_dir
        # -l as at start: without it the new server would log to (and hold open) our pipe.
        argv = self._command(
            "pg_ctl",
            "-w",
            "-D",
            str(base_dir / "data"),
            "-l",
            str(self.log_file),
            "-m",
            "fast",
            "restart",
        )
        result = self._run(argv, cwd=base_dir, timeout=_START_TIMEOUT_S + 30)
        if result.returncode != 0:
            raise PostgresClusterError(
                f"pg_ctl restart failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n--- server log ---\n{_tail(self.log_file)}"
            )

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _hand_to_postgres_user(self, base_dir: Path) -> None:
        try:
            account = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresClusterError(
                f"running as root, initdb and pg_ctl must run as the {SUPERUSER!r} system user, "
                "which does not exist. Install the distribution's postgresql package "
                "(apt-get install postgresql) or run the tests as an ordinary user."
            ) from None
        if shutil.which("runuser") is None:
            raise PostgresClusterError(
                "running as root, the server is started through `runuser -u postgres`, "
                "but runuser (util-linux) is not installed"
            )
        os.chown(base_dir, account.pw_uid, account.pw_gid)

    def _command(self, program: str, *args: str) -> list[str]:
        argv = [str(self._bindir / program), *args]
        if self._as_root:
            return ["runuser", "-u", SUPERUSER, "--", *argv]
        return argv

    def _run(
        self, argv: Sequence[str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        # cwd: the postgres user may not be allowed into the caller's working directory (e.g.
        # /root), and initdb/pg_ctl complain if they cannot resolve it.
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self, base_dir: Path) -> None:
        argv = self._command(
            "initdb",
            "-D",
            str(base_dir / "data"),
            "--auth=trust",
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        result = self._run(argv, cwd=base_dir, timeout=_COMMAND_TIMEOUT_S)
        if result.returncode != 0:
            hint = ""
            if self._as_root:
                hint = (
                    f"\n(running as root: {base_dir} and every parent directory must be "
                    f"reachable by the {SUPERUSER!r} user; point TMPDIR at e.g. /tmp)"
                )
            raise PostgresClusterError(
                f"initdb failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}{hint}"
            )

    def _start_server(self, base_dir: Path) -> None:
        data_dir = base_dir / "data"
        log_file = base_dir / "server.log"
        last_error = ""
        for _attempt in range(_PORT_ATTEMPTS):
            port = _free_port()
            options: Mapping[str, str] = {
                "listen_addresses": "127.0.0.1",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "200",
            }
            # pg_ctl hands -o to /bin/sh, so the socket directory is shell-quoted.
            server_opts = " ".join(
                [f"-p {port}", f"-k {shlex.quote(str(base_dir))}"]
                + [f"-c {key}={value}" for key, value in options.items()]
            )
            log_offset = log_file.stat().st_size if log_file.exists() else 0
            argv = self._command(
                "pg_ctl",
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "-D",
                str(data_dir),
                "-o",
                server_opts,
                "-l",
                str(log_file),
                "start",
            )
            result = self._run(argv, cwd=base_dir, timeout=_START_TIMEOUT_S + 30)
            if result.returncode == 0:
                self._port = port
                return
            log_tail = _tail(log_file, start=log_offset)
            last_error = (
                f"pg_ctl start failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n"
                f"--- server log ({log_file}) ---\n{log_tail}"
            )
            # Another process may have taken the port between picking and binding it.
            if "could not bind" not in log_tail and "already in use" not in log_tail:
                break
            self._stop_server(base_dir)
        raise PostgresClusterError(last_error)

    def _postmaster_pid(self, data_dir: Path) -> int | None:
        try:
            first_line = (data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first_line.strip())
        except (OSError, IndexError, ValueError):
            return None

    def _stop_server(self, base_dir: Path) -> None:
        data_dir = base_dir / "data"
        pid = self._postmaster_pid(data_dir)
        if pid is None:
            return
        argv = self._command("pg_ctl", "-w", "-D", str(data_dir), "-m", "immediate", "stop")
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if self._run(argv, cwd=base_dir, timeout=_COMMAND_TIMEOUT_S).returncode == 0:
                return
        # pg_ctl could not stop it: kill the postmaster this cluster started, but only if the
        # pid from postmaster.pid still belongs to a postgres running on this data directory
        # (a stale pid file may name a pid the kernel has since reused).
        if not _is_postmaster_of(pid, data_dir):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _is_alive(pid):
            time.sleep(0.05)

    def _teardown(self) -> None:
        base_dir = self._base_dir
        self._running = False
        self._port = None
        self._base_dir = None
        atexit.unregister(self.stop)
        if base_dir is None:
            return
        try:
            self._stop_server(base_dir)
        finally:
            shutil.rmtree(base_dir, ignore_errors=True)
