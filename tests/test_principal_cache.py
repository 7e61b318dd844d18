"""The principal cache: a warm key request costs no query for authentication, team or scopes, and
no change that ends or narrows a key is ever missed, in this process or (test at the end) in
another one."""

import json
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from access.scopes import Role
from accounts.activation import set_active
from apikeys.models import APIKey
from infra import coherence
from teams.models import Membership
from tracking.models import Campaign

from . import servers
from .factories import access_token

CAMPAIGNS = "/api/v1/campaigns"


@pytest.fixture
def cached(settings):
    settings.PRINCIPAL_CACHE = "on"
    coherence.clear_all()
    # The fixtures' own saves marked a change in flight that their (never committed) test
    # transaction would have cleared: start from a clean token.
    coherence._replace_clean()
    yield
    coherence.clear_all()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a block leaves for after the commit (the clean generation token): the test's own
    transaction never commits, so on_commit callbacks would otherwise never run."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def key(owner, team, key_for, cached, committed):
    with committed():
        return key_for(owner, team, permissions=["read:campaigns", "write:campaigns"])


def warm(as_key, raw, team):
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
def test_a_warm_key_request_costs_two_queries(as_key, key, team, django_assert_num_queries):
    for n in range(10):
        Campaign.objects.create(team=team, name=f"c{n}")
    warm(as_key, key[1], team)  # resolves the key and writes last_used_at
    with django_assert_num_queries(2):
        # 1. the page of campaigns
        # 2. the audit event INSERT
        response = as_key(key[1], team).get(CAMPAIGNS)
    assert len(response.json()["results"]) == 10


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
@pytest.mark.skipif(
    not django_settings.DATABASE_PREPARED_STATEMENTS, reason="prepared statements are off (DATABASE_POOLER)"
)
@pytest.mark.django_db
def test_a_warm_key_request_runs_prepared_statements(as_key, key, team):
    # Parsed and planned once per connection (config/settings.py, DATABASE_PREPARED_STATEMENTS):
    # about a third of PostgreSQL's CPU on a key request.
    for _ in range(3):
        warm(as_key, key[1], team)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(statement.startswith('INSERT INTO "audit_auditevent"') for statement in prepared)
    assert any('FROM "tracking_campaign"' in statement for statement in prepared)


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["revoke", "delete", "regenerate", "remove_owner", "deactivate", "delete_team"])
def test_a_cached_key_is_refused_right_after_the_call_that_ends_it(as_key, as_user, key, owner, admin, team, change):
    warm(as_key, key[1], team)
    by_owner, by_admin = as_user(owner, team), as_user(admin, team)
    if change == "revoke":
        assert by_admin.put(f"/api/v1/auth/api-keys/{key[0].pk}/revoke").status_code == 200
    elif change == "delete":
        assert by_admin.delete(f"/api/v1/auth/api-keys/{key[0].pk}").status_code == 204
    elif change == "regenerate":
        assert by_owner.post(f"/api/v1/auth/api-keys/{key[0].pk}/regenerate", {}, format="json").status_code == 200
    elif change == "remove_owner":
        Membership.objects.filter(team=team, user=admin).update(role=Role.OWNER)
        assert as_user(admin, team).delete(f"/api/v1/team/members/{owner.pk}").status_code == 204
    elif change == "deactivate":
        set_active(user=owner, active=False)
    elif change == "delete_team":
        assert by_owner.delete("/api/v1/team").status_code == 204


