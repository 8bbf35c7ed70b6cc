"""Bodies are decided at the wire (http/body.py): UTF-8, strict JSON, storable text only.

Every refusal is a 400 `bad_request` naming the field, and changes no row. Run on SQLite and on
PostgreSQL, where NUL and lone surrogates used to reach the driver and answer 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from keyturn.domain.errors import BadRequest
from keyturn.http.body import parse_json_body
from tests.conftest import Partner, Workspace, admin_headers
from tests.http.refusals import raw_json, refused_400, send

LONE_SURROGATE = "a\ud800b"
NUL = "a\x00b"
UNSTORABLE = [pytest.param(LONE_SURROGATE, id="lone-surrogate"), pytest.param(NUL, id="nul")]


@dataclass(frozen=True)
class World:
    partner: Partner
    workspace: Workspace
    project_id: str
    env_id: str

    @property
    def partner_headers(self) -> dict[str, str]:
        return self.partner.auth()

    @property
    def user_headers(self) -> dict[str, str]:
        return self.workspace.headers


@pytest.fixture
def world(partner: Partner, workspace: Workspace) -> World:
    partner.import_resource("db1", secrets=[{"name": "DATABASE_URL", "value": "v1"}])
    partner.import_resource("db2")
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id).status_code == 201
    created = workspace.add_var(
        project_id, {"key": "API_KEY", "value": "k", "type": "encrypted", "target": "production"}
    )
    assert created.status_code == 201, created.text
    return World(partner, workspace, project_id, created.json()["created"][0]["id"])


BAD = "<BAD>"  # where a case's body takes the string under test, as a value or as a key


def _fill(template: object, bad: str) -> object:
    """`template` with every `BAD`, value or key, replaced by `bad`."""
    if template == BAD:
        return bad
    if isinstance(template, dict):
        return {_fill(key, bad): _fill(value, bad) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(item, bad) for item in template]
    return template


def _secrets(**item: object) -> dict[str, object]:
    return {"secrets": [{"name": "A", "value": "v", **item}]}


def _user_var(**fields: object) -> dict[str, object]:
    return {"key": "NEW_KEY", "value": "v", "type": "encrypted", "target": ["preview"], **fields}


def _import(**fields: object) -> dict[str, object]:
    return {"productId": "postgres", "name": "n", "status": "ready", **fields}


PARTNER, USER, ADMIN = "partner", "user", "admin"
R1, C2, ENV, ENV_VAR = "{r1}", "{c2}", "/v10/projects/{p}/env", "/v9/projects/{p}/env/{e}"

# id: (who, method, path, body template, the field the refusal names)
BODY_CASES: dict[str, tuple[str, str, str, object, str]] = {
    "secret-value": (PARTNER, "PUT", R1 + "/secrets", _secrets(value=BAD), "secrets[0].value"),
    "secret-name": (PARTNER, "PUT", R1 + "/secrets", _secrets(name=BAD), "secrets[0].name"),
    "secret-prefix": (PARTNER, "PUT", R1 + "/secrets", _secrets(prefix=BAD), "secrets[0].prefix"),
    "secret-override": (
        PARTNER,
        "PUT",
        R1 + "/secrets",
        _secrets(environmentOverrides={"preview": BAD}),
        "secrets[0].environmentOverrides.preview",
    ),
    "second-secret-value": (
        PARTNER,
        "PUT",
        R1 + "/secrets",
        {"secrets": [{"name": "A", "value": "v"}, {"name": "B", "value": BAD}]},
        "secrets[1].value",
    ),
    "import-name": (PARTNER, "PUT", R1, _import(name=BAD), "name"),
    "import-product": (PARTNER, "PUT", R1, _import(productId=BAD), "productId"),
    "import-secret": (
        PARTNER, "PUT", R1, _import(secrets=[{"name": "A", "value": BAD}]), "secrets[0].value"
    ),
    "patch-name": (PARTNER, "PATCH", R1, {"name": BAD}, "name"),
    "metadata": (PARTNER, "PATCH", R1, {"metadata": {"a": {"b": BAD}}}, "metadata.a.b"),
    "billing-plan": (
        PARTNER, "PATCH", R1, {"billingPlan": {"tiers": [1, BAD]}}, "billingPlan.tiers[1]"
    ),
    "notification": (
        PARTNER, "PATCH", R1, {"notification": {"title": BAD}}, "notification.title"
    ),
    "extras": (PARTNER, "PATCH", R1, {"extras": {"x": [{"y": BAD}]}}, "extras.x[0].y"),
    "metadata-key": (PARTNER, "PATCH", R1, {"metadata": {"ok": {BAD: 1}}}, "metadata.ok"),
    "override-key": (
        PARTNER,
        "PUT",
        R1 + "/secrets",
        _secrets(environmentOverrides={BAD: "v"}),
        "secrets[0].environmentOverrides",
    ),
    "unknown-body-key": (PARTNER, "PATCH", R1, {"name": "n", BAD: 1}, "body"),
    "user-var-value": (USER, "POST", ENV, _user_var(value=BAD), "value"),
    "user-var-key": (USER, "POST", ENV, _user_var(key=BAD), "key"),
    "user-var-git-branch": (USER, "POST", ENV, _user_var(gitBranch=BAD), "gitBranch"),
    "user-var-comment": (USER, "POST", ENV, _user_var(comment=BAD), "comment"),
    "user-var-list": (USER, "POST", ENV, [_user_var(), _user_var(value=BAD)], "[1].value"),
    "user-var-patch": (USER, "PATCH", ENV_VAR, {"value": BAD}, "value"),
    "project-name": (USER, "POST", "/v11/projects", {"name": BAD}, "name"),
    "deployment-branch": (
        USER, "POST", "/v13/deployments", {"name": "web", "gitBranch": BAD}, "gitBranch"
    ),
    "deployment-project": (USER, "POST", "/v13/deployments", {"project": BAD}, "project"),
    "connection-prefix": (
        USER, "POST", C2, {"projectId": "web", "envVarPrefix": BAD}, "envVarPrefix"
    ),
    "connection-project": (USER, "POST", C2, {"projectId": BAD}, "projectId"),
    "team-name": (ADMIN, "POST", "/v1/admin/teams", {"slug": "other", "name": BAD}, "name"),
    "product-name": (
        ADMIN,
        "POST",
        "/v1/admin/integrations",
        {"slug": "x", "products": [{"slug": "p", "name": BAD}]},
        "products[0].name",
    ),
}  # fmt: skip


def _path(world: World, template: str) -> str:
    return template.format(
        r1=world.partner.resource_path("db1"),
        c2=world.workspace.connections_path("db2"),
        p=world.project_id,
        e=world.env_id,
    )


def _headers(world: World, who: str) -> dict[str, str]:
    return {PARTNER: world.partner_headers, USER: world.user_headers, ADMIN: admin_headers()}[who]


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize(
    ("who", "method", "template", "body", "field"),
    [pytest.param(*case, id=name) for name, case in BODY_CASES.items()],
)
def test_unstorable_string_in_body_is_400_naming_the_field(
    runtime: Runtime,
    client: TestClient,
    world: World,
    bad: str,
    who: str,
    method: str,
    template: str,
    body: object,
    field: str,
) -> None:
    raw = raw_json(_fill(body, bad))
    error = refused_400(runtime, client, method, _path(world, template), _headers(world, who), raw)
    assert error["message"].startswith(f"{field}: "), error
    assert error["fields"][0]["key"] == field
    assert ("NUL" if bad == NUL else "lone surrogate") in error["message"]
    if field in ("metadata.ok", "secrets[0].environmentOverrides", "body"):
        assert error["message"].startswith(f"{field}: has a key that "), error


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(b'{"metadata": {"x": NaN}}', "metadata.x", id="nan"),
        pytest.param(b'{"metadata": {"x": [Infinity]}}', "metadata.x[0]", id="infinity"),
        pytest.param(b'{"billingPlan": {"x": -Infinity}}', "billingPlan.x", id="minus-infinity"),
        pytest.param(b'{"notification": {"x": 1e400}}', "notification.x", id="overflow"),
        pytest.param(b'{"extras": {"x": -1e400}}', "extras.x", id="negative-overflow"),
        pytest.param(b'{"name": "n", "unknown": NaN}', "unknown", id="nan-in-unknown-key"),
        pytest.param(
            b'{"secrets": [{"name": "A", "value": NaN}]}', "secrets[0].value", id="nan-as-value"
        ),
    ],
)
def test_non_finite_number_is_400_naming_the_field(
    runtime: Runtime, client: TestClient, world: World, raw: bytes, field: str
) -> None:
    path = _path(world, "{r1}")
    error = refused_400(runtime, client, "PATCH", path, world.partner_headers, raw)
    assert error["message"].startswith(f"{field}: must be a finite number"), error


def test_non_finite_number_in_a_user_body_is_400(
    runtime: Runtime, client: TestClient, world: World
) -> None:
    raw = b'{"name": "web", "meta": {"retries": Infinity}}'
    error = refused_400(runtime, client, "POST", "/v13/deployments", world.user_headers, raw)
    assert error["message"].startswith("meta.retries: must be a finite number"), error


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b'{"name": "\xff"}', "body: is not UTF-8 text", id="invalid-utf8"),
        pytest.param('{"name": "n"}'.encode("utf-16"), "body: is not UTF-8 text", id="utf16"),
        pytest.param(b'{"name": ', "body: is not valid JSON", id="truncated"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "body: is not valid JSON", id="nested-5000-deep"),
    ],
)
def test_body_that_is_not_utf8_json_is_400(
    runtime: Runtime, client: TestClient, world: World, raw: bytes, message: str
) -> None:
    path = _path(world, "{r1}")
    error = refused_400(runtime, client, "PATCH", path, world.partner_headers, raw)
    assert error["message"] == message


def test_unstorable_body_on_a_missing_resource_is_404_first(
    runtime: Runtime, client: TestClient, world: World
) -> None:
    # CONTRACT.md 2.1: the resource is looked up (404) before the body is read (400).
    response = send(
        client,
        "PUT",
        world.partner.resource_path("missing") + "/secrets",
        world.partner_headers,
        raw_json(_secrets(value=NUL)),
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_unstorable_body_without_a_token_is_401_first(client: TestClient, world: World) -> None:
    response = send(
        client,
        "PUT",
        world.partner.resource_path("db1") + "/secrets",
        {},
        raw_json(_secrets(value=NUL)),
    )
    assert response.status_code == 401


UNUSUAL_TEXT = [
    "🔑 clé",  # astral plane and accents, as UTF-8 and as JSON surrogate pairs
    "\ufffd\uffff\ufeff",  # the replacement character, a noncharacter, a BOM
    "line\u2028sep\r\n\ttab",
    "\U0010ffff",  # the last code point
    "\x01\x7f",  # control characters other than NUL are text
    "",
]


@pytest.mark.parametrize("text", UNUSUAL_TEXT)
def test_unusual_but_valid_text_reads_back_equal_everywhere(
    client: TestClient, world: World, text: str
) -> None:
    partner, workspace = world.partner, world.workspace
    metadata = {"k": text, text: [text, {"deep": text}], "n": [1.5e308, -0.0, 5e-324, 2**70]}
    # Sent as escaped JSON (surrogate pairs for astral characters) and as raw UTF-8.
    body = _import(
        name=text or "n",
        metadata=metadata,
        extras={"e": text},
        secrets=[{"name": "A", "value": text, "environmentOverrides": {"preview": text}}],
    )
    for encoded in (raw_json(body), json.dumps(body, ensure_ascii=False).encode()):
        response = send(client, "PUT", partner.resource_path("db1"), world.partner_headers, encoded)
        assert response.status_code == 200, response.text
        got = partner.get_resource("db1")
        assert (got["name"], got["metadata"], got["extras"]) == (text or "n", metadata, {"e": text})
        listed = client.get(
            f"/v1/installations/{partner.installation_id}/resources", headers=world.partner_headers
        ).json()["resources"]
        assert next(r for r in listed if r["id"] == "db1")["metadata"] == metadata
        assert workspace.pull(world.project_id, "production")["A"] == text
        assert workspace.pull(world.project_id, "preview")["A"] == text
    branch = {"gitBranch": text} if text else {}
    var = workspace.add_var(world.project_id, _user_var(value=text, comment=text, **branch))
    assert var.status_code == 201, var.text
    got_var = client.get(
        f"/v1/projects/{world.project_id}/env/{var.json()['created'][0]['id']}",
        headers=world.user_headers,
    ).json()
    assert (got_var["value"], got_var.get("gitBranch"), got_var["comment"]) == (
        text,
        text or None,
        text,
    )
    deployment = workspace.deploy({"name": "web", "target": "production"})
    assert workspace.deployment_env(deployment["id"])["A"] == text


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(b'{"a": "x\\u0000y"}', "a", id="escaped-nul"),
        pytest.param(b'{"a": ["ok", {"b": "\\ud800"}]}', "a[1].b", id="escaped-surrogate"),
        pytest.param(b'{"a\\u0000": 1}', "body", id="escaped-nul-in-a-key"),
        pytest.param(b'{"a": 1.5, "b": [2.5e400]}', "b[0]", id="overflow-after-finite-float"),
    ],
)
def test_parsed_body_with_an_escape_or_non_finite_number_is_walked_and_refused(
    raw: bytes, field: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json_body(raw)
    assert refused.value.fields[0].key == field


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"a": "caf\\u00e9", "b": 1.5e10, "c": [1, -2.25]}', id="escapes-and-floats"),
        pytest.param('{"a": "café ☃", "\\\\u": 3}'.encode(), id="escaped-backslash-then-u"),
    ],
)
def test_parsed_body_of_storable_text_and_finite_numbers_equals_json_loads(raw: bytes) -> None:
    assert parse_json_body(raw) == json.loads(raw)
