"""What a new user met in the dashboard (issue 26), checked in Chromium at the two sizes the other
browser tests use: a 390x844 phone and a 1280x800 desktop."""

import re
import shlex
import shutil
import subprocess
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from access.scopes import Role
from apikeys.models import APIKey
from tests.factories import (
    CampaignFactory,
    DomainFactory,
    MembershipFactory,
    UserFactory,
    make_integration,
    make_key,
)

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def box(locator):
    return locator.bounding_box()


# --- the phone layout -------------------------------------------------------------------------


def test_on_a_phone_the_menu_is_collapsed_and_the_page_has_the_whole_width(new_context, sign_in, ada, acme):
    page = new_context(viewport=PHONE).new_page()
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/members")
    heading = page.get_by_role("heading", name="Members", level=1)
    heading.wait_for()
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "sidebar-menu")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    # Not pushed: the content starts right under a one-line top bar and has the full width.
    main = box(page.locator("main"))
    assert main["x"] == 0 and main["width"] == 390 and main["y"] <= 70
    assert box(page.locator("aside.sidebar"))["height"] <= 70
    # Not covered: what is drawn at the heading is the heading.
    title = box(heading)
    at = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('h1')?.textContent",
        [title["x"] + 5, title["y"] + title["height"] / 2],
    )
    assert at == "Members"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_phone_menu_opens_closes_with_escape_and_after_a_choice(new_context, sign_in, ada, acme):
    page = new_context(viewport=PHONE).new_page()
    sign_in(page, "ada")
    toggle = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    expect(page.locator("#team-selector")).to_be_focused()  # focus moves into the menu
    expect(page.locator("aside .team-id-value")).to_have_text(str(acme.pk))
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    expect(toggle).to_be_focused()  # and back to the button
    toggle.click()
    nav.get_by_role("link", name="Members").click()
    page.get_by_role("heading", name="Members", level=1).wait_for()
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()


def test_on_a_desktop_the_menu_is_always_there_and_the_button_is_not(page, sign_in, ada, acme):
    sign_in(page, "ada")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()


# --- the team id ------------------------------------------------------------------------------


