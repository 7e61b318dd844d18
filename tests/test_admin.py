import pytest
from django.test import Client

from access.scopes import Role
from teams.models import Membership

from .factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_team_list_shows_member_counts_and_searches(operator, team, owner, member, other_team):
    response = operator.get("/admin/teams/team/", {"q": "Acme"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme" in html and "Globex" not in html
    assert response.context["cl"].result_list[0]._member_count == 2


def test_team_page_has_memberships_inline(operator, team, owner):
    response = operator.get(f"/admin/teams/team/{team.pk}/change/")
    assert response.status_code == 200
    assert b"memberships-TOTAL_FORMS" in response.content


def test_the_membership_actions_keep_the_last_owner(operator, team, owner):
    membership = Membership.objects.get(team=team, user=owner)
    for action in ("make_member", "remove_members"):
        response = operator.post(
            "/admin/teams/membership/", {"action": action, "_selected_action": [membership.pk]}, follow=True
        )
        assert response.status_code == 200
        assert b"at least one owner" in response.content
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_membership_changes_in_admin_go_through_the_services(operator, team, owner, member, key_for, as_key):
    from audit.models import Action, AuditEvent

    membership = Membership.objects.get(team=team, user=member)
    operator.post("/admin/teams/membership/", {"action": "make_admin", "_selected_action": [membership.pk]})
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    event = AuditEvent.objects.get(action=Action.MEMBER_ROLE_CHANGED)
    assert event.data["via"] == "admin" and event.data["to"] == "admin" and event.team_id == team.pk
    _, raw = key_for(member, team, permissions=["read:campaigns"])
    operator.post("/admin/teams/membership/", {"action": "remove_members", "_selected_action": [membership.pk]})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(action=Action.MEMBER_REMOVED, team_id=team.pk).exists()
    assert as_key(raw, team).get("/api/v1/campaigns").json()["code"] == "key_revoked"


def test_the_team_page_shows_memberships_read_only(operator, team, owner):
    response = operator.get(f"/admin/teams/team/{team.pk}/change/")
    assert response.status_code == 200
    assert b'name="memberships-0-role"' not in response.content


def test_user_admin_works_with_the_custom_model(operator):
    UserFactory(username="someone")
    assert operator.get("/admin/accounts/user/", {"q": "someone"}).status_code == 200
    assert operator.get("/admin/accounts/user/add/").status_code == 200


def test_deactivating_in_admin_signs_the_user_out(operator):
    from accounts.models import RefreshFamily
    from accounts.sessions import start_session

    user = MembershipFactory().user
    start_session(user=user)
    response = operator.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "username": user.username,
            "email": user.email,
            "is_active": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert not RefreshFamily.objects.active().filter(user=user).exists()


# --- the admin login: limited and audited like the API's --------------------

ADMIN_LOGIN = "/admin/login/"


def admin_login(client, username, password):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


def test_the_admin_login_is_audited():
    from audit.models import Action, AuditEvent

    operator = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    assert admin_login(client, "root", "wrong-password-1").status_code == 200
    assert admin_login(client, "root", PASSWORD).status_code == 302
    failed = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    succeeded = AuditEvent.objects.get(action=Action.LOGIN_SUCCEEDED)
    assert failed.data == {"method": "admin"} and failed.actor_id is None and failed.path == ADMIN_LOGIN
    assert succeeded.data == {"method": "admin"} and succeeded.actor_id == operator.pk
    assert "wrong-password-1" not in str(failed.data)


def test_admin_login_failures_lock_the_account_even_with_the_right_password():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(10):
        assert admin_login(client, "root", "wrong-password-1").status_code == 200
    response = admin_login(client, "root", PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_admin_and_api_login_failures_share_one_bucket(client):
    UserFactory(username="root", email="root@example.com", is_staff=True, is_superuser=True)
    browser = Client()
    for attempt in range(10):
        if attempt % 2:
            admin_login(browser, "root", "wrong-password-1")
        else:
            client.post("/api/v1/auth/login", {"username": "ROOT", "password": "x"}, format="json")
    assert admin_login(browser, "root", PASSWORD).status_code == 429
    api = client.post("/api/v1/auth/login", {"username": "root", "password": PASSWORD}, format="json")
    assert api.status_code == 429


def test_the_admin_login_is_limited_per_ip(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": {"ip": "5/5m", "account": "10/15m"}}
    browser = Client()
    for n in range(5):
        assert admin_login(browser, f"nobody{n}", "wrong-password-1").status_code == 200
    assert admin_login(browser, "nobody-else", "wrong-password-1").status_code == 429


def test_the_admin_shows_no_groups_and_no_view_site_link(operator):
    html = operator.get("/admin/").content.decode()
    assert "/admin/auth/group/" not in html
    assert "View site" not in html
    assert operator.get("/admin/auth/group/").status_code == 404


@pytest.mark.parametrize("model", ["campaign", "domain", "offer", "source", "network"])
def test_the_tracking_resources_are_in_the_admin(operator, team, model):
    assert operator.get(f"/admin/tracking/{model}/").status_code == 200
    assert operator.get(f"/admin/tracking/{model}/", {"team__id__exact": str(team.pk)}).status_code == 200


def test_the_audit_list_wraps_long_paths_and_addresses(operator):
    html = operator.get("/admin/audit/auditevent/").content.decode()
    assert "audit/admin.css" in html


def test_a_nul_in_an_admin_form_is_a_400_not_a_500():
    browser = Client(raise_request_exception=False)
    response = browser.post(ADMIN_LOGIN, {"username": "a\x00b", "password": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
