"""`keyturn serve --emulator [--seed FILE] [--port 0]`, run as a real subprocess on SQLite."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli import SERVER_START_DEADLINE_S, clean_env, keyturn, serving

ADMIN_TOKEN = "kt_admin_emulator_cli_tests_0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
START_LINE = re.compile(r"^keyturn \S+: (http://127\.0\.0\.1:(\d+))$")

pytestmark = pytest.mark.slow

SEED_YAML = """\
# A partner's fixture: YAML, with comments.
teams:
  - id: team_cli1
    slug: acme
    tokens:
      - token: kt_user_cli_fixture_0001
integrations:
  - slug: acme-db
    products: [{slug: postgres}]
installations:
  - id: icfg_cli1
    teamId: team_cli1
    integration: acme-db
    accessToken: kt_integration_cli_fixture_0001
resources:
  - installationId: icfg_cli1
    id: db1
    productId: postgres
    name: Main DB
    status: ready
    secrets:
      - {name: DATABASE_URL, value: "postgres://u:one@h/db"}
"""


def _url(server_lines: list[str]) -> str:
    for line in server_lines:
        match = START_LINE.match(line)
        if match:
            return match.group(1)
    raise AssertionError("\n".join(server_lines))


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + SERVER_START_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail("the emulator did not answer /readyz in time")


def test_emulator_on_port_0_prints_the_port_it_bound_and_answers_the_controls(
    tmp_path: Path,
) -> None:
    env = clean_env(tmp_path / "data", KEYTURN_ADMIN_TOKEN=ADMIN_TOKEN)
    with serving("--emulator", "--port", "0", env=env, stderr_path=tmp_path / "err") as server:
        server.read_until(lambda line: "emulator mode:" in line, time.monotonic() + 30)
        url = _url(server.lines)
        assert not url.endswith(":0")
        with httpx.Client(base_url=url, timeout=10) as client:
            _wait_ready(client)
            clock = client.get("/v1/admin/clock", headers=ADMIN)
            assert clock.status_code == 200
            assert clock.json()["offsetMs"] == 0
    assert "migrated to the newest schema on start" in server.output


def test_emulator_setting_turns_emulator_mode_on_like_the_flag(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", KEYTURN_ADMIN_TOKEN=ADMIN_TOKEN, KEYTURN_EMULATOR="1")
    with serving("--port", "0", env=env, stderr_path=tmp_path / "err") as server:
        server.read_until(lambda line: "emulator mode:" in line, time.monotonic() + 30)
        with httpx.Client(base_url=_url(server.lines), timeout=10) as client:
            _wait_ready(client)
            assert client.get("/v1/admin/requests", headers=ADMIN).status_code == 200


def test_seed_file_in_yaml_is_applied_at_start_with_its_tokens(tmp_path: Path) -> None:
    fixture = tmp_path / "world.yaml"
    fixture.write_text(SEED_YAML)
    env = clean_env(tmp_path / "data", KEYTURN_ADMIN_TOKEN=ADMIN_TOKEN)
    args = ("--emulator", "--port", "0", "--seed", str(fixture))
    with serving(*args, env=env, stderr_path=tmp_path / "err") as server:
        server.read_until(lambda line: "seed:" in line, time.monotonic() + 30)
        with httpx.Client(base_url=_url(server.lines), timeout=10) as client:
            _wait_ready(client)
            resource = client.get(
                "/v1/installations/icfg_cli1/resources/db1",
                headers={"Authorization": "Bearer kt_integration_cli_fixture_0001"},
            )
    assert resource.status_code == 200, resource.text
    assert resource.json()["secretNames"] == ["DATABASE_URL"]
    assert "1 teams, 1 integrations, 1 installations, 1 resources" in server.output


def test_a_seed_file_breaking_a_rule_stops_the_start_naming_the_item(tmp_path: Path) -> None:
    fixture = tmp_path / "world.json"
    broken = {
        "teams": [{"slug": "acme"}],
        "resources": [
            {
                "installationId": "icfg_x",
                "id": "db",
                "productId": "p",
                "name": "n",
                "status": "ready",
                "secrets": [{"name": "1BAD", "value": "v"}],
            }
        ],
    }
    fixture.write_text(json.dumps(broken))
    env = clean_env(tmp_path / "data", KEYTURN_ADMIN_TOKEN=ADMIN_TOKEN)

    result = keyturn(
        "serve", "--emulator", "--port", "0", "--seed", str(fixture), env=env, timeout=60
    )

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "resources[0].installationId" in result.stderr
    assert "Application startup complete" not in result.stderr


@pytest.mark.parametrize(
    ("args", "settings", "expected"),
    [
        (["--emulator", "--workers", "2"], {}, "one worker"),
        (["--emulator"], {"KEYTURN_WORKERS": "3"}, "one worker"),
        (["--seed", __file__], {}, "--seed needs --emulator"),
        (["--port", "0", "--workers", "2"], {}, "port 0"),
    ],
)
def test_serve_refuses_what_emulator_mode_cannot_honour(
    tmp_path: Path, args: list[str], settings: dict[str, str], expected: str
) -> None:
    result = keyturn("serve", *args, env=clean_env(tmp_path / "data", **settings))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert not (tmp_path / "data").exists()
