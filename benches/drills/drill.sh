#!/usr/bin/env bash
# The hostile-webhook, kill -9 and PII drill against a release build of Caseline on
# 127.0.0.1. See benches/drills/README.md.
#
#   benches/drills/drill.sh sqlite
#   benches/drills/drill.sh postgres [postgres://postgres@127.0.0.1:5432]
#
# Environment: DRILL_PORT (default 18931), DRILL_REQUESTS (40000), DRILL_CONCURRENCY
# (32), DRILL_HOSTILE_SECONDS (240), DRILL_CALLS (132), DRILL_KILL_AT (0.5: the share of
# the last burst answered when the kill comes), DRILL_KEEP=1 keeps the work
# folder (logs, database, reports), CASELINE_BIN (default target/release/caseline).
set -uo pipefail

STORE=${1:-sqlite}
PG_SERVER=${2:-postgres://postgres@127.0.0.1:5432}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/benches/drills"
BIN=${CASELINE_BIN:-$ROOT/target/release/caseline}
PORT=${DRILL_PORT:-18931}
REQUESTS=${DRILL_REQUESTS:-40000}
CONCURRENCY=${DRILL_CONCURRENCY:-32}
HOSTILE_SECONDS=${DRILL_HOSTILE_SECONDS:-240}
CALLS=${DRILL_CALLS:-132}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/caseline-drill-$STORE.XXXXXX")
BASE="http://127.0.0.1:$PORT"

case "$PG_SERVER" in
  postgres://*@127.0.0.1:*|postgres://127.0.0.1:*|postgresql://*@127.0.0.1:*) ;;
  *) echo "drill: PostgreSQL must be on 127.0.0.1 (got $PG_SERVER)" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "drill: no $BIN; run cargo build --release" >&2; exit 2; }

export CASELINE_LISTEN="127.0.0.1:$PORT"
export CASELINE_PUBLIC_URL="$BASE"
export CASELINE_TWILIO_AUTH_TOKEN="drill-auth-token-$(date +%s)-$$"
export CASELINE_BLIND_INDEX_KEY="drill-blind-index-key-0123456789abcdef-fixed"
export CASELINE_ARGON2_MEMORY_KIB=256 CASELINE_ARGON2_ITERATIONS=1
export CASELINE_TTY_NUMBERS="+18663994096" CASELINE_TTY_MODE=text
export DRILL_TTY_NUMBER="+18663994096"
export CASELINE_PAY_CONNECTOR="drill-connector"
export CASELINE_FLOWS_DIR="$ROOT/call-flows" CASELINE_PROMPTS_DIR="$ROOT/prompts"
export CASELINE_HOLIDAYS_FILE="$ROOT/holidays/california.txt"
export DRILL_EXTRACT="$ROOT/demo/extract.json"
export DRILL_ANSWERS="$WORK/answers.xml"   # the TwiML answers, searched like the logs
export RUST_LOG=${RUST_LOG:-info}
unset CASELINE_CONFIG CASELINE_METRICS_LISTEN CASELINE_CALLBACK_FROM CASELINE_SMS_FROM \
  CASELINE_TWILIO_ACCOUNT_SID CASELINE_SCREEN_POP_URL CASELINE_TWILIO_SHARED_KEY

DBNAME=""
if [ "$STORE" = sqlite ]; then
  export CASELINE_DATABASE_URL="sqlite://$WORK/caseline.db"
