import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not(client, monkeypatch):
    def down(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.mark.django_db
def test_healthz_needs_no_credentials_and_ignores_them(client):
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer gf_garbage").status_code == 200