def test_the_team_id_is_shown_next_to_the_team_switcher_and_copied(new_context, sign_in, ada, acme):
    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    sign_in(page, "ada")
    shown = page.locator("aside .team-id-value")
    expect(shown).to_have_text(str(acme.pk))
    assert shown.evaluate("node => getComputedStyle(node).userSelect") in ("all", "text", "auto")
    page.get_by_role("button", name="Copy the team id").click()
    expect(page.get_by_role("button", name="Copy the team id")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == str(acme.pk)


def run_printed_command(command: str) -> int:
    """The dialog's curl line, run as printed: curl itself when installed, otherwise httpx with
    exactly its headers and URL."""
    words = shlex.split(command)
    assert words[0] == "curl"
    if shutil.which("curl"):
        done = subprocess.run(
            [*words, "--silent", "--output", "/dev/null", "--write-out", "%{http_code}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return int(done.stdout)
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    return httpx.get(words[-1], headers=headers).status_code


@pytest.mark.parametrize(
    ("scopes", "path"),
    [(["read:campaigns", "write:campaigns"], "/campaigns"), (["read:stats"], "/stats"), (["write:offers"], "/team")],
)
def test_the_new_key_dialog_gives_the_team_id_and_a_curl_line_that_works(
    page, sign_in, ada, acme, live_server, scopes, path
):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("CI")
    for scope in scopes:
        page.locator(f"input[value='{scope}']").check()
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog")
    raw = dialog.get_by_label("API key", exact=True).input_value()
    expect(dialog.locator(".team-id-value")).to_have_text(str(acme.pk))
    command = dialog.locator("#try-it").inner_text()
    assert command == (
        f'curl -H "Authorization: Bearer {raw}" -H "X-Team-Id: {acme.pk}" {live_server.url}/api/v1{path}'
    )
    assert run_printed_command(command) == 200


def test_the_regenerated_key_dialog_has_the_curl_line_too(page, sign_in, ada, acme, live_server):
    make_key(ada, acme, ["read:offers"], name="Old")
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("row", name=re.compile("Old")).get_by_role("button", name="Regenerate").click()
    page.get_by_role("dialog").get_by_role("button", name="Regenerate").click()
    command = page.get_by_role("dialog").locator("#try-it").inner_text()
    assert command.endswith(f"{live_server.url}/api/v1/offers") and f"X-Team-Id: {acme.pk}" in command
    assert run_printed_command(command) == 200


def test_the_integration_admin_key_dialog_gives_the_team_id(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/integrations")
    page.get_by_role("button", name="New integration").click()
    page.get_by_label("Name", exact=True).fill("Widget")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_role("button", name="Create integration").click()
    expect(page.get_by_role("dialog").locator(".team-id-value")).to_have_text(str(acme.pk))


# --- confirmations ----------------------------------------------------------------------------


def test_a_role_change_is_confirmed_first_and_cancelling_restores_the_role(page, sign_in, ada, acme):
    bob = UserFactory(username="bob")
    MembershipFactory(team=acme, user=bob, role=Role.MEMBER)
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/members")
    role = page.get_by_label("Role of bob")
    role.select_option("viewer")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("From member to viewer")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(role).to_have_value("member")
    role.select_option("admin")
    page.keyboard.press("Escape")  # Escape is a cancel too
    expect(role).to_have_value("member")
    assert acme.memberships.get(user=bob).role == Role.MEMBER
    role.select_option("admin")
    page.get_by_role("dialog").get_by_role("button", name="Change role").click()
    page.get_by_text("bob is now admin.").wait_for()
    assert acme.memberships.get(user=bob).role == Role.ADMIN
    expect(page.get_by_label("Role of bob")).to_have_value("admin")


def test_removing_a_member_is_confirmed_first(page, sign_in, ada, acme):
    bob = UserFactory(username="bob")
    MembershipFactory(team=acme, user=bob, role=Role.MEMBER)
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/members")
    row = page.get_by_role("row", name=re.compile("bob"))
    row.get_by_role("button", name="Remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert acme.memberships.filter(user=bob).exists()
    row.get_by_role("button", name="Remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    page.get_by_text("bob removed.").wait_for()
    assert not acme.memberships.filter(user=bob).exists()


# --- tables, contrast, navigation -------------------------------------------------------------

TABLE_PAGES = ["settings/integrations", "settings/api-keys", "audit-log", "members", "campaigns", "account"]

# Each table: is it inside a card that scrolls sideways, is the card inside the page, and does the
# table fit the card (or can the card scroll to the rest)?
TABLES = """() => [...document.querySelectorAll('main table')].map((table) => {
  const card = table.parentElement;
  const style = getComputedStyle(card);
  const rect = card.getBoundingClientRect();
  return {
    inCard: card.classList.contains('table-wrap'),
    scrolls: ['auto', 'scroll'].includes(style.overflowX),
    fits: card.scrollWidth <= card.clientWidth + 1,
    inPage: rect.left >= 0 && rect.right <= document.documentElement.clientWidth + 1,
  };
})"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_tables_fit_or_scroll_inside_their_card(new_context, sign_in, ada, acme, viewport):
    make_integration(ada, acme, ["read:campaigns", "read:offers"], allowed_origins=["https://shop.example.com"])
    make_key(ada, acme, ["read:campaigns", "write:campaigns", "read:stats"], name="A key with a long name")
    CampaignFactory(team=acme, name="Spring sale")
    page = new_context(viewport=viewport).new_page()
    sign_in(page, "ada")
    for path in TABLE_PAGES:
        page.goto(f"/app/{acme.pk}/{path}")
        page.locator("main tbody tr").first.wait_for()
        tables = page.evaluate(TABLES)
        assert tables, path
        for table in tables:
            assert table["inCard"] and table["scrolls"] and table["inPage"], (path, table)
            assert table["fits"], (path, table)  # these pages' tables fit at both widths
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path


# WCAG 2.x relative luminance and contrast; the background is the first opaque one up the tree,
# with any translucent ones on the way composited over it.
CONTRAST = """(selector) => {
  const parse = (value) => {
    const [r, g, b, a = 1] = value.match(/[\\d.]+/g).map(Number);
    return { r, g, b, a };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (element) => {
    const layers = [];
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a === 1) break;
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), { r: 255, g: 255, b: 255, a: 1 });
  };
  const luminance = ({ r, g, b }) => {
    const [R, G, B] = [r, g, b].map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const ratio = (x, y) => {
    const [high, low] = [luminance(x), luminance(y)].sort((a, b) => b - a);
    return (high + 0.05) / (low + 0.05);
  };
  return [...document.querySelectorAll(selector)]
    .filter((element) => element.checkVisibility() && !element.closest(':disabled'))
    .filter((element) => [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim()))
    .map((element) => {
      const bg = background(element);
      const fg = over(parse(getComputedStyle(element).color), bg);
      return { text: element.textContent.trim().slice(0, 40), ratio: Math.round(ratio(fg, bg) * 100) / 100 };
    });
}"""


def test_badges_and_text_meet_wcag_aa_contrast(page, sign_in, ada, acme):
    make_key(ada, acme, ["read:campaigns"], name="Live one")
    revoked, _ = make_key(ada, acme, ["read:campaigns"], name="Revoked one")
    revoked.revoked_at = timezone.now()
    revoked.save(update_fields=["revoked_at"])
    expired, _ = make_key(ada, acme, ["read:campaigns"], name="Expired one")
    APIKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("row", name=re.compile("Expired one")).wait_for()
    badges = page.evaluate(CONTRAST, ".badge")
    assert sorted(badge["text"] for badge in badges) == ["active", "expired", "revoked"]
    for badge in badges:
        assert badge["ratio"] >= 4.5, badge
    # Every other piece of text on the page, the sidebar and the hovered nav link included.
    page.get_by_role("link", name="Members").hover()
    for element in page.evaluate(CONTRAST, "body *"):
        assert element["ratio"] >= 4.5, element


def test_hover_and_the_current_page_look_different_in_the_menu(page, sign_in, ada, acme):
    sign_in(page, "ada")
    style = "node => { const s = getComputedStyle(node); return [s.backgroundColor, s.fontWeight, s.borderLeftColor]; }"
    current = page.locator("nav a[aria-current=page]")
    expect(current).to_have_text("Overview")
    other = page.get_by_role("link", name="Members")
    resting = other.evaluate(style)
    other.hover()
    hovered = other.evaluate(style)
    assert hovered != resting
    assert hovered[0] != current.evaluate(style)[0] and hovered[1] != current.evaluate(style)[1]


# --- forms and filters ------------------------------------------------------------------------


def test_an_integration_form_error_lands_under_its_own_field(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/settings/integrations")
    page.get_by_role("button", name="New integration").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("Widget")
    dialog.locator("input[value='read:campaigns']").check()
    origins = dialog.get_by_label(re.compile("Allowed origins"))
    origins.fill("not-an-origin")
    dialog.get_by_role("button", name="Create integration").click()
    error = dialog.locator("[data-field=allowed_origins] .field-error")
    expect(error).to_contain_text("Not an origin")
    expect(origins).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator(".form-error")).to_have_count(0)
    expect(dialog.locator("[data-field=name] .field-error")).to_be_empty()
    # A list field's error, keyed by item in the problem document, lands there too.
    origins.fill("https://" + "x" * 300 + ".example.com")
    dialog.get_by_role("button", name="Create integration").click()
    expect(error).to_have_text(re.compile(r"^Item 1: .*200 characters"))
    # No permission: under the scope picker.
    dialog.locator("input[value='read:campaigns']").uncheck()
    origins.fill("")
    dialog.get_by_role("button", name="Create integration").click()
    expect(dialog.locator("[data-field=permissions] .field-error")).not_to_be_empty()
    expect(error).to_be_empty()


def test_filters_on_other_objects_are_pickers_not_uuid_fields(page, sign_in, ada, acme):
    bob = UserFactory(username="bob")
    MembershipFactory(team=acme, user=bob, role=Role.ADMIN)
    mine, _ = make_key(ada, acme, ["read:campaigns"], name="Mine")
    make_key(bob, acme, ["read:campaigns"], name="Bobs")
    make_integration(ada, acme, name="Shop widget")
    domain = DomainFactory(team=acme, hostname="track.example.com")
    CampaignFactory(team=acme, name="On the domain", domain=domain)
    CampaignFactory(team=acme, name="Elsewhere")
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/audit-log")
    page.locator("tbody tr").first.wait_for()
    assert page.locator("main input[placeholder=uuid]").count() == 0
    # Every action the API records is offered (the shell's list comes from audit.models.Action).
    expect(page.get_by_label("Action").locator("option[value='integration.created']")).to_have_count(1)
    key = page.get_by_label("Key", exact=True)
    expect(key.locator("option")).to_have_count(3)  # Any, and the team's two keys
    expect(page.get_by_label("Integration", exact=True).locator("option", has_text="Shop widget")).to_have_count(1)
    expect(page.get_by_label("Actor", exact=True).locator("option", has_text="bob")).to_have_count(1)
    expect(key.locator(f"option[value='{mine.pk}']")).to_have_text(re.compile(r"^Mine \(gf_\w+…\)$"))
    key.select_option(str(mine.pk))
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)  # its key.created event
    expect(page.get_by_role("cell", name="key.created")).to_be_visible()

    page.goto(f"/app/{acme.pk}/campaigns")
    page.get_by_role("row", name=re.compile("Elsewhere")).wait_for()
    picker = page.get_by_label("Domain", exact=True)
    expect(picker.locator("option", has_text="track.example.com")).to_have_count(1)
    picker.select_option(label="track.example.com")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile("Elsewhere"))).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("On the domain"))).to_have_count(1)


# --- words and dates --------------------------------------------------------------------------


def test_counts_are_pluralised_and_dates_have_one_format(page, sign_in, ada, acme):
    DomainFactory(team=acme)
    CampaignFactory(team=acme)
    CampaignFactory(team=acme)
    make_key(ada, acme, ["read:campaigns"], name="Dated")
    sign_in(page, "ada")
    page.get_by_text("Campaigns by status").wait_for()
    labels, values = page.locator(".card-label").all_inner_texts(), page.locator(".card-value").all_inner_texts()
    cards = dict(zip(labels, values, strict=True))
    assert cards["campaigns"] == "2" and cards["domain"] == "1" and cards["offers"] == "0"
    # Every date on these pages is the one helper's: the same text for the same instant.
    same = """() => {
      const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      const times = [...document.querySelectorAll('main time')];
      return times.map((time) => [time.textContent, format.format(new Date(time.dateTime))]);
    }"""
    for path, wait in [("settings/api-keys", "Dated"), ("members", "ada"), ("audit-log", "key.created")]:
        page.goto(f"/app/{acme.pk}/{path}")
        page.get_by_role("cell", name=re.compile(wait)).first.wait_for()
        dates = page.evaluate(same)
        assert dates, path
        for shown, expected in dates:
            assert shown == expected, path