@pytest.mark.django_db
def test_a_demoted_owner_narrows_the_cached_key_at_once(as_key, as_user, key, owner, admin, team, committed):
    warm(as_key, key[1], team)
    Membership.objects.filter(team=team, user=admin).update(role=Role.OWNER)
    with committed():
        response = as_user(admin, team).patch(f"/api/v1/team/members/{owner.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 200
    response = as_key(key[1], team).post(CAMPAIGNS, {"name": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")


@pytest.mark.django_db
def test_expiry_and_the_end_of_a_grace_period_are_checked_on_every_use(as_key, key, team, owner):
    APIKey.objects.filter(pk=key[0].pk).update(expires_at=timezone.now() + timedelta(minutes=5))
    coherence.clear_all()
    warm(as_key, key[1], team)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_expired"


@pytest.mark.django_db
def test_an_unreadable_generation_bypasses_the_cache(as_key, key, team, monkeypatch):
    from infra import coherence

    warm(as_key, key[1], team)
    APIKey.objects.filter(pk=key[0].pk).update(revoked_at=timezone.now())  # behind the services' back
    monkeypatch.setattr(coherence, "current", lambda: None)
    assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_revoked"


@pytest.mark.django_db
def test_a_change_that_cannot_invalidate_is_refused_and_rolled_back(as_user, key, admin, team, monkeypatch):
    import redis

    from infra import coherence

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("down")

    monkeypatch.setattr(coherence, "_write_token", down)
    response = as_user(admin, team).put(f"/api/v1/auth/api-keys/{key[0].pk}/revoke")
    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")
    assert APIKey.objects.get(pk=key[0].pk).revoked_at is None


# --- two processes ---------------------------------------------------------------------------


@pytest.fixture
def two_servers(settings, transactional_db, tmp_path):
    """Two gunicorn processes on the test database and one Redis, as two nodes would be."""
    redis = servers.redis_url()
    if redis is None:
        pytest.skip("Redis (TEST_REDIS_URL) is not running: the two-process test needs it")
    env = servers.environment(settings, CACHE_URL=f"{redis}?key_prefix={tmp_path.name}", PRINCIPAL_CACHE="on")
    running = servers.start(env, servers.gunicorn_command)
    yield [url for _, url in running]
    servers.stop(running)


def _call(url, method, path, headers, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("change", ["revoke", "remove_owner", "demote_owner"])
def test_a_change_through_one_process_is_seen_by_the_next_request_on_another(
    two_servers, owner, admin, team, key_for, change
):
    a, b = two_servers
    _, raw = key_for(owner, team, permissions=["read:campaigns", "write:campaigns"])
    key_headers = {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
    Membership.objects.filter(team=team, user=admin).update(role=Role.OWNER)
    admin_headers = {"Authorization": f"Bearer {access_token(admin)}", "X-Team-Id": str(team.pk)}
    for _ in range(3):  # B has resolved, and cached, the key
        assert _call(b, "GET", CAMPAIGNS, key_headers) == 200
    if change == "revoke":
        key_id = APIKey.objects.get().pk
        assert _call(a, "PUT", f"/api/v1/auth/api-keys/{key_id}/revoke", admin_headers) == 200
        assert _call(b, "GET", CAMPAIGNS, key_headers) == 401
    elif change == "remove_owner":
        assert _call(a, "DELETE", f"/api/v1/team/members/{owner.pk}", admin_headers) == 204
        assert _call(b, "GET", CAMPAIGNS, key_headers) == 401
    else:
        assert _call(a, "PATCH", f"/api/v1/team/members/{owner.pk}", admin_headers, {"role": "viewer"}) == 200
        assert _call(b, "POST", CAMPAIGNS, key_headers, {"name": "x"}) == 403
        assert _call(b, "GET", CAMPAIGNS, key_headers) == 200  # narrowed, not ended


def test_a_removed_members_next_jwt_request_on_another_process_is_403(two_servers, owner, member, team):
    a, b = two_servers
    member_headers = {"Authorization": f"Bearer {access_token(member)}", "X-Team-Id": str(team.pk)}
    assert _call(b, "GET", CAMPAIGNS, member_headers) == 200
    owner_headers = {"Authorization": f"Bearer {access_token(owner)}", "X-Team-Id": str(team.pk)}
    assert _call(a, "DELETE", f"/api/v1/team/members/{member.pk}", owner_headers) == 204
    assert _call(b, "GET", CAMPAIGNS, member_headers) == 403


# --- logins: the user row and the membership are cached the same way ---------------------------


@pytest.mark.django_db
def test_a_warm_jwt_team_request_costs_one_query(as_user, member, team, cached, django_assert_num_queries):
    client = as_user(member, team)
    assert client.get("/api/v1/team/members").status_code == 200
    with django_assert_num_queries(1):
        # 1. the page of members (the token's user and the membership come from the cache)
        assert client.get("/api/v1/team/members").status_code == 200


@pytest.mark.django_db
def test_an_old_token_is_refused_after_a_password_change_even_with_the_user_cached(as_user, member, team, cached):
    from accounts.passwords import set_password

    old = as_user(member, team)
    assert old.get(CAMPAIGNS).status_code == 200
    set_password(user=member, password="a-brand-new-passphrase")
    fresh = as_user(member, team)
    assert fresh.get(CAMPAIGNS).status_code == 200  # caches the user with the new password hash
    response = old.get(CAMPAIGNS)
    assert response.status_code == 401  # the fingerprint is checked on every request


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["remove", "deactivate", "demote"])
def test_a_cached_login_sees_removal_deactivation_and_demotion_at_once(as_user, owner, member, team, cached, change):
    client = as_user(member, team)
    assert client.post(CAMPAIGNS, {"name": "x"}, format="json").status_code == 201
    if change == "remove":
        assert as_user(owner, team).delete(f"/api/v1/team/members/{member.pk}").status_code == 204
        assert client.get(CAMPAIGNS).status_code == 403
    elif change == "deactivate":
        set_active(user=member, active=False)
        assert client.get(CAMPAIGNS).status_code == 401
    else:
        assert (
            as_user(owner, team)
            .patch(f"/api/v1/team/members/{member.pk}", {"role": "viewer"}, format="json")
            .status_code
            == 200
        )
        assert client.post(CAMPAIGNS, {"name": "y"}, format="json").status_code == 403


@pytest.mark.django_db
def test_a_process_with_the_cache_off_still_announces_its_changes(
    as_key, key, team, owner, settings, committed, monkeypatch
):
    """A shell, a worker or an admin pod with PRINCIPAL_CACHE=off shares Redis with the web
    processes: its revoke must still reach them."""
    from apikeys.services import revoke_key

    warm(as_key, key[1], team)
    settings.PRINCIPAL_CACHE = "off"
    monkeypatch.setattr(coherence, "_shared", lambda: True)  # the deployment's cache is Redis
    with committed():
        revoke_key(key=key[0], actor=owner)
    settings.PRINCIPAL_CACHE = "on"
    assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_revoked"


@pytest.mark.django_db
def test_a_failed_clean_token_after_commit_never_leaves_a_stale_entry(as_key, key, team, owner, monkeypatch):
    """The clean token that follows the commit cannot be written: the dirty mark stays, and until
    it runs out nothing is served from cache."""
    import redis

    from apikeys.services import revoke_key

    warm(as_key, key[1], team)
    revoke_key(key=key[0], actor=owner)  # the test transaction never commits: the mark stays dirty
    assert coherence.current() is None  # so the cache is bypassed
    monkeypatch.setattr(coherence, "_replace_clean", lambda: (_ for _ in ()).throw(redis.exceptions.ConnectionError()))
    assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_revoked"


# --- the generation token itself ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_reads_the_generation_once(as_user, member, team, cached, monkeypatch):
    """The token user, the membership (and a key) are each checked against one read of the token:
    a round trip per request, not per cache."""
    reads = []
    read = coherence._read_token
    monkeypatch.setattr(coherence, "_read_token", lambda: reads.append(1) or read())
    client = as_user(member, team)
    assert client.get("/api/v1/team/members").status_code == 200
    reads.clear()
    assert client.get("/api/v1/team/members").status_code == 200
    assert len(reads) == 1


@pytest.mark.django_db
def test_a_change_inside_a_request_forgets_the_token_it_read(cached, monkeypatch):
    """A request that read the token and then makes a change must not go on stamping or serving
    entries with the token from before its own change."""
    from infra import request_context

    reads = []
    read = coherence._read_token
    monkeypatch.setattr(coherence, "_read_token", lambda: reads.append(1) or read())
    with request_context.use(request_context.RequestContext()):
        before = coherence.current()
        assert coherence.current() == before and len(reads) == 1
        coherence.changing()
        assert coherence.current() is None  # read again: the mark of the change in flight
        assert len(reads) == 2


@pytest.fixture
def token_on_redis(settings, tmp_path):
    """The principal cache on, its token in a Redis key of this test's own: (client, key)."""
    from django.core.cache import caches

    redis_url = servers.redis_url()
    if redis_url is None:
        pytest.skip("Redis (TEST_REDIS_URL) is not running")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": tmp_path.name,
        }
    }
    settings.PRINCIPAL_CACHE = "on"
    client, key = coherence._redis()
    yield client, key
    client.delete(key)
    caches["default"].close()


def test_the_token_is_read_raw_from_redis_and_old_pickled_values_still_read(token_on_redis):
    """On Redis the token is a plain string read without Django's cache API (which cost more than
    the round trip); a value pickled by an older version still reads."""
    import pickle

    client, key = token_on_redis
    coherence._replace_clean()
    raw = client.get(key)
    assert raw is not None and not raw.startswith(b"\x80")
    assert coherence._fresh() == raw.decode()
    assert coherence.current().endswith(":" + raw.decode())  # stamped with the connection's life
    client.set(key, pickle.dumps("an-old-token"))
    assert coherence._fresh() == "an-old-token"
    coherence.changing()
    assert client.get(key).startswith(b"dirty:")
    assert coherence.current() is None  # a change in flight: nothing cached or served


def test_the_token_reader_never_answers_from_a_dropped_connection_and_reconnects(token_on_redis):
    """The token is read over a connection of the thread's own: when Redis drops it (a restart, a
    failover), that read fails (no token: the cache is bypassed, never served stale) and the next
    one reconnects and reads the token as it is now."""
    import threading

    client, key = token_on_redis
    coherence._replace_clean()
    before = coherence._fresh()
    assert before == client.get(key).decode()
    host, port = coherence._reader.connection._sock.getsockname()[:2]
    client.execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}")
    coherence._replace_clean()  # changed while the reader was cut off
    first = coherence._fresh()
    assert first in (None, client.get(key).decode())  # never the token from before
    assert first != before
    assert coherence._fresh() == client.get(key).decode()

    # Each thread reads over its own connection.
    seen = {}

    def read(name):
        seen[name] = (coherence._fresh(), coherence._reader.connection)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[0][0] == seen[1][0] == client.get(key).decode()
    assert seen[0][1] is not seen[1][1]


# --- Redis coming back with older data ------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own that keeps its data in a snapshot file: restart() kills it
    (SIGKILL, as a crash would) and starts it again from the last SAVE."""
    import redis

    port = servers.free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    command += ["--save", "", "--appendonly", "no", "--dbfilename", "snapshot.rdb"]

    def start():
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                return process, client
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    state = {}
    state["process"], client = start()

    def restart():
        state["process"].kill()
        state["process"].wait()
        state["process"], fresh = start()
        return fresh

    yield SimpleNamespace(url=f"redis://127.0.0.1:{port}/0", client=client, restart=restart)
    state["process"].kill()
    state["process"].wait()


@pytest.mark.slow
@pytest.mark.parametrize("change", ["revoke", "remove_member"])
def test_a_redis_restored_from_a_snapshot_taken_before_a_change_never_brings_the_old_access_back(
    settings, transactional_db, own_redis, owner, member, team, key_for, change
):
    """SAVE, the change (seen at once), Redis killed and started again from the snapshot: the
    token from before the change is back in Redis, and the processes' entries stamped with it must
    not be served (they were for up to PRINCIPAL_CACHE_SECONDS)."""
    env = servers.environment(settings, CACHE_URL=own_redis.url, PRINCIPAL_CACHE="on")
    (a_process, a), (b_process, b) = servers.start(env, servers.gunicorn_command)
    try:
        _, raw = key_for(member, team, permissions=["read:campaigns"])
        key_headers = {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
        jwt_headers = {"Authorization": f"Bearer {access_token(member)}", "X-Team-Id": str(team.pk)}
        owner_headers = {"Authorization": f"Bearer {access_token(owner)}", "X-Team-Id": str(team.pk)}
        headers = key_headers if change == "revoke" else jwt_headers
        refused = 401 if change == "revoke" else 403
        for _ in range(3):  # B has resolved, and cached, the credential
            assert _call(b, "GET", CAMPAIGNS, headers) == 200
        own_redis.client.save()
        if change == "revoke":
            key_id = APIKey.objects.get().pk
            assert _call(a, "PUT", f"/api/v1/auth/api-keys/{key_id}/revoke", owner_headers) == 200
        else:
            assert _call(a, "DELETE", f"/api/v1/team/members/{member.pk}", owner_headers) == 204
        assert _call(a, "GET", CAMPAIGNS, headers) == refused  # B is left with its entry as it was
        own_redis.restart()
        answers = [_call(b, "GET", CAMPAIGNS, headers) for _ in range(20)]
        assert answers == [refused] * 20
    finally:
        servers.stop([(a_process, a), (b_process, b)])
