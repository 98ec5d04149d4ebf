#!/usr/bin/env bash
# The webhook comparison the way the issue measured it, with wrk following the calls:
# 1,000 live calls pressing * at the main menu, 50 connections, against the release
# binary on SQLite, on PostgreSQL (if a server URL is given) and the bare axum handler.
#
#   benches/wrk/compare.sh [postgres://postgres@127.0.0.1:5432]
#   settings: RUNS (3), SECS (10), CALLS (1000), CONNECTIONS (50)
#   PERF=DIR also records each server's profile during its run (`perf record -p`, flat),
#   as DIR/<store>-<run>.data, and prints its ten hottest symbols: `perf report -i FILE`
#   reads the rest; PERF_ARGS adds options (`--call-graph dwarf` with a binary built
#   with line tables). Needs Debian's linux-perf.
#   CASELINE_BIN=PATH serves with that binary instead of building this tree's, from
#   CASELINE_TREE (a checkout of the commit it was built from, for its call flows and
#   prompts; this tree if unset). An old build from before turns gets the same URL
#   every time, as the provider would send it.
#
# Needs wrk, python3 and, for PostgreSQL, psql. Each run gets a fresh database and a
# fresh server. CPU is read from /proc: the server's, and PostgreSQL's (the postmaster,
# its live children and those that exited during the run). On PostgreSQL it also counts
# the database's transactions: the webhook path reads nothing and commits positions in
# batches, so there are far fewer than requests.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3} SECS=${SECS:-10} CALLS=${CALLS:-1000} CONNECTIONS=${CONNECTIONS:-50}
PG=${1:-}
HERE=benches/wrk
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export CASELINE_TWILIO_AUTH_TOKEN=wrk-bench-token
export CASELINE_BLIND_INDEX_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
# Turns signed ahead: enough for 200,000 requests a second.
TURNS=$((SECS * 200 * 1000 / CALLS))
HZ=$(getconf CLK_TCK)

SERVER=$(realpath "${CASELINE_BIN:-./target/release/caseline}")
TREE=${CASELINE_TREE:-.}
[ -n "${CASELINE_BIN:-}" ] || cargo build --release -q
BENCH=$(cargo bench --bench webhook --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("target",{}).get("name")=="webhook" and m.get("executable")][0])')

