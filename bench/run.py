"""Requests/s of the key-authenticated `GET /api/v1/campaigns`, side by side with a JWT and with
no credential at all (the same URL, answered 401), and with request auditing on and off.

    python bench/run.py [--seconds 6] [--rounds 3] [--concurrency 4] [--workers 2]

Serves the app with gunicorn on PostgreSQL (DATABASE_URL, default a `ghostflow_bench` database
on 127.0.0.1:5432) and loads it from local processes only. Prints a table and the ratios, and
writes them to bench/results/run.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATABASE_URL, ROOT, ensure_database, environment, gunicorn, seed

PATH = "/api/v1/campaigns?page_size=20"


def _hammer(args):
    port, headers, seconds = args
    done, codes, latencies = 0, {}, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", PATH, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        latencies.append(time.perf_counter() - started)
        codes[response.status] = codes.get(response.status, 0) + 1
        done += 1
    return done, codes, latencies


def measure(port: int, headers: dict[str, str], seconds: float, concurrency: int) -> dict:
    with Pool(concurrency) as pool:
        _hammer((port, headers, 1.0))  # warm-up
        results = pool.map(_hammer, [(port, headers, seconds)] * concurrency)
    total = sum(r[0] for r in results)
    codes: dict[int, int] = {}
    latencies: list[float] = []
    for _, c, lat in results:
        for code, n in c.items():
            codes[code] = codes.get(code, 0) + n
        latencies += lat
    latencies.sort()
    return {
        "rps": round(total / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "codes": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()

    ensure_database(args.database_url)
    env = environment(args.database_url)
    data = seed(env)
    team = {"X-Team-Id": data["team"]}
    key = {**team, "Authorization": f"Bearer {data['key']}"}
    audited, unaudited = args.port, args.port + 1
    scenarios = {
        "gf_ key": (audited, key),
        "JWT": (audited, {**team, "Authorization": f"Bearer {data['jwt']}"}),
        "no auth (401)": (audited, team),
        "gf_ key, auditing off": (unaudited, key),
    }
    # Both servers run side by side and every round measures each scenario once, so warm-up and
    # drift hit all scenarios alike; the table shows each scenario's median round.
    rounds: dict[str, list[dict]] = {name: [] for name in scenarios}
    with (
        gunicorn(env, audited, args.workers),
        gunicorn({**env, "AUDIT_API_KEY_REQUESTS": "0"}, unaudited, args.workers),
    ):
        for _ in range(args.rounds):
            for name, (port, headers) in scenarios.items():
                rounds[name].append(measure(port, headers, args.seconds, args.concurrency))
    results = {name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for name, runs in rounds.items()}

    print(
        f"\nGET {PATH}  ({args.workers} gunicorn workers per server, {args.concurrency} client processes, "
        f"{args.rounds} rounds of {args.seconds:g}s per scenario; median round)"
    )
    print(f"{'scenario':<24}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}  all rounds (req/s)")
    for name, r in results.items():
        every = ", ".join(str(run["rps"]) for run in rounds[name])
        print(f"{name:<24}{r['rps']:>10}{r['p50_ms']:>10}{r['p95_ms']:>10}  {every}")
    baseline = results["no auth (401)"]["rps"]
    ratios = {
        "key / no auth": round(results["gf_ key"]["rps"] / baseline, 3),
        "JWT / no auth": round(results["JWT"]["rps"] / baseline, 3),
        "key / JWT": round(results["gf_ key"]["rps"] / results["JWT"]["rps"], 3),
        "key audited / key not audited": round(results["gf_ key"]["rps"] / results["gf_ key, auditing off"]["rps"], 3),
    }
    print()
    for name, value in ratios.items():
        print(f"{name:<32}{value:>8}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "run.json").write_text(json.dumps({"results": results, "ratios": ratios, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
