"""Rotating API_KEY_PEPPER without killing every key: peppers have ids, new digests use the newest,
keys made under an older one keep working until it is removed."""

import pytest

from apikeys.models import APIKey
from apikeys.services import regenerate_key

pytestmark = pytest.mark.django_db

OLD = "old-pepper-" + "o" * 32
NEW = "new-pepper-" + "n" * 32
CAMPAIGNS = "/api/v1/campaigns"


def test_old_keys_keep_working_after_a_new_pepper_is_added(settings, as_key, key_for, owner, team):
    settings.API_KEY_PEPPERS = {1: OLD}
    old_key, old_raw = key_for(owner, team, permissions=["read:campaigns"])
    assert old_key.pepper_id == 1
    settings.API_KEY_PEPPERS = {1: OLD, 2: NEW}
    new_key, new_raw = key_for(owner, team, permissions=["read:campaigns"], name="new")
    assert new_key.pepper_id == 2
    assert as_key(old_raw, team).get(CAMPAIGNS).status_code == 200
    assert as_key(new_raw, team).get(CAMPAIGNS).status_code == 200


def test_regenerating_moves_a_key_to_the_newest_pepper_and_its_grace_still_works(
    settings, as_key, key_for, owner, team
):
    settings.API_KEY_PEPPERS = {1: OLD}
    key, old_raw = key_for(owner, team, permissions=["read:campaigns"])
    settings.API_KEY_PEPPERS = {1: OLD, 2: NEW}
    new_raw = regenerate_key(key=key, actor=owner, grace_seconds=600).raw
    assert APIKey.objects.get(pk=key.pk).pepper_id == 2
    assert as_key(new_raw, team).get(CAMPAIGNS).status_code == 200
    assert as_key(old_raw, team).get(CAMPAIGNS).status_code == 200  # grace, under the old pepper


def test_removing_a_pepper_ends_the_keys_made_under_it(settings, as_key, key_for, owner, team):
    settings.API_KEY_PEPPERS = {1: OLD}
    _, raw = key_for(owner, team, permissions=["read:campaigns"])
    settings.API_KEY_PEPPERS = {2: NEW}
    response = as_key(raw, team).get(CAMPAIGNS)
    assert response.status_code == 401 and response.json()["code"] == "key_invalid"
    assert APIKey.objects.filter(pepper_id=1).count() == 1  # what the procedure checks first


def test_api_key_peppers_are_read_as_id_pepper_pairs(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "s" * 60,
        "JWT_SIGNING_KEY": "j" * 48,
        "API_KEY_PEPPER": "p" * 48,
        "SECRETS_ENCRYPTION_KEYS": "dGVzdC1zZWNyZXRzLWVuY3J5cHRpb24ta2V5LXR0dHQ=",
        "EMAIL_URL": "consolemail://",
        "API_KEY_PEPPERS": "2:" + "q" * 40,
    }
    code = "from django.conf import settings; print(sorted(settings.API_KEY_PEPPERS))"
    ok = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.stdout.strip() == "[1, 2]", ok.stderr
    env["API_KEY_PEPPERS"] = "two:short"
    bad = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "API_KEY_PEPPERS" in bad.stderr
