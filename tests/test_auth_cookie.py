"""The browser's session mode (`X-GhostFlow-Session: cookie`): the refresh token in an HttpOnly,
SameSite=Strict cookie (`__Host-gf_refresh`, Path=/, when Secure), rotated exactly like the body
mode; refresh and logout refused to any other origin, and to a request carrying the cookie twice."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts import cookies
from accounts.models import RefreshFamily
from accounts.tokens import RefreshToken
from audit.models import Action, AuditEvent

from .factories import PASSWORD, UserFactory
from .test_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
# The test settings are production settings (DEBUG off): the cookie is Secure, hence __Host-.
COOKIE_NAME, COOKIE_PATH = cookies.HOST_NAME, cookies.HOST_PATH
OWN_ORIGIN = "http://testserver"  # the test client's scheme and host
COOKIE_MODE = {"HTTP_X_GHOSTFLOW_SESSION": "cookie"}
SAME_ORIGIN = {**COOKIE_MODE, "HTTP_ORIGIN": OWN_ORIGIN}


@pytest.fixture
def user():
    return UserFactory(username="browser")


@pytest.fixture
def browser(user):
    """A client logged in with the cookie mode: it holds the gf_refresh cookie, as a browser would."""
    client = APIClient()
    response = client.post(LOGIN, {"username": "browser", "password": PASSWORD}, format="json", **COOKIE_MODE)
    assert response.status_code == 200, response.content
    return client


def family(user) -> RefreshFamily:
    return RefreshFamily.objects.get(user=user)


def cookie_value(client) -> str:
    return client.cookies[COOKIE_NAME].value


def refresh(client, **headers):
    return client.post(REFRESH, **{**SAME_ORIGIN, **headers})


def assert_access_only(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.JWT_ACCESS_TOKEN_LIFETIME
    return body


def assert_cleared(response):
    cookie = response.cookies[COOKIE_NAME]
    assert cookie.value == ""
    assert cookie["max-age"] == 0
    assert cookie["path"] == COOKIE_PATH
    assert cookie["httponly"] and cookie["samesite"] == "Strict"


# --- login ------------------------------------------------------------------------------------


def test_cookie_login_answers_the_access_token_and_sets_the_refresh_cookie(client, user):
    response = client.post(LOGIN, {"username": "browser", "password": PASSWORD}, format="json", **COOKIE_MODE)
    body = assert_access_only(response)
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert COOKIE_NAME == "__Host-gf_refresh"
    # What the __Host- prefix demands, or a browser refuses the cookie: Secure, Path=/, no Domain.
    assert cookie["secure"] is True and cookie["path"] == COOKIE_PATH == "/" and not cookie["domain"]
    # Max-Age is the refresh token's remaining lifetime.
    token = RefreshToken(cookie.value)
    assert token["fam"] == str(family(user).pk) and token["jti"] == family(user).current_jti
    assert abs(cookie["max-age"] - settings.JWT_REFRESH_TOKEN_LIFETIME) <= 2
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 200


def test_the_cookie_max_age_follows_a_refresh_token_clipped_to_the_family_cap(client, user, settings):
    settings.JWT_SESSION_MAX_AGE = 3600  # shorter than a refresh token's lifetime: exp is clipped
    response = client.post(LOGIN, {"username": "browser", "password": PASSWORD}, format="json", **COOKIE_MODE)
    assert 3590 <= response.cookies[COOKIE_NAME]["max-age"] <= 3600


def test_without_secure_the_cookie_has_no_prefix_and_stays_on_the_auth_path(client, user, settings):
    settings.REFRESH_COOKIE_SECURE = False  # development over http: a __Host- cookie would be refused
    response = client.post(LOGIN, {"username": "browser", "password": PASSWORD}, format="json", **COOKIE_MODE)
    assert response.status_code == 200
    assert COOKIE_NAME not in response.cookies
    cookie = response.cookies["gf_refresh"]
    assert not cookie["secure"] and cookie["path"] == "/api/v1/auth/"
    assert refresh(client).status_code == 200


def test_refresh_cookie_secure_defaults_to_not_debug():
    def secure(**env) -> str:
        code = "from django.conf import settings; print(settings.REFRESH_COOKIE_SECURE)"
        return manage("shell", "--no-imports", "-c", code, **env).stdout.strip()

    assert secure(**PRODUCTION) == "True"
    assert secure(DEBUG="1") == "False"
    assert secure(DEBUG="1", REFRESH_COOKIE_SECURE="1") == "True"


def test_the_body_mode_is_unchanged_and_sets_no_cookie(client, user):
    response = client.post(LOGIN, {"username": "browser", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert COOKIE_NAME not in response.cookies


def test_a_failed_cookie_login_sets_no_cookie(client, user):
    response = client.post(LOGIN, {"username": "browser", "password": "wrong-password"}, format="json", **COOKIE_MODE)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert COOKIE_NAME not in response.cookies


# --- refresh ----------------------------------------------------------------------------------


def test_rotation_through_cookies_works_twice_in_a_row(browser, user):
    first = cookie_value(browser)
    for _ in range(2):
        before = cookie_value(browser)
        response = refresh(browser)
        body = assert_access_only(response)
        new = response.cookies[COOKIE_NAME]
        assert new.value != before
        assert new["httponly"] and new["samesite"] == "Strict" and new["path"] == COOKIE_PATH and new["secure"]
        assert RefreshToken(new.value)["jti"] == family(user).current_jti
        assert browser.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 200
    assert cookie_value(browser) != first
    assert family(user).last_refreshed_at is not None


def test_replaying_an_old_cookie_revokes_the_family(browser, user):
    old = cookie_value(browser)
    assert refresh(browser).status_code == 200
    fresh = cookie_value(browser)

    browser.cookies[COOKIE_NAME] = old
    replay = refresh(browser)
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_reused"
    assert_cleared(replay)  # a cookie that can never work again is dropped
    assert family(user).revoke_reason == RefreshFamily.RevokeReason.REUSE
    assert AuditEvent.objects.filter(action=Action.REFRESH_REUSE, actor=user).count() == 1
    # The newer cookie died with its family.
    browser.cookies[COOKIE_NAME] = fresh
    assert refresh(browser).json()["code"] == "token_revoked"


def test_cookie_refresh_without_a_cookie_is_401(client):
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_cookie_refresh_with_a_garbage_cookie_is_401(client):
    client.cookies[COOKIE_NAME] = "not-a-token"
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert_cleared(response)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://testserver.evil.example", "https://testserver"]
)
def test_cookie_refresh_from_a_foreign_origin_is_403(browser, user, origin):
    jti = family(user).current_jti
    response = refresh(browser, HTTP_ORIGIN=origin)
    assert response.status_code == 403
    assert response.json()["code"] == "origin_mismatch"
    assert COOKIE_NAME not in response.cookies
    assert family(user).current_jti == jti


def test_cookie_refresh_without_an_origin_is_403(browser, user):
    jti = family(user).current_jti
    response = browser.post(REFRESH, **COOKIE_MODE)
    assert response.status_code == 403
    assert response.json()["code"] == "origin_mismatch"
    assert family(user).current_jti == jti


def test_the_site_url_origin_is_accepted(browser, settings):
    settings.SITE_URL = "https://app.example.com"
    assert refresh(browser, HTTP_ORIGIN="https://app.example.com").status_code == 200
    assert refresh(browser, HTTP_ORIGIN="https://other.example.com").status_code == 403


@pytest.mark.parametrize(
    "content_type, data",
    [
        ("application/x-www-form-urlencoded", "refresh_token=x"),
        ("multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--\r\n'),
        ("text/plain", "refresh_token=x"),
    ],
)
def test_a_cross_site_form_post_does_not_refresh(browser, user, content_type, data):
    """What an attacker's page can send without CORS: a form post, which carries the cookie (were
    it not SameSite) but can set neither the custom header nor a same-site Origin."""
    jti = family(user).current_jti
    response = browser.generic("POST", REFRESH, data, content_type=content_type, HTTP_ORIGIN="https://evil.example")
    assert 400 <= response.status_code < 500
    assert family(user).current_jti == jti
    assert COOKIE_NAME not in response.cookies
    assert "access_token" not in response.content.decode()


def test_the_body_mode_never_reads_the_cookie(browser, user):
    jti = family(user).current_jti
    response = browser.post(REFRESH, {}, format="json", HTTP_ORIGIN=OWN_ORIGIN)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert family(user).current_jti == jti
    assert COOKIE_NAME not in response.cookies


# --- logout -----------------------------------------------------------------------------------


def test_cookie_logout_revokes_the_family_and_clears_the_cookie(browser, user):
    old = cookie_value(browser)
    response = browser.post(LOGOUT, **SAME_ORIGIN)
    assert response.status_code == 204
    assert_cleared(response)
    assert family(user).revoke_reason == RefreshFamily.RevokeReason.LOGOUT
    assert AuditEvent.objects.filter(action=Action.LOGOUT, actor=user, status_code=204).count() == 1
    browser.cookies[COOKIE_NAME] = old
    assert refresh(browser).json()["code"] == "token_revoked"


@pytest.mark.parametrize("cookie", [None, "", "not-a-token", "x" * 5000])
def test_cookie_logout_without_a_valid_cookie_still_clears_it(client, cookie):
    if cookie is not None:
        client.cookies[COOKIE_NAME] = cookie
    response = client.post(LOGOUT, **SAME_ORIGIN)
    assert response.status_code == 204
    assert_cleared(response)


def test_cookie_logout_of_an_already_revoked_family_is_204(browser, user):
    RefreshFamily.objects.update(revoked_at=family(user).created_at, revoke_reason="admin")
    response = browser.post(LOGOUT, **SAME_ORIGIN)
    assert response.status_code == 204
    assert_cleared(response)


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
def test_cookie_logout_from_another_origin_is_403_and_signs_nobody_out(browser, user, origin):
    headers = {**COOKIE_MODE, **({"HTTP_ORIGIN": origin} if origin else {})}
    response = browser.post(LOGOUT, **headers)
    assert response.status_code == 403
    assert response.json()["code"] == "origin_mismatch"
    assert COOKIE_NAME not in response.cookies
    assert family(user).revoked_at is None


# --- the cookie twice (cookie tossing) --------------------------------------------------------


def two_cookies(first: str, second: str, name: str = COOKIE_NAME) -> dict:
    # Django's request.COOKIES keeps only the last one: the raw header is what the server gets.
    return {"HTTP_COOKIE": f"{name}={first}; {name}={second}"}


@pytest.fixture
def carol_and_dave():
    sessions = {}
    for name in ("carol", "dave"):
        UserFactory(username=name)
        client = APIClient()
        client.post(LOGIN, {"username": name, "password": PASSWORD}, format="json", **COOKIE_MODE)
        sessions[name] = cookie_value(client)
    return sessions


def families():
    return sorted(RefreshFamily.objects.values_list("id", "current_jti", "revoked_at"))


@pytest.mark.parametrize("joined_by", ["; ", ","])  # an ASGI server joins repeated Cookie headers with ","
def test_a_refresh_carrying_two_refresh_cookies_is_refused_and_changes_nothing(client, carol_and_dave, joined_by):
    before = families()
    header = f"{COOKIE_NAME}={carol_and_dave['carol']}{joined_by}{COOKIE_NAME}={carol_and_dave['dave']}"
    response = client.post(REFRESH, HTTP_COOKIE=header, **SAME_ORIGIN)
    assert response.status_code == 400
    assert response.json()["code"] == "refresh_cookie_duplicated"
    assert "access_token" not in response.json()
    assert COOKIE_NAME not in response.cookies  # not cleared either: the browser's own cookie stays
    assert families() == before


def test_two_plain_cookies_are_refused_too_without_secure(client, carol_and_dave, settings):
    settings.REFRESH_COOKIE_SECURE = False
    before = families()
    response = client.post(REFRESH, **two_cookies("x", "y", name="gf_refresh"), **SAME_ORIGIN)
    assert response.status_code == 400
    assert response.json()["code"] == "refresh_cookie_duplicated"
    assert families() == before


def test_a_cookie_of_the_old_name_is_never_read_and_is_dropped(client, carol_and_dave):
    """A sibling subdomain can plant `gf_refresh` (no prefix) for the whole domain; with the
    __Host- cookie in use it is ignored, and a browser that still holds one from before is told
    to drop it."""
    before = families()
    response = client.post(REFRESH, HTTP_COOKIE=f"gf_refresh={carol_and_dave['dave']}", **SAME_ORIGIN)
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"
    assert response.cookies["gf_refresh"]["max-age"] == 0 and response.cookies["gf_refresh"]["path"] == "/api/v1/auth/"
    assert families() == before


def test_beside_the_host_cookie_a_planted_old_name_changes_nothing(client, carol_and_dave, user):
    header = f"gf_refresh={carol_and_dave['dave']}; {COOKIE_NAME}={carol_and_dave['carol']}"
    response = client.post(REFRESH, HTTP_COOKIE=header, **SAME_ORIGIN)
    body = assert_access_only(response)
    me = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.json()["user"]["username"] == "carol"


@pytest.mark.parametrize("joined_by", ["; ", ","])
def test_a_planted_copy_never_blocks_signing_out_every_session_named_ends(client, carol_and_dave, joined_by):
    """A copy planted beside the browser's own must not keep its session alive: logout ends both."""
    header = f"{COOKIE_NAME}=planted-junk{joined_by}{COOKIE_NAME}={carol_and_dave['dave']}"
    header += f"; {COOKIE_NAME}={carol_and_dave['carol']}" if joined_by == "; " else ""
    response = client.post(LOGOUT, HTTP_COOKIE=header, **SAME_ORIGIN)
    assert response.status_code == 204
    assert response.cookies[COOKIE_NAME]["max-age"] == 0
    revoked = {family.user.username for family in RefreshFamily.objects.filter(revoked_at__isnull=False)}
    assert revoked == ({"carol", "dave"} if joined_by == "; " else {"dave"})
    refreshed = APIClient().post(REFRESH, HTTP_COOKIE=f"{COOKIE_NAME}={carol_and_dave['dave']}", **SAME_ORIGIN)
    assert refreshed.status_code == 401


def test_a_refresh_cookie_hidden_after_a_comma_in_another_cookie_is_not_read(client, carol_and_dave):
    """`x=1,__Host-gf_refresh=<token>` is one cookie named `x` to browsers and Django (a sibling
    subdomain may set it): it must not log the browser into that session."""
    before = families()
    response = client.post(REFRESH, HTTP_COOKIE=f"x=1,{COOKIE_NAME}={carol_and_dave['carol']}", **SAME_ORIGIN)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert families() == before
