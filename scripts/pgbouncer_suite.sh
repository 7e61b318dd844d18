#!/usr/bin/env bash
# The two-process coherence tests, the live-stream tests and the audit tests on PostgreSQL behind
# PgBouncer in transaction mode, with the settings that go with it (DATABASE_POOLER=transaction;
# README, Production notes). `make test-pgbouncer`; CI runs it.
#
# Installs nothing: needs Debian's `pgbouncer` (apt-get install -y pgbouncer; bookworm's 1.18 has
# no prepared statements in transaction mode), PostgreSQL at PG_HOST:PG_PORT (127.0.0.1:5432)
# taking PG_USER (postgres) without a password, Redis for the cache (TEST_CACHE_URL, by default
# redis://127.0.0.1:6379/15) and for the two-process tests (TEST_REDIS_URL, by default database
# 13), and `make install`. Starts its own pgbouncer on a free loopback port and stops it on exit.
#
# The test databases (test_<PGBOUNCER_SUITE_DATABASE>_gw<n>) are made through pgbouncer and kept
# (--reuse-db): PostgreSQL will not drop a database pgbouncer still holds server connections to.
# They are dropped here, directly on PostgreSQL, before the run and after pgbouncer has stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(pwd)/.venv/bin"
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
DATABASE=${PGBOUNCER_SUITE_DATABASE:-ghostflow_pgbouncer}
WORKERS=${PGBOUNCER_SUITE_WORKERS:-2}
export TEST_CACHE_URL=${TEST_CACHE_URL:-redis://127.0.0.1:6379/15}
# Other tests: PGBOUNCER_SUITE_TESTS="tests/test_x.py tests/test_y.py" (pytest's own options go after
# the command: bash scripts/pgbouncer_suite.sh -x -k name).
# shellcheck disable=SC2206  # split into paths, and the default's glob expanded
TESTS=(${PGBOUNCER_SUITE_TESTS:-tests/test_principal_cache.py tests/test_credential_rules.py tests/test_audit*.py})

PGBOUNCER=$(command -v pgbouncer || command -v /usr/sbin/pgbouncer || true)  # sbin: not on every PATH
[ -x "$BIN/python" ] || { echo "No $BIN/python: run make install first." >&2; exit 2; }
[ -n "$PGBOUNCER" ] || { echo "pgbouncer is not installed: apt-get install -y pgbouncer" >&2; exit 2; }
"$PGBOUNCER" --version | sed -n 1p

# SQL straight to PostgreSQL (not through pgbouncer), in autocommit.
direct_sql() {
  "$BIN/python" - "$@" <<'EOF'
import os, sys
import psycopg
with psycopg.connect(host=os.environ["PG_HOST"], port=os.environ["PG_PORT"], user=os.environ["PG_USER"],
                     dbname="postgres", autocommit=True, connect_timeout=5) as connection:
    for statement in sys.argv[1:]:
        connection.execute(statement)
EOF
}
export PG_HOST PG_PORT PG_USER
drop_test_databases() {
  local statements=("DROP DATABASE IF EXISTS \"test_$DATABASE\" WITH (FORCE)") n
  for ((n = 0; n < WORKERS; n++)); do
    statements+=("DROP DATABASE IF EXISTS \"test_${DATABASE}_gw$n\" WITH (FORCE)")
  done
  direct_sql "${statements[@]}"
}

WORK=$(mktemp -d)
PGBOUNCER_PID=
stop() {
  status=$?
  if [ -n "$PGBOUNCER_PID" ]; then
    kill -TERM "$PGBOUNCER_PID" 2>/dev/null || true
    wait "$PGBOUNCER_PID" 2>/dev/null || true
  fi
  drop_test_databases || status=1
  [ "$status" = 0 ] || { echo "--- pgbouncer log (last lines)"; tail -n 30 "$WORK/pgbouncer.log" 2>/dev/null || true; }
  rm -rf "$WORK"
  exit "$status"
}
trap stop EXIT

drop_test_databases

# pgbouncer refuses to run as root; started as root it switches to `user`.
RUN_AS=$([ "$(id -u)" = 0 ] && echo "user = nobody" || true)
chmod 755 "$WORK"
echo "\"$PG_USER\" \"\"" > "$WORK/userlist.txt"
free_port() { "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
answers() {
  "$BIN/python" - "$1" <<'EOF'
import os, sys
import psycopg
try:
    psycopg.connect(host="127.0.0.1", port=sys.argv[1], user=os.environ["PG_USER"], dbname="postgres",
                    connect_timeout=1).close()
except psycopg.OperationalError:
    sys.exit(1)
EOF
}
for _ in 1 2 3 4 5; do  # another process may take the free port first: then try another
  PORT=$(free_port)
  cat > "$WORK/pgbouncer.ini" <<EOF
[databases]
* = host=$PG_HOST port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
admin_users = $PG_USER
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
$RUN_AS
EOF
  "$PGBOUNCER" "$WORK/pgbouncer.ini" > "$WORK/pgbouncer.log" 2>&1 &
  PGBOUNCER_PID=$!
  for _ in $(seq 50); do
    answers "$PORT" && break
    kill -0 "$PGBOUNCER_PID" 2>/dev/null || break
    sleep 0.2
  done
  answers "$PORT" && break
  kill -TERM "$PGBOUNCER_PID" 2>/dev/null || true
  wait "$PGBOUNCER_PID" 2>/dev/null || true
  PGBOUNCER_PID=
done
[ -n "$PGBOUNCER_PID" ] || { echo "pgbouncer did not start" >&2; exit 1; }
echo "pgbouncer (pool_mode=transaction) on 127.0.0.1:$PORT in front of $PG_HOST:$PG_PORT"

# Everything through pgbouncer: this process, and the app servers the two-process tests start
# (tests/servers.py hands them this run's DATABASE_URL and DATABASE_POOLER).
DATABASE_URL="postgres://$PG_USER@127.0.0.1:$PORT/$DATABASE" DATABASE_POOLER=transaction \
  "$BIN/python" -m pytest -n "$WORKERS" --reuse-db -p tests.asgi_client "${TESTS[@]}" "$@"

# Proof that it went through pgbouncer: the transactions it carried to the test databases.
"$BIN/python" - "$PORT" "test_$DATABASE" <<'EOF'
import os, sys
import psycopg
with psycopg.connect(host="127.0.0.1", port=sys.argv[1], user=os.environ["PG_USER"], dbname="pgbouncer",
                     autocommit=True, cursor_factory=psycopg.ClientCursor) as admin:
    cursor = admin.execute("SHOW STATS")
    names = [column.name for column in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor]
carried = sum(row["total_xact_count"] for row in rows if row["database"].startswith(sys.argv[2]))
print(f"pgbouncer carried {carried} transactions to the test databases")
if not carried:
    sys.exit("nothing went through pgbouncer")
EOF
