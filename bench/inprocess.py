"""In-process cost of one request (Django test client, PostgreSQL): the campaigns list of one team
(10 rows) with no authentication (the floor: the same serializer, pagination and middleware, in a
bench-only view), with a gf_ key (principal cache cold, i.e. off, and warm) and with a JWT.

    .venv/bin/python bench/inprocess.py [--requests 1000] [--rounds 10] [--database-url postgres://...]

Interleaved rounds; prints the median ms per request and the ratio to the floor (the median of
each round's ratio to that round's floor), and writes bench/results/inprocess.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def configure(database_url: str) -> None:
    from common import ensure_database, environment

    ensure_database(database_url)
    os.environ.update(environment(database_url))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench")
    args = parser.parse_args()
    configure(args.database_url)

    from django.conf import settings
    from django.test import Client

    from access.scopes import Role
    from accounts.models import User
    from accounts.sessions import start_session
    from apikeys.services import create_key
    from infra import coherence
    from teams.models import Membership, Team
    from tracking.models import Campaign

    user, _ = User.objects.get_or_create(username="bench-inprocess", defaults={"email": "bench-inprocess@example.com"})
    team = Team.objects.filter(name="bench-inprocess").first() or Team.objects.create(name="bench-inprocess")
    membership, _ = Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    if not Campaign.objects.filter(team=team).exists():
        Campaign.objects.bulk_create([Campaign(team=team, name=f"Campaign {n}") for n in range(10)])
    raw = create_key(membership=membership, name=f"bench {time.time()}", permissions=["read:campaigns"]).raw
    jwt = start_session(user=user).access_token
    client = Client()
    by_key = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_X_TEAM_ID": str(team.pk)}
    by_jwt = {"HTTP_AUTHORIZATION": f"Bearer {jwt}", "HTTP_X_TEAM_ID": str(team.pk)}
    cases = {
        "floor (no authentication)": ("/bench/floor/campaigns", {"HTTP_X_BENCH_TEAM": str(team.pk)}, "off"),
        "gf_ key, principal cache off": ("/api/v1/campaigns", by_key, "off"),
        "gf_ key, principal cache warm": ("/api/v1/campaigns", by_key, "on"),
        "JWT, cache off": ("/api/v1/campaigns", by_jwt, "off"),
        "JWT, cache warm": ("/api/v1/campaigns", by_jwt, "on"),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    per_round: dict[str, list[float]] = {name: [] for name in cases}  # each round's median
    for _ in range(args.rounds):
        for name, (path, headers, cache_mode) in cases.items():
            settings.PRINCIPAL_CACHE = cache_mode
            coherence.clear_all()
            for _ in range(20):  # warm-up (and the warm cache)
                assert client.get(path, **headers).status_code == 200, name
            timings = []
            for _ in range(args.requests // args.rounds):
                started = time.perf_counter()
                client.get(path, **headers)
                timings.append((time.perf_counter() - started) * 1000)
            samples[name] += timings
            per_round[name].append(statistics.median(timings))
    # The machine's speed drifts between rounds: each request is compared with the floor of its
    # own round, and the ratio reported is the median of those per-round ratios.
    floors = per_round["floor (no authentication)"]
    results = {}
    print(f"{'request':<34} {'median ms':>10} {'× floor':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = statistics.median(m / floor for m, floor in zip(per_round[name], floors, strict=True))
        results[name] = {"median_ms": round(median, 3), "ratio_to_floor": round(ratio, 2)}
        print(f"{name:<34} {median:>10.2f} {ratio:>8.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "inprocess.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
