"""One JSON error shape everywhere, and no HTML or stack trace with DEBUG off."""

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    return body


def test_unknown_url_is_a_json_404():
    assert_problem(Client().get("/api/v1/nope"), 404, "not_found")
    assert_problem(Client().get("/nope.php"), 404, "not_found")


def test_wrong_method_is_a_json_405(as_user, member):
    assert_problem(as_user(member).put("/api/v1/auth/me"), 405, "method_not_allowed")


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert_problem(response, 400, "malformed_request")


def test_a_json_array_body_is_400(client):
    response = client.post("/api/v1/auth/login", data="[1,2]", content_type="application/json")
    assert response.status_code == 400


def test_unsupported_media_type_is_415(client):
    response = client.post("/api/v1/auth/login", data="username=a", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")


def test_an_oversized_body_is_413(client, settings):
    big = json.dumps({"username": "a", "password": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = client.post("/api/v1/auth/login", data=big, content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


def test_validation_errors_list_fields(client):
    body = assert_problem(client.post("/api/v1/auth/login", {}, format="json"), 400, "validation_error")
    assert set(body["errors"]) == {"username", "password"}


@pytest.mark.urls("tests.urls")
def test_an_unhandled_error_in_a_drf_view_is_a_json_500_without_internals():
    client = Client(raise_request_exception=False)
    body = assert_problem(client.get("/boom"), 500, "server_error")
    assert "secret internals" not in json.dumps(body)


@pytest.mark.urls("tests.urls")
def test_an_unhandled_error_outside_drf_is_a_json_500():
    client = Client(raise_request_exception=False)
    response = client.get("/django-boom")
    assert_problem(response, 500, "server_error")
    assert b"secret internals" not in response.content
    assert b"<html" not in response.content.lower()


def test_a_bad_host_is_a_json_400():
    response = Client(HTTP_HOST="evil.example").get("/healthz")
    assert_problem(response, 400, "bad_request")


# --- one declared enumeration of every code -----------------------------------


def test_the_docs_list_exactly_the_declared_codes_with_their_status():
    """The docs' Error codes page is generated from ERROR_CODES (scripts/docs_reference.py)."""
    import re

    from infra.errors import ERROR_CODES
    from scripts import docs_reference

    listed = {
        code: int(status) for code, status in re.findall(r"`([a-z_]+)` \| (\d{3})", docs_reference.error_codes_page())
    }
    assert listed == ERROR_CODES


def test_every_code_written_in_the_source_is_declared():
    import re
    from pathlib import Path

    from infra.errors import ERROR_CODES

    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(
        r'code="([a-z_]+)"|^\s*(?:return|failure = \(?)\s*\(?"[^"]+",\s*"([a-z_]+)"|return "([a-z_]+)", "'
    )
    # A credential's refusal (access.refusals): Refusal(reason, code, ...), maybe over two lines.
    refusal = re.compile(r'Refusal\(\s*"[a-z_]+",\s*"([a-z_]+)"')
    found = set()
    packages = ("access", "accounts", "apikeys", "audit", "infra", "teams", "tracking", "integrations", "livestream")
    for package in packages:
        for path in (root / package).rglob("*.py"):
            text = path.read_text()
            found.update(refusal.findall(text))
            for line in text.splitlines():
                for match in pattern.finditer(line):
                    found.update(group for group in match.groups() if group)
    assert {"key_revoked", "token_reused", "last_owner"} <= found  # the scan sees every spelling
    assert found - set(ERROR_CODES) == set()


def test_an_undeclared_code_or_status_fails_loudly_in_tests():
    from infra.errors import UndeclaredErrorCode, problem

    with pytest.raises(UndeclaredErrorCode):
        problem(400, "made_up_code", "x")
    with pytest.raises(UndeclaredErrorCode):
        problem(409, "key_revoked", "x")  # key_revoked is the 401 of using a revoked key
