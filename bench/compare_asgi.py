"""The plain API under ASGI against WSGI: what serving the API from the stream service would cost.

    .venv/bin/python bench/compare_asgi.py [--seconds 3] [--rounds 9] [--connections 4] [--workers 2]

`make bench`'s request (bench/compare.py: `GET /api/v1/campaigns`, 10 rows, with a gf_ key and
X-Team-Id, and with a JWT; PostgreSQL, Redis) served by gunicorn with `--workers` workers of each
kind, loaded by `wrk -t1` on loopback in interleaved rounds:

- sync: gunicorn's sync workers on config.wsgi, with persistent connections: what production
  serves the API with;
- asgi: gunicorn with uvicorn workers on config.asgi, Django's stock ASGI handler, as the stream
  service runs it (DATABASE_CONN_MAX_AGE=0: the handler gives each request a thread of its own,
  so a persistent connection would never be reused).

The goal row is the issue's "under ASGI the same figures as sync within 10%"; production routes
only `/api/v1/audit-log/stream` to the ASGI service (README, Deployment), so the API's figures
are the sync ones. Writes bench/results/compare_asgi.json. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, ensure_database, environment, goal_row, gunicorn, load_arguments, seed
from compare import wrk

APPS = {"sync": "config.wsgi:application", "asgi": "config.asgi:application"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, seconds=3, rounds=9)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_bench_stream")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1
    ensure_database(args.database_url)
    base = {"RATE_LIMITS_ENABLED": "0", "CACHE_URL": "redis://127.0.0.1:6379/9"}
    envs = {
        "sync": environment(args.database_url, **base),
        "asgi": environment(args.database_url, **base, DATABASE_CONN_MAX_AGE="0"),
    }
    # One secret for all, so that the seeded key and JWT work on every server.
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "API_KEY_PEPPER"):
        for env in envs.values():
            env[name] = envs["sync"][name]
    ours = seed(envs["sync"], campaigns=10)
    team = {"X-Team-Id": ours["team"]}
    cases = {}
    with ExitStack() as stack:
        for offset, (kind, env) in enumerate(envs.items()):
            worker_class = None if kind == "sync" else "config.workers.UvicornWorker"
            url = stack.enter_context(
                gunicorn(env, 8821 + offset, args.workers, app=APPS[kind], worker_class=worker_class)
            )
            cases[f"{kind}: gf_ key"] = (f"{url}/api/v1/campaigns", {**team, "Authorization": f"Bearer {ours['key']}"})
            cases[f"{kind}: JWT"] = (f"{url}/api/v1/campaigns", {**team, "Authorization": f"Bearer {ours['jwt']}"})
        for url, headers in cases.values():  # warm-up
            wrk(url, headers, 1, args.connections)
        rounds: dict[str, list[dict]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (url, headers) in cases.items():
                rounds[name].append(wrk(url, headers, args.seconds, args.connections))
    table = {}
    print(f"{'server: credential':<23} {'req/s per round':<24} {'median':>7} {'p50 ms':>7} {'p99 ms':>7} {'× sync':>7}")
    for name, results in rounds.items():
        median = statistics.median(r["rps"] for r in results)
        sync = statistics.median(r["rps"] for r in rounds["sync: " + name.split(": ", 1)[1]])
        p50 = statistics.median(r["p50_ms"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        per_round = " / ".join(f"{r['rps']:.0f}" for r in results)
        print(f"{name:<23} {per_round:<24} {median:>7.0f} {p50:>7.2f} {p99:>7.2f} {median / sync:>7.2f}")
        table[name] = {"rps": [r["rps"] for r in results], "median_rps": median, "p50_ms": p50, "p99_ms": p99}
    print()
    goals = [
        goal_row(
            f"ASGI × sync, {credential}",
            [
                a["rps"] / b["rps"]
                for a, b in zip(rounds[f"asgi: {credential}"], rounds[f"sync: {credential}"], strict=True)
            ],
            0.9,
        )
        for credential in ("gf_ key", "JWT")
    ]
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "compare_asgi.json").write_text(
        json.dumps({"settings": vars(args), "results": table, "goals": goals}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
