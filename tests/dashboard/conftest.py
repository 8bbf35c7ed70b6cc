"""A seeded world for the dashboard's tests, and signing in to it as a browser would.

Every secret value (and every environment override) holds `MARKER`, so a page that leaked
any value would contain it: the tests assert that none does.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from keyturn.delivery.worker import DeliveryWorker
from keyturn.outbound.webhooks import WebhookSender
from keyturn.services.delivery import DeliveryPolicy
from tests.conftest import Partner, Workspace, seed_partner
from tests.receiver import Receiver

MARKER = "SECRETMARKER7f3a"
TIMEOUT_S = 0.5
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def marked_secrets(tag: str) -> list[dict[str, object]]:
    return [
        {"name": "DATABASE_URL", "value": f"postgres://u:{MARKER}-{tag}@db/app"},
        {
            "name": "API_KEY",
            "value": f"{MARKER}-{tag}-key",
            "environmentOverrides": {"development": f"{MARKER}-{tag}-dev"},
        },
    ]


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> TestClient:
    form = client.get("/dashboard/sign-in")
    assert form.status_code == 200, form.text
    answer = client.post(
        "/dashboard/sign-in",
        data={"token": token, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/dashboard"
    return client


@dataclass(frozen=True)
class World:
    partner: Partner
    workspace: Workspace
    project_id: str
    deployment_id: str
    # The same shape in another team: what the first team must never see.
    other: Partner
    other_project_id: str
    other_deployment_id: str


def seed_team(partner: Partner) -> tuple[Workspace, str, str]:
    partner.import_resource("db1", secrets=marked_secrets("v1"))
    workspace = Workspace(partner)
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id).status_code == 201
    deployment = workspace.deploy({"name": "web", "target": "production"})
    return workspace, project_id, deployment["id"]


@pytest.fixture
def world(partner: Partner) -> World:
    workspace, project_id, deployment_id = seed_team(partner)
    other = seed_partner(partner.client, slug="rival")
    _, other_project_id, other_deployment_id = seed_team(other)
    return World(
        partner=partner,
        workspace=workspace,
        project_id=project_id,
        deployment_id=deployment_id,
        other=other,
        other_project_id=other_project_id,
        other_deployment_id=other_deployment_id,
    )


@dataclass
class Hooked:
    """A team webhook on a real receiver, and a delivery worker that gives up after one
    attempt (so that a refused delivery is `failed` at once, ready to be redelivered)."""

    hook_id: str
    receiver: Receiver
    worker: DeliveryWorker


@pytest.fixture
def hooked(world: World, runtime: Runtime) -> Iterator[Hooked]:
    receiver = Receiver()
    sender = WebhookSender(TIMEOUT_S)
    worker = DeliveryWorker(
        runtime.context,
        sender,
        policy=DeliveryPolicy(timeout_s=TIMEOUT_S, max_attempts=1),
        rng=random.Random(7),  # noqa: S311  # a fixed jitter for a reproducible schedule
    )
    created = world.partner.client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["project.created", "resource.secrets.updated"]},
        headers=world.workspace.headers,
    )
    assert created.status_code == 200, created.text
    receiver.secret = created.json()["secret"]
    try:
        yield Hooked(created.json()["id"], receiver, worker)
    finally:
        receiver.close()
        sender.close()
        worker.stop()
