#!/usr/bin/env bash
# The README's flows, top to bottom, against a running server. Every call prints its answer and
# stops the script if the status differs from the one the README promises.
#
#   make run                                  # terminal 1: the dev server, mails in its output
#   TEAM=<team 1 id printed by make run> docs/flows.sh     # terminal 2: asks for mailed codes
#   make demo-flows                           # or: its own server, fresh data, mails read from files
#
# Needs bash, curl and python3 (for reading JSON). B is the API base, MAILDIR (optional) a folder
# where the server writes mails (EMAIL_URL=filemail://...); without it the script asks you for each
# code, which `make run` prints in its terminal.
set -euo pipefail
B=${B:-http://127.0.0.1:8000/api/v1}
TEAM=${TEAM:?set TEAM to the team id printed by make run (team 1)}
RUN=${RUN:-$(date +%s)}   # makes the accounts this script registers unique per run

json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

# expect STATUS curl-args...: the call, its answer on stdout (also kept in $BODY), fail on mismatch.
expect() {
  local want=$1; shift
  local out; out=$(curl -s -w '\n%{http_code}' "$@")
  BODY=$(printf '%s' "$out" | sed '$d'); local got; got=$(printf '%s' "$out" | tail -n1)
  printf '%s %s\n' "$got" "$BODY" | cut -c1-300
  if [ "$got" != "$want" ]; then echo "!! expected $want, got $got: curl $*" >&2; exit 1; fi
}

# mailed WHAT ADDRESS [SUBJECT]: the code (6 digits) or link token of the newest mail to ADDRESS.
mailed() {
  if [ -z "${MAILDIR:-}" ]; then
    read -r -p "The $1 mailed to $2 (see the make run terminal): " value; echo "$value"; return
  fi
  python3 - "$MAILDIR" "$1" "$2" "${3:-}" <<'PY'
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
sys.exit(f"no mail to {to} in {folder}")
PY
}
H='Content-Type: application/json'

echo "## Log in (username or e-mail): a JWT pair"
expect 200 $B/auth/login -H "$H" -d '{"username": "demo", "password": "ghostflow-demo-pass"}'
JWT=$(echo "$BODY" | json 'd["access_token"]'); REFRESH=$(echo "$BODY" | json 'd["refresh_token"]')

echo "## The team switcher, and the members of team 1"
expect 200 $B/teams -H "Authorization: Bearer $JWT"
expect 200 $B/team/members -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"

echo "## Rotate the refresh token: keep the new pair; the old refresh token is spent"
expect 200 $B/auth/refresh -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"
JWT=$(echo "$BODY" | json 'd["access_token"]'); REFRESH=$(echo "$BODY" | json 'd["refresh_token"]')

echo "## Create an API key (interactive login only): the raw key is in this answer and nowhere else"
expect 201 -X POST $B/auth/api-keys -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" -H "$H" \
  -d '{"name": "Production Key", "permissions": ["read:campaigns", "write:campaigns", "read:stats"]}'
KEY=$(echo "$BODY" | json 'd["raw_key"]'); KEY_ID=$(echo "$BODY" | json 'd["id"]')

echo "## The GhostFlow contract: every call carries the key and the team"
expect 200 $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"
expect 200 $B/campaigns -H "X-Api-Key: $KEY" -H "X-Team-Id: $TEAM"
expect 201 -X POST $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM" -H "$H" \
  -d '{"name": "Spring sale", "status": "active"}'
expect 403 $B/billing -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"      # not in the key's scopes

echo "## Rotate the key without downtime: the old secret keeps working for 10 minutes"
expect 200 -X POST $B/auth/api-keys/$KEY_ID/regenerate -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" \
  -H "$H" -d '{"grace_seconds": 600}'
OLD_KEY=$KEY; KEY=$(echo "$BODY" | json 'd["raw_key"]')
expect 200 $B/campaigns -H "Authorization: Bearer $OLD_KEY" -H "X-Team-Id: $TEAM"
expect 200 $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"

echo "## What did this key do? (its owner or a team admin); the whole team's log needs admin"
expect 200 "$B/auth/api-keys/$KEY_ID/audit-log" -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"
expect 200 "$B/audit-log?status=4xx" -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"

echo "## Watch it live: a stream token (admin; once, within 60 s) opens the team's event stream"
expect 200 -X POST $B/audit-log/stream-token -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"
STREAM_URL="$B/audit-log/stream?token=$(echo "$BODY" | json 'd["token"]')&action=api_request"
(sleep 1; curl -s -o /dev/null $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM") &
STREAM=$(curl -s -N --max-time 3 "$STREAM_URL" || true)   # EventSource would stay; curl stops at 3 s
printf '%s\n' "$STREAM" | head -n 3 | cut -c1-200
printf '%s' "$STREAM" | grep -q '"action":"api_request"' || { echo "!! the key call did not arrive live" >&2; exit 1; }
echo "## EventSource's reconnect: the same URL with Last-Event-ID resumes, within 60 s of the drop"
LAST_ID=$(printf '%s\n' "$STREAM" | sed -n 's/^id: //p' | tail -n1)
for _ in 1 2 3 4 5; do   # the server may not have seen the first connection close yet: token_in_use
  AGAIN=$(curl -s -N --max-time 2 -H "Last-Event-ID: $LAST_ID" "$STREAM_URL" || true)
  printf '%s' "$AGAIN" | grep -q token_in_use || break; sleep 1
done
printf '%s\n' "$AGAIN" | head -n 1
printf '%s' "$AGAIN" | grep -q '^: live' || { echo "!! the same URL did not resume the stream" >&2; exit 1; }
printf '%s' "$AGAIN" | grep -q "^id: $LAST_ID" && { echo "!! the resumed stream repeated an event" >&2; exit 1; }

echo "## Revoke: instant and final, for both secrets"
expect 200 -X PUT $B/auth/api-keys/$KEY_ID/revoke -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"
expect 401 $B/campaigns -H "Authorization: Bearer $KEY" -H "X-Team-Id: $TEAM"
expect 401 $B/campaigns -H "Authorization: Bearer $OLD_KEY" -H "X-Team-Id: $TEAM"

echo "## Account lifecycle: register, verify with the mailed code, log in"
ADA="ada-$RUN@example.com"
expect 201 $B/auth/register -H "$H" -d "{\"username\": \"ada-$RUN\", \"email\": \"$ADA\", \"password\": \"a-long-passphrase\"}"
expect 200 $B/auth/verify-email -H "$H" -d "{\"email\": \"$ADA\", \"code\": \"$(mailed code "$ADA" "verification")\"}"
expect 200 $B/auth/login -H "$H" -d "{\"username\": \"$ADA\", \"password\": \"a-long-passphrase\"}"
ADAS_JWT=$(echo "$BODY" | json 'd["access_token"]')
expect 200 $B/me/account -H "Authorization: Bearer $ADAS_JWT"

echo "## Forgot the password: reset it with the mailed code (every session is signed out)"
expect 202 $B/auth/forgot-password -H "$H" -d "{\"email\": \"$ADA\"}"
RESET_CODE=$(mailed code "$ADA" "Reset your GhostFlow password")
expect 200 $B/auth/reset-password -H "$H" \
  -d "{\"email\": \"$ADA\", \"code\": \"$RESET_CODE\", \"new_password\": \"another-long-passphrase\"}"
expect 200 $B/auth/login -H "$H" -d "{\"username\": \"$ADA\", \"password\": \"another-long-passphrase\"}"

echo "## Invite grace to team 1; grace registers, verifies, logs in and accepts"
GRACE="grace-$RUN@example.com"
expect 201 -X POST $B/team/invitations -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" -H "$H" \
  -d "{\"email\": \"$GRACE\", \"role\": \"member\"}"
INVITATION=$(mailed token "$GRACE" "invited")
expect 201 $B/auth/register -H "$H" -d "{\"username\": \"grace-$RUN\", \"email\": \"$GRACE\", \"password\": \"a-long-passphrase\"}"
expect 200 $B/auth/verify-email -H "$H" -d "{\"email\": \"$GRACE\", \"code\": \"$(mailed code "$GRACE" "verification")\"}"
expect 200 $B/auth/login -H "$H" -d "{\"username\": \"$GRACE\", \"password\": \"a-long-passphrase\"}"
GRACES_JWT=$(echo "$BODY" | json 'd["access_token"]')
expect 201 -X POST $B/invitations/accept -H "Authorization: Bearer $GRACES_JWT" -H "$H" \
  -d "{\"token\": \"$INVITATION\"}"
expect 200 $B/team/members -H "Authorization: Bearer $GRACES_JWT" -H "X-Team-Id: $TEAM"

echo "## A team-owned integration: sign a 5-minute token with its Admin key; the Content key in ?key="
expect 201 -X POST $B/integrations -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM" -H "$H" \
  -d '{"name": "CI pipeline", "permissions": ["read:campaigns"], "allowed_origins": ["https://shop.example.com"]}'
ADMIN_KEY=$(echo "$BODY" | json 'd["admin_key"]'); CONTENT_KEY=$(echo "$BODY" | json 'd["content_key"]')
INTEGRATION_ID=$(echo "$BODY" | json 'd["id"]')
TOKEN=$("${PYTHON:-python3}" -c '
import sys, time, jwt
kid, secret = sys.argv[1].split(":")
now = int(time.time())
print(jwt.encode({"iat": now, "exp": now + 300, "aud": "/admin/"}, bytes.fromhex(secret),
                 algorithm="HS256", headers={"kid": kid}))' "$ADMIN_KEY")
expect 200 $B/campaigns -H "Authorization: Ghost $TOKEN" -H "X-Team-Id: $TEAM"
expect 403 $B/stats -H "Authorization: Ghost $TOKEN" -H "X-Team-Id: $TEAM"
expect 200 "${B%/v1}/content/v1/campaigns/?key=$CONTENT_KEY&limit=5" -H 'Accept-Version: v5.0'
expect 200 $B/integrations/$INTEGRATION_ID/audit-log -H "Authorization: Bearer $JWT" -H "X-Team-Id: $TEAM"

echo "## Log out: the refresh token's whole login is revoked"
expect 204 $B/auth/logout -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"
expect 401 $B/auth/refresh -H "$H" -d "{\"refresh_token\": \"$REFRESH\"}"

echo "All flows answered as documented."
