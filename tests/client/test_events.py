"""The client's event feed and team webhook methods over real HTTP, blocking and async, on both
databases. The live server runs no delivery worker; the redelivery test runs one round of a
real worker against a real receiver that refuses the event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyturn.client import APIError
from keyturn.delivery.worker import DeliveryWorker
from keyturn.outbound.webhooks import WebhookSender
from keyturn.services.delivery import DeliveryPolicy
from tests.client.conftest import ClientFactory
from tests.live_server import LiveServer, World
from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_list_events_pages_the_teams_events_in_order_and_filters_by_type(
    api: ClientFactory, world: World
) -> None:
    owner = api(world.user_token)
    first, second = owner.create_project("web"), owner.create_project("api")
    owner.delete_project(second.id)
    page = owner.list_events(type="project.created")
    assert [e.payload["project"]["id"] for e in page.events] == [first.id, second.id]
    assert all(e.id.startswith("evt_") and e.type == "project.created" for e in page.events)
    assert page.events[0].payload["team"] == {"id": world.team_id}
    one = owner.list_events(type="project.created", limit=1)
    assert [e.payload["project"]["id"] for e in one.events] == [first.id]
    assert one.next == one.events[0].id
    rest = owner.list_events(type="project.created", after=one.next)
    assert [e.payload["project"]["id"] for e in rest.events] == [second.id]
    everything = owner.list_events()
    assert [e.type for e in everything.events] == [
        "project.created",
        "project.created",
        "project.removed",
    ]


def test_list_events_limit_out_of_range_raises_400_naming_limit(
    api: ClientFactory, world: World
) -> None:
    with pytest.raises(APIError) as caught:
        api(world.user_token).list_events(limit=101)
    assert caught.value.status == 400
    assert "limit" in caught.value.message


def test_webhooks_create_list_get_delete_and_the_secret_only_at_creation(
    api: ClientFactory, world: World
) -> None:
    owner = api(world.user_token)
    project = owner.create_project("web")
    hook = owner.create_webhook(
        "http://127.0.0.1:9/hook", ["project.created"], project_ids=[project.id]
    )
    assert hook.id.startswith("hook_")
    assert len(hook.secret) >= 16
    assert hook.secret not in repr(hook)
    assert hook.project_ids == [project.id]
    assert [h.id for h in owner.list_webhooks()] == [hook.id]
    fetched = owner.get_webhook(hook.id)
    assert (fetched.url, fetched.events, fetched.owner_id, fetched.project_ids) == (
        "http://127.0.0.1:9/hook",
        ["project.created"],
        world.team_id,
        [project.id],
    )
    assert "secret" not in fetched.model_dump()
    owner.delete_webhook(hook.id)
    assert owner.list_webhooks() == []
    with pytest.raises(APIError) as caught:
        owner.get_webhook(hook.id)
    assert caught.value.status == 404


def test_create_webhook_with_an_unknown_event_type_raises_400_and_creates_nothing(
    api: ClientFactory, world: World
) -> None:
    owner = api(world.user_token)
    with pytest.raises(APIError) as caught:
        owner.create_webhook("http://127.0.0.1:9/hook", ["no.such.type"])
    assert caught.value.status == 400
    assert "events" in caught.value.message
    assert owner.list_webhooks() == []


def test_webhooks_refuse_an_integration_token_with_403(api: ClientFactory, world: World) -> None:
    with pytest.raises(APIError) as caught:
        api(world.token).list_webhooks()
    assert (caught.value.status, caught.value.code) == (403, "forbidden")


def test_a_failed_delivery_is_listed_and_redeliver_queues_it_again(
    api: ClientFactory, world: World, live_server: LiveServer, receiver: Receiver
) -> None:
    owner = api(world.user_token)
    hook = owner.create_webhook(receiver.url, ["project.created"])
    owner.create_project("web")
    (event,) = owner.list_events(type="project.created").events
    (pending,) = owner.event_deliveries(event.id)
    assert (pending.destination.kind, pending.destination.id) == ("webhook", hook.id)
    assert (pending.destination.url, pending.status, pending.attempts) == (
        receiver.url,
        "pending",
        0,
    )
    receiver.script.statuses = [500]
    # One attempt allowed, so the receiver's 500 fails the delivery for good.
    worker = DeliveryWorker(
        live_server.runtime.context,
        WebhookSender(2.0),
        policy=DeliveryPolicy(timeout_s=2.0, max_attempts=1),
    )
    try:
        assert worker.run_once() == 1
    finally:
        worker.stop()
    (failed,) = owner.event_deliveries(event.id)
    assert (failed.status, failed.attempts, failed.last_status_code) == ("failed", 1, 500)
    assert owner.redeliver(event.id).queued == 1
    (queued,) = owner.event_deliveries(event.id)
    assert queued.status == "pending"
    assert owner.redeliver(event.id).queued == 0


def test_event_deliveries_of_an_unknown_event_raise_404(api: ClientFactory, world: World) -> None:
    with pytest.raises(APIError) as caught:
        api(world.user_token).event_deliveries("evt_nosuchevent")
    assert caught.value.status == 404
