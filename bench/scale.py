"""`make bench-scale`: key requests, audit pages and retention at 1,000,000 keys and 10,000,000
audit events on PostgreSQL.

    .venv/bin/python bench/scale.py [--keys 1000000] [--events 10000000] [--months 12]
        [--database-url postgres://postgres@127.0.0.1:5432/ghostflow_scale] [--skip-generate]
        [--seconds 5] [--rounds 5] [--connections 4] [--workers 2] [--repeat 30]
        [--prune-older-than 180] [--prune-commit]

1. Generates, with COPY (never the API): users, teams (two members each), `--keys` API keys (ten
   per user; stored digests, not usable), and `--events` audit events spread evenly over the last
   `--months` months and the current one, so over many monthly partitions. 5% of the events
   belong to one key of the bench team ("scale-hot", made by apikeys.services.create_key) and 5%
   more to that team without a key, so its pages have depth; 2.5% to the only key of a second
   team ("scale-idle"), which stops IDLE_DAYS before now: a big customer gone quiet. A re-run
   reuses the data when the counts match (`--skip-generate` does not even count).
2. Key-request throughput: `GET /api/v1/campaigns` with a gf_ key (made by the real service) and
   X-Team-Id, against a small database (`<name>_small`: the seed only) and the scaled one, each
   under its own gunicorn, with the principal cache on (the default with Redis) and off (every
   request looks the key up among 1,000,000). wrk in interleaved rounds; the ratio scaled/small
   (median of the per-round ratios) must be >= 0.9.
3. The SQL of the per-key and team audit pages (first page, and a page 6 months back through a
   cursor): the query the views run (selectors + infra.pagination), captured through the ORM,
   then timed as a round trip (planning included) and with EXPLAIN ANALYZE; must be < 10 ms.
   The same pages are timed again with the plain created_at index dropped (in a transaction that
   is rolled back), to show what that index costs the listings' plans.
4. prune_audit's work (audit.retention.prune_events) at 10M rows with a cutoff `--prune-older-than`
   days back: whole months dropped, the straddling month's older rows deleted in batches. Run in
   a transaction that is rolled back, so the data set survives for the next run (`--prune-commit`
   keeps the result; the next run then regenerates the events). The row-delete rate measured on
   the straddling month gives the old all-rows delete time by extrapolation.
5. The usage rollup (usage.rollup): a first run counting 90 days of the 10M events, the steady
   run of every minute, a run counting one minute of `--busy` requests (each from a different
   key: one row each, the worst case), and the usage pages' reads (rolled back).

Writes bench/results/scale.json and prints the tables. Needs wrk and a local PostgreSQL and
Redis; the generated data takes about 6 GB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import PYTHON, ROOT, ensure_database, environment, gunicorn, seed
from compare import wrk

MARK = "scale"  # the request_id of every generated event: how a re-run counts them
HOT_SHARE = 0.05  # events of the bench team's "scale-hot" key
TEAM_SHARE = 0.05  # more events of the bench team, without a key (logins)
IDLE_SHARE = 0.025  # events of the "scale-idle" team's only key, which stops IDLE_DAYS before now
IDLE_DAYS = 30
PAGE_SIZE = 50
SQL_BUDGET_MS = 10.0
THROUGHPUT_FLOOR = 0.9

# Generated rows get recognisable ids (the last 12 hex digits are the row's index), so events
# can name keys, users and teams without reading a million rows back.
KEY_ID = "5ca1e000-0000-4000-8000-{:012x}"
USER_ID = "5ca1e000-0000-4000-8001-{:012x}"
TEAM_ID = "5ca1e000-0000-4000-8002-{:012x}"
KEYS_PER_USER = 10
USERS_PER_TEAM = 2
EPOCH = "2025-01-01 00:00:00+00"

EVENT_COLUMNS = (
    "id, created_at, team_id, actor_id, api_key_id, key_prefix, key_name, action, method, path, "
    "status_code, ip, user_agent, request_id, data"
)


def shape(keys: int) -> tuple[int, int]:
    users = math.ceil(keys / KEYS_PER_USER)
    return users, math.ceil(users / USERS_PER_TEAM)


# --- generation ---------------------------------------------------------------------------------


def copy_lines(cursor, statement: str, lines) -> None:
    """COPY text lines into a table, 20,000 lines a write. The queued writer sends from a thread
    (libpq releases the GIL), so the database ingests while Python makes the next block."""
    from psycopg.copy import QueuedLibpqWriter

    block = []
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        for line in lines:
            block.append(line)
            if len(block) == 20_000:
                copy.write("".join(block))
                block = []
        if block:
            copy.write("".join(block))


def copy_rows(cursor, model, columns: str, rows) -> None:
    """COPY `rows` (tab-separated lines of `columns`) into `model`'s table, with every other
    NOT NULL column of the model at its default, so that a field added later needs no change here."""
    given = [name.strip() for name in columns.split(",")]
    rest, values = [], []
    for field in model._meta.concrete_fields:
        if field.column in given or field.null or not field.has_default():
            continue
        value = field.get_default()
        if isinstance(value, bool):
            text = "t" if value else "f"
        elif isinstance(value, list | dict):
            text = json.dumps(value)
        else:
            text = str(value)
        rest.append(field.column)
        values.append(text)
    suffix = "".join(f"\t{value}" for value in values)
    lines = (line[:-1] + suffix + "\n" for line in rows)
    copy_lines(cursor, f"COPY {model._meta.db_table} ({', '.join(given + rest)}) FROM STDIN", lines)


def generate_accounts(raw, *, keys: int) -> None:
    from accounts.models import User
    from apikeys.models import APIKey
    from teams.models import Membership, Team

    users, teams = shape(keys)
    with raw.cursor() as cursor:
        copy_rows(
            cursor,
            Team,
            "id, name, plan, created_at",
            (f"{TEAM_ID.format(t)}\tscale-team-{t}\tfree\t{EPOCH}\n" for t in range(teams)),
        )
        # "!" is Django's unusable-password marker: nobody can log in as a generated user.
        copy_rows(
            cursor,
            User,
            "id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined",
            (
                f"{USER_ID.format(u)}\t!\tf\tscale-user-{u}\t\t\tscale-user-{u}@example.invalid\tf\tt\t{EPOCH}\n"
                for u in range(users)
            ),
        )
        copy_rows(
            cursor,
            Membership,
            "team_id, user_id, role, created_at",
            (
                f"{TEAM_ID.format(u // USERS_PER_TEAM)}\t{USER_ID.format(u)}\t"
                f"{'owner' if u % USERS_PER_TEAM == 0 else 'member'}\t{EPOCH}\n"
                for u in range(users)
            ),
        )
        # Digests are unique placeholders, not HMACs: these keys exist to make the table big.
        copy_rows(
            cursor,
            APIKey,
            "id, team_id, user_id, name, permissions, prefix, digest, pepper_id, created_at",
            (
                f"{KEY_ID.format(k)}\t{TEAM_ID.format(k // KEYS_PER_USER // USERS_PER_TEAM)}\t"
                f'{USER_ID.format(k // KEYS_PER_USER)}\tscale-{k}\t["read"]\tgf_{k:08x}\t{k:064x}\t1\t{EPOCH}\n'
                for k in range(keys)
            ),
        )


def event_lines(
    *, start: datetime, end: datetime, idle_from: datetime, count: int, keys: int, big: dict, rng: random.Random
):
    """`count` events evenly spread over [start, end), in time order, as COPY text lines."""
    idle_from_us = int(idle_from.timestamp() * 1_000_000)
    start_us = int(start.timestamp() * 1_000_000)
    step = (end.timestamp() - start.timestamp()) * 1_000_000 / count
    from_timestamp = datetime.fromtimestamp
    for j in range(count):
        moment = start_us + int((j + rng.random()) * step)
        # A UUIDv7 of that moment (audit.models.uuid7's layout), so ids order like created_at.
        uid = (moment // 1000) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
        created = from_timestamp(moment / 1_000_000, UTC).isoformat()
        draw = rng.random()
        if draw < HOT_SHARE:
            rest = big["hot"]
        elif draw < HOT_SHARE + TEAM_SHARE:
            rest = big["login"]
        elif draw < HOT_SHARE + TEAM_SHARE + IDLE_SHARE and moment < idle_from_us:
            rest = big["idle"]
        else:
            k = rng.randrange(keys)
            u = k // KEYS_PER_USER
            rest = (
                f"{TEAM_ID.format(u // USERS_PER_TEAM)}\t{USER_ID.format(u)}\t{KEY_ID.format(k)}\t"
                f"gf_{k:08x}\tscale-{k}\tapi_request\tGET\t/api/v1/campaigns\t200"
            )
        yield f"{uid:032x}\t{created}\t{rest}\t10.0.0.1\tscale-bench\t{MARK}\t{{}}\n"


def generate_events(raw, *, events: int, keys: int, months: int, hot_key, idle_key, owner_id, log) -> None:
    from django.utils import timezone

    from audit import partitions

    now = timezone.now()
    first = partitions.add_months(partitions.month_start(now), -months)
    partitions.ensure_partitions(since=first)
    start, end = datetime(first.year, first.month, 1, tzinfo=UTC), now - timedelta(minutes=1)
    request = "api_request\tGET\t/api/v1/campaigns\t200"
    big = {
        "hot": f"{hot_key.team_id}\t{owner_id}\t{hot_key.pk}\t{hot_key.prefix}\t{hot_key.name}\t{request}",
        "idle": f"{idle_key.team_id}\t{owner_id}\t{idle_key.pk}\t{idle_key.prefix}\t{idle_key.name}\t{request}",
        "login": f"{hot_key.team_id}\t{owner_id}\t\\N\t\t\tlogin.succeeded\tPOST\t/api/v1/auth/login\t200",
    }
    rng = random.Random(20261123)
    total_seconds = (end - start).total_seconds()
    month, written = first, 0
    while datetime(month.year, month.month, 1, tzinfo=UTC) < end:
        chunk_start = datetime(month.year, month.month, 1, tzinfo=UTC)
        following = partitions.add_months(month, 1)
        chunk_end = min(end, datetime(following.year, following.month, 1, tzinfo=UTC))
        # Each month is one COPY and one transaction; the last month takes the rounding rest.
        share = (chunk_end - chunk_start).total_seconds() / total_seconds
        count = events - written if chunk_end == end else round(events * share)
        started = time.perf_counter()
        with raw.cursor() as cursor:
            # Foreign-key checks off for the load (a superuser setting): every id is made above
            # and exists, and checking 10M rows one by one would double the load time.
            cursor.execute("SET session_replication_role = replica")
            copy_lines(
                cursor,
                f"COPY audit_auditevent ({EVENT_COLUMNS}) FROM STDIN",
                event_lines(
                    start=chunk_start,
                    end=chunk_end,
                    idle_from=end - timedelta(days=IDLE_DAYS),
                    count=count,
                    keys=keys,
                    big=big,
                    rng=rng,
                ),
            )
            cursor.execute("SET session_replication_role = origin")
        raw.commit()
        written += count
        log(f"  {month:%Y-%m}: {count:,} events in {time.perf_counter() - started:.1f}s")
        month = following


def counts(cursor, *, keys: int) -> tuple[int, int]:
    """Generated keys (by their id range, through the primary key) and generated events."""
    cursor.execute(
        "SELECT count(*) FROM apikeys_apikey WHERE id BETWEEN %s AND %s",
        [KEY_ID.format(0), KEY_ID.format(16**12 - 1)],
    )
    key_count = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM audit_auditevent WHERE request_id = %s", [MARK])
    return key_count, cursor.fetchone()[0]


def wipe(cursor, *, accounts: bool) -> None:
    """Remove generated data. The whole audit table goes (this database is the benchmark's own)."""
    cursor.execute("TRUNCATE audit_auditevent")
    if accounts:
        for table, column, pattern in [
            ("apikeys_apikey", "id", KEY_ID),
            ("teams_membership", "user_id", USER_ID),
            ("accounts_user", "id", USER_ID),
            ("teams_team", "id", TEAM_ID),
        ]:
            cursor.execute(
                f"DELETE FROM {table} WHERE {column} BETWEEN %s AND %s",  # table and column: constants above
                [pattern.format(0), pattern.format(16**12 - 1)],
            )


# --- measurements ----------------------------------------------------------------------------


def throughput(cases: dict, *, rounds: int, seconds: int, connections: int) -> dict:
    results: dict[str, list[dict]] = {name: [] for name in cases}
    for url, headers in cases.values():  # warm-up: connections, caches
        wrk(url, headers, 2, connections)
    for number in range(rounds):
        # ABBA order: a drift of the machine's speed during a round hits both sides alike.
        order = list(cases.items()) if number % 2 == 0 else list(reversed(cases.items()))
        for name, (url, headers) in order:
            results[name].append(wrk(url, headers, seconds, connections))
    return {
        name: {
            "rps": [round(r["rps"], 1) for r in runs],
            "median_rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        }
        for name, runs in results.items()
    }


def page_sql(queryset, *, position: datetime | None, repeat: int) -> dict:
    """Run one audit page the way the views do (infra.pagination on the selector's queryset), then
    time its SQL as the ORM sent it."""
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from rest_framework.pagination import Cursor
    from rest_framework.request import Request

    from infra.pagination import CursorPagination

    params = {"page_size": PAGE_SIZE}
    if position is not None:
        paginator = CursorPagination()
        paginator.base_url = "http://127.0.0.1/audit-log"
        # The position a page boundary at that moment would carry (DRF: str() of created_at).
        encoded = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=str(position)))
        params["cursor"] = parse_qs(urlparse(encoded).query)["cursor"][0]

    def run():
        return CursorPagination().paginate_queryset(
            queryset, Request(RequestFactory(HTTP_HOST="127.0.0.1").get("/audit-log", params))
        )

    with CaptureQueriesContext(connection) as captured:
        rows = run()
    sql = captured.captured_queries[-1]["sql"]
    orm = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        orm.append((time.perf_counter() - started) * 1000)
    round_trips = []
    with connection.cursor() as cursor:
        for _ in range(repeat):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            round_trips.append((time.perf_counter() - started) * 1000)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        (explain,) = cursor.fetchone()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = [line for (line,) in cursor.fetchall()]
    explain = explain[0] if isinstance(explain, list) else json.loads(explain)[0]
    round_trips.sort()
    return {
        "rows": len(rows),
        "oldest_on_page": str(rows[-1].created_at) if rows else None,
        "sql_ms_median": round(statistics.median(round_trips), 3),
        "sql_ms_p95": round(round_trips[max(0, int(len(round_trips) * 0.95) - 1)], 3),
        "planning_ms": explain["Planning Time"],
        "execution_ms": explain["Execution Time"],
        "orm_ms_median": round(statistics.median(orm), 3),
        "sql": sql,
        "plan": plan,
    }


