"""A key's state is decided by one rule, spelled in Python (APIKey.status_at) and SQL
(APIKeyQuerySet.with_status); every listing, filter and check uses one of the two."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.models import APIKey

pytestmark = pytest.mark.django_db


def test_the_python_and_sql_spellings_of_the_state_agree(key_for, owner, team):
    now = timezone.now()
    cases = {
        "active": {},
        "active-with-future-expiry": {"expires_at": now + timedelta(days=1)},
        "expired": {"expires_at": now - timedelta(seconds=1)},
        "revoked": {"revoked_at": now},
        "revoked-and-expired": {"revoked_at": now, "expires_at": now - timedelta(days=1)},
    }
    for name, fields in cases.items():
        key, _ = key_for(owner, team, permissions=["read"], name=name)
        APIKey.objects.filter(pk=key.pk).update(**fields)
    python = {key.name: key.status for key in APIKey.objects.all()}
    sql = dict(APIKey.objects.with_status().values_list("name", "current_status"))
    assert (
        python
        == sql
        == {
            "active": "active",
            "active-with-future-expiry": "active",
            "expired": "expired",
            "revoked": "revoked",
            "revoked-and-expired": "revoked",
        }
    )
    assert set(APIKey.objects.active().values_list("name", flat=True)) == {"active", "active-with-future-expiry"}