# A database on the given server: the URL with its path (and query) replaced.
pg_url() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], "", "")))' "$PG" "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_port PORT PID LOG: until PID listens on PORT.
wait_port() {
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || break
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    sleep 0.1
  done
  echo "nothing answered on port $1" >&2; cat "$3" >&2; exit 1
}
# Clock ticks of a process (utime, stime; with `all`, also its exited children's).
ticks() { awk -v all="${2:-}" '{ print $14 + $15 + (all ? $16 + $17 : 0) }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  [ -n "$PG" ] || { echo 0; return; }
  local postmaster t
  postmaster=$(head -1 "$(psql "$(pg_url postgres)" -Atc 'SHOW data_directory')/postmaster.pid")
  t=$(ticks "$postmaster" all)
  for p in $(pgrep -P "$postmaster"); do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
# Clock ticks of a process's threads of one name (the SQLite writer: `caseline-writer`).
thread_ticks() {
  local t=0 task
  for task in /proc/"$1"/task/*; do
    [ "$(cat "$task/comm" 2>/dev/null)" = "$2" ] && t=$((t + $(awk '{ print $14 + $15 }' "$task/stat")))
  done
  echo "$t"
}
pg_xacts() { psql "$(pg_url postgres)" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'caseline_wrk'"; }

# wrk_run NAME URL PID EXPECT: one wrk run; prints a line of figures.
wrk_run() {
  local name=$1 url=$2 pid=$3 before pg_before xa out after pg_after xb requests writer_before writer_after
  before=$(ticks "$pid"); pg_before=$(pg_ticks); writer_before=$(thread_ticks "$pid" caseline-writer)
  [ "$name" = PostgreSQL ] && xa=$(pg_xacts)
  local perf_pid="" profile="${PERF:-}/$name-$run.data"
  if [ -n "${PERF:-}" ]; then
    mkdir -p "$PERF"
    perf record -q -F 999 ${PERF_ARGS:-} -p "$pid" -o "$profile" 2>/dev/null &
    perf_pid=$!
  fi
  out=$(WRK_CALLS="$WORK/calls" WRK_EXPECT="$4" wrk -t2 -c"$CONNECTIONS" -d"${SECS}s" -s "$HERE/follow.lua" "$url")
  after=$(ticks "$pid"); pg_after=$(pg_ticks); writer_after=$(thread_ticks "$pid" caseline-writer)
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
  fi
  grep -q "answers not matching .* 0, past the signed turns 0, socket errors 0" <<<"$out" \
    || { echo "$out" >&2; echo "$name: the run failed" >&2; exit 1; }
  requests=$(awk '/^requests:/ {print $2}' <<<"$out")
  printf '%-11s %7.0f req/s  p50 %s ms  p99 %s ms  CPU per request: server %s µs' "$name" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '/^p50:/ {print $2}' <<<"$out")" \
    "$(awk '/^p99:/ {print $2}' <<<"$out")" "$(( (after - before) * 1000000 / HZ / requests ))"
  if [ "$name" = SQLite ]; then
    printf ' (its writer thread %s µs)' "$(awk -v t=$((writer_after - writer_before)) -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
  fi
  if [ "$name" = PostgreSQL ]; then
    sleep 1 # the statistics collector reports about once a second
    xb=$(pg_xacts)
    printf ', database %s µs; database transactions %s (%s per 1,000 requests)' \
      "$(( (pg_after - pg_before) * 1000000 / HZ / requests ))" "$((xb - xa))" "$(( (xb - xa) * 1000 / requests ))"
  fi
  echo
  if [ -n "$perf_pid" ]; then
    { perf report -q -i "$profile" --sort symbol --stdio 2>/dev/null | grep -v "^$" | head -10 | cut -c1-110; } || true
  fi
}

# caseline_run NAME DATABASE_URL
caseline_run() {
  local port pid; port=$(free_port)
  CASELINE_LISTEN="127.0.0.1:$port" CASELINE_PUBLIC_URL="http://127.0.0.1:$port" \
    CASELINE_DATABASE_URL="$2" bash -c 'cd "$1" && exec "$2" serve' - "$TREE" "$SERVER" 2>"$WORK/serve.log" &
  pid=$!
  wait_port "$port" "$pid" "$WORK/serve.log"
  python3 "$HERE/presign.py" "http://127.0.0.1:$port" "$CALLS" "$TURNS" 2 "$WORK/calls"
  wrk_run "$1" "http://127.0.0.1:$port" "$pid" "$(cat "$WORK/calls.expect")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if grep -E " (WARN|ERROR) " "$WORK/serve.log" >&2; then echo "$1: the server logged the above" >&2; exit 1; fi
}

echo "wrk -t2 -c$CONNECTIONS -d${SECS}s, $CALLS live calls pressing * at the main menu, following each answer's turn"
for run in $(seq "$RUNS"); do
  rm -f "$WORK"/s.db*
  caseline_run SQLite "sqlite://$WORK/s.db"
  if [ -n "$PG" ]; then
    psql "$(pg_url postgres)" -q -c "DROP DATABASE IF EXISTS caseline_wrk WITH (FORCE)" -c "CREATE DATABASE caseline_wrk"
    caseline_run PostgreSQL "$(pg_url caseline_wrk)"
  fi
  # The bare handler gets the same requests (the last run's signed calls) and
  # answers each with its fixed menu.
  port=$(free_port)
  BENCH_TARGET=serve-bare BENCH_BARE_PORT=$port "$BENCH" --bench >"$WORK/bare.log" 2>&1 &
  pid=$!
  wait_port "$port" "$pid" "$WORK/bare.log"
  wrk_run bare "http://127.0.0.1:$port" "$pid" 'main%-menu"'
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
