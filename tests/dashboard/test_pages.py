"""The dashboard's pages through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from keyturn.domain.clock import SettableClock
from tests.dashboard.conftest import MARKER, World, csrf_of, marked_secrets, sign_in

COOKIE = "keyturn_dashboard"


def pages_of(world: World) -> list[str]:
    partner = world.partner
    return [
        "/dashboard",
        f"/dashboard/resources/{partner.installation_id}/db1",
        "/dashboard/projects",
        f"/dashboard/projects/{world.project_id}",
        f"/dashboard/deployments/{world.deployment_id}",
        "/dashboard/events",
        "/dashboard/webhooks",
    ]


def test_signing_in_with_a_user_token_shows_the_team_resources(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "<h1>Resources</h1>" in page.text
    assert f"/dashboard/resources/{world.partner.installation_id}/db1" in page.text
    assert "acme-team" in page.text


def test_the_session_cookie_is_http_only_strict_and_holds_no_token(world: World) -> None:
    client = world.partner.client
    form = client.get("/dashboard/sign-in")
    answer = client.post(
        "/dashboard/sign-in",
        data={"token": world.partner.user_token, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Max-Age=28800" in cookie
    assert "Path=/dashboard" in cookie
    assert world.partner.user_token not in cookie
    assert world.partner.user_token not in answer.headers["location"]


def test_a_wrong_token_is_refused_with_a_clear_message(world: World) -> None:
    client = world.partner.client
    form = client.get("/dashboard/sign-in")
    answer = client.post(
        "/dashboard/sign-in",
        data={"token": "kt_user_not_a_real_token_at_all", "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert "That token was not accepted" in answer.text
    assert 'role="alert"' in answer.text
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_partner_token_is_refused_as_not_a_user_token(world: World) -> None:
    client = world.partner.client
    form = client.get("/dashboard/sign-in")
    answer = client.post(
        "/dashboard/sign-in",
        data={"token": world.partner.token, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "That is not a user token" in answer.text
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_sign_in_post_without_the_csrf_token_is_refused_with_403(world: World) -> None:
    client = world.partner.client
    client.get("/dashboard/sign-in")
    answer = client.post(
        "/dashboard/sign-in", data={"token": world.partner.user_token}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert "security token is missing" in answer.text
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_sign_in_post_with_another_forms_csrf_token_is_refused(world: World) -> None:
    client = world.partner.client
    stale = csrf_of(client.get("/dashboard/sign-in").text)
    client.get("/dashboard/sign-in")  # a new form: a new token, the old one no longer counts
    answer = client.post(
        "/dashboard/sign-in",
        data={"token": world.partner.user_token, "csrf_token": stale},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_a_sign_out_without_the_csrf_token_is_refused_and_keeps_the_session(
    world: World,
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    answer = client.post("/dashboard/sign-out", data={}, follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/dashboard").status_code == 200


def test_signing_out_ends_the_session(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    csrf = csrf_of(client.get("/dashboard").text)
    answer = client.post("/dashboard/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?signed_out=1"
    assert COOKIE not in client.cookies
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    assert "You are signed out." in client.get(answer.headers["location"]).text


def test_pages_need_a_session_and_send_to_sign_in(world: World) -> None:
    for path in pages_of(world):
        answer = world.partner.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/dashboard/sign-in")


def test_a_tampered_session_cookie_is_not_a_session(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    value = client.cookies[COOKIE]
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_no_page_renders_a_secret_value(world: World) -> None:
    partner = world.partner
    # A second version, and a deployment of each: both values are somewhere on the pages.
    assert partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    world.workspace.deploy({"name": "web", "target": "preview"})
    client = sign_in(partner.client, partner.user_token)
    for path in pages_of(world):
        page = client.get(path)
        assert page.status_code == 200, path
        assert MARKER not in page.text, path
        assert "DATABASE_URL" in page.text or path != pages_of(world)[1]


def test_the_resource_page_lists_secret_names_and_connected_projects(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get(f"/dashboard/resources/{world.partner.installation_id}/db1").text
    assert "<code>API_KEY</code>" in page
    assert "<code>DATABASE_URL</code>" in page
    assert f'href="/dashboard/projects/{world.project_id}">web</a>' in page
    assert "production, preview, development" in page


def test_the_deployment_page_shows_its_version_and_turns_stale_after_a_rotation(
    world: World,
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/deployments/{world.deployment_id}"
    before = client.get(path).text
    assert "stale" not in before
    assert re.search(r"<td>1</td>\s*<td>1</td>", before)
    assert world.partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    after = client.get(path).text
    assert re.search(r"<td>1</td>\s*<td>2</td>", after)
    assert '<span class="badge stale">stale</span>' in after


def test_the_project_page_shows_connections_and_deployments(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get(f"/dashboard/projects/{world.project_id}").text
    assert f'href="/dashboard/deployments/{world.deployment_id}"' in page
    assert f"/dashboard/resources/{world.partner.installation_id}/db1" in page
    assert "Newest 1 of 1 deployments" in page


def test_more_deployments_come_as_an_htmx_part(world: World) -> None:
    for _ in range(21):
        world.workspace.deploy({"name": "web", "target": "preview"})
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/projects/{world.project_id}"
    full = client.get(path).text
    assert "Newest 20 of 22 deployments" in full
    assert f'hx-get="{path}?deployments=40"' in full
    part = client.get(f"{path}?deployments=40", headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert part.text.startswith('<div id="deployments"')
    assert "<html" not in part.text
    assert "Newest 22 of 22 deployments" in part.text


def test_the_projects_page_lists_the_team_projects_with_their_counts(world: World) -> None:
    world.workspace.create_project("api")
    client = sign_in(world.partner.client, world.partner.user_token)
    page = client.get("/dashboard/projects").text
    assert "2 projects in team" in page
    assert re.search(r">web</a></th>\s*<td>db1</td>\s*<td>1</td>", page)
    assert re.search(r">api</a></th>\s*<td>none</td>\s*<td>0</td>", page)


def test_another_teams_things_are_never_listed_and_answer_404(world: World) -> None:
    other = world.other
    client = sign_in(world.partner.client, world.partner.user_token)
    for path in ("/dashboard", "/dashboard/projects", f"/dashboard/projects/{world.project_id}"):
        page = client.get(path).text
        assert other.installation_id not in page
        assert world.other_project_id not in page
        assert world.other_deployment_id not in page
    for path in (
        f"/dashboard/resources/{other.installation_id}/db1",
        f"/dashboard/projects/{world.other_project_id}",
        f"/dashboard/deployments/{world.other_deployment_id}",
        "/dashboard/projects/prj_does_not_exist",
        "/dashboard/deployments/dpl_does_not_exist",
        f"/dashboard/resources/{world.partner.installation_id}/nope",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "There is nothing here for your team." in answer.text


def test_an_id_no_row_can_have_is_not_found(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    assert client.get("/dashboard/projects/prj_%00x").status_code == 404


def test_pages_load_nothing_from_outside_and_forbid_it(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    for path in pages_of(world):
        answer = client.get(path)
        assert not re.search(r'(src|href)="(https?:)?//', answer.text), path
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
    script = client.get("/dashboard/static/htmx.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:200]
    assert client.get("/dashboard/static/dashboard.css").status_code == 200


def test_the_dashboard_is_not_part_of_the_api_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/dashboard")]


def test_the_resource_page_shows_the_first_connected_projects_and_more_on_demand(
    world: World,
) -> None:
    for index in range(50):
        assert (
            world.workspace.connect(world.workspace.create_project(f"p{index:02d}")).status_code
            == 201
        )
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/resources/{world.partner.installation_id}/db1"
    page = client.get(path).text
    assert "First 50 of 51 projects connected to db1" in page
    assert ">p00</a>" in page
    assert ">web</a>" not in page  # by name: "web" comes after p00..p49
    part = client.get(f"{path}?projects=100", headers={"HX-Request": "true"}).text
    assert part.startswith('<div id="connections"')
    assert ">web</a>" in part
    assert "Show 50 more" not in part


def test_a_session_ends_after_eight_hours_on_the_services_clock(
    world: World, clock: SettableClock
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    clock.advance(8 * 60 * 60 * 1000 - 1)
    assert client.get("/dashboard").status_code == 200
    clock.advance(1)
    answer = client.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?expired=1"
    assert "Your session has ended." in client.get(answer.headers["location"]).text


def test_the_resource_page_lists_stale_deployments_with_their_projects(
    world: World, clock: SettableClock
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/resources/{world.partner.installation_id}/db1"
    assert "No stale deployment: every live deployment runs version 1." in client.get(path).text
    clock.advance(1_000)
    old_preview = world.workspace.deploy({"name": "web", "target": "preview"})["id"]
    assert world.partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    clock.advance(1_000)
    newer_preview = world.workspace.deploy({"name": "web", "target": "preview"})["id"]
    page = client.get(path).text
    assert "2 stale deployments" in page
    stale_rows = re.findall(
        r'deployments/(dpl_\w+)">.*?(serving</span>|no: superseded)', page, re.S
    )
    assert dict(stale_rows) == {
        world.deployment_id: "serving</span>",  # still the newest production deployment
        old_preview: "no: superseded",  # a newer preview runs version 2
    }
    assert newer_preview not in page
    assert f'href="/dashboard/projects/{world.project_id}">web</a>' in page


def usage_rows(page: str) -> dict[str, tuple[str, str, str]]:
    """{"NAME versions": (state, live, serving)} from the usage ledger's table."""
    table = page.split("Usage ledger: live and serving deployments per value", 1)[1]
    table = table.split("</table>", 1)[0]
    return {
        f"{name} {versions}": (state, live, serving)
        for name, versions, state, live, serving in re.findall(
            r"<th scope=\"row\"><code>(\w+)</code></th>\s*<td>([^<]+)</td>\s*"
            r"<td><span class=\"badge \w+\">([^<]+)</span></td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>",
            table,
        )
    }


