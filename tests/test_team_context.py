"""The X-Team-Id matrix and the query budget of a JWT team-scoped request."""

import uuid

import pytest

pytestmark = pytest.mark.django_db

TEAM_SCOPED = "/api/v1/team/members"


def test_a_member_gets_the_team(as_user, member, team):
    response = as_user(member, team).get("/api/v1/team")
    assert response.status_code == 200
    assert response.json()["id"] == str(team.pk)


def test_missing_header_is_400_team_required(as_user, member):
    response = as_user(member).get(TEAM_SCOPED)
    assert response.status_code == 400
    assert response.json()["code"] == "team_required"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("not-a-uuid", "team_invalid"),
        ("1234", "team_invalid"),
        ("' OR 1=1 --", "team_invalid"),
        ("   ", "team_required"),
    ],
)
def test_malformed_header_is_400(as_user, member, value, code):
    client = as_user(member)
    response = client.get(TEAM_SCOPED, HTTP_X_TEAM_ID=value)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_unknown_team_and_other_team_answer_the_same_403(as_user, member, other_team):
    client = as_user(member)
    unknown = client.get(TEAM_SCOPED, HTTP_X_TEAM_ID=str(uuid.uuid4()))
    foreign = client.get(TEAM_SCOPED, HTTP_X_TEAM_ID=str(other_team.pk))
    assert unknown.status_code == foreign.status_code == 403
    assert unknown.content == foreign.content
    assert unknown.json()["code"] == "team_forbidden"


def test_no_view_code_runs_for_a_non_member(as_user, outsider, team):
    client = as_user(outsider, team)
    for method in ("patch", "delete"):
        response = getattr(client, method)("/api/v1/team", {"name": "pwned"}, format="json")
        assert response.status_code == 403
    team.refresh_from_db()
    assert team.name == "Acme"


def test_anonymous_gets_401_before_any_team_check(client, team):
    response = client.get(TEAM_SCOPED, HTTP_X_TEAM_ID="garbage")
    assert response.status_code == 401


def test_endpoints_that_are_not_team_scoped_ignore_the_header(as_user, member):
    client = as_user(member)
    for value in ("garbage", str(uuid.uuid4())):
        assert client.get("/api/v1/teams", HTTP_X_TEAM_ID=value).status_code == 200
        assert client.get("/api/v1/auth/me", HTTP_X_TEAM_ID=value).status_code == 200


def test_uppercase_uuid_and_trailing_slash_are_tolerated(as_user, member, team):
    client = as_user(member)
    response = client.get(TEAM_SCOPED + "/", HTTP_X_TEAM_ID=str(team.pk).upper())
    assert response.status_code == 200


def test_a_jwt_team_scoped_list_costs_three_queries(as_user, member, team, django_assert_num_queries):
    client = as_user(member, team)
    with django_assert_num_queries(3):
        # 1. the user of the access token (simplejwt)
        # 2. the caller's membership in X-Team-Id, joined with the team
        # 3. the page of members, joined with their users
        response = client.get(TEAM_SCOPED)
    assert response.status_code == 200
