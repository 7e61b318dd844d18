#!/usr/bin/env bash
# The README's flows, top to bottom, against a running server. Every call prints its answer and
# stops the script if the status differs from the one the README promises; a step whose input is
# missing (no server, no team, no code) stops it too, saying what is missing.
#
#   make run                                           # terminal 1: the dev server, mails in its output
#   TEAM=<team 1 id printed by make run> docs/flows.sh # terminal 2: asks for each mailed code
#
#   make run MAIL_DIR=.mail                            # or: the dev server writes each mail to .mail/
#   MAIL_DIR=.mail TEAM=<team 1 id> docs/flows.sh      #     and the script reads the codes there
#   make demo-flows                                    # or: a server of its own, fresh data (CI)
#
# Needs bash, curl and python3 (standard library only: it reads the JSON answers and signs the
# Admin-key token, scripts/admin_token.py). The server is BASE_URL, by default
# http://127.0.0.1:$PORT with PORT as `make run` has it (8000): `make run PORT=8001` is
# `PORT=8001 docs/flows.sh`. MAIL_DIR (optional) is a folder where the server writes its mails
# (EMAIL_URL=filemail://...); without it the script asks for each code, which `make run` prints.
# Access tokens last 5 minutes: before each step that uses the login, the script refreshes it when
# less than a minute is left (typing a mailed code may take longer than that).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_URL=${BASE_URL:-http://127.0.0.1:${PORT:-8000}}
BASE_URL=${BASE_URL%/}
B=$BASE_URL/api/v1
RUN=${RUN:-$(date +%s)}   # makes the accounts this script registers unique per run
H='Content-Type: application/json'

fail() { echo "!! $*" >&2; exit 1; }

for tool in curl python3; do
  command -v "$tool" > /dev/null || fail "$tool is not installed: these flows need bash, curl and python3"
done
TEAM=${TEAM:-}
[ -n "$TEAM" ] || fail "set TEAM to the team id make run printed (team 1): TEAM=<uuid> docs/flows.sh"
[[ $TEAM =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] \
  || fail "TEAM must be a team id (a UUID, as make run prints it), not '$TEAM'"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/healthz")" = 200 ] \
  || fail "no GhostFlow server answers at $BASE_URL: start one (make run), or set BASE_URL (or PORT)"
if [ -n "${MAIL_DIR:-}" ]; then
  [ -d "$MAIL_DIR" ] || fail "MAIL_DIR=$MAIL_DIR is not a folder: start the server with make run MAIL_DIR=$MAIL_DIR"
fi

# json FIELD: that field of the JSON answer on stdin; stops the script if the answer has none.
json() {
  python3 -c '
import json, sys
try:
    value = json.load(sys.stdin)[sys.argv[1]]
except (ValueError, KeyError, TypeError):
    sys.exit(f"!! the answer has no {sys.argv[1]!r}")
print(value)' "$1"
}

# expect STATUS curl-args...: the call, its answer on stdout (also kept in $BODY), fail on mismatch.
expect() {
  local want=$1; shift
  local out; out=$(curl -s -w '\n%{http_code}' "$@") || true
  BODY=$(printf '%s' "$out" | sed '$d'); local got; got=$(printf '%s' "$out" | tail -n1)
  printf '%s %s\n' "$got" "$BODY" | cut -c1-300
  [ "$got" != 000 ] || fail "no answer from $BASE_URL (is the server still running?): curl $*"
  [ "$got" = "$want" ] || fail "expected $want, got $got: curl $*"
}

