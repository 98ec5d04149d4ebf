#!/usr/bin/env bash
# One server against two behind a round-robin balancer and two sticky, measured in one
# run with `caseline loadtest` (the provider's part: each answer's action followed and
# signed), all on one PostgreSQL database:
#
#   benches/balance/run.sh postgres://postgres@127.0.0.1:5432
#   settings: RUNS (3), CALLS (3000), CONCURRENCY (50 calls back to back), THINK_MS (0),
#   PAIR_THREADS (empty: each of the two servers runs its runtime on as many worker
#   threads as cores, like the one server; N: on N, TOKIO_WORKER_THREADS)
#   CASELINE_BIN=PATH serves with that binary instead of building this tree's.
#
# Each measurement gets a fresh database and fresh servers. Prints the load tester's figures
# and the CPU per request of the servers together and of PostgreSQL (its postmaster,
# its live children and those that exited during the run).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3} CALLS=${CALLS:-3000} CONCURRENCY=${CONCURRENCY:-50} THINK_MS=${THINK_MS:-0}
PAIR_THREADS=${PAIR_THREADS-}
PG=${1:?a PostgreSQL server URL, like postgres://postgres@127.0.0.1:5432}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export CASELINE_TWILIO_AUTH_TOKEN=balance-bench-token
export CASELINE_BLIND_INDEX_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
export CASELINE_PUBLIC_URL=https://ivr.bench.test
HZ=$(getconf CLK_TCK)
SERVER=$(realpath "${CASELINE_BIN:-./target/release/caseline}")
[ -n "${CASELINE_BIN:-}" ] || cargo build --release -q

pg_url() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], "", "")))' "$PG" "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks() { awk '{ print $14 + $15 + ($16 + $17) * '"${2:-0}"' }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local postmaster t
  postmaster=$(head -1 "$(psql "$(pg_url postgres)" -Atc 'SHOW data_directory')/postmaster.pid")
  t=$(ticks "$postmaster" 1)
  for p in $(pgrep -P "$postmaster"); do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
# start PORT [THREADS]: a server on the bench database; prints its pid.
start() {
  env ${2:+TOKIO_WORKER_THREADS=$2} CASELINE_LISTEN="127.0.0.1:$1" CASELINE_DATABASE_URL="$(pg_url caseline_balance)" \
    "$SERVER" serve >>"$WORK/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && { echo "$pid"; return; }
    sleep 0.1
  done
  cat "$WORK/serve.log" >&2; exit 1
}
# measure NAME PIDS FLAGS...: one load test; prints its figures and the CPU per request.
measure() {
  local name=$1 pids=$2; shift 2
  local before=0 after=0 pg_before pg_after out requests p
  for p in $pids; do before=$((before + $(ticks "$p"))); done
  pg_before=$(pg_ticks)
  local began=$(date +%s.%N)
  local TIMEFORMAT='%U %S' ok=0
  { time { out=$("$SERVER" loadtest "$@" --calls "$CALLS" --concurrency "$CONCURRENCY" \
    --think-ms "$THINK_MS" --connections "$CONCURRENCY" 2>"$WORK/loadtest.err") && ok=1; }; } 2>"$WORK/loadtest.time"
  [ "$ok" = 1 ] || { cat "$WORK/loadtest.err" >&2; echo "$out" >&2; echo "$name: calls failed" >&2; exit 1; }
  local secs=$(echo "$(date +%s.%N) - $began" | bc)
  for p in $pids; do after=$((after + $(ticks "$p"))); done
  pg_after=$(pg_ticks)
  requests=$(awk '/^requests/ {print $2}' <<<"$out")
  local generator
  generator=$(awk -v r="$requests" '{ printf "%d", ($1 + $2) * 1000000 / r }' "$WORK/loadtest.time")
  printf '%-22s %6.0f req/s  %s  CPU per request: servers %s µs, database %s µs, load generator %s µs%s\n' "$name" \
    "$(echo "$requests / $secs" | bc -l)" "$(awk '/^latency/ {$1=""; print}' <<<"$out" | xargs)" \
    "$(( (after - before) * 1000000 / HZ / requests ))" "$(( (pg_after - pg_before) * 1000000 / HZ / requests ))" "$generator" \
    "$(awk '/^servers/ {$1=""; print ";" $0}' <<<"$out")"
}

echo "caseline loadtest: $CALLS calls, $CONCURRENCY at once, think ${THINK_MS} ms"
# fresh: a fresh database for the next measurement.
fresh() {
  psql "$(pg_url postgres)" -q -c "DROP DATABASE IF EXISTS caseline_balance WITH (FORCE)" \
    -c "CREATE DATABASE caseline_balance" 2>/dev/null
}
# Each mode on its own fresh database and fresh servers, the three modes taken in turn
# in every run: this machine's speed drifts by half within minutes, so only figures
# taken close together compare, and the ratios are reported run by run.
RATES="$WORK/rates"
for run in $(seq "$RUNS"); do
  fresh
  o=$(free_port); po=$(start "$o")
  measure "one server" "$po" --url "http://127.0.0.1:$o" | tee -a "$RATES"
  kill "$po"; wait "$po" 2>/dev/null || true
  for mode in round-robin sticky; do
    fresh
    a=$(free_port); pa=$(start "$a" "$PAIR_THREADS")
    b=$(free_port); pb=$(start "$b" "$PAIR_THREADS")
    measure "two, $mode" "$pa $pb" --url "http://127.0.0.1:$a" --url "http://127.0.0.1:$b" \
      $([ "$mode" = sticky ] && echo --sticky) | tee -a "$RATES"
    kill "$pa" "$pb"; wait "$pa" "$pb" 2>/dev/null || true
  done
done
# Run by run: each two-server mode's requests a second and p99 against the one server's.
awk '/^one server/ { one = $3; p = $0; sub(/.*p99 /, "", p); one99 = p + 0 }
  /^two, / { p = $0; sub(/.*p99 /, "", p)
    printf "%-18s %.2f of one server in requests a second, p99 %.2f times its\n", $1 " " $2, $3 / one, (p + 0) / one99 }' "$RATES"
if grep -E " (WARN|ERROR) " "$WORK/serve.log" | head -5 >&2; then echo "the servers logged the above" >&2; fi
