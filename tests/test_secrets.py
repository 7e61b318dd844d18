"""No secret (raw key, password, code, token) ever reaches a log line, whatever happens."""

import logging
import re

import pytest
from django.core import mail

from .factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_text():
    """Everything logged at any level by any logger while the test runs."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: "\n".join(
        record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        for record in records
    )
    root.removeHandler(handler)
    root.setLevel(previous)


def test_no_secret_reaches_the_logs(client, as_user, as_key, owner, team, password, log_text, monkeypatch):
    key, raw = make_key(owner, team, ["read:campaigns"])
    pair = client.post("/api/v1/auth/login", {"username": "owner", "password": password}, format="json").json()
    client.post("/api/v1/auth/login", {"username": "owner", "password": "typo-" + password}, format="json")
    client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")  # replay
    as_key(raw, team).get("/api/v1/campaigns")
    as_key(raw, team).get(f"/api/v1/campaigns?api_key={raw}")
    as_key(raw, team).post("/api/v1/campaigns", {"name": "x"}, format="json")  # scope denied
    as_key(raw[:-1] + "0", team).get("/api/v1/campaigns")  # bad checksum

    client.post("/api/v1/auth/forgot-password", {"email": owner.email}, format="json")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    token = re.search(r"token=(\S+)", mail.outbox[-1].body).group(1)
    monkeypatch.setattr("infra.mail.send_mail", lambda *a, **k: (_ for _ in ()).throw(OSError("smtp down")))
    client.post("/api/v1/auth/forgot-password", {"email": owner.email}, format="json")  # mail failure logged
    client.post(
        "/api/v1/auth/reset-password",
        {"email": owner.email, "code": code, "new_password": "brand-new-passphrase"},
        format="json",
    )
    text = log_text()
    assert "smtp down" in text  # the failure was logged...
    assert not re.search(rf"\b{code}\b", text)
    for secret in (
        raw,
        key.digest,
        password,
        "brand-new-passphrase",
        pair["refresh_token"],
        pair["access_token"],
        token,
    ):
        assert secret not in text  # ...and nothing secret with it
