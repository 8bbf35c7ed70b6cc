"""A runtime on a settable clock, the real HTTP app on it, a real receiver and a worker that
sends to it over real sockets; the tests move the clock instead of sleeping."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from keyturn.app import build_runtime, create_app
from keyturn.delivery.worker import DeliveryWorker
from keyturn.domain.clock import SettableClock
from keyturn.outbound.webhooks import WebhookSender
from keyturn.services.delivery import DeliveryPolicy
from keyturn.settings import Settings
from tests.conftest import Partner, seed_partner
from tests.receiver import Receiver

TIMEOUT_S = 0.5


@dataclass
class World:
    partner: Partner
    clock: SettableClock
    receiver: Receiver
    worker: DeliveryWorker
    hook: dict[str, object]

    @property
    def client(self) -> TestClient:
        return self.partner.client

    @property
    def user(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.partner.user_token}"}

    def deliveries(self, event_id: str) -> list[dict[str, object]]:
        response = self.client.get(f"/v1/events/{event_id}/deliveries", headers=self.user)
        assert response.status_code == 200, response.text
        found: list[dict[str, object]] = response.json()["deliveries"]
        return found

    def events(self) -> list[dict[str, object]]:
        response = self.client.get("/v1/events", headers=self.user)
        assert response.status_code == 200, response.text
        found: list[dict[str, object]] = response.json()["events"]
        return found


def make_world(settings: Settings, *, max_attempts: int = 8, events: list[str]) -> Iterator[World]:
    clock = SettableClock(1_800_000_000_000)
    runtime = build_runtime(settings, clock=clock)
    receiver = Receiver()
    sender = WebhookSender(TIMEOUT_S)
    worker = DeliveryWorker(
        runtime.context,
        sender,
        policy=DeliveryPolicy(timeout_s=TIMEOUT_S, max_attempts=max_attempts),
        rng=random.Random(7),  # noqa: S311  # a fixed jitter for a reproducible schedule
    )
    try:
        with TestClient(create_app(runtime)) as client:
            partner = seed_partner(client)
            created = client.post(
                "/v1/webhooks",
                json={"url": receiver.url, "events": events},
                headers={"Authorization": f"Bearer {partner.user_token}"},
            )
            assert created.status_code == 200, created.text
            receiver.secret = created.json()["secret"]
            yield World(partner, clock, receiver, worker, created.json())
    finally:
        receiver.close()
        sender.close()
        worker.stop()
        runtime.store.engine.dispose()


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    yield from make_world(settings, events=["project.created", "project.removed"])
