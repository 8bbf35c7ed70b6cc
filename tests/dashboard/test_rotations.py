"""Requesting a rotation from the dashboard, against a real partner server on a free port."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import admin_headers
from tests.dashboard.conftest import MARKER, World, csrf_of, marked_secrets, sign_in
from tests.partner_server import PartnerServer, deferred, sync


@pytest.fixture
def partner_api(world: World) -> Iterator[PartnerServer]:
    """The partner's API as the integration's `baseUrl`; it answers with new secrets at once.

    Tokens are not verified here (no keyturn socket to fetch the JWKS from): the browser test
    and tests/http/test_rotations.py verify them.
    """
    server = PartnerServer(default=sync(marked_secrets("rotated")))
    server.start()
    set_base_url(world, server.base_url)
    yield server
    server.stop()


def set_base_url(world: World, base_url: str | None) -> None:
    response = world.partner.client.patch(
        f"/v1/admin/integrations/{world.partner.integration_id}",
        json={"baseUrl": base_url},
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text


def resource_path(world: World) -> str:
    return f"/dashboard/resources/{world.partner.installation_id}/db1"


def rotate(world: World, **form: str) -> str:
    """Post the rotation form; the location it sends the browser to."""
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get(resource_path(world)).text
    answer = client.post(
        f"{resource_path(world)}/rotate",
        data={"csrf_token": csrf_of(page), **form},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def test_a_rotation_the_partner_answers_at_once_completes(
    world: World, partner_api: PartnerServer
) -> None:
    location = rotate(world, reason="leaked in a log", delay_hours="24")
    assert location == f"{resource_path(world)}?rotation=completed#rotations-heading"
    assert [r.body for r in partner_api.received] == [
        {"reason": "leaked in a log", "delayOldSecretsExpirationHours": 24.0}
    ]
    page = world.partner.client.get(location).text
    assert "The partner rotated the secrets: a new version is in force." in page
    history = page.split("Rotation history, newest first", 1)[1]
    assert '<span class="badge fresh">completed</span>' in history
    assert "<td>leaked in a log</td>" in history
    assert "<strong>Version 2</strong> · rotation" in page
    assert MARKER not in page
    # The partner said it revokes the old values 24 hours after the rotation.
    usage = page.split("Usage ledger", 1)[1].split("</table>", 1)[0]
    superseded = re.findall(r"<td><time datetime=\"([^\"]+)\">", usage)
    assert len(superseded) == 4  # two old values: superseded at, and revoked at


def test_a_rotation_the_partner_defers_is_pending(world: World, partner_api: PartnerServer) -> None:
    partner_api.answer(deferred())
    location = rotate(world)
    assert location.endswith("?rotation=pending#rotations-heading")
    assert [r.body for r in partner_api.received] == [{}]
    page = world.partner.client.get(location).text
    assert '<span class="badge safe">pending</span>' in page
    again = rotate(world)
    assert again.endswith("?rotation=rotation_in_progress#rotations-heading")
    assert "A rotation of this resource is already pending." in world.partner.client.get(again).text


def test_a_rotation_without_a_partner_api_is_not_supported(world: World) -> None:
    location = rotate(world, reason="routine")
    assert location.endswith("?rotation=rotation_not_supported#rotations-heading")
    page = world.partner.client.get(location).text
    assert "This integration has no partner API to ask for a rotation." in page
    assert "No rotation requested yet." in page


@pytest.mark.parametrize(
    ("form", "outcome"),
    [
        ({"delay_hours": "721"}, "bad_delay"),
        ({"delay_hours": "-1"}, "bad_delay"),
        ({"delay_hours": "nan"}, "bad_delay"),
        ({"delay_hours": "soon"}, "bad_delay"),
        ({"reason": "x" * 1001}, "bad_reason"),
    ],
)
def test_a_bad_rotation_form_asks_the_partner_nothing(
    world: World, partner_api: PartnerServer, form: dict[str, str], outcome: str
) -> None:
    location = rotate(world, **form)
    assert location.endswith(f"?rotation={outcome}#rotations-heading")
    assert partner_api.received == []


def test_a_rotation_form_without_the_csrf_token_is_refused_and_asks_nothing(
    world: World, partner_api: PartnerServer
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    answer = client.post(f"{resource_path(world)}/rotate", data={"reason": "x"})
    assert answer.status_code == 403
    assert partner_api.received == []
    assert "No rotation requested yet." in client.get(resource_path(world)).text


def test_the_resources_page_shows_each_resources_last_rotation(
    world: World, partner_api: PartnerServer
) -> None:
    page = sign_in(world.partner.client, world.partner.user_token).get("/dashboard").text
    assert re.search(r"<td>none</td>\s*</tr>", page)
    partner_api.answer(deferred())
    rotate(world)
    page = world.partner.client.get("/dashboard").text
    assert '<span class="badge safe">requested</span>' in page
