"""The server answers as its own /openapi.json says, on every route (schemathesis, bounded).

For each backend, a world is seeded through the API (two teams, an installation each,
resources with secrets, projects, a connection, user and derived env vars, a deployment), then
schemathesis generates requests for every operation of /openapi.json: valid ones (positive) and
invalid ones (negative), with the token kind the route is for, and a few with the other kinds
and with none. A share of path parameters and body ids are swapped for ids of the seeded world,
so that generated requests get past 404 to the body and rule checks.

Every answer must pass: no 5xx, a documented status, a documented content type, a body that
matches the documented schema. The run is derandomized (same examples each run) and bounded by
`KEYTURN_FUZZ_EXAMPLES` (examples per operation, token kind and mode); docs/testing.md says how
to run it bigger.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keyturn.app import Runtime, create_app
from keyturn.http.openapi import answers, install_openapi
from keyturn.http.wire_out import StatusOut
from keyturn.settings import Settings
from tests.conftest import ADMIN_TOKEN, Workspace, seed_partner

EXAMPLES = int(os.environ.get("KEYTURN_FUZZ_EXAMPLES", "15"))
# Requests with a token of the wrong kind, or none, stop at 401/403: a few show that shape.
STRANGER_EXAMPLES = max(1, EXAMPLES // 4)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class World:
    """Ids and tokens of one seeded world; `known` maps parameter names to real values."""

    tokens: dict[str, str | None]
    known: dict[str, list[Any]]


@dataclass
class Tally:
    requests: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    successes: Counter[str] = field(default_factory=Counter)

    def count(self, token_kind: str) -> None:
        self.requests[token_kind] = self.requests.get(token_kind, 0) + 1

    def answered(self, operation: str, token_kind: str, status: int) -> None:
        self.statuses.setdefault(token_kind, Counter())[status] += 1
        if status < 300:
            self.successes[operation] += 1


class AnswersErrors:
    """The app as a server runs it: an unexpected error is a 500 answer, kept for the report.

    Starlette sends the 500 and then re-raises the error for the server to log; an in-process
    client would raise it instead of showing the answer to the checks.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_error: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            first_line = (str(exc).splitlines() or [""])[0]
            self.last_error = f"{type(exc).__name__}: {first_line}"


def seed_world(client: TestClient, slug: str) -> World:
    partner = seed_partner(client, slug)
    other = seed_partner(client, f"{slug}-other")
    workspace = Workspace(partner)
    secrets = [
        {"name": "DATABASE_URL", "value": "postgres://app:one@db/app", "prefix": "ACME"},
        {"name": "PGHOST", "value": "db", "environmentOverrides": {"preview": "db-preview"}},
    ]
    partner.import_resource("db1", secrets=secrets, metadata={"region": "eu"})
    partner.import_resource("db2", productId=partner.other_product_id)
    project_id = workspace.create_project(f"{slug}-web")
    connected = workspace.connect(project_id, "db1")
    assert connected.status_code == 201, connected.text
    added = workspace.add_var(
        project_id, {"key": "USER_KEY", "value": "v", "type": "encrypted", "target": ["preview"]}
    )
    assert added.status_code == 201, added.text
    envs = workspace.envs(project_id)
    user_var_id = next(env["id"] for env in envs if env["key"] == "USER_KEY")
    deployment = workspace.deploy({"name": f"{slug}-web", "target": "production"})
    other_project = Workspace(other).create_project(f"{slug}-other-web")
    return World(
        tokens={
            "admin": ADMIN_TOKEN,
            "user": partner.user_token,
            "integration": partner.token,
            "none": None,
        },
        known={
            # Own ids come first and twice: sampled_from shrinks towards the front.
            "integrationConfigurationId": [
                partner.installation_id,
                partner.installation_id,
                other.installation_id,
            ],
            "resourceId": ["db1", "db2", "db2"],  # db2 is not connected yet
            "integrationProductIdOrSlug": [partner.product_id, partner.product_slug],
            "productId": [partner.product_id, partner.product_slug],
            "teamId": [partner.team_id, partner.team_id, other.team_id],
            "slug": [f"{slug}-team"],
            "integration": [partner.integration_id, f"{slug}-other"],
            "idOrSlug": [partner.integration_id, slug],
            "idOrName": [project_id, f"{slug}-web", other_project],
            "projectId": [project_id, project_id, other_project],
            "project": [project_id, f"{slug}-web"],
            "envId": [user_var_id, user_var_id, *(env["id"] for env in envs)],
            "deploymentId": [deployment["id"]],
            "target": ["production", "preview", "development"],
            # Valid as a secret name, a project name and a resource name alike.
            "name": ["database_url", "api_key", "pghost"],
            "key": ["USER_KEY", "API_TOKEN", "ACME_DATABASE_URL"],
            "prefix": ["ACME", "DB1_"],
            "envVarPrefix": ["DB1", "ACME_"],
            # The secrets version db1 has (a rollback to it changes nothing, and answers 201).
            "version": [1],
        },
    )


def token_kind_of(path: str) -> str:
    """The token a route is for (CONTRACT.md 0)."""
    if path.startswith("/v1/admin/"):
        return "admin"
    if path.startswith("/v1/installations/"):
        return "integration"
    if path in ("/healthz", "/readyz") or path.startswith("/.well-known/"):
        return "none"
    return "user"


def with_known_ids(case: Case, world: World, draw: Callable[[Any], Any]) -> None:
    """Swap most path and query parameters, and body fields at any depth, for known values."""
    for parameters in (case.path_parameters, case.query):
        for name in list(parameters or {}):
            if name in world.known and draw(KNOWN_SHARE):
                parameters[name] = draw(st.sampled_from(world.known[name]))
    _known_fields(case.body, world, draw)


