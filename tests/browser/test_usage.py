"""Usage at a glance in the dashboard, in Chromium: the team's chart on the overview and a key's
on its page, drawn by the vendored uPlot (no request leaves the server's origin), with the same
numbers in a table; at a desktop and a phone width."""

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.factories import count_usage, make_key

pytestmark = pytest.mark.django_db(transaction=True)


def call(live_server, path, raw, team):
    request = urllib.request.Request(
        live_server.url + "/api/v1" + path, headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def used_key(ada, acme, live_server):
    key, raw = make_key(ada, acme, ["read:campaigns"], name="Nightly")
    assert [call(live_server, "/campaigns", raw, acme) for _ in range(3)] == [200, 200, 200]
    assert call(live_server, "/offers", raw, acme) == 403
    count_usage()
    return key


@pytest.mark.parametrize("width", [1280, 390])
def test_the_overview_and_the_key_page_chart_their_requests(new_context, sign_in, acme, used_key, live_server, width):
    page = new_context(viewport={"width": width, "height": 844}).new_page()
    origins = set()
    page.on("request", lambda request: origins.add(re.match(r"^\w+://[^/]+", request.url).group(0)))
    sign_in(page, "ada")
    usage = page.locator("#team-usage")
    expect(usage.locator(".usage-total")).to_contain_text("4 requests in the last 24 hours")
    expect(usage.locator(".usage-chart canvas")).to_be_visible()  # drawn by uPlot
    assert page.evaluate("typeof window.uPlot") == "function"
    expect(usage.get_by_text("insufficient_scope")).to_be_visible()
    expect(usage.locator(".usage-routes")).to_contain_text("GET /api/v1/campaigns")
    usage.get_by_text("Show the numbers").click()
    assert usage.locator(".usage-table tbody tr").count() == 24
    usage.get_by_role("button", name="Last 30 days").click()
    expect(usage.get_by_role("button", name="Last 30 days")).to_have_attribute("aria-pressed", "true")
    expect(usage.locator(".usage-total")).to_contain_text("4 requests in the last 30 days")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.goto(f"/app/{acme.pk}/settings/api-keys/{used_key.pk}")
    key_usage = page.locator("#key-usage")
    expect(key_usage.locator(".usage-total")).to_contain_text("4 requests")
    expect(key_usage.locator(".usage-chart canvas")).to_be_visible()
    expect(key_usage.locator(".usage-last")).to_contain_text("127.0.0.1")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert origins == {live_server.url}  # the chart library is the project's own file


def test_a_member_sees_their_keys_usage_but_not_the_teams(new_context, sign_in, acme, live_server):
    from access.scopes import Role
    from tests.factories import MembershipFactory, UserFactory

    bob = UserFactory(username="bob")
    MembershipFactory(team=acme, user=bob, role=Role.MEMBER)
    key, raw = make_key(bob, acme, ["read:campaigns"], name="Bob's")
    call(live_server, "/campaigns", raw, acme)
    count_usage()
    page = new_context().new_page()
    sign_in(page, "bob")
    assert page.locator("#team-usage").count() == 0
    page.goto(f"/app/{acme.pk}/settings/api-keys/{key.pk}")
    expect(page.locator("#key-usage .usage-total")).to_contain_text("1 request in the last 24 hours")


def test_an_integrations_page_charts_its_admin_and_content_key_requests(page, sign_in, ada, acme, live_server):
    from integrations.tokens import sign
    from tests.factories import make_integration

    issued = make_integration(ada, acme, ["read"], name="Blog")
    request = urllib.request.Request(
        live_server.url + "/api/v1/campaigns",
        headers={"Authorization": f"Ghost {sign(issued.admin_key)}", "X-Team-Id": str(acme.pk)},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    count_usage()
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/integrations/{issued.integration.pk}")
    usage = page.locator("#integration-usage")
    expect(usage.locator(".usage-total")).to_contain_text("1 request in the last 24 hours")
    expect(usage.locator(".usage-chart canvas")).to_be_visible()
