#!/usr/bin/env bash
# Two servers round-robin under sustained load: short calls back to back for about two
# and a half minutes, then the requests a second of the first and last 20 seconds, and
# each server's memory, side by side. A server that slows as calls pile up (a cache
# that fills and scans, issue 27) shows here.
#
#   benches/balance/endure.sh postgres://postgres@127.0.0.1:5432
#   settings: CALLS (250000, about 150 s here), CONCURRENCY (50), CASELINE_BIN=PATH
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS=${CALLS:-250000} CONCURRENCY=${CONCURRENCY:-50}
PG=${1:?a PostgreSQL server URL, like postgres://postgres@127.0.0.1:5432}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER=$(realpath "${CASELINE_BIN:-./target/release/caseline}")
[ -n "${CASELINE_BIN:-}" ] || cargo build --release -q
export CASELINE_TWILIO_AUTH_TOKEN=endure-bench-token
export CASELINE_BLIND_INDEX_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
export CASELINE_PUBLIC_URL=https://ivr.bench.test
pg_url() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], "", "")))' "$PG" "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
psql "$(pg_url postgres)" -q -c "DROP DATABASE IF EXISTS caseline_endure WITH (FORCE)" -c "CREATE DATABASE caseline_endure"
export CASELINE_DATABASE_URL="$(pg_url caseline_endure)"
pids=() urls=()
for _ in 1 2; do
  port=$(free_port)
  CASELINE_LISTEN="127.0.0.1:$port" "$SERVER" serve >>"$WORK/serve.log" 2>&1 &
  pids+=($!) urls+=(--url "http://127.0.0.1:$port")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
rss() { for p in "${pids[@]}"; do awk '/VmRSS/ {printf "%d MB ", $2 / 1024}' "/proc/$p/status"; done; }

echo "two servers round-robin: $CALLS short calls, $CONCURRENCY back to back"
"$SERVER" loadtest "${urls[@]}" --calls "$CALLS" --concurrency "$CONCURRENCY" --think-ms 0 \
  --connections "$CONCURRENCY" >"$WORK/out" 2>&1 &
run=$!
sleep 20; early=$(rss)
wait "$run" || { cat "$WORK/out" >&2; echo "calls failed" >&2; exit 1; }
late=$(rss)
grep -E '^(calls|completed|errors|requests|latency)' "$WORK/out"
# The progress lines: "  Ns  started ... req/s R", one a second.
awk '/^ *[0-9]+s .*req\/s/ { r[++n] = $NF }
  END {
    if (n < 45) { print "too short a run to compare (" n " s)"; exit }
    for (i = 1; i <= 20; i++) a += r[i]; for (i = n - 20; i < n; i++) b += r[i];
    printf "seconds %d: first 20 s %.0f req/s, last 20 s %.0f req/s (%.2f)\n", n, a / 20, b / 20, b / a
  }' "$WORK/out"
echo "server memory (RSS) at 20 s: $early; at the end: $late"
if grep -E " (WARN|ERROR) " "$WORK/serve.log" | head -5 >&2; then echo "the servers logged the above" >&2; fi