# Three cases in four take a known value where one exists, so most requests get past 404.
# (sampled_from, as Hypothesis leans towards the first element, not towards False or 0.)
KNOWN_SHARE = st.sampled_from([True, True, True, False])


def _known_fields(value: object, world: World, draw: Callable[[Any], Any]) -> None:
    if isinstance(value, list):
        for item in value:
            _known_fields(item, world, draw)
    if isinstance(value, dict):
        for name, item in list(value.items()):
            if name in world.known and draw(KNOWN_SHARE):
                value[name] = draw(st.sampled_from(world.known[name]))
            else:
                _known_fields(item, world, draw)


@dataclass
class Fuzzer:
    """Sends generated cases to the app and checks each answer against the document."""

    app: AnswersErrors
    tally: Tally = field(default_factory=Tally)

    def run(
        self, operation: Any, world: World, kind: str, mode: GenerationMode, examples: int
    ) -> None:
        """`examples` cases of `operation`; the first failure, if any, goes to the tally."""
        token = world.tokens[kind]
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        @hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            # No shrinking: a failure is reported as generated, which bounds the run's time.
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(mode), data=st.data())
        def run(case: Case, data: st.DataObject) -> None:
            with_known_ids(case, world, data.draw)
            if kind == "none" and data.draw(st.booleans()):
                # Half of the tokenless requests send no header; the rest a generated one.
                case.headers.pop("Authorization", None)
            self.send(case, operation.label, kind, headers)

        try:
            run()
        # Every failure is collected, so that one run reports them all; schemathesis raises its
        # check failures as a group, which is not an Exception.
        except (Exception, FailureGroup) as exc:
            report = "".join(traceback.format_exception_only(exc))
            self.tally.failures.append(f"{operation.label} [{kind} token, {mode.value}]\n{report}")

    def send(self, case: Case, label: str, kind: str, headers: dict[str, str]) -> None:
        self.tally.count(kind)
        self.app.last_error = None
        response = case.call(headers=headers)
        self.tally.answered(label, kind, response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, FailureGroup) as exc:
            if self.app.last_error is not None:
                exc.add_note(f"server error: {self.app.last_error}")
            raise

    def runs_for(self, operation: Any, declared: dict[str, Any], world: World) -> list[Any]:
        """(token kind, mode, examples) to run: the route's own token, then the others."""
        main = token_kind_of(operation.path)
        # An operation with nothing to send has no invalid request to make.
        sends_something = declared.get("parameters") or declared.get("requestBody")
        modes = MODES if sends_something else MODES[:1]
        runs: list[Any] = [(main, mode, EXAMPLES) for mode in modes]
        if main != "none":
            runs += [
                (kind, GenerationMode.POSITIVE, STRANGER_EXAMPLES)
                for kind in world.tokens
                if kind != main
            ]
        return runs


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Generated PATCHes may point the integration's baseUrl anywhere, and generated rotation
    # requests then call it: keep each of those attempts short.
    return settings.model_copy(update={"partner_timeout_s": 1.0})


def test_every_answer_matches_the_published_schema(
    runtime: Runtime, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    app = AnswersErrors(create_app(runtime))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.validate()  # the document itself is valid OpenAPI
    assert schema.iter_schema_warnings() == []  # and has nothing schemathesis warns about
    # An Err here is an operation schemathesis cannot use: `ok()` raises it.
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    fuzzer = Fuzzer(app)
    with TestClient(app) as client:
        for index, operation in enumerate(operations):
            # A fresh world per operation: the one before may have deleted or changed it.
            world = seed_world(client, f"w{index}")
            declared = schema.raw_schema["paths"][operation.path][operation.method.lower()]
            for kind, mode, examples in fuzzer.runs_for(operation, declared, world):
                fuzzer.run(operation, world, kind, mode, examples)
    elapsed = time.monotonic() - started
    tally = fuzzer.tally
    with capsys.disabled():  # the numbers belong in every run's output
        print(
            f"\nfuzz {backend}: {sum(tally.requests.values())} requests "
            f"{json.dumps(tally.requests, sort_keys=True)} over {len(operations)} operations "
            f"in {elapsed:.1f} s, {len(tally.failures)} failing runs"
        )
        for kind, statuses in sorted(tally.statuses.items()):
            print(f"  {kind} token: statuses {dict(sorted(statuses.items()))}")
        never = [op.label for op in operations if not tally.successes[op.label]]
        print(f"  operations never answered 2xx: {never}")
    assert not tally.failures, "\n\n".join(tally.failures)


def test_the_fuzzer_fails_on_an_undocumented_field_and_on_a_server_error() -> None:
    # The run above passing means something only if a drifting server would fail it.
    drifting = FastAPI()
    install_openapi(drifting)

    @drifting.get("/drift", response_model=None, responses=answers(200, StatusOut))
    def drift() -> dict[str, object]:
        return {"status": "ok", "undocumented": True}

    @drifting.get("/crash", response_model=None, responses=answers(200, StatusOut))
    def crash() -> StatusOut:
        raise RuntimeError("a bug")

    app = AnswersErrors(drifting)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    fuzzer = Fuzzer(app)
    world = World(tokens={"none": None}, known={})
    for result in schema.get_all_operations():
        fuzzer.run(result.ok(), world, "none", GenerationMode.POSITIVE, 1)
    failures = "\n".join(fuzzer.tally.failures)
    assert "GET /drift" in failures
    assert "undocumented" in failures
    assert "GET /crash" in failures
    assert "server error: RuntimeError: a bug" in failures
