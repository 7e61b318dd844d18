import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from redis.exceptions import ConnectionError as RedisConnectionError


@pytest.fixture
def database_down(monkeypatch):
    def down(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", down)


@pytest.fixture
def cache_down(monkeypatch):
    def down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    for method in ("get", "set", "add", "incr"):
        monkeypatch.setattr(cache, method, down)


@pytest.mark.django_db
def test_healthz_is_200_while_the_process_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_is_liveness_only_and_stays_200_with_the_database_and_cache_down(
    client, database_down, cache_down, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200


@pytest.mark.django_db
def test_healthz_needs_no_credentials_and_ignores_them(client):
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer gf_garbage").status_code == 200


@pytest.mark.django_db
def test_readyz_is_200_when_the_database_and_the_cache_answer(client):
    response = client.get("/readyz", HTTP_AUTHORIZATION="Bearer gf_garbage")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_does_not_answer(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert (body["code"], body["database"], body["cache"]) == ("service_unavailable", "down", "ok")


@pytest.mark.django_db
def test_readyz_is_503_when_the_cache_does_not_answer(client, cache_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert (body["code"], body["database"], body["cache"]) == ("service_unavailable", "ok", "down")


@pytest.mark.django_db
def test_the_probes_are_exempt_from_the_ssl_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        assert client.get(path).status_code != 301
    assert client.get("/api/v1/auth/me").status_code == 301