def measure_pages(listings, *, deep: datetime, repeat: int) -> dict:
    from audit import selectors

    pages = {}
    for label, queryset, with_deep_page in listings:
        queryset = selectors.apply_filters(queryset, {})
        pages[f"{label}: first page"] = page_sql(queryset, position=None, repeat=repeat)
        if with_deep_page:
            pages[f"{label}: 6 months back"] = page_sql(queryset, position=deep, repeat=repeat)
    return pages


def prune(*, older_than_days: int, batch_size: int, commit: bool) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from audit import partitions, retention

    cutoff = timezone.now() - timedelta(days=older_than_days)
    plan = retention.plan_prune(cutoff=cutoff)
    dropped_rows = 0
    with connection.cursor() as cursor:
        for partition in plan.partitions_to_drop:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(partition.name)}")  # a catalog name
            dropped_rows += cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        before = cursor.fetchone()[0]
    with transaction.atomic():
        started = time.perf_counter()
        report = retention.prune_events(cutoff=cutoff, batch_size=batch_size)
        elapsed = time.perf_counter() - started
        if not commit:
            transaction.set_rollback(True)
    rate = report.rows_deleted / report.delete_seconds if report.delete_seconds > 0 else None
    removed = dropped_rows + report.rows_deleted
    return {
        "cutoff": str(cutoff),
        "committed": commit,
        "rows_before": before,
        "partitions_dropped": [partition.name for partition in report.partitions_dropped],
        "rows_in_dropped_partitions": dropped_rows,
        "drop_seconds": round(report.drop_seconds, 3),
        "rows_deleted": report.rows_deleted,
        "batches": report.batches,
        "delete_seconds": round(report.delete_seconds, 2),
        "total_seconds": round(elapsed, 2),
        "row_delete_rate_per_s": round(rate) if rate else None,
        "all_rows_delete_estimate_seconds": round(removed / rate, 1) if rate else None,
        "partitions_left": len(partitions.month_partitions()) - (0 if commit else len(report.partitions_dropped)),
    }


