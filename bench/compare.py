"""`make bench`: our key and JWT requests side by side with peers, in one run, on the same list.

    .venv/bin/python bench/compare.py [--seconds 3] [--rounds 9] [--connections 4] [--workers 2]

The same campaigns list (10 rows of one team, the same 8 fields, cursor pagination, PostgreSQL)
served by gunicorn with the same settings: ours (`GET /api/v1/campaigns` with a gf_ key and
X-Team-Id, team and scope checks and an audit row included; and with a JWT), and a peer project
(bench/peers: Django's default middleware) with no authentication (the floor), behind
djangorestframework-api-key, DRF's TokenAuthentication and simplejwt. Loaded by `wrk -t1` on
loopback in interleaved rounds; prints the req/s range and median, p50/p99 latency and the ratio
to the floor (the median of each round's ratio to that round's floor), and writes
bench/results/compare.json. Needs `wrk` (apt-get install -y wrk) and the `bench` extra
(pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, ROOT, ensure_database, environment, goal_row, gunicorn, load_arguments, seed

BENCH = ROOT / "bench"
PEERS_SEED = """
import json, uuid
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework_api_key.models import APIKey
from rest_framework_simplejwt.tokens import AccessToken
from peers.catalog.models import Campaign

team = uuid.UUID("TEAM")
if Campaign.objects.filter(team_id=team).count() < 10:
    Campaign.objects.filter(team_id=team).delete()
    Campaign.objects.bulk_create([Campaign(team_id=team, name=f"campaign {i}") for i in range(10)])
user = User.objects.filter(username="bench").first() or User.objects.create_user("bench", password="bench-pass-123")
token, _ = Token.objects.get_or_create(user=user)
APIKey.objects.filter(name="bench").delete()
_, key = APIKey.objects.create_key(name="bench")
print(json.dumps({"token": token.key, "api_key": key, "jwt": str(AccessToken.for_user(user))}))
"""


def peers_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "peers.settings",
        "PEERS_SECRET_KEY": secrets.token_urlsafe(50),
        "PEERS_DATABASE_URL": database_url,
        "PYTHONPATH": str(BENCH),
    }


def peers_manage(env, *args) -> str:
    return subprocess.run(
        [PYTHON, "-m", "django", *args], cwd=BENCH, env=env, check=True, capture_output=True, text=True
    ).stdout


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} answers were not 2xx; check the seed.\n{output}")

    def latency(percentile: str) -> float:
        value, unit = re.search(rf"\s{percentile}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, seconds=3, rounds=9)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench")
    parser.add_argument("--peers-database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench_peers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1
    for url in (args.database_url, args.peers_database_url):
        ensure_database(url)
    ours_env = environment(args.database_url, RATE_LIMITS_ENABLED="0", REDIS_URL="redis://127.0.0.1:6379/12")
    ours = seed(ours_env, campaigns=10)
    penv = peers_env(args.peers_database_url)
    peers_manage(penv, "migrate", "--noinput", "-v0")
    peer = json.loads(
        peers_manage(penv, "shell", "-c", PEERS_SEED.replace("TEAM", ours["team"])).strip().splitlines()[-1]
    )
    team = {"X-Team-Id": ours["team"]}
    with ExitStack() as stack:
        our_url = stack.enter_context(gunicorn(ours_env, 8811, args.workers))
        peer_url = stack.enter_context(gunicorn(penv, 8812, args.workers, app="peers.wsgi:application", cwd=BENCH))
        cases = {
            "peer: no authentication (floor)": (f"{peer_url}/floor/campaigns", team),
            "peer: djangorestframework-api-key": (
                f"{peer_url}/api-key/campaigns",
                {**team, "Authorization": f"Api-Key {peer['api_key']}"},
            ),
            "peer: DRF TokenAuthentication": (
                f"{peer_url}/token/campaigns",
                {**team, "Authorization": f"Token {peer['token']}"},
            ),
            "peer: simplejwt": (f"{peer_url}/jwt/campaigns", {**team, "Authorization": f"Bearer {peer['jwt']}"}),
            "ours: gf_ key + X-Team-Id": (
                f"{our_url}/api/v1/campaigns",
                {**team, "Authorization": f"Bearer {ours['key']}"},
            ),
            "ours: gf_ key with limits": (
                f"{our_url}/api/v1/campaigns",
                {**team, "Authorization": f"Bearer {ours['limited_key']}"},
            ),
            "ours: JWT + X-Team-Id": (
                f"{our_url}/api/v1/campaigns",
                {**team, "Authorization": f"Bearer {ours['jwt']}"},
            ),
        }
        rounds: dict[str, list[dict]] = {name: [] for name in cases}
        for url, headers in cases.values():  # warm-up: connections, caches
            wrk(url, headers, 1, args.connections)
        for _ in range(args.rounds):
            for name, (url, headers) in cases.items():
                rounds[name].append(wrk(url, headers, args.seconds, args.connections))
    # This machine's speed drifts by ±15% from one second to the next and more over minutes, so
    # each endpoint is compared with the floor measured in the same round, seconds apart, and the
    # ratio reported is the median of those per-round ratios.
    floors = [r["rps"] for r in rounds["peer: no authentication (floor)"]]
    table = {}
    print(f"{'endpoint':<36} {'min–max req/s':>14} {'median':>7} {'p50 ms':>7} {'p99 ms':>7} {'× floor':>8}")
    for name, results in rounds.items():
        median = statistics.median(r["rps"] for r in results)
        p50 = statistics.median(r["p50_ms"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        ratio = statistics.median(r["rps"] / floor for r, floor in zip(results, floors, strict=True))
        spread = f"{min(r['rps'] for r in results):.0f}–{max(r['rps'] for r in results):.0f}"
        print(f"{name:<36} {spread:>14} {median:>7.0f} {p50:>7.2f} {p99:>7.2f} {ratio:>8.2f}")
        table[name] = {
            "rps": [r["rps"] for r in results],
            "median_rps": median,
            "p50_ms": p50,
            "p99_ms": p99,
            "ratio_to_floor": round(ratio, 2),
        }

    def per_round(name: str, over: str) -> list[float]:
        return [a["rps"] / b["rps"] for a, b in zip(rounds[name], rounds[over], strict=True)]

    key, jwt = "ours: gf_ key + X-Team-Id", "ours: JWT + X-Team-Id"
    peers = ["peer: djangorestframework-api-key", "peer: DRF TokenAuthentication", "peer: simplejwt"]
    fastest = max(peers, key=lambda name: table[name]["median_rps"])
    print()
    goals = [
        goal_row(f"gf_ key × the fastest peer ({fastest.removeprefix('peer: ')})", per_round(key, fastest), 1.0),
        goal_row("gf_ key × the peer floor", per_round(key, "peer: no authentication (floor)"), 0.85),
        goal_row(
            f"gf_ key with limits × the fastest peer ({fastest.removeprefix('peer: ')})",
            per_round("ours: gf_ key with limits", fastest),
            1.0,
        ),
        goal_row("JWT × simplejwt", per_round(jwt, "peer: simplejwt"), 1.2),
    ]
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / "compare.json").write_text(json.dumps({"settings": vars(args), "results": table, "goals": goals}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
