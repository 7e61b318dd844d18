"""In-process cost of one request (Django test client, PostgreSQL): the campaigns list of one team
(10 rows) with no authentication (the floor: the same serializer, pagination and middleware, in a
bench-only view), with a gf_ key (principal cache cold, i.e. off, and warm) and with a JWT; and
the peer project's same list (bench/peers) with no authentication and behind
djangorestframework-api-key, measured the same way in a second process (one Django project per
process).

    .venv/bin/python bench/inprocess.py [--requests 1000] [--rounds 10] [--database-url postgres://...]

Interleaved rounds (ours, then the peer's); prints the median ms per request, the ratio to our
floor and to the peer's floor (each the median of per-round ratios), and writes
bench/results/inprocess.json. The peer needs the `bench` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
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


def timed(client, path: str, headers: dict, requests: int) -> list[float]:
    """Milliseconds of each of `requests` requests, after 20 unmeasured ones (connections, caches)."""
    for _ in range(20):
        assert client.get(path, **headers).status_code == 200, path
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


PEER_TEAM = "00000000-0000-4000-8000-00000000be4c"


def serve_peer(database_url: str) -> None:
    """The peer's side: one line on stdin (a number of requests) is one round of its cases, answered
    with one line of JSON (each case's timings)."""
    from common import ensure_database

    ensure_database(database_url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="peers.settings",
        PEERS_SECRET_KEY=secrets.token_urlsafe(50),
        PEERS_DATABASE_URL=database_url,
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from peers.catalog.models import Campaign
    from rest_framework_api_key.models import APIKey

    call_command("migrate", verbosity=0, interactive=False)
    if Campaign.objects.filter(team_id=PEER_TEAM).count() != 10:
        Campaign.objects.filter(team_id=PEER_TEAM).delete()
        Campaign.objects.bulk_create([Campaign(team_id=PEER_TEAM, name=f"Campaign {n}") for n in range(10)])
    APIKey.objects.filter(name="bench-inprocess").delete()
    _, key = APIKey.objects.create_key(name="bench-inprocess")
    team = {"HTTP_X_TEAM_ID": PEER_TEAM}
    cases = {
        "peer: no authentication": ("/floor/campaigns", team),
        "peer: djangorestframework-api-key": ("/api-key/campaigns", {**team, "HTTP_AUTHORIZATION": f"Api-Key {key}"}),
    }
    client = Client()
    for line in sys.stdin:
        requests = int(line)
        print(json.dumps({name: timed(client, *case, requests) for name, case in cases.items()}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench")
    parser.add_argument("--peers-database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench_peers")
    parser.add_argument("--serve-peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_peer:
        serve_peer(args.peers_database_url)
        return
    peer = subprocess.Popen(
        [sys.executable, __file__, "--serve-peer", "--peers-database-url", args.peers_database_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "bench")},
    )
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
        "floor (no authentication)": ("/api/bench/floor/campaigns", {"HTTP_X_BENCH_TEAM": str(team.pk)}, "off"),
        "gf_ key, principal cache off": ("/api/v1/campaigns", by_key, "off"),
        "gf_ key, principal cache warm": ("/api/v1/campaigns", by_key, "on"),
        "JWT, cache off": ("/api/v1/campaigns", by_jwt, "off"),
        "JWT, cache warm": ("/api/v1/campaigns", by_jwt, "on"),
    }
    per_round_requests = args.requests // args.rounds
    samples: dict[str, list[float]] = {}
    per_round: dict[str, list[float]] = {}  # each round's median
    for _ in range(args.rounds):
        timings = {}
        for name, (path, headers, cache_mode) in cases.items():
            settings.PRINCIPAL_CACHE = cache_mode
            coherence.clear_all()
            timings[name] = timed(client, path, headers, per_round_requests)
        peer.stdin.write(f"{per_round_requests}\n")
        peer.stdin.flush()
        timings.update(json.loads(peer.stdout.readline()))
        for name, values in timings.items():
            samples.setdefault(name, []).extend(values)
            per_round.setdefault(name, []).append(statistics.median(values))
    peer.stdin.close()
    peer.wait(timeout=30)
    # The machine's speed drifts between rounds: each request is compared with the floors of its
    # own round, and the ratio reported is the median of those per-round ratios.
    floors = per_round["floor (no authentication)"]
    peer_floors = per_round["peer: no authentication"]
    results = {}
    print(f"{'request':<36} {'median ms':>10} {'× floor':>8} {'× peer floor':>13}")
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = statistics.median(m / floor for m, floor in zip(per_round[name], floors, strict=True))
        peer_ratio = statistics.median(m / floor for m, floor in zip(per_round[name], peer_floors, strict=True))
        results[name] = {
            "median_ms": round(median, 3),
            "ratio_to_floor": round(ratio, 2),
            "ratio_to_peer_floor": round(peer_ratio, 2),
        }
        print(f"{name:<36} {median:>10.2f} {ratio:>8.2f} {peer_ratio:>13.2f}")
    from common import goal_row

    def over_floor(name: str) -> list[float]:
        return [m / floor for m, floor in zip(per_round[name], floors, strict=True)]

    peer_overhead = [
        m / floor for m, floor in zip(per_round["peer: djangorestframework-api-key"], peer_floors, strict=True)
    ]
    key_overhead = over_floor("gf_ key, principal cache warm")
    print()
    goals = [
        goal_row("gf_ key (cache warm) × our floor", key_overhead, 1.25, at_most=True),
        goal_row("JWT (cache warm) × our floor", over_floor("JWT, cache warm"), 1.15, at_most=True),
        goal_row(
            "our key overhead ÷ the api-key peer's over its floor",
            [ours / theirs for ours, theirs in zip(key_overhead, peer_overhead, strict=True)],
            1.0,
            at_most=True,
        ),
    ]
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "inprocess.json").write_text(json.dumps({"results": results, "goals": goals}, indent=2))


if __name__ == "__main__":
    main()
