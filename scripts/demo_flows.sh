#!/usr/bin/env bash
# `make demo-flows`: the README's flows (docs/flows.sh) against a development server of their own:
# a fresh SQLite database with the demo data, mail written to files the script reads the codes
# from, on a free port. Fails if any answer differs from what the README says.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORK=$(mktemp -d)
PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# filemail:/// + an absolute path: django-environ drops one leading slash.
export DEBUG=1 DATABASE_URL="sqlite:///$WORK/db.sqlite3" EMAIL_URL="filemail:///$WORK/mail" \
  SITE_URL="http://127.0.0.1:$PORT"
mkdir -p "$WORK/mail"
"$BIN/python" manage.py migrate --noinput -v0
"$BIN/python" manage.py seed_demo > "$WORK/seed.txt"
# The server `make run` starts: uvicorn on config.asgi (the live audit stream needs ASGI), and the
# background worker that sends the mail (scripts/dev_server.py stops both on SIGTERM).
"$BIN/python" scripts/dev_server.py -- "$BIN/python" -m uvicorn config.asgi:application --host 127.0.0.1 \
  --port "$PORT" --lifespan off > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null && wait $SERVER; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.2; done
TEAM=$(grep -oE 'team 1: .* ([0-9a-f-]{36})' "$WORK/seed.txt" | grep -oE '[0-9a-f-]{36}')
# python3 from PATH, not the venv's: the flows need the standard library only (no PyJWT), as a reader's.
BASE_URL="http://127.0.0.1:$PORT" TEAM="$TEAM" MAIL_DIR="$WORK/mail" bash docs/flows.sh
# The README's, the Python tutorial's and the SDK README's first blocks, as a reader pastes them, against the same server
# (scripts/run_doc_blocks.py: the placeholders a reader fills in, filled in).
"$BIN/python" scripts/run_doc_blocks.py README.md docs/tutorial/python.md clients/python/README.md \
  --sub "<team 1 id printed by make run>=$TEAM" --sub "<team id>=$TEAM" --sub "8f1c2d3e-...=$TEAM" \
  --sub 'gf_...=$KEY' --sub "http://127.0.0.1:8000=http://127.0.0.1:$PORT" \
  --sub "https://api.example.com=http://127.0.0.1:$PORT"
