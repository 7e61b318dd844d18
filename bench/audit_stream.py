"""Live audit streams under load: one ASGI process holding many streams while events are written.

    .venv/bin/python bench/audit_stream.py [--streams 500] [--teams 50] [--rate 200] [--seconds 20]

Serves the app with one uvicorn process (uvloop, httptools) on 127.0.0.1, PostgreSQL and Redis as
in production (`bench` databases: PostgreSQL `ghostflow_bench_stream`, Redis db 9 under a key
prefix of its own), opens `--streams` streams spread evenly over `--teams` teams (each with a
stream token, as the dashboard does), then writes audit events at `--rate` per second for
`--seconds` seconds, spread over the teams, from this process (each through
audit.services.record_event, in autocommit: its commit is when record_event returns), while a
key-authenticated `GET /api/v1/campaigns` is sent every 100 ms to show that the ordinary API still
answers. Prints and writes to bench/results/audit_stream.json:

- memory per stream: the server's RSS with the streams open (idle) less its RSS before, divided by
  the number of streams;
- the delay from commit to delivery, over every (event, stream) pair: p50, p99, max;
- events lost (a stream that should have had an event and did not) and duplicates;
- the plain API's latency while this runs.

Bounded in count and time, loopback only; it stops the server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, ROOT, ensure_database, environment

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ghostflow_bench_stream"
PORT = 8831


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


SEED = """
import json
from access.scopes import Role
from accounts.models import User
from accounts.sessions import start_session
from apikeys.models import APIKey
from apikeys.services import create_key
from teams.models import Membership, Team