elif [ "$STORE" = postgres ]; then
  DBNAME="caseline_drill_$(date +%s)_$$"
  PGHOSTPORT=${PG_SERVER#*://}; PGHOSTPORT=${PGHOSTPORT#*@}
  PGH=${PGHOSTPORT%%:*}; PGP=${PGHOSTPORT##*:}; PGP=${PGP%%/*}
  createdb -h "$PGH" -p "$PGP" -U postgres "$DBNAME" || { echo "drill: createdb failed" >&2; exit 2; }
  export CASELINE_DATABASE_URL="${PG_SERVER%/}/$DBNAME"
else
  echo "usage: $0 sqlite|postgres [POSTGRES_SERVER_URL]" >&2; exit 2
fi

PASSED=0; FAILED=0; SERVER=""
pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

cleanup() {
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null; fi
  if [ -n "$DBNAME" ]; then dropdb -h "$PGH" -p "$PGP" -U postgres "$DBNAME" 2>/dev/null || true; fi
  if [ "${DRILL_KEEP:-0}" = 1 ]; then echo "drill: work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start_server() {  # $1: log name
  "$BIN" serve >"$WORK/$1.out" 2>"$WORK/$1.err" &
  SERVER=$!
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null -m 1 "$BASE/healthz"; then return 0; fi
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.2
  done
  echo "drill: the server did not come up; its log:" >&2; tail -20 "$WORK/$1.err" "$WORK/$1.out" >&2
  return 1
}

# PostgreSQL's own log (its part written during the drill) is searched too, if readable.
PG_LOG=${DRILL_PG_LOG:-$(ls /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -1)}
PG_LOG_START=0
if [ "$STORE" = postgres ] && [ -r "$PG_LOG" ]; then PG_LOG_START=$(stat -c %s "$PG_LOG"); fi

echo "drill: store $STORE ($([ "$STORE" = postgres ] && echo "database $DBNAME" || echo "$WORK/caseline.db")), $BASE, work folder $WORK"
started=$(date +%s)

# The demo extract, imported with the fixed blind index key.
if ! "$BIN" import "$ROOT/demo/extract.json" >"$WORK/import.out" 2>"$WORK/import.err"; then
  echo "drill: import failed:" >&2; cat "$WORK/import.err" >&2; exit 2
fi
start_server server1 || exit 2

# 1. Hostile webhooks: no 5xx, no reset, every signed 200 a <Response>.
if timeout $((HOSTILE_SECONDS + 60)) python3 "$HERE/drill.py" hostile "$BASE" "$REQUESTS" "$CONCURRENCY" \
    "$HOSTILE_SECONDS" "$WORK/hostile.json"; then
  if kill -0 "$SERVER" 2>/dev/null; then pass "hostile webhooks: no 5xx, no transport error, signed 200s are <Response> TwiML"
  else fail "hostile webhooks: the server died"; fi
else
  fail "hostile webhooks (see above)"
fi
kill -0 "$SERVER" 2>/dev/null || start_server server1b || exit 2

# 2. kill -9 in the middle of calls, restart on the same database, continue every call.
timeout 300 python3 "$HERE/drill.py" start "$BASE" "$CALLS" "$WORK/calls.json" --kill "$SERVER"
start_ok=$?
wait "$SERVER" 2>/dev/null; echo "drill: server exit status after kill -9: $? (137 = SIGKILL)"
SERVER=""
# What the database holds for the calls now, before anything reads it again.
if [ "$STORE" = sqlite ]; then
  sqlite3 -readonly "$WORK/caseline.db" "SELECT call_sid, state FROM call_sessions WHERE call_sid LIKE 'CAd0111%'" \
    >"$WORK/positions.txt" 2>"$WORK/positions.err"
else
  psql -h "$PGH" -p "$PGP" -U postgres -d "$DBNAME" -At -F '|' \
    -c "SELECT call_sid, state FROM call_sessions WHERE call_sid LIKE 'CAd0111%'" >"$WORK/positions.txt" 2>"$WORK/positions.err"
fi
echo "drill: $(wc -l <"$WORK/positions.txt") session rows of the drill's calls read between the kill and the restart"
start_server server2 || exit 2
if timeout 300 python3 "$HERE/drill.py" continue "$BASE" "$WORK/calls.json" "$WORK/continue.json" "$WORK/positions.txt" && [ $start_ok = 0 ]; then
  pass "kill -9: every call continued with the expected next step"
else
  fail "kill -9: not every call continued (see above)"
fi

# A clean stop commits everything, then look for the numbers.
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=""
FILES=("$WORK"/*.out "$WORK"/*.err)
[ -f "$WORK/answers.xml" ] && FILES+=("$WORK/answers.xml")
if [ "$STORE" = sqlite ]; then
  # The files themselves (main, -wal, -shm) and, to be sure, what strings sees in them.
  for f in "$WORK"/caseline.db*; do
    [ -f "$f" ] || continue
    FILES+=("$f")
    strings -n 6 "$f" >"$WORK/strings.$(basename "$f").txt"; FILES+=("$WORK/strings.$(basename "$f").txt")
  done
else
  pg_dump -h "$PGH" -p "$PGP" -U postgres "$DBNAME" >"$WORK/pg_dump.sql" || fail "pg_dump failed"
  FILES+=("$WORK/pg_dump.sql")
  if [ -r "$PG_LOG" ]; then
    tail -c +$((PG_LOG_START + 1)) "$PG_LOG" >"$WORK/postgresql.log"; FILES+=("$WORK/postgresql.log")
  else
    echo "drill: PostgreSQL's log is not readable here; not searched"
  fi
fi
# 3. No SSN, PAR ID or card number in the logs or the database.
if python3 "$HERE/drill.py" pii "$WORK/pii.json" "${FILES[@]}"; then
  pass "no SSN, PAR ID or card number in logs or the database"
else
  fail "PII found (see above)"
fi

# The server's own errors, for the record (the apologies it logged).
echo "drill: server log lines at ERROR: $(cat "$WORK"/server*.out "$WORK"/server*.err | grep -c ' ERROR ' || true)," \
  "WARN: $(cat "$WORK"/server*.out "$WORK"/server*.err | grep -c ' WARN ' || true); panics: $(cat "$WORK"/server*.out "$WORK"/server*.err | grep -ci 'panick' || true)"
echo "drill: $STORE took $(( $(date +%s) - started )) s"
echo "drill: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
