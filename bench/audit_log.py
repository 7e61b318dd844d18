"""Audit-log read latency on PostgreSQL with 1,000,000 events across 100 keys.

    python bench/audit_log.py [--events 1000000] [--keys 100] [--repeat 30]

Fills the `ghostflow_bench` database (once; re-runs reuse the rows), then times, through the
real views (Django's test client, no network), the first page and a deep page (a cursor 90% of
the way down) of one key's log and of the team's log. Prints median and p95 in milliseconds and
the query plan of the deep key page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import DEFAULT_DATABASE_URL, ensure_database, environment, manage

FILL = """
INSERT INTO audit_auditevent
    (id, created_at, team_id, actor_id, api_key_id, key_prefix, key_name, action, method, path,
     status_code, ip, user_agent, request_id, data)
SELECT gen_random_uuid(), now() - make_interval(secs => g + k.n * 0.001), %(team)s, %(actor)s, k.id,
       k.prefix, k.name, 'api_request', 'GET', '/api/v1/campaigns', 200, '127.0.0.1', 'bench', '', '{}'::jsonb
FROM generate_series(1, %(per_key)s) AS g
CROSS JOIN (SELECT id, prefix, name, row_number() OVER (ORDER BY id) AS n
            FROM apikeys_apikey WHERE team_id = %(team)s AND name LIKE 'audit-bench-%%') AS k
"""


def timed(client, url, headers, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, **headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()

    ensure_database(args.database_url)
    env = environment(args.database_url, AUDIT_READS_ASYNC_COMMIT="0")
    manage(env, "migrate", "--noinput", "-v0")
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from access.scopes import Role
    from accounts.models import User
    from accounts.sessions import start_session
    from apikeys.keys import generate
    from apikeys.models import APIKey
    from audit.models import AuditEvent
    from infra.pagination import CursorPagination
    from teams.models import Membership, Team

    user = User.objects.filter(username="audit-bench").first() or User.objects.create_user(
        "audit-bench", "audit-bench@example.com", "bench-pass-123"
    )
    team = Team.objects.filter(name="Audit bench").first() or Team.objects.create(name="Audit bench")
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    keys = list(APIKey.objects.filter(team=team, name__startswith="audit-bench-").order_by("id"))
    if len(keys) < args.keys:
        for i in range(len(keys), args.keys):
            issued = generate()
            APIKey.objects.create(
                team=team,
                user=user,
                name=f"audit-bench-{i}",
                permissions=["read"],
                prefix=issued.display_prefix,
                digest=issued.digest,
            )
        keys = list(APIKey.objects.filter(team=team, name__startswith="audit-bench-").order_by("id"))
    per_key = args.events // args.keys
    existing = AuditEvent.objects.filter(team=team).count()
    if existing < per_key * args.keys:
        AuditEvent.objects.filter(team=team).delete()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL, {"team": team.pk, "actor": user.pk, "per_key": per_key})
            cursor.execute("ANALYZE audit_auditevent")
        print(f"inserted {per_key * args.keys:,} events in {time.perf_counter() - started:.1f}s")
    total = AuditEvent.objects.count()
    print(f"audit_auditevent holds {total:,} rows; team {team.pk} has {per_key * args.keys:,} over {len(keys)} keys")

    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {start_session(user=user).access_token}", "HTTP_X_TEAM_ID": str(team.pk)}
    key = keys[len(keys) // 2]
    paginator = CursorPagination()

    def deep_cursor(queryset, url):
        position = queryset.order_by("-created_at", "-id").values_list("created_at", flat=True)[
            int(queryset.count() * 0.9)
        ]
        from django.test import RequestFactory
        from rest_framework.pagination import Cursor
        from rest_framework.request import Request

        paginator.base_url = url
        paginator.request = Request(RequestFactory().get(url))
        return paginator.encode_cursor(Cursor(offset=0, reverse=False, position=str(position)))

    rows = []
    key_url = f"/api/v1/auth/api-keys/{key.pk}/audit-log"
    team_url = "/api/v1/audit-log"
    for label, url, queryset in [
        ("key log", key_url, AuditEvent.objects.filter(api_key=key)),
        ("team log", team_url, AuditEvent.objects.filter(team=team)),
    ]:
        first = timed(client, url + "?page_size=50", headers, args.repeat)
        deep_url = deep_cursor(queryset, url) + "&page_size=50"
        deep = timed(client, deep_url, headers, args.repeat)
        rows.append((label, "first page", first))
        rows.append((label, "deep page (90%)", deep))

    print(f"\n{'listing':<10}{'page':<18}{'median ms':>10}{'p95 ms':>10}")
    for label, page, (median, p95, _) in rows:
        print(f"{label:<10}{page:<18}{median:>10.2f}{p95:>10.2f}")

    position = (
        AuditEvent.objects.filter(api_key=key)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[int(per_key * 0.9)]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN ANALYZE SELECT * FROM audit_auditevent WHERE team_id = %s AND api_key_id = %s "
            "AND created_at < %s ORDER BY created_at DESC, id DESC LIMIT 51",
            [team.pk, key.pk, position],
        )
        print("\nplan of the deep key page:")
        for (line,) in cursor.fetchall():
            print("  " + line)


if __name__ == "__main__":
    main()
