"""The dashboard in a real Chromium (Debian's `chromium`, driven by Playwright) against a
real uvicorn server on a free port, on SQLite.

One browser for the whole session; each test opens its own context (cookies of its own).
Every page visited is saved as a screenshot under `test-artifacts/screenshots/` (see
docs/testing.md), at a desktop width and at a phone's.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from keyturn.app import Runtime, create_app
from keyturn.domain.clock import SettableClock
from tests.conftest import Partner, admin_headers
from tests.dashboard.conftest import MARKER, Hooked, World, marked_secrets
from tests.partner_server import PartnerServer, sync

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

CHROMIUM = Path("/usr/bin/chromium")
SKIP_ENV_VAR = "KEYTURN_SKIP_BROWSER"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
# A webhook's deliveries, by its caption ("Newest 1 delivery", "Newest 2 deliveries").
DELIVERIES_TABLE = re.compile("^Newest [0-9]+ deliver")
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if os.environ.get(SKIP_ENV_VAR) == "1":
        pytest.skip(f"{SKIP_ENV_VAR}=1: browser tests skipped (CI never sets it)")
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install chromium` (what .ci/run does), "
            f"or set {SKIP_ENV_VAR}=1 on a machine without it",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    """A real uvicorn serving the app on a free port of 127.0.0.1; its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(runtime), log_level="warning", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        for _ in range(200):
            if uvicorn_server.started:
                break
            threading.Event().wait(0.025)
        assert uvicorn_server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    yield page
    context.close()


# Markup checks every page passes: one h1, a language, labelled fields, captioned tables
# with header cells, named buttons and links. Each returns the offending elements.
ACCESSIBILITY_CHECKS = {
    "one h1": "document.querySelectorAll('h1').length === 1 ? [] : ['h1']",
    "lang": "document.documentElement.lang ? [] : ['html']",
    "labelled fields": """[...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)""",
    "captioned tables": """[...document.querySelectorAll('table')]
        .filter(t => !t.caption || !t.querySelector('th')).map(t => t.outerHTML.slice(0, 80))""",
    "named controls": """[...document.querySelectorAll('a, button')]
        .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)""",
}


def shoot(page: Page, name: str) -> None:
    """Save the page at desktop and phone width, and check it shows no secret value and
    passes the markup checks."""
    assert MARKER not in page.content(), f"{name}: a secret value is on the page"
    for check, script in ACCESSIBILITY_CHECKS.items():
        assert page.evaluate(script) == [], f"{name}: fails {check!r}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    # Readable at a phone's width: nothing but the tables' own scrolling boxes overflows.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than a phone"
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    assert desktop is not None
    page.set_viewport_size(desktop)


def sign_in(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/dashboard")
    expect(page).to_have_url(f"{base}/dashboard/sign-in")
    page.get_by_label("User token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/dashboard")


def test_an_owner_signs_in_sees_every_page_and_signs_out(
    world: World, server: str, page: Page
) -> None:
    partner: Partner = world.partner
    page.goto(f"{server}/dashboard/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shoot(page, "sign-in")
    sign_in(page, server, partner.user_token)

    expect(page.get_by_role("heading", level=1)).to_have_text("Resources")
    expect(page.get_by_role("row").filter(has_text="db1")).to_contain_text("ready")
    assert world.other.installation_id not in page.content()
    shoot(page, "resources")

    page.get_by_role("link", name="db1").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("db1")
    expect(page.locator("ul.names").get_by_text("DATABASE_URL")).to_be_visible()
    expect(page.get_by_role("link", name="web", exact=True)).to_be_visible()
    shoot(page, "resource")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects")
    shoot(page, "projects")

    page.get_by_role("link", name="web", exact=True).click()
    expect(page.get_by_role("heading", name="Deployments")).to_be_visible()
    shoot(page, "project")

    page.get_by_role("link", name=world.deployment_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.deployment_id)
    expect(page.get_by_role("row").filter(has_text="db1")).to_contain_text("current")
    shoot(page, "deployment")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server}/dashboard/sign-in?signed_out=1")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{server}/dashboard/projects")
    expect(page).to_have_url(f"{server}/dashboard/sign-in")


def test_a_wrong_token_is_refused_with_a_clear_message(
    world: World, server: str, page: Page
) -> None:
    page.goto(f"{server}/dashboard/sign-in")
    page.get_by_label("User token").fill("kt_user_this_token_does_not_exist")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That token was not accepted")
    expect(page.get_by_label("User token")).to_have_attribute("aria-invalid", "true")
    shoot(page, "sign-in-refused")
    page.goto(f"{server}/dashboard")
    expect(page).to_have_url(f"{server}/dashboard/sign-in")


def test_a_form_posted_without_its_csrf_token_is_refused_with_403(
    world: World, server: str, page: Page
) -> None:
    sign_in(page, server, world.partner.user_token)
    page.eval_on_selector("form.sign-out input[name=csrf_token]", "input => input.remove()")
    with page.expect_response(f"{server}/dashboard/sign-out") as refused:
        page.get_by_role("button", name="Sign out").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Refused")
    # Nothing was done: the session still stands.
    page.goto(f"{server}/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Resources")


def test_the_pages_work_from_the_keyboard(world: World, server: str, page: Page) -> None:
    page.goto(f"{server}/dashboard/sign-in")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="keyturn")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("User token")).to_be_focused()
    page.keyboard.type(world.partner.user_token)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server}/dashboard")
    # Tab from the top reaches the resource's link, and Enter follows it.
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "db1":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("db1")


