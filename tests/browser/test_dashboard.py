"""The dashboard, used the way a person uses it: in Chromium, through the public API."""

import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from playwright.sync_api import expect

from access.scopes import Role
from accounts.models import RefreshFamily
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def code_in(message) -> str:
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def api_call(live_server, path, key, team):
    request = urllib.request.Request(
        live_server.url + "/api/v1" + path, headers={"Authorization": f"Bearer {key}", "X-Team-Id": str(team.pk)}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_register_verify_and_log_in(page):
    page.goto("/register")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("E-mail").fill("grace@example.com")
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/verify?email=*")
    page.get_by_label("6-digit code").fill(code_in(mail.outbox[-1]))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/login*")
    page.get_by_label("Username or e-mail").fill("grace@example.com")
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/app/**/overview")
    assert page.locator("#my-role").inner_text() == "owner"  # the personal team


def test_switching_teams_changes_the_x_team_id_of_the_requests(page, sign_in, ada, acme):
    globex = TeamFactory(name="Globex")
    MembershipFactory(team=globex, user=ada, role=Role.VIEWER)
    sign_in(page, "ada")
    seen = []
    page.on(
        "request",
        lambda request: seen.append(request.headers.get("x-team-id")) if "/api/v1/stats" in request.url else None,
    )
    page.goto(f"/app/{acme.pk}/overview")
    page.get_by_text("Campaigns by status").wait_for()
    with page.expect_request(lambda request: "/api/v1/stats" in request.url) as switched:
        page.locator("#team-selector").select_option(str(globex.pk))
    page.wait_for_url(f"**/app/{globex.pk}/overview")
    assert switched.value.headers["x-team-id"] == str(globex.pk)
    assert seen[-2:] == [str(acme.pk), str(globex.pk)]
    # The chosen team survives a reload, and it is in the URL.
    page.reload()
    page.wait_for_url(f"**/app/{globex.pk}/overview")
    assert page.locator("#my-role").inner_text() == "viewer"


def test_a_key_is_shown_once_works_and_stops_when_revoked(page, sign_in, ada, acme, live_server):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("CI")
    page.locator("input[value='read:campaigns']").check()
    page.locator("input[value='write:campaigns']").check()
    page.get_by_role("button", name="Create key").click()
    raw = page.get_by_label("API key", exact=True).input_value()
    assert raw.startswith("gf_") and page.get_by_text("It will not be shown again").is_visible()
    page.get_by_role("button", name="I have stored it").click()
    assert api_call(live_server, "/campaigns", raw, acme)[0] == 200
    row = page.get_by_role("row", name=re.compile("CI"))
    assert raw not in page.content() and raw[:11] in row.inner_text()
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    page.get_by_text("CI revoked.").wait_for()
    status, body = api_call(live_server, "/campaigns", raw, acme)
    assert (status, body["code"]) == (401, "key_revoked")


def test_a_key_is_disabled_and_enabled_from_its_row(page, sign_in, ada, acme, live_server):
    from tests.factories import make_key

    _, raw = make_key(ada, acme, ["read:campaigns"], name="Nightly")
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    row = page.get_by_role("row", name=re.compile("Nightly"))
    row.get_by_role("button", name="Disable").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable").click()
    page.get_by_text("Nightly disabled.").wait_for()
    assert api_call(live_server, "/campaigns", raw, acme)[1]["code"] == "key_disabled"
    row = page.get_by_role("row", name=re.compile("Nightly"))
    assert row.locator(".badge-disabled").inner_text() == "disabled"
    row.get_by_role("button", name="Enable").click()
    page.get_by_text("Nightly enabled.").wait_for()
    assert api_call(live_server, "/campaigns", raw, acme)[0] == 200


def test_an_integration_is_created_its_keys_work_and_regenerating_stops_the_old_ones(
    page, sign_in, ada, acme, live_server
):
    from integrations.tokens import sign

    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/integrations")
    page.get_by_role("button", name="New integration").click()
    page.get_by_label("Name", exact=True).fill("Shop widget")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_label(re.compile("Allowed origins")).fill("https://shop.example.com")
    page.get_by_role("button", name="Create integration").click()
    admin_key = page.get_by_label("API key", exact=True).input_value()
    assert re.fullmatch(r"[0-9a-f]{24}:[0-9a-f]{64}", admin_key)
    page.get_by_role("button", name="I have stored it").click()
    row = page.get_by_role("row", name=re.compile("Shop widget"))
    content_key = row.locator("code.content-key").inner_text()
    assert admin_key.split(":")[1] not in page.content()
    token = sign(admin_key)
    request = urllib.request.Request(
        live_server.url + "/api/v1/campaigns", headers={"Authorization": f"Ghost {token}", "X-Team-Id": str(acme.pk)}
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"{live_server.url}/api/content/v1/team?key={content_key}") as response:
        assert json.load(response)["name"] == "Acme"
    row.get_by_role("button", name="Regenerate Admin key").click()
    page.get_by_role("dialog").get_by_role("button", name="Regenerate").click()
    new_key = page.get_by_label("API key", exact=True).input_value()
    page.get_by_role("button", name="I have stored it").click()
    assert new_key != admin_key
    try:
        urllib.request.urlopen(request)
        raise AssertionError("the old Admin key still works")
    except urllib.error.HTTPError as error:
        assert (error.code, json.load(error)["code"]) == (401, "kid_unknown")
    page.get_by_role("link", name="Shop widget").click()
    page.get_by_role("heading", name="Integration activity").wait_for()
    expect(page.get_by_role("cell", name="api_request").first).to_be_visible()


def test_scopes_above_my_role_are_disabled_with_the_reason(page, sign_in, acme):
    UserFactory(username="vera")
    from accounts.models import User

    MembershipFactory(team=acme, user=User.objects.get(username="vera"), role=Role.MEMBER)
    sign_in(page, "vera")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    billing = page.locator("input[value='read:billing']")
    assert billing.is_disabled()
    assert "does not allow" in page.locator("label.scope", has=billing).get_attribute("title")
    assert page.locator("input[value='write:campaigns']").is_enabled()


def test_a_viewer_sees_no_create_buttons_and_no_admin_pages(page, sign_in, acme):
    viewer = UserFactory(username="vic")
    MembershipFactory(team=acme, user=viewer, role=Role.VIEWER)
    sign_in(page, "vic")
    page.goto(f"/app/{acme.pk}/campaigns")
    page.get_by_role("heading", name="Campaigns").wait_for()
    assert page.locator("#create").count() == 0
    assert page.get_by_role("link", name="Audit log").count() == 0
    assert page.locator("#invite").count() == 0 or not page.locator("#invite").is_visible()
    page.goto(f"/app/{acme.pk}/members")
    page.get_by_role("heading", name="Members").wait_for()
    assert page.locator("#invite").count() == 0


def test_invite_a_member_and_accept_in_a_second_browser(page, new_context, sign_in, ada, acme):
    bob = UserFactory(username="bob", email="bob@example.com")
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/members")
    page.get_by_role("button", name="Invite").click()
    page.get_by_label("E-mail").fill("bob@example.com")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to bob@example.com.").wait_for()
    link = re.search(r"(/invitations/accept\?token=\S+)", mail.outbox[-1].body).group(1)
    other = new_context().new_page()
    other.goto(link)
    other.get_by_role("link", name="Log in").click()
    other.get_by_label("Username or e-mail").fill("bob")
    other.get_by_label("Password").fill("correct-horse-battery")
    other.get_by_role("button", name="Log in").click()
    other.get_by_role("button", name="Join the team").click()
    other.wait_for_url(f"**/app/{acme.pk}/overview")
    assert other.locator("#my-role").inner_text() == "member"
    assert acme.memberships.filter(user=bob, role=Role.MEMBER).exists()


def test_the_session_survives_a_reload(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.reload()
    page.wait_for_url(f"**/app/{acme.pk}/overview")
    page.get_by_role("heading", level=1).wait_for()
    assert RefreshFamily.objects.filter(revoked_at__isnull=True).count() == 1


# Both tabs start a refresh at the same instant; without the cross-tab lock the second one would
# present the refresh token the first just spent, and the server would revoke the whole login.
RACE = """when => new Promise(resolve => setTimeout(async () => {
  const api = await import('/static/dashboard/api.js');
  resolve(await api.refresh());
}, when - Date.now()))"""


def test_two_tabs_refreshing_at_once_stay_signed_in(new_context, sign_in, ada, acme):
    context = new_context()
    first, second = context.new_page(), context.new_page()
    sign_in(first, "ada")
    second.goto(f"/app/{acme.pk}/overview")
    second.get_by_role("heading", level=1).wait_for()
    when = first.evaluate("Date.now()") + 500
    for page in (first, second):
        page.evaluate(f"when => {{ window.__race = ({RACE})(when); }}", when)
    assert [page.evaluate("window.__race") for page in (first, second)] == [True, True]
    assert not RefreshFamily.objects.filter(revoke_reason=RefreshFamily.RevokeReason.REUSE).exists()
    for page in (first, second):
        page.reload()
        page.wait_for_url("**/overview")
        page.get_by_role("heading", level=1).wait_for()
    assert RefreshFamily.objects.filter(revoked_at__isnull=True).count() == 1


def test_logging_out_in_one_tab_signs_out_the_other(new_context, sign_in, ada, acme):
    context = new_context()
    first, second = context.new_page(), context.new_page()
    sign_in(first, "ada")
    second.goto(f"/app/{acme.pk}/overview")
    second.get_by_role("heading", level=1).wait_for()
    first.locator("#logout").click()
    first.wait_for_url("**/login")
    second.wait_for_url("**/login")
    assert not RefreshFamily.objects.filter(revoked_at__isnull=True).exists()


def test_reset_the_password_through_the_link_in_the_mail(page, ada):
    page.goto("/forgot-password")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_role("button", name="Send reset code").click()
    page.wait_for_url("**/reset-password*")
    link = re.search(r"https?://\S+(/reset-password\?\S+)", mail.outbox[-1].body).group(1)
    page.goto(link)
    assert "token=" not in page.url  # the token leaves the address bar at once
    page.get_by_label("New password").fill("an-entirely-new-passphrase")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url("**/login")
    ada.refresh_from_db()
    assert ada.check_password("an-entirely-new-passphrase")


def test_a_cross_site_page_cannot_refresh_the_session(page, sign_in, ada, live_server):
    sign_in(page, "ada")
    family = RefreshFamily.objects.get(revoked_at__isnull=True)
    target = live_server.url + "/api/v1/auth/refresh"

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            body = (
                f'<form id="f" method="post" action="{target}" enctype="text/plain">'
                '<input name=\'{"refresh_token": "x", "y": "\' value=\'"}\'></form>'
                "<script>document.getElementById('f').submit()</script>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with page.expect_response(lambda response: response.url == target) as answer:
            page.goto(f"http://127.0.0.1:{server.server_port}/")
        assert answer.value.status != 200
    finally:
        server.shutdown()
    family.refresh_from_db()
    assert family.revoked_at is None
    page.goto("/app")
    page.wait_for_url("**/overview")  # still signed in: the session was neither rotated nor revoked


def test_losing_the_selected_team_switches_to_another(page, sign_in, ada, acme):
    gone = TeamFactory(name="Doomed")
    MembershipFactory(team=gone, user=ada, role=Role.MEMBER)
    sign_in(page, "ada")
    page.goto(f"/app/{gone.pk}/overview")
    page.get_by_text("Campaigns by status").wait_for()
    gone.delete()
    page.goto(f"/app/{gone.pk}/campaigns")
    page.wait_for_url(f"**/app/{acme.pk}/**")
    page.get_by_text("no longer have access").wait_for()


def test_the_dashboard_works_at_phone_width(new_context, sign_in, ada, acme):
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/members")
    page.get_by_role("heading", name="Members").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_campaigns_create_edit_delete_with_field_errors(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/campaigns")
    page.get_by_role("button", name="New campaign").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("x" * 100)
    dialog.get_by_label("Name").evaluate("input => input.removeAttribute('maxlength')")
    dialog.get_by_label("Name").fill("x" * 101)  # the API refuses it: its message lands by the field
    dialog.get_by_role("button", name="Save").click()
    dialog.locator("[data-field=name] .field-error").get_by_text("no more than 100").wait_for()
    dialog.get_by_label("Name").fill("Spring sale")
    dialog.get_by_label("Status").select_option("active")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("row", name=re.compile("Spring sale")).wait_for()
    page.get_by_role("row", name=re.compile("Spring sale")).get_by_role("button", name="Edit").click()
    page.get_by_role("dialog").get_by_label("Name").fill("Summer sale")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    page.get_by_role("row", name=re.compile("Summer sale")).get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_text("No campaigns yet.").wait_for()


def test_members_roles_and_the_last_owner_refusal_are_messages(page, sign_in, ada, acme):
    bob = UserFactory(username="bob")
    MembershipFactory(team=acme, user=bob, role=Role.MEMBER)
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/members")
    page.get_by_label("Role of bob").select_option("admin")
    page.get_by_role("dialog").get_by_role("button", name="Change role").click()  # asked first (issue 26)
    page.get_by_text("bob is now admin.").wait_for()
    assert acme.memberships.get(user=bob).role == Role.ADMIN
    page.get_by_role("row", name=re.compile("ada")).get_by_role("button", name="Leave team").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    page.get_by_role("alert").get_by_text("at least one owner").wait_for()  # a message, not a crash
    assert acme.memberships.get(user=ada).role == Role.OWNER


def test_the_audit_log_filters_and_loads_more(page, sign_in, ada, acme):
    from audit.models import Action, AuditEvent

    for n in range(60):
        AuditEvent.objects.create(action=Action.TEAM_UPDATED, team=acme, actor=ada, data={"n": n})
    AuditEvent.objects.create(action=Action.KEY_CREATED, team=acme, actor=ada, status_code=201)
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/audit-log")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(50)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(61)
    page.get_by_label("Action").select_option("key.created")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)


def test_a_network_failure_shows_a_retry_not_a_blank_page(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.route("**/api/v1/campaigns*", lambda route: route.abort())
    page.goto(f"/app/{acme.pk}/campaigns")
    page.get_by_role("button", name="Retry").wait_for()
    page.unroute("**/api/v1/campaigns*")
    page.get_by_role("button", name="Retry").click()
    page.get_by_text("No campaigns yet.").wait_for()


def test_my_sessions_can_be_signed_out(new_context, sign_in, ada, acme):
    laptop, phone = new_context().new_page(), new_context().new_page()
    sign_in(laptop, "ada")
    sign_in(phone, "ada")
    laptop.goto(f"/app/{acme.pk}/account")
    laptop.get_by_text("(this session)").wait_for()
    assert laptop.locator("#sessions-title + section tbody tr, section tbody tr").count() >= 2
    laptop.get_by_role("button", name="Sign out everywhere else").click()
    laptop.get_by_role("dialog").get_by_role("button", name="Sign out others").click()
    laptop.get_by_text("1 other session signed out.").wait_for()  # one plural rule (issue 26)
    phone.reload()
    phone.wait_for_url("**/login*")


def test_no_token_is_ever_written_to_web_storage(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("heading", name="API keys").wait_for()
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "eyJ" not in stored and "gf_" not in stored.replace("gf.team", "")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    refresh = cookies["__Host-gf_refresh"]  # the test settings are production's: Secure, hence __Host-
    assert refresh["httpOnly"] and refresh["sameSite"] == "Strict" and refresh["secure"] and refresh["path"] == "/"
    assert "gf_refresh" not in cookies
    assert page.evaluate("document.cookie").find("gf_refresh") == -1


def test_an_owner_chooses_to_only_flag_leaked_keys(page, sign_in, ada, acme):
    sign_in(page, "ada")
    section = page.locator("#leaked-key-policy")
    section.get_by_text("it is revoked at once").wait_for()
    section.get_by_label("When a key is found in public").select_option("flag")
    page.get_by_role("dialog").get_by_role("button", name="Only flag them").click()
    section.get_by_text("it is only flagged").wait_for()
    acme.refresh_from_db()
    assert acme.leaked_key_action == "flag"


def test_an_owner_sets_the_key_policy_and_a_key_beyond_it_is_refused(page, sign_in, ada, acme):
    sign_in(page, "ada")
    form = page.locator("#key-policy-form")
    form.get_by_label("Longest lifetime (days)").fill("30")
    form.get_by_label("Unused after (days)").fill("60")
    form.get_by_role("button", name="Save the key policy").click()
    page.locator("#key-policy-status").get_by_text("New keys must expire within 30 days").wait_for()
    acme.refresh_from_db()
    assert (acme.key_max_lifetime_days, acme.key_unused_days, acme.key_unused_action) == (30, 60, "flag")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("Forever")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_role("button", name="Create key").click()
    page.get_by_text("This team requires every new key to expire").wait_for()


def test_a_keys_limits_and_allowlist_are_set_from_its_row(page, sign_in, ada, acme, live_server):
    from apikeys.models import APIKey
    from tests.factories import make_key

    key, raw = make_key(ada, acme, ["read:campaigns"], name="Nightly")
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("row", name=re.compile("Nightly")).get_by_role("button", name="Limits").click()
    form = page.locator("#key-limits-form")
    form.get_by_label("Rate limits").fill("1/1h")
    form.get_by_label("Monthly quota").fill("500")
    form.get_by_role("button", name="Save limits").click()
    page.get_by_text("The limits of Nightly are saved.").wait_for()
    stored = APIKey.objects.get(pk=key.pk)
    assert (stored.rate_limits, stored.monthly_quota, stored.allowed_ips) == ([{"limit": 1, "seconds": 3600}], 500, [])
    assert api_call(live_server, "/campaigns", raw, acme)[0] == 200
    status, body = api_call(live_server, "/campaigns", raw, acme)
    assert (status, body["code"]) == (429, "key_rate_limited")

    page.get_by_role("row", name=re.compile("Nightly")).get_by_role("button", name="Limits").click()
    form.get_by_label("Allowed IP addresses or networks").fill("10.0.0.1/8")
    form.get_by_role("button", name="Save limits").click()
    form.get_by_text("host bits set").wait_for()  # the field's own message, nothing saved
    assert APIKey.objects.get(pk=key.pk).allowed_ips == []
