#!/usr/bin/env bash
# One of two servers killed (-9) under load, behind nginx set up as docs/deploy/nginx.conf
# (round-robin, a POST whose server died tried once on the other): every call must
# complete (issue 27).
#
#   benches/balance/kill.sh postgres://postgres@127.0.0.1:5432
#   settings: CALLS (10000, all on the line at once), THINK_MS (2000, a caller's pace),
#   KILL_AT (8 seconds into the run), CASELINE_BIN=PATH (else this tree's release build)
#
# Needs nginx (Debian's). Prints the load tester's figures; exits 1 if a call failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS=${CALLS:-10000} THINK_MS=${THINK_MS:-2000} KILL_AT=${KILL_AT:-8}
PG=${1:?a PostgreSQL server URL, like postgres://postgres@127.0.0.1:5432}
command -v nginx >/dev/null || { echo "nginx is needed (apt-get install nginx)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT
SERVER=$(realpath "${CASELINE_BIN:-./target/release/caseline}")
[ -n "${CASELINE_BIN:-}" ] || cargo build --release -q

pg_url() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], "", "")))' "$PG" "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "nothing listens on $1" >&2; cat "$WORK"/*.log >&2; exit 1
}

a=$(free_port); b=$(free_port); front=$(free_port)
export CASELINE_TWILIO_AUTH_TOKEN=kill-bench-token
export CASELINE_BLIND_INDEX_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
# The provider calls the balancer: that is the URL every signature is made over.
export CASELINE_PUBLIC_URL="http://127.0.0.1:$front"
export CASELINE_DATABASE_URL="$(pg_url caseline_kill)"
psql "$(pg_url postgres)" -q -c "DROP DATABASE IF EXISTS caseline_kill WITH (FORCE)" -c "CREATE DATABASE caseline_kill"

# The README's nginx setup, with this machine's addresses, and files in the work folder.
sed -e "s/10.0.0.11:8080/127.0.0.1:$a/; s/10.0.0.12:8080/127.0.0.1:$b/" \
    -e "s|listen 443 ssl;.*|listen 127.0.0.1:$front;|" \
    -e "s|error_log .*|error_log $WORK/nginx-error.log warn; pid $WORK/nginx.pid;|" \
    -e "s|access_log off;|access_log off; client_body_temp_path $WORK; proxy_temp_path $WORK;|" \
    docs/deploy/nginx.conf >"$WORK/nginx.conf"
grep -q "127.0.0.1:$a" "$WORK/nginx.conf" && grep -q "listen 127.0.0.1:$front" "$WORK/nginx.conf" \
  || { echo "docs/deploy/nginx.conf changed shape: update this script" >&2; exit 1; }
nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" -p "$WORK"

CASELINE_LISTEN="127.0.0.1:$a" "$SERVER" serve >"$WORK/a.log" 2>&1 &
pa=$!
CASELINE_LISTEN="127.0.0.1:$b" "$SERVER" serve >"$WORK/b.log" 2>&1 &
wait_port "$a"; wait_port "$b"; wait_port "$front"

echo "caseline loadtest through nginx: $CALLS calls at once, think ${THINK_MS} ms; server A killed -9 at ${KILL_AT} s"
( sleep "$KILL_AT"; kill -9 "$pa"; echo "    -- killed server A (pid $pa) --" ) &
status=0
"$SERVER" loadtest --url "http://127.0.0.1:$front" --calls "$CALLS" --concurrency "$CALLS" \
  --think-ms "$THINK_MS" || status=$?
echo "nginx: $(grep -c 'upstream' "$WORK/nginx-error.log" 2>/dev/null || echo 0) upstream errors logged (each retried on the other server)"
exit "$status"