user = User.objects.filter(username="streamer").first() or User.objects.create_user(
    "streamer", "streamer@example.com", "bench-pass-123"
)
teams = []
for n in range(TEAMS):
    team = Team.objects.filter(name=f"Stream {n}").first() or Team.objects.create(name=f"Stream {n}")
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    teams.append(str(team.pk))
first = Membership.objects.get(team_id=teams[0], user=user)
APIKey.objects.filter(team_id=teams[0], name="stream bench").delete()
raw = create_key(membership=first, name="stream bench", permissions=["read"]).raw
print(json.dumps({"teams": teams, "jwt": start_session(user=user).access_token, "key": raw}))
"""


async def open_stream(team: str, token: str, received: dict, index: int, ready: asyncio.Event, counts: list):
    """A minimal SSE client over a raw connection (500 of them must not load the machine)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(
        f"GET /api/v1/audit-log/stream?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream {index}: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    counts[0] += 1
    if counts[0] == counts[1]:
        ready.set()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            # chunked transfer: chunk-size lines are hex, SSE lines are "id: ..."
            if line.startswith(b"id: "):
                received.setdefault(line[4:].strip().decode(), []).append((index, time.monotonic()))
    finally:
        writer.close()


def mint_tokens(url: str, jwt: str, teams: list[str], streams: int) -> list[tuple[str, str]]:
    tokens = []
    for index in range(streams):
        team = teams[index % len(teams)]
        request = urllib.request.Request(
            f"{url}/api/v1/audit-log/stream-token",
            method="POST",
            headers={"Authorization": f"Bearer {jwt}", "X-Team-Id": team},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            tokens.append((team, json.load(response)["token"]))
    return tokens


def probe_api(url: str, key: str, team: str, stop: threading.Event, results: list):
    request = urllib.request.Request(
        f"{url}/api/v1/campaigns", headers={"Authorization": f"Bearer {key}", "X-Team-Id": team}
    )
    while not stop.is_set():
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            results.append((response.status, (time.monotonic() - started) * 1000))
        stop.wait(0.1)


def write_events(teams: list[str], rate: int, seconds: float, committed: dict):
    """record_event in autocommit: committed when it returns. Paced to `rate` per second."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from audit.models import Action
    from audit.services import record_event

    total = int(rate * seconds)
    started = time.monotonic()
    for n in range(total):
        target = started + n / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        event = record_event(action=Action.TEAM_UPDATED, team_id=teams[n % len(teams)], data={"bench": n})
        committed[str(event.id)] = (teams[n % len(teams)], time.monotonic())
    from django.db import connections

    connections.close_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    if args.streams > 2000 or args.seconds > 120 or args.rate > 2000:
        raise SystemExit("Bounded: at most 2000 streams, 120 s, 2000 events/s.")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.streams + 256)), hard))

    ensure_database(args.database_url)
    prefix = f"bench-stream-{secrets.token_hex(4)}"
    env = environment(
        args.database_url,
        RATE_LIMITS_ENABLED="0",
        CACHE_URL=f"redis://127.0.0.1:6379/9?key_prefix={prefix}",
        DATABASE_CONN_MAX_AGE="0",  # under ASGI each request runs on a thread of its own
        AUDIT_READS_ASYNC_COMMIT="1",
        AUDIT_STREAM_MAX_PER_PROCESS=str(args.streams + 10),
    )
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    seed = json.loads(
        subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", SEED.replace("TEAMS", str(args.teams))],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    os.environ.update(env)  # the writer thread runs Django here, on the same database and Redis
    command = [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(PORT)]
    command += ["--lifespan", "off", "--no-access-log", "--log-level", "warning", "--backlog", "2048"]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        return asyncio.run(run(args, seed, url, server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


async def run(args, seed, url: str, pid: int) -> int:
    teams = seed["teams"][: args.teams]
    # Warm up: one stream opened and closed (the hub, its threads, Django's modules), then rest.
    (warm,) = mint_tokens(url, seed["jwt"], teams, 1)
    received: dict[str, list] = {}
    ready = asyncio.Event()
    task = asyncio.create_task(open_stream(warm[0], warm[1], received, -1, ready, [0, 1]))
    await asyncio.wait_for(ready.wait(), 10)
    task.cancel()
    await asyncio.sleep(2)
    before = rss_kib(pid)

    tokens = mint_tokens(url, seed["jwt"], teams, args.streams)
    ready, counts = asyncio.Event(), [0, args.streams]
    opened_at = time.monotonic()
    clients = [
        asyncio.create_task(open_stream(team, token, received, index, ready, counts))
        for index, (team, token) in enumerate(tokens)
    ]
    await asyncio.wait_for(ready.wait(), 60)
    open_seconds = time.monotonic() - opened_at
    await asyncio.sleep(3)
    idle = rss_kib(pid)

    committed: dict[str, tuple[str, float]] = {}
    stop, probes = threading.Event(), []
    probe = threading.Thread(target=probe_api, args=(url, seed["key"], teams[0], stop, probes), daemon=True)
    probe.start()
    writer = threading.Thread(target=write_events, args=(teams, args.rate, args.seconds, committed))
    writer.start()
    while writer.is_alive():
        await asyncio.sleep(0.2)
    peak = rss_kib(pid)
    await asyncio.sleep(3)  # the last deliveries
    stop.set()
    probe.join(5)
    for client in clients:
        client.cancel()
    await asyncio.gather(*clients, return_exceptions=True)

    streams_of = {}
    for index, (team, _) in enumerate(tokens):
        streams_of.setdefault(team, []).append(index)
    delays, lost, duplicates = [], 0, 0
    quarters: list[list[float]] = [[], [], [], []]
    order = {event_id: n for n, event_id in enumerate(committed)}
    for event_id, (team, at) in committed.items():
        deliveries = received.get(event_id, [])
        by_stream = {}
        for index, when in deliveries:
            if index in by_stream:
                duplicates += 1
            by_stream.setdefault(index, when)
        for index in streams_of[team]:
            if index in by_stream:
                delays.append((by_stream[index] - at) * 1000)
                quarters[min(3, 4 * order[event_id] // len(committed))].append(delays[-1])
            else:
                lost += 1
    api_ms = [ms for _, ms in probes]
    result = {
        "settings": vars(args),
        "streams_open_seconds": round(open_seconds, 2),
        "rss_kib": {"before": before, "streams_idle": idle, "during_load": peak},
        "memory_per_stream_kib": round((idle - before) / args.streams, 1),
        "events_written": len(committed),
        "deliveries": len(delays),
        "delay_ms": {
            "p50": round(percentile(delays, 0.5), 1),
            "p99": round(percentile(delays, 0.99), 1),
            "max": round(max(delays), 1),
        }
        if delays
        else None,
        # A delay that grows from quarter to quarter would be a backlog: the server falling behind.
        "delay_p50_ms_by_quarter": [round(statistics.median(q), 1) for q in quarters if q],
        "lost": lost,
        "duplicates": duplicates,
        "api_during_load": {
            "requests": len(api_ms),
            "non_200": sum(1 for status, _ in probes if status != 200),
            "p50_ms": round(statistics.median(api_ms), 1) if api_ms else None,
            "p99_ms": round(percentile(api_ms, 0.99), 1) if api_ms else None,
        },
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "audit_stream.json").write_text(json.dumps(result, indent=2))
    return 0 if lost == 0 and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
