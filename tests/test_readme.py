"""The README's walk-through, run as written, so that it cannot drift from keyturn.

The `sh` blocks of "From a fresh clone to a rotated secret, by hand" are concatenated and run by
bash, in order, against a real `keyturn serve` on a fresh data directory (SQLite and
PostgreSQL). Only two lines are rewritten, as a reader would: the server's address and the admin
token, read from what the server printed on its first start. `console` blocks (`make run`, the
`vercel` CLI, which needs npm) are not run here; `make test-compat` covers the CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

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

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## From a fresh clone to a rotated secret, by hand"
BASE_LINE = "B=http://127.0.0.1:3000"
ADMIN_LINE = "A=kt_admin_paste_the_token_make_run_printed"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.DOTALL | re.MULTILINE)

pytestmark = pytest.mark.slow


def readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start : end if end != -1 else None]


def walkthrough_script() -> str:
    return "".join(SH_BLOCK.findall(readme_section()))


def commands(script: str) -> list[str]:
    """The script's commands, with `\\`-continued lines joined."""
    return script.replace("\\\n", " ").splitlines()


def test_readme_walkthrough_sends_json_with_its_content_type_and_points_inside() -> None:
    script = walkthrough_script()
    sending = [line for line in commands(script) if " -d " in line]

    assert len(sending) >= 8, script
    for line in sending:
        assert "-H 'Content-Type: application/json'" in line, line
    assert script.count(BASE_LINE) == 1
    assert script.count(ADMIN_LINE) == 1
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme
    # Getting a user token, and getting the vercel CLI, are both shown.
    assert "/v1/admin/teams/$TEAM/tokens" in script
    assert "npm i -g vercel" in readme
    assert "npx" in readme


def json_lines(stdout: str) -> list[Any]:
    """Every JSON answer the script printed; `-w '%{http_code}'` appends a status to one."""
    return [json.loads(line.removesuffix("201")) for line in stdout.splitlines() if line[:1] == "{"]


def test_readme_walkthrough_rotates_for_the_project_and_keeps_the_deployments_env(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = clean_env(data_dir, KEYTURN_PORT=str(port), KEYTURN_DATABASE_URL=database_url)
    assert keyturn("db", "upgrade", env=env).returncode == 0
    script = (
        walkthrough_script()
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
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env={**env, "KEYTURN_TEST_ADMIN_TOKEN": match.group(1)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert ran.returncode == 0, (ran.stdout, ran.stderr, server.describe())
    assert "{}201" in ran.stdout.splitlines()
    answers = json_lines(ran.stdout)
    pulls = [answer for answer in answers if "env" in answer]
    one = {"DATABASE_URL": "postgres://app:one@db/app"}
    two = {"DATABASE_URL": "postgres://app:two@db/app"}
    # Before the rotation, after it, and the deployment's own frozen env.
    assert [pull["env"] for pull in pulls] == [one, two, one]
    assert pulls[-1]["buildEnv"] == one
    resource = next(answer for answer in answers if "secretNames" in answer)
    assert (resource["secretsVersion"], resource["secretNames"]) == (2, ["DATABASE_URL"])
    deployment = next(answer for answer in answers if "secretsVersions" in answer)
    assert [used["secretsVersion"] for used in deployment["secretsVersions"]] == [1]
