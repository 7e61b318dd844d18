"""What 10,000 Content API requests cost the audit log: rows written and time (in process,
Django test client, PostgreSQL, cache on Redis as in production).

    .venv/bin/python bench/content_api.py [--requests 10000] [--database-url postgres://...]

A Content key is public: its use is counted in the cache and written as one event per minute
(integrations/usage.py), so the rows written stay at one per integration per active minute.
Writes bench/results/content_api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    from common import ensure_database, environment

    ensure_database(args.database_url)
    os.environ.update(environment(args.database_url, REDIS_URL=args.redis_url, RATE_LIMITS_ENABLED="0"))
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    from access.scopes import Role
    from accounts.models import User
    from audit.models import AuditEvent
    from integrations.services import create_integration
    from teams.models import Membership, Team
    from tracking.models import Campaign

    user, _ = User.objects.get_or_create(username="bench-content", defaults={"email": "bench-content@example.com"})
    team = Team.objects.filter(name="bench-content").first() or Team.objects.create(name="bench-content")
    membership, _ = Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    if not Campaign.objects.filter(team=team).exists():
        Campaign.objects.bulk_create(
            [Campaign(team=team, name=f"Campaign {n}", status=Campaign.Status.ACTIVE) for n in range(10)]
        )
    issued = create_integration(membership=membership, name=f"bench {time.time()}", permissions=["read"])
    client = Client()
    url = f"/api/content/v1/campaigns?key={issued.content_key}"
    before = AuditEvent.objects.count()
    started = time.perf_counter()
    for _ in range(args.requests):
        response = client.get(url)
        assert response.status_code == 200, response.content[:200]
    elapsed = time.perf_counter() - started
    rows = AuditEvent.objects.count() - before
    minutes = elapsed / 60
    result = {
        "requests": args.requests,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(args.requests / elapsed),
        "audit_rows_written": rows,
        "minutes_spanned": round(minutes, 2),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "content_api.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
