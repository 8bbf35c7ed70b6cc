"""The delivery worker against a real receiver: signed deliveries, retries with backoff on the
injectable clock, timeouts, refused connections, the attempt limit and redelivery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyturn.settings import Settings
from tests.delivery.conftest import TIMEOUT_S, World, make_world


def create_project(world: World, name: str = "web") -> str:
    response = world.client.post("/v11/projects", json={"name": name}, headers=world.user)
    assert response.status_code == 200, response.text
    event_id: str = world.events()[-1]["id"]
    return event_id


def test_a_new_event_is_delivered_signed_in_the_first_round(world: World) -> None:
    event_id = create_project(world)
    assert world.worker.run_once() == 1
    [received] = world.receiver.delivered()
    assert received.signature_ok
    assert received.headers["content-type"] == "application/json"
    assert received.body == world.events()[-1]
    assert received.body["id"] == event_id
    [delivery] = world.deliveries(event_id)
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 200
    assert delivery["deliveredAt"] == world.clock.now_ms()
    assert delivery["destination"] == {
        "kind": "webhook",
        "id": world.hook["id"],
        "url": world.receiver.url,
    }
    # Nothing left to send: a second round sends nothing.
    assert world.worker.run_once() == 0


def test_a_500_is_retried_after_the_backoff_and_then_delivered(world: World) -> None:
    world.receiver.script.statuses = [500]
    event_id = create_project(world)
    assert world.worker.run_once() == 1
    [delivery] = world.deliveries(event_id)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "pending",
        1,
        500,
    )
    wait = delivery["nextAttemptAt"] - world.clock.now_ms()
    assert 0 < wait <= 5_000  # the first retry within 5 s
    assert world.worker.run_once() == 0  # not due yet: the clock has not moved
    world.clock.advance(wait)
    assert world.worker.run_once() == 1
    [delivery] = world.deliveries(event_id)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "delivered",
        2,
        200,
    )
    assert [item.signature_ok for item in world.receiver.delivered()] == [True, True]


def test_a_receiver_that_hangs_past_the_timeout_is_retried(world: World) -> None:
    world.receiver.script.hang_s = TIMEOUT_S * 4
    world.receiver.script.hang_count = 1
    event_id = create_project(world)
    assert world.worker.run_once() == 1
    [delivery] = world.deliveries(event_id)
    assert delivery["status"] == "pending"
    assert delivery["lastStatusCode"] is None
    assert delivery["lastError"] == f"timed out after {TIMEOUT_S:g} s"
    world.clock.advance(5_000)
    assert world.worker.run_once() == 1
    assert world.deliveries(event_id)[0]["status"] == "delivered"


def test_refused_connections_back_off_then_deliver_when_the_receiver_is_back(
    world: World,
) -> None:
    world.receiver.refuse()
    event_id = create_project(world)
    waits = []
    for _ in range(3):
        assert world.worker.run_once() == 1
        [delivery] = world.deliveries(event_id)
        assert delivery["lastError"] == "could not connect"
        wait = delivery["nextAttemptAt"] - world.clock.now_ms()
        waits.append(wait)
        world.clock.advance(wait)
    assert waits[0] < waits[1] < waits[2]  # exponential, whatever the jitter
    world.receiver.accept()
    assert world.worker.run_once() == 1
    [delivery] = world.deliveries(event_id)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 4)


def test_eight_attempts_span_over_an_hour_then_the_delivery_fails(world: World) -> None:
    world.receiver.script.statuses = [503] * 8
    event_id = create_project(world)
    started = world.clock.now_ms()
    for attempt in range(1, 9):
        assert world.worker.run_once() == 1, attempt
        [delivery] = world.deliveries(event_id)
        assert delivery["attempts"] == attempt
        if attempt < 8:
            world.clock.advance(delivery["nextAttemptAt"] - world.clock.now_ms())
    assert world.clock.now_ms() - started >= 3_600_000
    assert delivery["status"] == "failed"
    assert delivery["nextAttemptAt"] is None
    assert len(world.receiver.delivered()) == 8
    world.clock.advance(24 * 3_600_000)
    assert world.worker.run_once() == 0  # failed for good: never retried by itself


@pytest.fixture
def short_world(settings: Settings) -> Iterator[World]:
    yield from make_world(settings, max_attempts=2, events=["project.created"])


def test_redeliver_queues_a_failed_delivery_again(short_world: World) -> None:
    world = short_world
    world.receiver.script.statuses = [500, 500]
    event_id = create_project(world)
    world.worker.run_once()
    world.clock.advance(10_000)
    world.worker.run_once()
    assert world.deliveries(event_id)[0]["status"] == "failed"
    response = world.client.post(f"/v1/events/{event_id}/redeliver", headers=world.user)
    assert (response.status_code, response.json()) == (202, {"queued": 1})
    assert world.deliveries(event_id)[0]["status"] == "pending"
    assert world.worker.run_once() == 1
    [delivery] = world.deliveries(event_id)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)
    # Nothing failed any more: a second redeliver queues nothing.
    again = world.client.post(f"/v1/events/{event_id}/redeliver", headers=world.user)
    assert (again.status_code, again.json()) == (202, {"queued": 0})


def test_a_removed_webhook_gets_nothing_more(world: World) -> None:
    world.receiver.script.statuses = [500]
    event_id = create_project(world)
    world.worker.run_once()
    removed = world.client.delete(f"/v1/webhooks/{world.hook['id']}", headers=world.user)
    assert removed.status_code == 204
    [delivery] = world.deliveries(event_id)
    assert (delivery["status"], delivery["lastError"]) == ("failed", "the webhook was removed")
    world.clock.advance(3_600_000)
    assert world.worker.run_once() == 0
    create_project(world, "api")
    assert world.worker.run_once() == 0
    assert len(world.receiver.delivered()) == 1
