#!/usr/bin/env bash
# The webhook comparison the way the issue measured it, with wrk following the calls:
# 1,000 live calls pressing * at the main menu, 50 connections, against the release
# binary on SQLite, on PostgreSQL (if a URL is given) and the bare axum handler.
#
#   benches/wrk/compare.sh [postgres://postgres@127.0.0.1:5432]
#   settings: RUNS (3), SECS (10), CALLS (1000), CONNECTIONS (50)
#
# Needs wrk, python3 and, for PostgreSQL, psql. Each run gets a fresh database and a
# fresh server; the server's CPU (and PostgreSQL's) is read from /proc.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3} SECS=${SECS:-10} CALLS=${CALLS:-1000} CONNECTIONS=${CONNECTIONS:-50}
PG=${1:-}
HERE=benches/wrk
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export CASELINE_TWILIO_AUTH_TOKEN=wrk-bench-token
export CASELINE_BLIND_INDEX_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
# Enough turns signed ahead for the fastest run seen, with room.
TURNS=$((SECS * 100 * 1000 / CALLS))

cargo build --release -q
BENCH=$(cargo bench --bench webhook --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("target",{}).get("name")=="webhook" and m.get("executable")][0])')

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }

# wrk_run NAME URL PID...: one wrk run; prints a line of figures.
wrk_run() {
  local name=$1 url=$2; shift 2
  local before pg_before out after pg_after
  before=$(ticks "$@"); pg_before=$(ticks $(pgrep -x postgres || true))
  out=$(WRK_CALLS="$WORK/calls.txt" WRK_THREADS=2 wrk -t2 -c"$CONNECTIONS" -d"${SECS}s" -s "$HERE/follow.lua" "$url")
  after=$(ticks "$@"); pg_after=$(ticks $(pgrep -x postgres || true))
  echo "$out" | grep -q "not-a-menu answers: 0, requests past the pre-signed turns: 0" \
    || { echo "$out" >&2; echo "$name: some answers were not the menu, or the turns ran out" >&2; exit 1; }
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '/^p99:/ {print $2}')
  printf '%-12s %10.0f req/s  p50 %s ms  p99 %s ms  server CPU %s s  postgres CPU %s s\n' "$name" "$rps" \
    "$(echo "$out" | awk '/^p50:/ {print $2}')" "$p99" \
    "$(echo "scale=1; ($after - $before) / 100" | bc)" "$(echo "scale=1; ($pg_after - $pg_before) / 100" | bc)"
}

# caseline_run NAME DATABASE_URL
caseline_run() {
  local port; port=$(free_port)
  CASELINE_LISTEN="127.0.0.1:$port" CASELINE_PUBLIC_URL="http://127.0.0.1:$port" \
    CASELINE_DATABASE_URL="$2" ./target/release/caseline serve 2>"$WORK/serve.log" &
  local pid=$!
  wait_port "$port"
  python3 "$HERE/presign.py" "http://127.0.0.1:$port" "$CALLS" "$TURNS" "$WORK/calls.txt"
  wrk_run "$1" "http://127.0.0.1:$port" "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "wrk -t2 -c$CONNECTIONS -d${SECS}s, $CALLS live calls pressing * at the main menu, following each answer's turn"
for run in $(seq "$RUNS"); do
  rm -f "$WORK"/s.db*
  caseline_run SQLite "sqlite://$WORK/s.db"
  if [ -n "$PG" ]; then
    psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS caseline_wrk" -c "CREATE DATABASE caseline_wrk"
    caseline_run PostgreSQL "$PG/caseline_wrk"
  fi
  port=$(free_port)
  # The bare handler answers any turn; the SQLite calls' signed paths do.
  BENCH_TARGET=serve-bare BENCH_BARE_PORT=$port "$BENCH" --bench >/dev/null &
  pid=$!
  wait_port "$port"
  wrk_run bare "http://127.0.0.1:$port" "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
