"""The dashboard's events and deliveries pages (CONTRACT.md 6) through the real ASGI app, on
SQLite and PostgreSQL, with a real receiver and delivery worker."""

from __future__ import annotations

import re

from tests.dashboard.conftest import MARKER, Hooked, World, csrf_of, marked_secrets, sign_in

EVENT_ID = re.compile(r"<summary><code>(evt_\w+)</code></summary>")


def event_ids(html: str) -> list[str]:
    return EVENT_ID.findall(html)


def feed_ids(world: World) -> list[str]:
    response = world.partner.client.get(
        "/v1/events", params={"limit": 100}, headers=world.workspace.headers
    )
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["events"]]


def test_the_events_page_lists_the_teams_events_newest_first_without_values(
    world: World,
) -> None:
    assert world.partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get("/dashboard/events")
    assert page.status_code == 200, page.text
    assert event_ids(page.text) == list(reversed(feed_ids(world)))
    assert "resource.secrets.updated" in page.text
    assert "resource db1" in page.text
    assert MARKER not in page.text
    other = world.other
    assert other.installation_id not in page.text
    assert world.other_project_id not in page.text


def test_the_events_page_pages_back_with_a_cursor_and_keeps_one_type(world: World) -> None:
    for name in ("a", "b", "c"):
        world.workspace.create_project(name)
    client = sign_in(world.partner.client, world.partner.user_token)
    newest = list(reversed(feed_ids(world)))
    first = client.get("/dashboard/events", params={"limit": 2}).text
    assert event_ids(first) == newest[:2]
    older = re.search(r'href="(/dashboard/events\?before=[^"]+)"', first)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&") + "&limit=2").text
    assert event_ids(second) == newest[2:4]
    # htmx asks for the list alone.
    part = client.get(older.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}).text
    assert part.startswith('<div id="events"')
    kept = client.get("/dashboard/events", params={"type": "project.created"}).text
    assert len(event_ids(kept)) == 4  # web, a, b, c
    assert "deployment.created</code>" not in kept


def test_the_events_page_refuses_another_teams_cursor_and_an_unknown_type_with_404(
    world: World,
) -> None:
    theirs = world.partner.client.get(
        "/v1/events", headers={"Authorization": f"Bearer {world.other.user_token}"}
    ).json()["events"][0]["id"]
    client = sign_in(world.partner.client, world.partner.user_token)
    for params in ({"before": theirs}, {"before": "evt_nope"}, {"type": "nope"}):
        answer = client.get("/dashboard/events", params=params)
        assert answer.status_code == 404, params
        assert "There is nothing here for your team." in answer.text


def test_the_webhook_page_shows_each_delivery_and_redelivers_a_failed_one(
    world: World, hooked: Hooked
) -> None:
    hooked.receiver.script.statuses = [500]
    world.workspace.create_project("api")
    assert hooked.worker.run_once() == 1
    client = sign_in(world.partner.client, world.partner.user_token)
    listing = client.get("/dashboard/webhooks").text
    assert f'href="/dashboard/webhooks/{hooked.hook_id}"' in listing
    page = client.get(f"/dashboard/webhooks/{hooked.hook_id}").text
    assert MARKER not in page
    row = re.search(r"<tr>\s*<th scope=\"row\"><code>project.created</code>.*?</tr>", page, re.S)
    assert row is not None
    assert 'class="badge stale">failed<' in row.group(0)
    assert "<td>500</td>" in row.group(0)
    action = re.search(r'action="(/dashboard/webhooks/[^"]+/redeliver)"', page)
    assert action is not None
    answer = client.post(
        action.group(1), data={"csrf_token": csrf_of(page)}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith('<div id="deliveries"')
    assert "Queued again" in answer.text
    assert 'class="badge stale">pending<' in answer.text
    assert hooked.worker.run_once() == 1
    delivered = client.get(f"/dashboard/webhooks/{hooked.hook_id}").text
    assert 'class="badge fresh">delivered<' in delivered
    assert "<td>200</td>" in delivered
    assert [r.signature_ok for r in hooked.receiver.received] == [True, True]
    assert len({r.body["id"] for r in hooked.receiver.received}) == 1


def test_a_redelivery_without_the_csrf_token_is_refused_and_queues_nothing(
    world: World, hooked: Hooked
) -> None:
    hooked.receiver.script.statuses = [500]
    world.workspace.create_project("api")
    assert hooked.worker.run_once() == 1
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get(f"/dashboard/webhooks/{hooked.hook_id}").text
    action = re.search(r'action="(/dashboard/webhooks/[^"]+/redeliver)"', page)
    assert action is not None
    for data in ({}, {"csrf_token": "not-the-session-token"}):
        assert client.post(action.group(1), data=data).status_code == 403
    assert hooked.worker.run_once() == 0
    assert 'class="badge stale">failed<' in client.get(f"/dashboard/webhooks/{hooked.hook_id}").text


def test_another_teams_webhook_is_not_found_and_cannot_be_redelivered(
    world: World, hooked: Hooked
) -> None:
    hooked.receiver.script.statuses = [500]
    world.workspace.create_project("api")
    assert hooked.worker.run_once() == 1
    mine = sign_in(world.partner.client, world.partner.user_token)
    action = re.search(
        r'action="(/dashboard/webhooks/[^"]+/redeliver)"',
        mine.get(f"/dashboard/webhooks/{hooked.hook_id}").text,
    )
    assert action is not None
    mine.post("/dashboard/sign-out", data={"csrf_token": csrf_of(mine.get("/dashboard").text)})
    theirs = sign_in(world.partner.client, world.other.user_token)
    assert hooked.hook_id not in theirs.get("/dashboard/webhooks").text
    for path in (f"/dashboard/webhooks/{hooked.hook_id}", "/dashboard/webhooks/hook_nope"):
        assert theirs.get(path).status_code == 404, path
    csrf = csrf_of(theirs.get("/dashboard").text)
    assert theirs.post(action.group(1), data={"csrf_token": csrf}).status_code == 404
    assert hooked.worker.run_once() == 0
