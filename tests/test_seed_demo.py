import pytest
from django.core.management import call_command

from accounts.models import User
from teams.models import Membership, Team


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_a_curl_line(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert User.objects.filter(username="demo").count() == 1
    assert Team.objects.count() == 2
    assert Membership.objects.count() == 4
    assert "curl" in out and "X-Team-Id" in out
    assert User.objects.get(username="demo").check_password("ghostflow-demo-pass")
