import pytest
from rest_framework.test import APIClient

from access.scopes import Role

from .factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory, access_token, make_key


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def team(db):
    return TeamFactory(name="Acme")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Globex")


def _member(team, role, username):
    return MembershipFactory(team=team, role=role, user=UserFactory(username=username)).user


@pytest.fixture
def owner(team):
    return _member(team, Role.OWNER, "owner")


@pytest.fixture
def admin(team):
    return _member(team, Role.ADMIN, "admin")


@pytest.fixture
def member(team):
    return _member(team, Role.MEMBER, "member")


@pytest.fixture
def viewer(team):
    return _member(team, Role.VIEWER, "viewer")


@pytest.fixture
def outsider(other_team):
    """A user who belongs to another team only."""
    return _member(other_team, Role.OWNER, "outsider")


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def as_user(client):
    """as_user(user, team=None) -> an APIClient with the user's JWT (and X-Team-Id when given)."""

    def make(user, team=None):
        c = APIClient()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {access_token(user)}"}
        if team is not None:
            headers["HTTP_X_TEAM_ID"] = str(team.pk)
        c.credentials(**headers)
        return c

    return make


@pytest.fixture
def key_for():
    return make_key


@pytest.fixture
def as_key():
    """as_key(raw, team=None, header="bearer") -> an APIClient sending the key (and X-Team-Id)."""

    def make(raw, team=None, header="bearer"):
        c = APIClient()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if header == "bearer" else {"HTTP_X_API_KEY": raw}
        if team is not None:
            headers["HTTP_X_TEAM_ID"] = str(team.pk)
        c.credentials(**headers)
        return c

    return make


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Every test counts rate limits (and caches JWKS) in its own namespace of the cache."""
    import uuid

    from django.core.cache import cache

    previous = cache.key_prefix
    cache.key_prefix = uuid.uuid4().hex
    yield
    cache.key_prefix = previous


@pytest.fixture(autouse=True)
def _no_stream_slot_left_behind():
    """A test whose Django test client got a live stream's answer (the ASGI client of the PostgreSQL
    runs) and never read it leaves that answer unclosed: as in production, its slot goes back once
    the answer is garbage collected and a stream is next asked for (livestream.sse). Give it back
    when the test ends, so that no test starts with another's slot counted against the caps."""
    yield
    from livestream import fanout, sse

    if fanout.open_streams:
        import gc

        gc.collect()
        sse._give_back_unsent()


@pytest.fixture(scope="session")
def api_views():
    """(route, view class) of every URL under /api/v1/ (trailing-slash aliases left out)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if route.startswith("api/v1/") and not route.endswith("/"):
                    yield route.removeprefix("api/v1/"), pattern.callback.view_class

    return sorted(walk(get_resolver("config.urls").url_patterns), key=lambda item: item[0])
