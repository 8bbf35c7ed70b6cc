"""Property: any string hypothesis generates for a text field, lone surrogates and NUL included,
is either refused with a 400 or 422 or reads back equal, on SQLite and on PostgreSQL.

Each field is written through the HTTP API and read back through it (resource GET and listing,
env pull, env var GET, deployment GET, project GET, team GET). Bounded to a few dozen examples a
field and backend, so that the suite stays fast.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyturn.domain.envkeys import derive_env_key
from tests.conftest import Partner, Workspace, admin_headers

EXAMPLES = 30
team_numbers = itertools.count()

# Every code point, lone surrogates and NUL included (hypothesis draws them rarely on its own, so
# one branch favours them), mixed with strings that pass the name and prefix rules, so that the
# accepting branch is exercised too.
every_code_point = st.characters(exclude_categories=())
unstorable = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"])
any_text = st.one_of(
    st.text(alphabet=every_code_point, max_size=40),
    st.builds(
        lambda before, bad, after: before + bad + after,
        st.text(alphabet=every_code_point, max_size=10),
        unstorable,
        st.text(alphabet=every_code_point, max_size=10),
    ),
    st.text(max_size=40),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9._-]{1,30}", fullmatch=True),
)


@dataclass
class World:
    partner: Partner
    workspace: Workspace
    project_id: str

    @property
    def client(self) -> TestClient:
        return self.partner.client

    def send(self, method: str, path: str, body: object, user: bool = False) -> Any:
        # Sent as JSON text with escapes, as a client with a lone surrogate in hand would send it.
        headers = self.workspace.headers if user else self.partner.auth()
        return self.client.request(
            method,
            path,
            content=json.dumps(body).encode(),
            headers={**headers, "Content-Type": "application/json"},
        )

    def get(self, path: str, user: bool = True) -> Any:
        headers = self.workspace.headers if user else self.partner.auth()
        response = self.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


Write = Callable[[World, str], Any]  # sends the string; answers the response
Read = Callable[[World, str, Any], object]  # reads back what the accepted write stored


def _put_secret(**item: object) -> Callable[[World, str], Any]:
    return lambda w, s: w.send(
        "PUT",
        w.partner.resource_path() + "/secrets",
        {"secrets": [{"name": "A", "value": "v", **dict.fromkeys(item, s)}]},
    )


def _read_pull(target: str, key: Callable[[str], str]) -> Read:
    return lambda w, s, _r: w.get(f"/v3/env/pull/{w.project_id}/{target}")["env"].get(key(s))


def _user_var(w: World, s: str, field: str) -> Any:
    body = {"key": "K", "value": "v", "type": "encrypted", "target": ["preview"], field: s}
    return w.send("POST", f"/v10/projects/{w.project_id}/env", body, user=True)


def _read_user_var(field: str) -> Read:
    def read(w: World, _s: str, response: Any) -> object:
        var_id = response.json()["created"][0]["id"]
        record = w.get(f"/v1/projects/{w.project_id}/env/{var_id}")
        w.client.delete(f"/v9/projects/{w.project_id}/env/{var_id}", headers=w.workspace.headers)
        return record[field]

    return read


def _read_project(w: World, _s: str, response: Any) -> object:
    project_id = response.json()["id"]
    name = w.get(f"/v9/projects/{project_id}")["name"]
    w.client.delete(f"/v9/projects/{project_id}", headers=w.workspace.headers)
    return name


def _read_resource(field: str) -> Read:
    def read(w: World, _s: str, _response: Any) -> object:
        got = w.get(w.partner.resource_path(), user=False)[field]
        listed = w.get(f"/v1/installations/{w.partner.installation_id}/resources", user=False)
        assert listed["resources"][0][field] == got
        return got

    return read


def _read_connection_prefix(w: World, _s: str, _response: Any) -> object:
    connections = w.get(w.workspace.connections_path("db2"))["connections"]
    w.client.delete(
        w.workspace.connections_path("db2") + f"/{w.project_id}", headers=w.workspace.headers
    )
    return connections[0]["envVarPrefix"]


def _create_team(w: World, s: str) -> Any:
    body = {"slug": f"t{next(team_numbers)}", "name": s}
    return w.client.post("/v1/admin/teams", content=json.dumps(body), headers=admin_headers())


def _read_team(w: World, _s: str, response: Any) -> object:
    team_id = response.json()["id"]
    token = w.client.post(
        f"/v1/admin/teams/{team_id}/tokens", json={}, headers=admin_headers()
    ).json()["token"]
    got = w.client.get(f"/v2/teams/{team_id}", headers={"Authorization": f"Bearer {token}"})
    return got.json()["name"]


# field: (write the string, read back what was stored, what it should equal)
FIELDS: dict[str, tuple[Write, Read, Callable[[str], object]]] = {
    "secret value": (_put_secret(value=1), _read_pull("production", lambda _s: "A"), str),
    "secret override": (
        lambda w, s: w.send(
            "PUT",
            w.partner.resource_path() + "/secrets",
            {"secrets": [{"name": "A", "value": "v", "environmentOverrides": {"preview": s}}]},
        ),
        _read_pull("preview", lambda _s: "A"),
        str,
    ),
    "secret name": (_put_secret(name=1), _read_pull("production", lambda s: s), lambda _s: "v"),
    "secret prefix": (
        _put_secret(prefix=1),
        _read_pull("production", lambda s: derive_env_key("A", s)),
        lambda _s: "v",
    ),
    "resource name": (
        lambda w, s: w.send("PATCH", w.partner.resource_path(), {"name": s}),
        _read_resource("name"),
        str,
    ),
    "metadata string and key": (
        lambda w, s: w.send("PATCH", w.partner.resource_path(), {"metadata": {s: [s]}}),
        _read_resource("metadata"),
        lambda s: {s: [s]},
    ),
    "user var key": (
        lambda w, s: _user_var(w, s, "key"),
        _read_user_var("key"),
        str,
    ),
    "user var value": (lambda w, s: _user_var(w, s, "value"), _read_user_var("value"), str),
    "user var gitBranch": (
        lambda w, s: _user_var(w, s, "gitBranch"),
        _read_user_var("gitBranch"),
        str,
    ),
    "user var comment": (
        lambda w, s: _user_var(w, s, "comment"),
        _read_user_var("comment"),
        str,
    ),
    "deployment gitBranch": (
        lambda w, s: w.send("POST", "/v13/deployments", {"name": "web", "gitBranch": s}, True),
        lambda w, _s, r: w.get(f"/v13/deployments/{r.json()['id']}")["gitBranch"],
        str,
    ),
    "project name": (
        lambda w, s: w.send("POST", "/v11/projects", {"name": s}, user=True),
        _read_project,
        str,
    ),
    "connection envVarPrefix": (
        lambda w, s: w.send(
            "POST",
            w.workspace.connections_path("db2"),
            {"projectId": w.project_id, "envVarPrefix": s},
            user=True,
        ),
        _read_connection_prefix,
        str,
    ),
    "team name": (_create_team, _read_team, str),
}


@pytest.fixture
def world(partner: Partner, workspace: Workspace) -> World:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "v"}])
    partner.import_resource("db2", secrets=[{"name": "B", "value": "v"}])
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id, "db1").status_code == 201
    return World(partner, workspace, project_id)


@pytest.mark.parametrize("field", list(FIELDS))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # One seeded world per field and backend; each example cleans up what it created.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=any_text)
def test_any_string_is_refused_or_reads_back_equal(world: World, field: str, text: str) -> None:
    write, read, expected = FIELDS[field]
    response = write(world, text)
    if field == "user var key" and text == "A":
        # The connected resource's secret already derives `A` in the project.
        assert response.status_code == 409, response.text
        return
    if response.status_code in (400, 422):
        assert response.json()["error"]["code"], response.text
        return
    assert response.status_code in (200, 201), (field, response.status_code, response.text)
    assert read(world, text, response) == expected(text)
