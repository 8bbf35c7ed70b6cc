"""Integration webhooks (CONTRACT.md 6.2): an integration with a `webhookUrl` gets Vercel's
types for its own installations and the keyturn types it lists, signed with its client secret
as it is when the delivery goes out."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from keyturn.app import build_runtime, create_app
from keyturn.delivery.worker import DeliveryWorker
from keyturn.domain.clock import SettableClock
from keyturn.outbound.webhooks import WebhookSender
from keyturn.services.delivery import DeliveryPolicy
from keyturn.settings import Settings
from tests.conftest import Partner, Workspace, admin_headers, seed_partner
from tests.receiver import Receiver


@pytest.fixture
def hooked(settings: Settings) -> Iterator[tuple[Workspace, Receiver, DeliveryWorker]]:
    runtime = build_runtime(settings, clock=SettableClock(1_800_000_000_000))
    receiver = Receiver()
    sender = WebhookSender(2)
    worker = DeliveryWorker(
        runtime.context,
        sender,
        policy=DeliveryPolicy(timeout_s=2),
        rng=random.Random(1),  # noqa: S311  # a fixed jitter for a reproducible schedule
    )
    try:
        with TestClient(create_app(runtime)) as client:
            partner = seed_partner(client)
            settled = client.patch(
                f"/v1/admin/integrations/{partner.integration_id}",
                json={"webhookUrl": receiver.url, "events": ["resource.secrets.updated"]},
                headers=admin_headers(),
            )
            assert settled.status_code == 200, settled.text
            yield Workspace(partner), receiver, worker
    finally:
        receiver.close()
        sender.close()
        worker.stop()
        runtime.store.engine.dispose()


def client_secret(partner: Partner) -> str:
    response = partner.client.post(
        f"/v1/admin/integrations/{partner.integration_id}/secret", headers=admin_headers()
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["clientSecret"]
    return secret


def test_an_integration_gets_its_installations_events_signed_with_its_client_secret(
    hooked: tuple[Workspace, Receiver, DeliveryWorker],
) -> None:
    workspace, receiver, worker = hooked
    partner = workspace.partner
    receiver.secret = client_secret(partner)
    partner.import_resource(secrets=[{"name": "DATABASE_URL", "value": "postgres://one"}])
    project = workspace.create_project("web")  # project.created: no installation involved
    assert workspace.connect(project).status_code == 201
    workspace.deploy({"name": "web", "target": "production"})
    # Another integration's resource: nothing of it reaches this one.
    other = seed_partner(partner.client, "other")
    other.import_resource(secrets=[{"name": "K", "value": "v"}])
    while worker.run_once():
        pass
    received = receiver.delivered()
    # Sent side by side, so in no set order (delivery order is best effort).
    assert sorted(item.body["type"] for item in received) == [
        "deployment.created",
        "integration-resource.project-connected",  # Vercel's: always
        "resource.secrets.updated",  # listed in its `events`
    ]
    assert all(item.signature_ok for item in received)
    assert {i for item in received for i in item.body["payload"]["installationIds"]} == {
        partner.installation_id
    }


def test_a_new_client_secret_signs_from_the_next_delivery_on(
    hooked: tuple[Workspace, Receiver, DeliveryWorker],
) -> None:
    workspace, receiver, worker = hooked
    partner = workspace.partner
    receiver.secret = client_secret(partner)
    partner.import_resource(secrets=[{"name": "DATABASE_URL", "value": "postgres://one"}])
    receiver.secret = client_secret(partner)  # rotated before the delivery went out
    assert worker.run_once() == 1
    [delivery] = receiver.delivered()
    assert delivery.signature_ok


def test_keyturn_types_not_listed_are_not_sent(
    hooked: tuple[Workspace, Receiver, DeliveryWorker],
) -> None:
    workspace, receiver, worker = hooked
    partner = workspace.partner
    receiver.secret = client_secret(partner)
    partner.import_resource()
    deleted = partner.client.delete(partner.resource_path(), headers=partner.auth())
    assert deleted.status_code == 204  # resource.deleted: not in the integration's `events`
    assert worker.run_once() == 0
    assert receiver.delivered() == []