def usage_row(page: Page, name: str, versions: str) -> Locator:
    return (
        page.get_by_role("table", name="Usage ledger")
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=name))
        .filter(has_text=versions)
    )


def test_the_ledger_changes_after_a_rotation_and_redeploy_stale_stops_the_old_value_serving(
    world: World, server: str, page: Page, clock: SettableClock
) -> None:
    partner = world.partner
    sign_in(page, server, partner.user_token)
    page.goto(f"{server}/dashboard/resources/{partner.installation_id}/db1")
    expect(usage_row(page, "DATABASE_URL", "v1 to now")).to_contain_text("current")

    # The partner rotates the database password: the deployment still runs version 1.
    clock.advance(60_000)
    assert partner.put_secrets({"secrets": marked_secrets("v2")[:1], "partial": True})[0] == 201
    page.reload()
    old = usage_row(page, "DATABASE_URL", "v1")
    expect(old).to_contain_text("still in use")
    expect(old.get_by_role("cell").nth(3)).to_have_text("1")  # serving
    expect(page.get_by_role("table", name="1 stale deployment")).to_contain_text("serving")
    expect(page.get_by_role("img", name="Live and serving deployments per value")).to_be_visible()
    shoot(page, "resource-ledger")

    clock.advance(60_000)
    page.get_by_role("button", name="Redeploy stale").click()
    expect(page.get_by_role("status").filter(has_text="Redeployed")).to_have_text(
        "Redeployed 1 deployment with the current version."
    )
    old = usage_row(page, "DATABASE_URL", "v1")
    expect(old.get_by_role("cell").nth(2)).to_have_text("1")  # still live at its own URL
    expect(old.get_by_role("cell").nth(3)).to_have_text("0")  # no longer serving
    expect(usage_row(page, "DATABASE_URL", "v2 to now").get_by_role("cell").nth(3)).to_have_text(
        "1"
    )
    expect(page.get_by_role("button", name="Redeploy stale")).to_have_count(0)
    shoot(page, "resource-redeployed")


def test_a_rotation_requested_in_the_browser_completes_against_a_real_partner(
    world: World, server: str, page: Page
) -> None:
    partner = world.partner
    partner_api = PartnerServer(
        jwks_url=f"{server}/.well-known/jwks",
        issuer=server,
        audience=partner.integration_id,
        default=sync(marked_secrets("rotated")),
    )
    partner_api.start()
    try:
        response = partner.client.patch(
            f"/v1/admin/integrations/{partner.integration_id}",
            json={"baseUrl": partner_api.base_url},
            headers=admin_headers(),
        )
        assert response.status_code == 200, response.text
        sign_in(page, server, partner.user_token)
        page.goto(f"{server}/dashboard/resources/{partner.installation_id}/db1")
        # The clock stays where it is: the partner checks the token's times on its own clock.
        page.get_by_label("Reason (optional)").fill("the old password was in a log")
        page.get_by_label("Hours the old secrets stay valid").fill("24")
        page.get_by_role("button", name="Request rotation").click()
        expect(page.get_by_role("status").filter(has_text="partner rotated")).to_be_visible()
        history = page.get_by_role("table", name="Rotation history")
        expect(history.get_by_role("row").nth(1)).to_contain_text("completed")
        expect(history).to_contain_text("the old password was in a log")
        # The partner verified keyturn's token against its JWKS, over HTTP.
        assert [r.verification_error for r in partner_api.received] == [None]
        expect(usage_row(page, "DATABASE_URL", "v1")).to_contain_text("still in use")
        shoot(page, "resource-rotated")
    finally:
        partner_api.stop()


def test_an_owner_sees_an_event_after_a_change_and_redelivers_a_failed_delivery(
    world: World, server: str, page: Page, hooked: Hooked
) -> None:
    partner = world.partner
    hooked.receiver.script.statuses = [500]
    sign_in(page, server, partner.user_token)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Events")

    # The partner rotates a secret: the event is at the top of the feed, without the value.
    assert partner.put_secrets({"secrets": marked_secrets("v2")[:1], "partial": True})[0] == 201
    page.reload()
    newest = page.get_by_role("table", name="Newest events").get_by_role("row").nth(1)
    expect(newest).to_contain_text("resource.secrets.updated")
    expect(newest).to_contain_text("resource db1")
    newest.get_by_text("evt_").click()  # unfolds the payload: names and versions only
    expect(newest.locator("pre.payload")).to_contain_text('"changed": [')
    shoot(page, "events")
    page.get_by_label("Type").select_option("project.created")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("table", name="Newest events of type project.created")).to_be_visible()

    # The receiver refused that event's delivery once: the worker gives up after one attempt.
    assert hooked.worker.run_once() == 1
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    shoot(page, "webhooks")
    page.get_by_role("link", name=hooked.hook_id).click()
    row = page.get_by_role("table", name=DELIVERIES_TABLE).get_by_role("row").nth(1)
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("500")
    shoot(page, "webhook")

    row.get_by_role("button", name=re.compile("^Redeliver")).click()
    expect(page.get_by_role("status")).to_contain_text("Queued again")
    expect(row).to_contain_text("pending")
    assert hooked.worker.run_once() == 1
    page.reload()
    row = page.get_by_role("table", name=DELIVERIES_TABLE).get_by_role("row").nth(1)
    expect(row).to_contain_text("delivered")
    expect(row).to_contain_text("200")
    # The receiver got the event twice, with the same id, each signed with the hook's secret.
    received = hooked.receiver.received
    assert [r.signature_ok for r in received] == [True, True]
    assert received[0].body == received[1].body
    shoot(page, "webhook-redelivered")