def measure_usage(*, hot_key, team, keys: int, busy: list[int], repeat: int, log) -> dict:
    """The usage rollup (usage.rollup) at 10M events, in a transaction that is rolled back:
    a first run counting USAGE_RETENTION_DAYS of the log; a steady run (what the worker does
    every minute); a run counting one minute of `busy` events each (every event a different key,
    the worst case: one row per event); and the usage pages' reads of the result."""
    from django.conf import settings
    from django.db import connection, transaction

    from usage import rollup, selectors
    from usage.models import RollupState, Subject, UsageHour

    result: dict = {}
    with transaction.atomic():
        RollupState.objects.update_or_create(pk=1, defaults={"counted_until": None})
        UsageHour.objects.across_teams(reason="the benchmark starts from no usage").delete()
        started, slices = time.perf_counter(), 0
        while True:  # as `manage.py usage_rollup --catch-up`
            done = rollup.roll_up()
            slices += done
            if done < rollup.MAX_SLICES_PER_RUN:
                break
        result["first_run"] = {
            "slices": slices,
            "events": rollup._events(
                rollup.uuid7_floor(datetime.now(UTC) - timedelta(days=settings.USAGE_RETENTION_DAYS)),
                rollup.uuid7_floor(datetime.now(UTC)),
            ).count(),
            "seconds": round(time.perf_counter() - started, 2),
            "rows": UsageHour.objects.across_teams(reason="the benchmark counts usage rows").count(),
        }
        log(f"usage: first run {result['first_run']}")

        def timed(**kwargs) -> float:
            started = time.perf_counter()
            rollup.roll_up(**kwargs)
            return (time.perf_counter() - started) * 1000

        runs = [timed() for _ in range(repeat)]
        result["steady_run_ms"] = {"median": round(statistics.median(runs), 2), "max": round(max(runs), 2)}

        lag = timedelta(seconds=settings.USAGE_LAG_SECONDS)
        request = "api_request\tGET\t/api/v1/campaigns\t200"
        big = {
            "hot": f"{hot_key.team_id}\t{hot_key.user_id}\t{hot_key.pk}\t{hot_key.prefix}\t{hot_key.name}\t{request}",
            "idle": "",
            "login": f"{hot_key.team_id}\t{hot_key.user_id}\t\\N\t\t\tlogin.succeeded\tPOST\t/api/v1/auth/login\t200",
        }
        result["busy_minute"] = []
        for count in busy:
            # One minute of `count` requests right after what is counted, then the run that counts it.
            start = RollupState.objects.get(pk=1).counted_until
            lines = event_lines(
                start=start,
                end=start + timedelta(minutes=1),
                idle_from=start,
                count=count,
                keys=keys,
                big=big,
                rng=random.Random(count),
            )
            with connection.cursor() as cursor:
                copy_lines(cursor.cursor, f"COPY audit_auditevent ({EVENT_COLUMNS}) FROM STDIN", lines)
                cursor.execute("ANALYZE audit_auditevent")
            milliseconds = timed(now=start + timedelta(minutes=1) + lag)
            figures = {
                "events": count,
                "run_ms": round(milliseconds, 1),
                "us_per_event": round(milliseconds * 1000 / count, 1),
            }
            result["busy_minute"].append(figures)
            log(f"usage: busy minute {figures}")

        def page(subject: str, subject_id, granularity: str, periods: int) -> dict:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = selectors.usage_of(
                    team=team,
                    subject=subject,
                    subject_id=subject_id,
                    granularity=selectors.GRANULARITIES[granularity],
                    periods=periods,
                )
                times.append((time.perf_counter() - started) * 1000)
            return {
                "requests": answer["totals"]["requests"],
                "ms_median": round(statistics.median(times), 2),
                "ms_p95": round(sorted(times)[max(0, int(len(times) * 0.95) - 1)], 2),
            }

        result["pages"] = {
            "hot key, 24 hours": page(Subject.KEY, hot_key.pk, "hour", 24),
            "hot key, 7 days by hour": page(Subject.KEY, hot_key.pk, "hour", 168),
            "hot key, 90 days": page(Subject.KEY, hot_key.pk, "day", 90),
            "team, 30 days": page(Subject.TEAM, team.pk, "day", 30),
        }
        transaction.set_rollback(True)
    return result


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ghostflow_scale")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data as it is, without counting it")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--prune-older-than", type=int, default=180, help="days")
    parser.add_argument("--prune-commit", action="store_true", help="keep the prune's result (default: roll back)")
    parser.add_argument("--batches", type=int, default=40, help="paired batches of the in-process measurement")
    parser.add_argument(
        "--parts",
        type=lambda value: set(value.split(",")),
        default={"pages", "throughput", "inprocess", "prune", "usage"},
        help="what to measure, comma-separated: pages,throughput,inprocess,prune,usage (default: all)",
    )
    parser.add_argument(
        "--busy",
        type=lambda value: [int(part) for part in value.split(",")],
        default=[6_000, 60_000],
        help="usage: one minute of this many requests, counted by one run (comma-separated sizes)",
    )
    args = parser.parse_args()
    if args.keys < 1 or args.events < 1 or args.months < 1:
        parser.error("--keys, --events and --months must be positive")
    if unknown := args.parts - {"pages", "throughput", "inprocess", "prune", "usage"}:
        parser.error(f"unknown --parts: {', '.join(sorted(unknown))}")
    args.parts = sorted(args.parts)
    scaled_url = args.database_url
    parsed = urlparse(scaled_url)
    small_url = parsed._replace(path=parsed.path + "_small").geturl()

    def log(message: str) -> None:
        print(message, flush=True)

    for url in (scaled_url, small_url):
        ensure_database(url)
    # Both servers get the same settings; the principal cache needs Redis (one database each).
    small_env = environment(small_url, RATE_LIMITS_ENABLED="0", REDIS_URL="redis://127.0.0.1:6379/13")
    scaled_env = environment(scaled_url, RATE_LIMITS_ENABLED="0", REDIS_URL="redis://127.0.0.1:6379/14")
    small = seed(small_env, campaigns=10)
    scaled = seed(scaled_env, campaigns=10)

    os.environ.update(scaled_env)
    import django

    django.setup()
    import psycopg
    from django.db import connection

    from access.scopes import Role
    from apikeys.models import APIKey
    from apikeys.services import create_key
    from audit import partitions, selectors
    from teams.models import Membership, Team

    with psycopg.connect(small_url, autocommit=True) as small_db:
        small_db.execute("TRUNCATE audit_auditevent")  # the small figure is for a small table

    team = Team.objects.get(pk=scaled["team"])
    owner_membership = Membership.objects.get(team=team, user_id=scaled["user"])
    hot_key = APIKey.objects.filter(team=team, name="scale-hot").first()
    if hot_key is None:
        hot_key = create_key(membership=owner_membership, name="scale-hot", permissions=["read"]).key
    # A big customer gone quiet: many events, none in the last IDLE_DAYS.
    idle_team = Team.objects.filter(name="scale-idle").first() or Team.objects.create(name="scale-idle")
    idle_membership, _ = Membership.objects.get_or_create(
        team=idle_team, user_id=scaled["user"], defaults={"role": Role.OWNER}
    )
    idle_key = APIKey.objects.filter(team=idle_team, name="scale-idle").first()
    if idle_key is None:
        idle_key = create_key(membership=idle_membership, name="scale-idle", permissions=["read"]).key

    generation = {}
    if not args.skip_generate:
        with psycopg.connect(scaled_url) as raw:
            with raw.cursor() as cursor:
                key_count, event_count = counts(cursor, keys=args.keys)
            log(f"found {key_count:,} generated keys and {event_count:,} generated events")
            redo_accounts = key_count != args.keys
            redo_events = (
                redo_accounts
                or event_count != args.events
                or not idle_key.audit_events.filter(request_id=MARK).exists()
            )
            if redo_events:
                with raw.cursor() as cursor:
                    wipe(cursor, accounts=redo_accounts)
                raw.commit()
            if redo_accounts:
                started = time.perf_counter()
                generate_accounts(raw, keys=args.keys)
                raw.commit()
                generation["accounts_seconds"] = round(time.perf_counter() - started, 1)
                log(f"generated {args.keys:,} keys in {generation['accounts_seconds']}s")
            if redo_events:
                started = time.perf_counter()
                generate_events(
                    raw,
                    events=args.events,
                    keys=args.keys,
                    months=args.months,
                    hot_key=hot_key,
                    idle_key=idle_key,
                    owner_id=scaled["user"],
                    log=log,
                )
                generation["events_seconds"] = round(time.perf_counter() - started, 1)
                log(f"generated {args.events:,} events in {generation['events_seconds']}s")
                started = time.perf_counter()
                raw.autocommit = True
                raw.execute("VACUUM ANALYZE")  # visibility map and statistics, as autovacuum would
                generation["vacuum_analyze_seconds"] = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM apikeys_apikey")
        total_keys = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        total_events = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    month_count = len(partitions.month_partitions())
    log(f"scaled database: {total_keys:,} keys, {total_events:,} events in {month_count} month partitions, {size}")

    result = {
        "settings": vars(args),
        "dataset": {"keys": total_keys, "events": total_events, "month_partitions": month_count, "database_size": size},
        "generation": generation or "reused",
    }
    ok = True
    if "pages" in args.parts:
        # Most keys are not hot: one with a handful of events spread over the year.
        sparse_key = APIKey.objects.get(pk=KEY_ID.format(args.keys // 2))
        listings = [
            ("key", selectors.events_of_key(hot_key), True),
            ("team", selectors.events_of_team(team), True),
            ("sparse key", selectors.events_of_key(sparse_key), False),
            ("idle key", selectors.events_of_key(idle_key), True),
            ("idle team", selectors.events_of_team(idle_team), False),
        ]
        deep = datetime.now(UTC) - timedelta(days=182)
        pages = measure_pages(listings, deep=deep, repeat=args.repeat)
        result["dataset"] |= {
            "hot_key_events": hot_key.audit_events.count(),
            "team_events": selectors.events_of_team(team).count(),
            "sparse_key_events": sparse_key.audit_events.count(),
            "idle_key_events": idle_key.audit_events.count(),
            "idle_team_last_event": str(
                selectors.events_of_team(idle_team).order_by("-created_at").values_list("created_at", flat=True)[0]
            ),
        }
        result["audit_pages"] = pages
        ok &= all(page["sql_ms_median"] < SQL_BUDGET_MS for page in pages.values())
    connection.close()

    if "throughput" in args.parts:
        result["throughput"], result["throughput_ratio_scaled_to_small"] = measure_throughput(
            args, small=(small_env, small), scaled=(scaled_env, scaled), log=log
        )
        ok &= all(ratio >= THROUGHPUT_FLOOR for ratio in result["throughput_ratio_scaled_to_small"].values())
    if "inprocess" in args.parts:
        log("measuring in-process request time ...")
        result["inprocess"] = measure_inprocess(
            small=(small_env, small), scaled=(scaled_env, scaled), batches=args.batches
        )
    if "usage" in args.parts:
        log("measuring the usage rollup ...")
        result["usage"] = measure_usage(
            hot_key=hot_key, team=team, keys=args.keys, busy=args.busy, repeat=args.repeat, log=log
        )
        connection.close()
    if "prune" in args.parts:
        log("measuring prune ...")
        result["prune"] = prune(older_than_days=args.prune_older_than, batch_size=5000, commit=args.prune_commit)

    report(result)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "scale.json").write_text(json.dumps(result, indent=2, default=str))
    return 0 if ok else 1


def measure_throughput(args, *, small, scaled, log) -> tuple[dict, dict]:
    """wrk against four gunicorns: small and scaled database, principal cache on and off."""
    (small_env, small_data), (scaled_env, scaled_data) = small, scaled
    cases = {}
    with ExitStack() as stack:
        for label, env, data, port in [
            ("small", small_env, small_data, 8841),
            ("scaled", scaled_env, scaled_data, 8842),
            ("small, cache off", {**small_env, "PRINCIPAL_CACHE": "off"}, small_data, 8843),
            ("scaled, cache off", {**scaled_env, "PRINCIPAL_CACHE": "off"}, scaled_data, 8844),
        ]:
            base = stack.enter_context(gunicorn(env, port, args.workers))
            headers = {"Authorization": f"Bearer {data['key']}", "X-Team-Id": data["team"]}
            cases[label] = (f"{base}/api/v1/campaigns", headers)
        log("measuring throughput ...")
        rates = throughput(cases, rounds=args.rounds, seconds=args.seconds, connections=args.connections)
    # Per round, scaled against small measured moments apart; the median of those ratios.
    ratios = {
        mode: round(
            statistics.median(a / b for a, b in zip(rates[scaled_case]["rps"], rates[small_case]["rps"], strict=True)),
            3,
        )
        for mode, scaled_case, small_case in [
            ("cache on", "scaled", "small"),
            ("cache off", "scaled, cache off", "small, cache off"),
        ]
    }
    return rates, ratios


INPROCESS_BATCH = 40


def inprocess_worker() -> None:
    """One side of measure_inprocess: the app in this process (environment from the parent), the
    campaigns list through Django's test client, INPROCESS_BATCH requests per line on stdin."""
    config = json.loads(sys.stdin.readline())
    os.environ.update(config["env"])
    import django

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {config['key']}", "HTTP_X_TEAM_ID": config["team"]}
    for _ in range(INPROCESS_BATCH):  # warm: connections, caches
        client.get("/api/v1/campaigns", **headers)
    print("ready", flush=True)
    for _ in sys.stdin:
        started = time.perf_counter()
        for _ in range(INPROCESS_BATCH):
            if client.get("/api/v1/campaigns", **headers).status_code != 200:
                raise SystemExit("the campaigns list did not answer 200")
        print((time.perf_counter() - started) / INPROCESS_BATCH * 1000, flush=True)


def measure_inprocess(*, small, scaled, batches: int) -> dict:
    """The same key request, served in-process by one worker per database, in short batches that
    alternate between the two: a noisy machine slows both sides of each pair alike, so the
    median of the paired ratios is steadier than wrk rounds of seconds."""
    result = {}
    for mode, extra in [("cache on", {}), ("cache off", {"PRINCIPAL_CACHE": "off"})]:
        workers = {}
        for label, (env, data) in [("small", small), ("scaled", scaled)]:
            worker = subprocess.Popen(
                [PYTHON, __file__, "--inprocess-worker"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            worker.stdin.write(json.dumps({"env": {**env, **extra}, "key": data["key"], "team": data["team"]}) + "\n")
            worker.stdin.flush()
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit("an in-process worker did not start")
            workers[label] = worker
        times = {label: [] for label in workers}
        for number in range(batches):
            for label in ("small", "scaled") if number % 2 == 0 else ("scaled", "small"):
                workers[label].stdin.write("go\n")
                workers[label].stdin.flush()
                times[label].append(float(workers[label].stdout.readline()))
        for worker in workers.values():
            worker.stdin.close()
            worker.wait(timeout=30)
        result[mode] = {
            "ms_per_request_small": round(statistics.median(times["small"]), 3),
            "ms_per_request_scaled": round(statistics.median(times["scaled"]), 3),
            # Requests per second scaled / small, pair by pair.
            "ratio": round(statistics.median(a / b for a, b in zip(times["small"], times["scaled"], strict=True)), 3),
        }
    return result


def report(result: dict) -> None:
    if "throughput" in result:
        print(f"\n{'throughput':<20} {'req/s per round':<48} {'median':>7} {'p50 ms':>7} {'p99 ms':>7}")
        for name, rates in result["throughput"].items():
            per_round = " / ".join(f"{rps:.0f}" for rps in rates["rps"])
            print(
                f"{name:<20} {per_round:<48} {rates['median_rps']:>7.0f} "
                f"{rates['p50_ms']:>7.2f} {rates['p99_ms']:>7.2f}"
            )
        for mode, ratio in result["throughput_ratio_scaled_to_small"].items():
            verdict = "ok" if ratio >= THROUGHPUT_FLOOR else "BELOW 0.9"
            print(f"wrk: scaled / small, principal {mode}: {ratio:.3f} ({verdict})")
    for mode, figures in result.get("inprocess", {}).items():
        print(
            f"in-process, principal {mode}: {figures['ms_per_request_small']:.2f} ms small, "
            f"{figures['ms_per_request_scaled']:.2f} ms scaled, scaled / small {figures['ratio']:.3f}"
        )
    header = f"{'rows':>5} {'median ms':>10} {'p95 ms':>8} {'plan ms':>8} {'exec ms':>8} {'ORM ms':>8}"
    for title, key in [("audit page SQL", "audit_pages")]:
        if key not in result:
            continue
        print(f"\n{title:<26} {header}")
        for name, page in result[key].items():
            verdict = "" if page["sql_ms_median"] < SQL_BUDGET_MS else "  OVER 10 ms"
            print(
                f"{name:<26} {page['rows']:>5} {page['sql_ms_median']:>10.2f} {page['sql_ms_p95']:>8.2f} "
                f"{page['planning_ms']:>8.2f} {page['execution_ms']:>8.2f} {page['orm_ms_median']:>8.2f}{verdict}"
            )
    if "usage" in result:
        usage = result["usage"]
        first = usage["first_run"]
        print(
            f"\nusage rollup: first run {first['slices']} slices, {first['events']:,} events in {first['seconds']}s "
            f"({first['rows']:,} rows); steady run {usage['steady_run_ms']['median']} ms median"
        )
        for busy in usage["busy_minute"]:
            print(
                f"usage rollup, a minute of {busy['events']:,} requests: {busy['run_ms']} ms "
                f"({busy['us_per_event']} µs each)"
            )
        for name, figures in usage["pages"].items():
            print(f"usage page, {name}: {figures['ms_median']} ms median, {figures['ms_p95']} ms p95")
    print("\n" + ", ".join(f"{name}: {value}" for name, value in result["dataset"].items()))
    if "prune" in result:
        pruning = result["prune"]
        print(
            f"\nprune at {pruning['cutoff']} ({'committed' if pruning['committed'] else 'rolled back'}): "
            f"dropped {len(pruning['partitions_dropped'])} partitions ({pruning['rows_in_dropped_partitions']:,} rows) "
            f"in {pruning['drop_seconds']:.2f}s; deleted {pruning['rows_deleted']:,} rows in {pruning['batches']} "
            f"batches in {pruning['delete_seconds']:.1f}s ({pruning['row_delete_rate_per_s']} rows/s); "
            f"all rows by row delete at that rate: ~{pruning['all_rows_delete_estimate_seconds']}s"
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["--inprocess-worker"]:
        inprocess_worker()
    else:
        sys.exit(main())
