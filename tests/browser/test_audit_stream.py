"""The audit log's "Live" toggle, in Chromium, against the ASGI server (uvicorn in a thread)."""

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from access.scopes import Role
from livestream import fanout
from tests.factories import MembershipFactory, TeamFactory, make_key
from tests.test_audit_stream_live import ASGIServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(transactional_db, settings):
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.5
    settings.AUDIT_STREAM_POLL_SECONDS = 0.5
    with ASGIServer() as running:
        yield running


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def call(server, raw, team, path):
    response = httpx.get(
        f"{server.url}/api/v1{path}", headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
    )
    assert response.status_code == 200


def wait_for_no_stream(seconds=5):
    deadline = time.monotonic() + seconds
    while fanout.open_streams and time.monotonic() < deadline:
        time.sleep(0.05)
    return fanout.open_streams == 0


def go_live(page, sign_in, team):
    sign_in(page, "ada")
    page.goto(f"/app/{team.pk}/audit-log")
    page.get_by_role("heading", name="Audit log").wait_for()
    page.get_by_role("button", name="Live").click()
    expect(page.get_by_role("status").filter(has_text=re.compile("^Connected$"))).to_be_visible()


def test_a_key_call_appears_in_the_open_page_within_two_seconds(page, sign_in, server, ada, acme):
    _, raw = make_key(ada, acme, ["read"])
    go_live(page, sign_in, acme)
    started = time.monotonic()
    call(server, raw, acme, "/campaigns")
    expect(page.get_by_role("cell", name="GET /api/v1/campaigns")).to_be_visible(timeout=2_000)
    assert time.monotonic() - started < 2
    assert page.get_by_role("button", name="Live").get_attribute("aria-pressed") == "true"
    # The stream token went into the URL of the stream, never into web storage.
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "eyJ" not in stored


def test_a_dropped_stream_resumes_without_losing_or_repeating_events(page, sign_in, server, settings, ada, acme):
    settings.AUDIT_STREAM_MAX_SECONDS = 1.5  # the server ends each stream after 1.5 s: the page reconnects
    _, raw = make_key(ada, acme, ["read"])
    go_live(page, sign_in, acme)
    paths = ["/campaigns", "/domains", "/offers", "/sources", "/networks", "/stats"]
    for path in paths:  # spread over several connections, some while the page reconnects
        call(server, raw, acme, path)
        time.sleep(0.6)
    for path in paths:
        expect(page.get_by_role("cell", name=f"GET /api/v1{path}", exact=True)).to_have_count(1, timeout=5_000)
    time.sleep(2)  # a few more reconnections: still once each
    for path in paths:
        expect(page.get_by_role("cell", name=f"GET /api/v1{path}", exact=True)).to_have_count(1)


def test_the_stream_stops_when_the_user_switches_teams_or_signs_out(page, sign_in, server, ada, acme):
    globex = TeamFactory(name="Globex")
    MembershipFactory(team=globex, user=ada, role=Role.VIEWER)
    go_live(page, sign_in, acme)
    assert fanout.open_streams == 1
    page.locator("#team-selector").select_option(str(globex.pk))
    page.wait_for_url(f"**/app/{globex.pk}/audit-log")
    assert wait_for_no_stream(), "the stream outlived its page"
    page.locator("#team-selector").select_option(str(acme.pk))
    page.wait_for_url(f"**/app/{acme.pk}/audit-log")
    page.get_by_role("button", name="Live").click()
    expect(page.get_by_role("status").filter(has_text=re.compile("^Connected$"))).to_be_visible()
    page.locator("#logout").click()
    page.wait_for_url("**/login*")
    assert wait_for_no_stream(), "the stream outlived the session"


def test_losing_admin_ends_the_live_view_with_a_message(page, sign_in, server, ada, acme):
    go_live(page, sign_in, acme)
    acme.memberships.filter(user=ada).update(role=Role.VIEWER)
    page.get_by_role("alert").get_by_text("no longer have admin access").wait_for()
    assert page.get_by_role("button", name="Live").get_attribute("aria-pressed") == "false"
    assert wait_for_no_stream()
