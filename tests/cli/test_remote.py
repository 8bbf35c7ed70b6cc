"""The client's commands (`keyturn secrets|resources|env|deployments`) against a live server.

Through typer's runner for each behaviour and exit code, and as a real subprocess reading
`KEYTURN_URL` and `KEYTURN_TOKEN` from its environment. Values are checked on the server with
the client, not by reading the command's output.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keyturn.cli.dotenv_files import HEADER, read_dotenv_file
from keyturn.cli.main import app
from tests.cli.conftest import Seeded, run

SUBPROCESS_TIMEOUT_S = 60
EDGE_CASE_ENV = """\
# exported by a shell script
export DATABASE_URL="postgres://app:p#ss@db.internal:5432/app"
PGHOST='db.internal'   # a comment after a quoted value
CERT="-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----"
EMPTY=
"""


def _push(seeded: Seeded, *args: str) -> tuple[int, str, str]:
    return run(seeded, seeded.world.token, "secrets", "push", seeded.world.installation_id, *args)


def test_push_from_env_file_sends_each_value_exactly(seeded: Seeded, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(EDGE_CASE_ENV)
    code, out, _ = _push(seeded, "-r", "db1", "--env-file", str(env_file))
    assert code == 0
    assert "pushed 4 secrets to db1 (full)" in out
    with seeded.owner() as owner:
        assert owner.pull_env(seeded.project_id, "production") == {
            "DATABASE_URL": "postgres://app:p#ss@db.internal:5432/app",
            "PGHOST": "db.internal",
            "CERT": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "EMPTY": "",
        }


def test_push_pairs_win_over_the_file_and_prefix_applies_to_all(
    seeded: Seeded, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("A=from-file\nB=from-file\n")
    code, _, _ = _push(seeded, "-r", "db1", "-f", str(env_file), "B=from-pair", "--prefix", "ACME")
    assert code == 0
    with seeded.owner() as owner:
        pulled = owner.pull_env(seeded.project_id, "preview")
    assert pulled == {"ACME_A": "from-file", "ACME_B": "from-pair"}


def test_push_partial_keeps_the_names_not_sent(seeded: Seeded) -> None:
    code, out, _ = _push(seeded, "-r", "db1", "--partial", "NEW=1")
    assert (code, "(partial)" in out) == (0, True)
    with seeded.partner() as partner:
        names = partner.get_resource(seeded.world.installation_id, "db1").secret_names
    assert sorted(names) == ["NEW", "OLD"]


def test_push_to_several_resources_pushes_to_each(seeded: Seeded) -> None:
    code, out, _ = _push(seeded, "-r", "db1", "-r", "db2", "KEY=v")
    assert code == 0
    assert "pushed 1 secrets to db2" in out
    with seeded.partner() as partner:
        for resource_id in ("db1", "db2"):
            resource = partner.get_resource(seeded.world.installation_id, resource_id)
            assert (resource.secret_names, resource.secrets_version) == (["KEY"], 2)


def test_push_refused_by_the_server_exits_1_with_code_and_changes_nothing(seeded: Seeded) -> None:
    code, _, err = _push(seeded, "-r", "db1", "1BAD=value-never-printed")
    assert code == 1
    assert "422 invalid_secret_name" in err
    assert "value-never-printed" not in err
    with seeded.partner() as partner:
        assert partner.get_resource(seeded.world.installation_id, "db1").secret_names == ["OLD"]


def test_push_with_a_bad_env_file_line_exits_2_before_any_request(
    seeded: Seeded, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nNAME_ONLY\n")
    code, _, err = _push(seeded, "-r", "db1", "-f", str(env_file))
    assert code == 2
    assert "line 2: NAME_ONLY has no `=`" in err
    with seeded.partner() as partner:
        assert partner.get_resource(seeded.world.installation_id, "db1").secrets_version == 1


@pytest.mark.parametrize("args", [["-r", "db1", "NOEQUALS"], ["KEY=v"], ["-r", "db1"]])
def test_push_usage_errors_exit_2(seeded: Seeded, args: list[str]) -> None:
    code, _, _ = _push(seeded, *args)
    assert code == 2


def test_push_without_a_token_exits_2(seeded: Seeded) -> None:
    result = CliRunner().invoke(
        app, ["secrets", "push", "icfg_x", "-r", "db1", "A=1", "--url", seeded.url], env={}
    )
    assert result.exit_code == 2


def test_push_to_nothing_listening_exits_3() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    args = ["secrets", "push", "icfg_x", "-r", "db1", "A=1", "--url", url, "--token", "kt_x"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3
    assert "unreachable" in result.stderr


def test_env_pull_writes_the_file_vercel_env_pull_writes(seeded: Seeded, tmp_path: Path) -> None:
    _push(seeded, "-r", "db1", "B=two\nlines", "A=one")
    target = tmp_path / ".env.production"
    code, _, _ = run(
        seeded, seeded.world.user_token, "env", "pull", seeded.project_id, "production", str(target)
    )
    assert code == 0
    assert target.read_text() == HEADER + 'A="one"\nB="two\\nlines"\n'
    assert read_dotenv_file(target) == {"A": "one", "B": "two\nlines"}


def test_env_pull_refuses_to_overwrite_a_file_it_did_not_write_unless_yes(
    seeded: Seeded, tmp_path: Path
) -> None:
    mine = tmp_path / ".env.local"
    mine.write_text("MINE=1\n")
    pull = ("env", "pull", seeded.project_id, "development", str(mine))
    code, _, err = run(seeded, seeded.world.user_token, *pull)
    assert code == 2
    assert "--yes" in err
    assert mine.read_text() == "MINE=1\n"
    code, _, _ = run(seeded, seeded.world.user_token, *pull, "--yes")
    assert code == 0
    assert mine.read_text().startswith(HEADER)


def test_env_pull_to_stdout_and_as_json(seeded: Seeded) -> None:
    _push(seeded, "-r", "db1", "KEY=v")
    owner = seeded.world.user_token
    code, out, _ = run(seeded, owner, "env", "pull", seeded.project_id, "preview", "-")
    assert (code, out) == (0, HEADER + 'KEY="v"\n')
    code, out, _ = run(seeded, owner, "env", "pull", seeded.project_id, "preview", "--json")
    assert (code, json.loads(out)) == (0, {"KEY": "v"})


def test_reads_print_json_in_the_contract_shapes(seeded: Seeded) -> None:
    icfg, owner = seeded.world.installation_id, seeded.world.user_token
    code, out, _ = run(seeded, seeded.world.token, "resources", "ls", icfg, "--json")
    assert code == 0
    assert sorted(r["partnerId"] for r in json.loads(out)) == ["db1", "db2"]
    code, out, _ = run(seeded, seeded.world.token, "resources", "get", icfg, "db1", "--json")
    assert (code, json.loads(out)["secretNames"]) == (0, ["OLD"])
    code, out, _ = run(seeded, owner, "env", "ls", seeded.project_id, "--json")
    assert [e["key"] for e in json.loads(out)] == ["OLD"]
    assert json.loads(out)[0]["configurationId"] == icfg
    with seeded.owner() as client:
        deployment = client.create_deployment("web", project=seeded.project_id)
    code, out, _ = run(seeded, owner, "deployments", "ls", "--project", seeded.project_id, "--json")
    assert [d["id"] for d in json.loads(out)] == [deployment.id]


def test_reads_print_tables_for_people(seeded: Seeded) -> None:
    icfg = seeded.world.installation_id
    code, out, _ = run(seeded, seeded.world.token, "resources", "ls", icfg)
    assert code == 0
    assert "db1" in out
    assert "status" in out
    code, out, _ = run(seeded, seeded.world.user_token, "env", "ls", seeded.project_id)
    assert (code, "OLD" in out, f"integration {icfg}" in out) == (0, True, True)


def test_a_read_refused_exits_1(seeded: Seeded) -> None:
    code, _, err = run(
        seeded, seeded.world.token, "resources", "get", seeded.world.installation_id, "nope"
    )
    assert code == 1
    assert "404 not_found" in err


def test_push_and_pull_as_subprocesses_reading_url_and_token_from_the_environment(
    seeded: Seeded, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(EDGE_CASE_ENV)
    keyturn = [sys.executable, "-m", "keyturn.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env |= {"KEYTURN_URL": seeded.url, "KEYTURN_TOKEN": seeded.world.token}
    push = [*keyturn, "secrets", "push", seeded.world.installation_id, "-r", "db1", "-f", ".env"]
    done = subprocess.run(
        push, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr
    env["KEYTURN_TOKEN"] = seeded.world.user_token
    pull = [*keyturn, "env", "pull", seeded.project_id, "production"]
    done = subprocess.run(
        pull, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr
    assert read_dotenv_file(tmp_path / ".env.local") == read_dotenv_file(env_file)
