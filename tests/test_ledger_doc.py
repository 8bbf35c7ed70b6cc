"""docs/ledger.md's walk-through runs as written: after the README's, against a real server.

Its `sh` block goes on from the README's section (same variables), so both are run by bash in
one script, in order, against `keyturn serve` on a fresh data directory (SQLite and
PostgreSQL), the way tests/test_readme.py runs the README's alone.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli import (
    ADMIN_TOKEN_LINE,
    SERVER_START_DEADLINE_S,
    clean_env,
    free_port,
    keyturn,
    serving,
    wait_until_healthy,
)
from tests.test_readme import ADMIN_LINE, BASE_LINE, ROOT, SH_BLOCK, json_lines, walkthrough_script

pytestmark = pytest.mark.slow


def ledger_script() -> str:
    return "".join(SH_BLOCK.findall((ROOT / "docs" / "ledger.md").read_text()))


def test_ledger_walkthrough_finds_the_old_value_then_frees_it(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = clean_env(data_dir, KEYTURN_PORT=str(port), KEYTURN_DATABASE_URL=database_url)
    assert keyturn("db", "upgrade", env=env).returncode == 0
    script = (
        (walkthrough_script() + ledger_script())
        .replace(BASE_LINE, f"B=http://127.0.0.1:{port}")
        .replace(ADMIN_LINE, "A=$KEYTURN_TEST_ADMIN_TOKEN")
    )
    with serving(env=env, stderr_path=tmp_path / "serve.err") as server:
        server.read_until(
            lambda line: ADMIN_TOKEN_LINE.search(line) is not None,
            time.monotonic() + SERVER_START_DEADLINE_S,
        )
        match = ADMIN_TOKEN_LINE.search(server.lines[-1])
        assert match is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_until_healthy(server, client)
        ran = subprocess.run(
            # Each answer on a line of its own, as json_lines reads them.
            ["bash", "-euo", "pipefail", "-c", script.replace("curl -sS", "curl -sS -w '\\n'")],
            cwd=tmp_path,
            env={**env, "KEYTURN_TEST_ADMIN_TOKEN": match.group(1)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert ran.returncode == 0, (ran.stdout, ran.stderr, server.describe())
    answers = json_lines(ran.stdout)
    versions = next(answer for answer in answers if "versions" in answer)
    assert [(v["version"], v["changed"]) for v in versions["versions"]] == [
        (2, ["DATABASE_URL"]),
        (1, []),
    ]
    in_use, revocable = [answer for answer in answers if "values" in answer]
    assert [
        (v["fromVersion"], v["liveDeployments"], v["servingDeployments"]) for v in in_use["values"]
    ] == [(1, 1, 1)]
    assert [(v["fromVersion"], v["safeToRevoke"]) for v in revocable["values"]] == [(1, True)]
    redeployed = next(answer for answer in answers if "deployments" in answer)
    assert [d["target"] for d in redeployed["deployments"]] == ["production"]
