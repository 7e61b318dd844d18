"""Leaked-key reports (apikeys/leaks.py), in GitHub's secret-scanning partner format, signed by
the reporter: a live key found in public stops working at once, its people are told; a forged or
unsigned report changes nothing."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from rest_framework.test import APIClient

from access.scopes import Role
from apikeys import keys
from apikeys.models import APIKey
from apikeys.services import regenerate_key
from audit.models import Action, AuditEvent

from .factories import MembershipFactory, UserFactory, make_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/secret-scanning/reports"
KEY_ID = "test-key-1"


@pytest.fixture
def reporter(settings):
    private = ec.generate_private_key(ec.SECP256R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings.SECRET_SCANNING_PUBLIC_KEYS = {KEY_ID: pem}
    return private


def report(private, findings, *, key_id=KEY_ID, body=None, signature=None):
    raw = body if body is not None else json.dumps(findings).encode()
    signed = signature or base64.b64encode(private.sign(raw, ec.ECDSA(hashes.SHA256()))).decode()
    return APIClient().generic(
        "POST",
        URL,
        raw,
        content_type="application/json",
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER=key_id,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=signed,
    )


def finding(token, url="https://github.com/acme/app/blob/main/.env"):
    return {"token": token, "type": "ghostflow_api_key", "url": url, "source": "content"}


def live_key(owner, team, as_key):
    key, raw = make_key(owner, team, ["read"])
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200
    return key, raw


def test_a_live_key_found_in_public_is_revoked_at_once_and_its_people_are_told(reporter, owner, team, as_key):
    admin = MembershipFactory(
        team=team, role=Role.ADMIN, user=UserFactory(username="adm", email="adm@example.com")
    ).user
    MembershipFactory(team=team, role=Role.MEMBER, user=UserFactory(username="mem", email="mem@example.com"))
    key, raw = live_key(owner, team, as_key)
    response = report(reporter, [finding(raw)])
    assert response.status_code == 200, response.content
    assert response.json() == [{"token_raw": raw, "token_type": "ghostflow_api_key", "label": "true_positive"}]
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 401
    assert APIKey.objects.get(pk=key.pk).revoked_at is not None
    leaked = AuditEvent.objects.get(action=Action.KEY_LEAKED)
    assert leaked.data["url"].endswith(".env") and leaked.data["outcome"] == "revoked" and raw not in str(leaked.data)
    assert AuditEvent.objects.filter(action=Action.KEY_REVOKED, data__reason="leaked").count() == 1
    told = sorted(message.to[0] for message in mail.outbox)
    assert told == sorted([owner.email, admin.email])
    assert all(raw not in message.body and "acme/app" in message.body for message in mail.outbox)


def test_a_forged_or_unsigned_report_changes_nothing(reporter, owner, team, as_key):
    _, raw = live_key(owner, team, as_key)
    body = json.dumps([finding(raw)]).encode()
    other = ec.generate_private_key(ec.SECP256R1())
    forged = base64.b64encode(other.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    tampered_body = json.dumps([finding(raw, url="https://evil.example")]).encode()
    genuine = base64.b64encode(reporter.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    answers = [
        report(reporter, None, body=body, signature=forged),
        report(reporter, None, body=tampered_body, signature=genuine),  # signed for another body
        report(reporter, None, body=body, key_id="unknown-key"),
        report(reporter, None, body=body, signature="not base64!"),
        APIClient().post(URL, [finding(raw)], format="json"),  # no signature at all
    ]
    assert [a.status_code for a in answers] == [401] * 5
    assert {a.json()["code"] for a in answers} == {"signature_invalid"}
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200
    assert not AuditEvent.objects.filter(action=Action.KEY_LEAKED).exists() and not mail.outbox


def test_no_configured_reporter_refuses_every_report(settings, owner, team, as_key):
    settings.SECRET_SCANNING_PUBLIC_KEYS = {}
    private = ec.generate_private_key(ec.SECP256R1())
    _, raw = live_key(owner, team, as_key)
    assert report(private, [finding(raw)]).status_code == 401


def test_tokens_not_ours_are_false_positives_and_never_looked_up(reporter):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    random_part = "A" * keys.RANDOM_LENGTH
    wrong_checksum = keys.KEY_PREFIX + random_part + "zzzzzz"
    unknown = keys.generate().raw  # well formed, never issued
    findings = [finding("ghp_notours"), finding(wrong_checksum), finding(unknown)]
    with CaptureQueriesContext(connection) as queries:
        response = report(reporter, findings)
    # One look-up, of the one well-formed token (the others never reach the database); besides it,
    # only savepoints.
    reads = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(reads) == 1 and reads[0].startswith("SELECT") and "apikeys_apikey" in reads[0]
    assert [row["label"] for row in response.json()] == ["false_positive"] * 3


def test_a_revoked_key_is_ours_but_nothing_more_happens(reporter, owner, team, as_key):
    key, raw = live_key(owner, team, as_key)
    APIKey.objects.filter(pk=key.pk).update(revoked_at=key.created_at)
    response = report(reporter, [finding(raw), finding(raw)])  # the same token twice: handled once
    assert [row["label"] for row in response.json()] == ["true_positive", "true_positive"]
    assert AuditEvent.objects.filter(action=Action.KEY_LEAKED).get().data["outcome"] == "not_live"
    assert not mail.outbox


def test_a_replaced_secret_found_during_its_grace_ends_only_the_grace(reporter, owner, team, as_key):
    key, old_raw = live_key(owner, team, as_key)
    new_raw = regenerate_key(key=key, actor=owner, grace_seconds=3600).raw
    assert as_key(old_raw, team).get("/api/v1/campaigns").status_code == 200  # in its grace
    response = report(reporter, [finding(old_raw)])
    assert response.json()[0]["label"] == "true_positive"
    assert as_key(old_raw, team).get("/api/v1/campaigns").status_code == 401
    assert as_key(new_raw, team).get("/api/v1/campaigns").status_code == 200
    assert AuditEvent.objects.get(action=Action.KEY_LEAKED).data["outcome"] == "grace_ended"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'[{"token": 5}]', b"[1]", json.dumps([{"token": "x"}] * 1001).encode()],
    ids=["not-json", "object", "token-not-string", "not-objects", "too-many"],
)
def test_a_malformed_signed_report_is_a_clear_400(reporter, body):
    response = report(reporter, None, body=body)
    assert response.status_code == 400 and response.json()["code"] == "invalid_report"


def test_a_deeply_nested_signed_report_is_a_400_not_a_500(reporter):
    body = b"[" * 100_000 + b"]" * 100_000
    response = report(reporter, None, body=body)
    assert response.status_code == 400 and response.json()["code"] == "invalid_report"


def test_a_team_that_flags_leaked_keys_gets_them_marked_not_revoked(reporter, owner, team, as_key, as_user):
    api = as_user(owner, team)
    assert api.put("/api/v1/team/leaked-key-policy", {"action": "flag"}, format="json").json() == {"action": "flag"}
    key, raw = live_key(owner, team, as_key)
    assert report(reporter, [finding(raw)]).json()[0]["label"] == "true_positive"
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200  # still works, as the team chose
    listed = api.get(f"/api/v1/auth/api-keys/{key.pk}").json()
    assert listed["leaked_at"] and listed["status"] == "active"
    assert AuditEvent.objects.get(action=Action.KEY_LEAKED).data["outcome"] == "flagged"
    assert any("STILL WORKS" in message.body for message in mail.outbox)


def test_only_an_owner_chooses_to_flag_rather_than_revoke(owner, admin, team, as_user, as_key):
    refused = as_user(admin, team).put("/api/v1/team/leaked-key-policy", {"action": "flag"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "owner_required"
    _, raw = make_key(owner, team, ["admin"])
    by_key = as_key(raw, team).put("/api/v1/team/leaked-key-policy", {"action": "flag"}, format="json")
    assert by_key.status_code == 403
    bad = as_user(owner, team).put("/api/v1/team/leaked-key-policy", {"action": "ignore"}, format="json")
    assert bad.status_code == 400
    team.refresh_from_db()
    assert team.leaked_key_action == "revoke"
    assert as_user(admin, team).get("/api/v1/team/leaked-key-policy").json() == {"action": "revoke"}
