"""Account enumeration by timing: how long the account-lifecycle endpoints take for an address
that has an account and for one that does not, interleaved, in one process.

    .venv/bin/python bench/timing_oracles.py [--tries 30] [--database-url postgres://...]

Prints, per endpoint, the median and the 10th/90th percentiles of both, and whether the two
distributions overlap. The tests (tests/test_timing_oracles.py) pin the cause (same statements,
same hashing); this re-measures the effect. The default database is a throw-away SQLite file; pass
a PostgreSQL URL to measure what production sees.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(database_url: str) -> None:
    from cryptography.fernet import Fernet

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(40),
            "API_KEY_PEPPER": secrets.token_urlsafe(40),
            "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": database_url,
            "EMAIL_URL": "smtp://127.0.0.1:9",  # replaced by locmem below; never contacted
            "RATE_LIMITS_ENABLED": "0",
            "LOG_LEVEL": "ERROR",
        }
    )
    import django

    django.setup()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="gf-timing-")
    if args.database_url.startswith("postgres"):
        from common import ensure_database

        ensure_database(args.database_url)
    configure(args.database_url or f"sqlite:///{workdir}/bench.sqlite3")

    from django.test import Client

    from accounts import codes
    from accounts.models import OneTimeCode, User

    stamp = secrets.token_hex(4)
    existing = f"timing-{stamp}@example.com"
    unknown = f"nobody-{stamp}@example.com"
    user = User.objects.create_user(username=f"timing-{stamp}", email=existing, password=secrets.token_urlsafe(16))
    client = Client()
    endpoints = {
        "forgot-password": lambda email: {"email": email},
        "resend-verification": lambda email: {"email": email},
        "verify-email": lambda email: {"email": email, "code": "000000"},
        "reset-password": lambda email: {"email": email, "code": "000000", "new_password": "a-fine-new-passphrase"},
    }
    print(f"{'endpoint':<22} {'address':<9} {'median ms':>9} {'p10':>7} {'p90':>7}  overlap")
    for name, body in endpoints.items():
        samples: dict[str, list[float]] = {"existing": [], "unknown": []}
        for _ in range(args.tries):
            # A live code each round, so the existing path does its full work.
            codes.issue(user=user, purpose=OneTimeCode.Purpose.VERIFY_EMAIL)
            codes.issue(user=user, purpose=OneTimeCode.Purpose.RESET_PASSWORD, with_token=True)
            User.objects.filter(pk=user.pk).update(email_verified_at=None)
            pair = [("existing", existing), ("unknown", unknown)]
            random.shuffle(pair)  # neither side always runs right after the set-up writes
            for label, email in pair:
                start = time.perf_counter()
                response = client.post(f"/api/v1/auth/{name}", body(email), content_type="application/json")
                samples[label].append((time.perf_counter() - start) * 1000)
                assert response.status_code < 500, response.content
        overlap = max(min(samples["existing"]), min(samples["unknown"])) <= min(
            max(samples["existing"]), max(samples["unknown"])
        )
        for label, values in samples.items():
            print(
                f"{name:<22} {label:<9} {statistics.median(values):>9.2f} {percentile(values, 0.1):>7.2f} "
                f"{percentile(values, 0.9):>7.2f}  {'yes' if overlap else 'NO'}"
            )
    # The account work the requests queued (and the mail it queues), as the worker does it: so a
    # broken deferred path fails the run too.
    from django.core.management import call_command

    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


if __name__ == "__main__":
    main()