# The login's access token, refreshed (a new pair) when it expires within a minute.
fresh_login() {
  local left
  left=$(python3 -c '
import base64, json, sys, time
payload = sys.argv[1].split(".")[1]
print(int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"] - time.time()))' "$JWT")
  if [ "$left" -lt 60 ]; then
    echo "## (the access token expires in ${left} s: a new pair from the refresh token)"
    expect 200 $B/auth/refresh -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"
    JWT=$(echo "$BODY" | json access_token); REFRESH=$(echo "$BODY" | json refresh_token)
  fi
}

# mailed WHAT ADDRESS [SUBJECT]: the code (6 digits) or link token of the newest mail to ADDRESS,
# read from MAIL_DIR, or asked for (the make run terminal shows the mail).
mailed() {
  local value
  if [ -z "${MAIL_DIR:-}" ]; then
    [ -t 0 ] || fail "the $1 mailed to $2 is needed: run in a terminal (it asks) or set MAIL_DIR"
    if [ "$1" = code ]; then
      read -r -p "The 6-digit code mailed to $2 (printed in the make run terminal): " value
      [[ $value =~ ^[0-9]{6}$ ]] || fail "a mailed code is 6 digits, not '$value'"
    else
      read -r -p "The link mailed to $2 (printed in the make run terminal), or its token=: " value
      value=${value##*token=}
      [[ $value =~ ^[A-Za-z0-9_-]+$ ]] || fail "the invitation token is the part after token= in the mailed link"
    fi
    echo "$value"; return
  fi
  python3 - "$MAIL_DIR" "$1" "$2" "${3:-}" <<'PY'
import pathlib, re, sys, time
folder, what, to, subject = sys.argv[1:]
pattern = r"\b(\d{6})\b" if what == "code" else r"token=([\w-]+)"
for _ in range(50):  # mail is sent just after the answer: wait for it, up to 5 s
    files = sorted(pathlib.Path(folder).glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files:
        for mail in reversed(path.read_text().split("\n" + "-" * 79 + "\n")):
            if f"To: {to}" in mail and subject in mail and (found := re.search(pattern, mail.split("\n\n", 1)[-1])):
                print(found.group(1))
                sys.exit(0)
    time.sleep(0.1)
sys.exit(f"!! no mail to {to} in {folder} (is the server writing its mails there?)")
PY
}

echo "## Log in (username or e-mail): a JWT pair"
expect 200 $B/auth/login -H "$H" -d '{"username": "demo", "password": "ghostflow-demo-pass"}'
JWT=$(echo "$BODY" | json access_token); REFRESH=$(echo "$BODY" | json refresh_token)

echo "## The team switcher, and the members of team 1"
expect 200 $B/teams -H "Authorization: Bearer $JWT"
expect 200 $B/team/members -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"

echo "## Rotate the refresh token: keep the new pair; the old refresh token is spent"
expect 200 $B/auth/refresh -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"
JWT=$(echo "$BODY" | json access_token); REFRESH=$(echo "$BODY" | json refresh_token)

echo "## Create an API key (interactive login only): the raw key is in this answer and nowhere else"
fresh_login
expect 201 -X POST $B/auth/api-keys -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" -H "$H" \
  -d '{"name": "Production Key", "permissions": ["read:campaigns", "write:campaigns", "read:stats"]}'
KEY=$(echo "$BODY" | json raw_key); KEY_ID=$(echo "$BODY" | json id)

echo "## The GhostFlow contract: every call carries the key and the team"
expect 200 $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"
expect 200 $B/campaigns -H "X-Api-Key: $KEY" -H "X-Team-Id: $TEAM"
expect 201 -X POST $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM" -H "$H" \
  -d '{"name": "Spring sale", "status": "active"}'
expect 403 $B/billing -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"      # not in the key's scopes

echo "## Rotate the key without downtime: the old secret keeps working for 10 minutes"
fresh_login
expect 200 -X POST $B/auth/api-keys/$KEY_ID/regenerate -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" \
  -H "$H" -d '{"grace_seconds": 600}'
OLD_KEY=$KEY; KEY=$(echo "$BODY" | json raw_key)
expect 200 $B/campaigns -H "Authorization: Bearer $OLD_KEY" -H "X-Team-Id: $TEAM"
expect 200 $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"

echo "## What did this key do? (its owner or a team admin); the whole team's log needs admin"
fresh_login
expect 200 "$B/auth/api-keys/$KEY_ID/audit-log" -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"
expect 200 "$B/audit-log?status=4xx" -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"

echo "## Watch it live: a stream token (admin; once, within 60 s) opens the team's event stream"
fresh_login
expect 200 -X POST $B/audit-log/stream-token -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"
STREAM_URL="$B/audit-log/stream?token=$(echo "$BODY" | json token)&action=api_request"
(sleep 1; curl -s -o /dev/null $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM") &
STREAM=$(curl -s -N --max-time 3 "$STREAM_URL" || true)   # EventSource would stay; curl stops at 3 s
printf '%s\n' "$STREAM" | head -n 3 | cut -c1-200
printf '%s' "$STREAM" | grep -q '"action":"api_request"' || fail "the key call did not arrive live"
echo "## EventSource's reconnect: the same URL with Last-Event-ID resumes, within 60 s of the drop"
LAST_ID=$(printf '%s\n' "$STREAM" | sed -n 's/^id: //p' | tail -n1)
for _ in 1 2 3 4 5; do   # the server may not have seen the first connection close yet: token_in_use
  AGAIN=$(curl -s -N --max-time 2 -H "Last-Event-ID: $LAST_ID" "$STREAM_URL" || true)
  printf '%s' "$AGAIN" | grep -q token_in_use || break; sleep 1
done
printf '%s\n' "$AGAIN" | head -n 1
printf '%s' "$AGAIN" | grep -q '^: live' || fail "the same URL did not resume the stream"
if printf '%s' "$AGAIN" | grep -q "^id: $LAST_ID"; then fail "the resumed stream repeated an event"; fi

echo "## Revoke: instant and final, for both secrets"
fresh_login
expect 200 -X PUT $B/auth/api-keys/$KEY_ID/revoke -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"
expect 401 $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"
expect 401 $B/campaigns -H "Authorization: Bearer $OLD_KEY" -H "X-Team-Id: $TEAM"

echo "## Account lifecycle: register, verify with the mailed code, log in"
ADA="ada-$RUN@example.com"
expect 201 $B/auth/register -H "$H" -d "{\"username\": \"ada-$RUN\", \"email\": \"$ADA\", \"password\": \"a-long-passphrase\"}"
CODE=$(mailed code "$ADA" "verification")
expect 200 $B/auth/verify-email -H "$H" -d "{\"email\": \"$ADA\", \"code\": \"$CODE\"}"
expect 200 $B/auth/login -H "$H" -d "{\"username\": \"$ADA\", \"password\": \"a-long-passphrase\"}"
ADAS_JWT=$(echo "$BODY" | json access_token)
expect 200 $B/me/account -H "Authorization: Bearer $ADAS_JWT"

echo "## Forgot the password: reset it with the mailed code (every session is signed out)"
expect 202 $B/auth/forgot-password -H "$H" -d "{\"email\": \"$ADA\"}"
CODE=$(mailed code "$ADA" "Reset your GhostFlow password")
expect 200 $B/auth/reset-password -H "$H" \
  -d "{\"email\": \"$ADA\", \"code\": \"$CODE\", \"new_password\": \"another-long-passphrase\"}"
expect 200 $B/auth/login -H "$H" -d "{\"username\": \"$ADA\", \"password\": \"another-long-passphrase\"}"

echo "## Invite grace to team 1 (admin): the invitation mail carries a token in its link"
GRACE="grace-$RUN@example.com"
fresh_login
expect 201 -X POST $B/team/invitations -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" -H "$H" \
  -d "{\"email\": \"$GRACE\", \"role\": \"member\"}"
INVITATION=$(mailed token "$GRACE" "invited")
echo "## grace registers, verifies her address with the mailed code, logs in and accepts"
expect 201 $B/auth/register -H "$H" -d "{\"username\": \"grace-$RUN\", \"email\": \"$GRACE\", \"password\": \"a-long-passphrase\"}"
CODE=$(mailed code "$GRACE" "verification")
expect 200 $B/auth/verify-email -H "$H" -d "{\"email\": \"$GRACE\", \"code\": \"$CODE\"}"
expect 200 $B/auth/login -H "$H" -d "{\"username\": \"$GRACE\", \"password\": \"a-long-passphrase\"}"
GRACES_JWT=$(echo "$BODY" | json access_token)
expect 201 -X POST $B/invitations/accept -H "Authorization: Bearer $GRACES_JWT" -H "$H" \
  -d "{\"token\": \"$INVITATION\"}"
expect 200 $B/team/members -H "Authorization: Bearer $GRACES_JWT" -H "X-Team-Id: $TEAM"

echo "## A team-owned integration: sign a 5-minute token with its Admin key; the Content key in ?key="
fresh_login
expect 201 -X POST $B/integrations -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" -H "$H" \
  -d '{"name": "CI pipeline", "permissions": ["read:campaigns"], "allowed_origins": ["https://shop.example.com"]}'
ADMIN_KEY=$(echo "$BODY" | json admin_key); CONTENT_KEY=$(echo "$BODY" | json content_key)
INTEGRATION_ID=$(echo "$BODY" | json id)
TOKEN=$(python3 "$ROOT/scripts/admin_token.py" "$ADMIN_KEY")
expect 200 $B/campaigns -H "Authorization: Ghost $TOKEN" -H "X-Team-Id: $TEAM"
expect 403 $B/stats -H "Authorization: Ghost $TOKEN" -H "X-Team-Id: $TEAM"
expect 200 "$BASE_URL/api/content/v1/campaigns/?key=$CONTENT_KEY&limit=5" -H 'Accept-Version: v5.0'
fresh_login
expect 200 $B/integrations/$INTEGRATION_ID/audit-log -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"

echo "## Log out: the refresh token's whole login is revoked"
expect 204 $B/auth/logout -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"
expect 401 $B/auth/refresh -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"

echo "All flows answered as documented."
