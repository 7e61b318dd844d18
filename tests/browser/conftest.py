"""Browser tests: Playwright for Python driving Debian's Chromium against Django's live server.

Playwright cannot download its own browser here; these tests use /usr/bin/chromium (or
CHROMIUM_PATH). Without it they are skipped with one line, unless REQUIRE_BROWSER=1 (CI), which
turns the skip into a failure.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
# are plain synchronous calls, which Django would otherwise refuse in an async context.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if HAVE_CHROMIUM:
        return
    reason = f"Chromium not found at {CHROMIUM}: browser tests skipped (apt-get install -y chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(reason.replace("skipped", "required (REQUIRE_BROWSER=1)"))
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _isolated_server_cache(settings):
    """The live server answers each request in a thread of its own, with a cache object of its own
    made from settings.CACHES, which the per-test prefix of tests/conftest.py (set on this thread's
    cache object) does not reach: every sign-in of the session counted against one per-IP login
    limit. A prefix per test in the settings reaches both threads."""
    import uuid

    settings.CACHES = {alias: {**config, "KEY_PREFIX": uuid.uuid4().hex} for alias, config in settings.CACHES.items()}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, live_server):
    """new_context() -> a fresh browser profile (its own cookies) on the live server."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(
            **{"base_url": live_server.url, "viewport": {"width": 1280, "height": 800}, **kwargs}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


@pytest.fixture
def sign_in():
    """sign_in(page, username) with the factories' password; waits for the dashboard."""
    from tests.factories import PASSWORD

    def run(page, username, password=PASSWORD):
        page.goto("/login")
        page.get_by_label("Username or e-mail").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/app/**/overview")
        page.get_by_role("heading", level=1).wait_for()

    return run


@pytest.fixture
def acme():
    from tests.factories import TeamFactory

    return TeamFactory(name="Acme")


@pytest.fixture
def ada(acme):
    """The owner of Acme, who signs in to the dashboard in these tests."""
    from access.scopes import Role
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="ada", email="ada@example.com")
    MembershipFactory(team=acme, user=user, role=Role.OWNER)
    return user