def test_the_resource_page_shows_the_usage_ledger_and_the_version_timeline(
    world: World, clock: SettableClock
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/resources/{world.partner.installation_id}/db1"
    clock.advance(1_000)
    assert (
        world.partner.put_secrets({"secrets": marked_secrets("v2")[:1], "partial": True})[0] == 201
    )
    page = client.get(path).text
    assert usage_rows(page) == {
        "API_KEY v1 to now": ("current", "1", "1"),
        "DATABASE_URL v2 to now": ("current", "0", "0"),
        "DATABASE_URL v1": ("still in use", "1", "1"),
    }
    assert "<strong>Version 2</strong> · update" in page
    assert re.search(r"changed <code>DATABASE_URL</code>", page)
    assert re.search(r"added <code>API_KEY</code>, <code>DATABASE_URL</code>", page)
    assert 'class="chart"' in page
    assert "DATABASE_URL v1 (safe to revoke)" not in page
    assert MARKER not in page


def test_redeploy_stale_makes_the_old_value_stop_serving(
    world: World, clock: SettableClock
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/resources/{world.partner.installation_id}/db1"
    assert world.partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    page = client.get(path).text
    assert 'action="' + path + '/redeploy-stale"' in page
    clock.advance(1_000)
    answer = client.post(
        f"{path}/redeploy-stale", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{path}?redeployed=1#stale-heading"
    after = client.get(answer.headers["location"]).text
    assert "Redeployed 1 deployment with the current version." in after
    rows = usage_rows(after)
    assert rows["DATABASE_URL v1"] == ("still in use", "1", "0")
    assert rows["DATABASE_URL v2 to now"] == ("current", "1", "1")
    assert "Redeploy stale</button>" not in after  # nothing stale serves any more
    # Once the old deployment is gone, its value is safe to revoke.
    deleted = client.delete(
        f"/v13/deployments/{world.deployment_id}", headers=world.workspace.headers
    )
    assert deleted.status_code == 200
    final = client.get(path).text
    assert usage_rows(final)["DATABASE_URL v1"] == ("safe to revoke", "0", "0")
    assert '<tr class="safe">' in final
    assert "DATABASE_URL v1 (safe to revoke)" in final


def test_redeploy_stale_without_the_csrf_token_is_refused_and_redeploys_nothing(
    world: World,
) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    path = f"/dashboard/resources/{world.partner.installation_id}/db1"
    assert world.partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    for data in ({}, {"csrf_token": "not-the-session-token"}):
        answer = client.post(f"{path}/redeploy-stale", data=data, follow_redirects=False)
        assert answer.status_code == 403
    listed = client.get("/v6/deployments", headers=world.workspace.headers).json()
    assert len(listed["deployments"]) == 1


def test_redeploy_stale_of_another_teams_resource_is_not_found(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    csrf = csrf_of(client.get("/dashboard").text)
    answer = client.post(
        f"/dashboard/resources/{world.other.installation_id}/db1/redeploy-stale",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 404


def test_the_resources_page_counts_old_values_in_use_and_safe_to_revoke(world: World) -> None:
    client = sign_in(world.partner.client, world.partner.user_token)
    assert world.partner.put_secrets({"secrets": marked_secrets("v2")})[0] == 201
    page = client.get("/dashboard").text
    # Both secrets changed; the one deployment still runs both old values.
    assert '<span class="badge stale">2 in use</span>' in page
    deleted = client.delete(
        f"/v13/deployments/{world.deployment_id}", headers=world.workspace.headers
    )
    assert deleted.status_code == 200
    page = client.get("/dashboard").text
    assert '<span class="badge safe">2 safe to revoke</span>' in page
    assert "in use</span>" not in page
