"""A team's policy for API keys (teams.services.set_key_policy; GitHub's organisation policy):
every new key expires, within a cap; reminders 7 days and 1 day before a key expires, once each,
sent by the worker; keys unused too long flagged, or disabled where the team says so."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apikeys import maintenance
from apikeys.models import APIKey
from audit.models import Action, AuditEvent

from .factories import make_key
from .servers import ROOT, environment
from .smtp import smtp_server

pytestmark = pytest.mark.django_db

B = "/api/v1/auth/api-keys"
POLICY = "/api/v1/team/key-policy"


def set_policy(api, **policy):
    body = {"expiry_required": False, "max_lifetime_days": None, "unused_days": None, "unused_action": "flag", **policy}
    return api.put(POLICY, body, format="json")


def create(api, **extra):
    return api.post(B, {"name": "k", "permissions": ["read"], **extra}, format="json")


def test_a_team_that_requires_expiry_refuses_a_key_without_one_with_the_policy_in_the_problem(as_user, owner, team):
    api = as_user(owner, team)
    assert set_policy(api, expiry_required=True).status_code == 200
    refused = create(api)
    assert refused.status_code == 400
    assert refused.json()["code"] == "key_expiry_required" and refused.json()["policy"]["expiry_required"] is True
    in_a_month = (timezone.now() + timedelta(days=30)).isoformat()
    assert create(api, expires_at=in_a_month).status_code == 201


def test_a_lifetime_cap_implies_expiry_and_refuses_beyond_it(as_user, owner, team):
    api = as_user(owner, team)
    policy = set_policy(api, max_lifetime_days=30).json()
    assert policy["expiry_required"] is True and policy["max_lifetime_days"] == 30
    assert create(api).json()["code"] == "key_expiry_required"
    too_long = create(api, expires_at=(timezone.now() + timedelta(days=31)).isoformat())
    assert too_long.status_code == 400 and too_long.json()["code"] == "key_lifetime_exceeded"
    assert too_long.json()["policy"]["max_lifetime_days"] == 30
    assert create(api, expires_at=(timezone.now() + timedelta(days=29)).isoformat()).status_code == 201
    assert AuditEvent.objects.filter(action=Action.TEAM_UPDATED, data__key_max_lifetime_days__to=30).exists()


def test_only_an_owner_sets_the_policy_and_admins_read_it(as_user, owner, admin, team):
    refused = set_policy(as_user(admin, team), expiry_required=True)
    assert refused.status_code == 403 and refused.json()["code"] == "owner_required"
    assert as_user(admin, team).get(POLICY).json()["expiry_required"] is False
    bad = set_policy(as_user(owner, team), max_lifetime_days=0)
    assert bad.status_code == 400


def test_reminders_go_out_7_days_and_1_day_before_expiry_once_each(owner, team):
    now = timezone.now()
    key, _ = make_key(owner, team, ["read"], expires_at=now + timedelta(days=10))
    assert maintenance.send_expiry_reminders(now) == 0
    with time_machine.travel(now + timedelta(days=3, hours=1), tick=False):
        assert maintenance.send_expiry_reminders() == 1
        assert maintenance.send_expiry_reminders() == 0  # once
    with time_machine.travel(now + timedelta(days=9, hours=1), tick=False):
        assert maintenance.send_expiry_reminders() == 1
        assert maintenance.send_expiry_reminders() == 0
    with time_machine.travel(now + timedelta(days=11), tick=False):
        assert maintenance.send_expiry_reminders() == 0  # expired: nothing more
    assert [m.to for m in mail.outbox] == [[owner.email], [owner.email]]
    assert "expires in 7 days" in mail.outbox[0].body and "expires in\n1 day" in mail.outbox[1].body.replace(
        " 1 day", "\n1 day"
    )
    assert APIKey.objects.get(pk=key.pk).expiry_reminders_sent == 2


def test_a_key_made_to_expire_within_a_day_gets_only_the_last_reminder(owner, team):
    make_key(owner, team, ["read"], expires_at=timezone.now() + timedelta(hours=5))
    assert maintenance.send_expiry_reminders() == 1
    assert maintenance.send_expiry_reminders() == 0
    assert len(mail.outbox) == 1


def test_revoked_keys_and_keys_without_expiry_get_no_reminder(owner, team):
    key, _ = make_key(owner, team, ["read"], expires_at=timezone.now() + timedelta(days=2))
    APIKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    make_key(owner, team, ["read"], name="forever")
    assert maintenance.send_expiry_reminders() == 0 and not mail.outbox


def test_unused_keys_are_flagged_or_disabled_as_the_team_says(as_user, as_key, owner, team):
    api = as_user(owner, team)
    set_policy(api, unused_days=30)
    old, raw = make_key(owner, team, ["read"], name="old")
    fresh, _ = make_key(owner, team, ["read"], name="fresh")
    APIKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    listed = {key["name"]: key["unused"] for key in api.get(B).json()["results"]}
    assert listed == {"old": True, "fresh": False}
    assert maintenance.disable_unused_keys() == 0  # flagging only: it keeps working
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200  # (a use: no longer unused)
    APIKey.objects.filter(pk=old.pk).update(last_used_at=timezone.now() - timedelta(days=40))
    set_policy(api, unused_days=30, unused_action="disable")
    assert maintenance.disable_unused_keys() == 1
    assert maintenance.disable_unused_keys() == 0
    assert APIKey.objects.get(pk=old.pk).status == "disabled" and APIKey.objects.get(pk=fresh.pk).status == "active"
    event = AuditEvent.objects.get(action=Action.KEY_DISABLED)
    assert event.actor_id is None and event.data == {"reason": "unused"}
    assert as_key(raw, team).get("/api/v1/campaigns").json()["code"] == "key_disabled"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_reminder_once(settings, owner, team):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    make_key(owner, team, ["read"], expires_at=timezone.now() + timedelta(days=6))
    with smtp_server() as smtp:
        env = environment(settings, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}", BACKGROUND_HOUSEKEEPING_SECONDS="1")
        workers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "run_worker", "--interval", "0.1", "--no-reload"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)  # two workers, as a deployment may run: still one mail
        ]
        try:
            deadline = time.monotonic() + 30
            while not smtp.messages and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # both workers' housekeeping ran again meanwhile
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
        assert len(smtp.messages) == 1, smtp.messages
        assert "expires in 6 days" in smtp.messages[0]
