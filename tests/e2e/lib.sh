# lib.sh: shared by the end-to-end and fault tests. Each test gets its own
# temporary folder and its own ports (the hub binds tcp://127.0.0.1:* and
# writes the ports it got to <data_dir>/endpoints), so tests run in parallel.
# Sourced, not run. Needs RO_BUILD (the meson build root) in the environment.
set -euo pipefail

: "${RO_BUILD:?RO_BUILD must name the meson build folder}"
: "${RO_SOURCE:?RO_SOURCE must name the source folder}"
HUB_BIN=$RO_BUILD/hub/rollout-hub
CTL_BIN=$RO_BUILD/hub/rolloutctl
AGENT_BIN=$RO_BUILD/agent/rollout-agent
PROBE_BIN=$RO_BUILD/tests/tools/ro-probe
T=$(mktemp -d /tmp/rollout-e2e.XXXXXX)
HUB_PID=
declare -A AGENT_PIDS=()
E2E_NAME=$(basename "$0" .sh)

say() { echo "# $E2E_NAME: $*"; }
fail() {
  echo "FAIL $E2E_NAME: $*" >&2
  if [ -f "$T/hub.log" ]; then echo "--- last hub log lines:" >&2; tail -n 20 "$T/hub.log" >&2; fi
  exit 1
}

cleanup() {
  local rc=$?
  for pid in "${AGENT_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  [ -n "$HUB_PID" ] && kill -9 "$HUB_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "# kept $T for inspection" >&2; fi
}
trap cleanup EXIT

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
}

# wait_until SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}

# hub_config [EXTRA_INI_LINES]: write $T/hub.ini (plain TCP on loopback, free ports).
hub_config() {
  mkdir -p "$T/hub"
  cat > "$T/hub.ini" <<INI
[hub]
data_dir = $T/hub
registry = ${REGISTRY:-$RO_SOURCE/config/units.csv}
targets = $RO_SOURCE/config/targets.ini
silent_after = ${SILENT_AFTER:-3600}
log_level = ${HUB_LOG_LEVEL:-info}
[sockets]
ingest = ${INGEST_EP:-tcp://127.0.0.1:*}
feed = ${FEED_EP:-tcp://127.0.0.1:*}
status = ${STATUS_EP:-tcp://127.0.0.1:*}
[security]
curve = off
INI
}

endpoint() { awk -v k="$1" '$1 == k { print $2 }' "$T/hub/endpoints" 2>/dev/null; }

# hub_start: start the hub and wait until its endpoints file names its ports.
hub_start() {
  rm -f "$T/hub/endpoints"
  "$HUB_BIN" --config "$T/hub.ini" >>"$T/hub.log" 2>&1 &
  HUB_PID=$!
  wait_until 10 test -s "$T/hub/endpoints" || fail "hub did not start"
  INGEST=$(endpoint ingest); STATUS=$(endpoint status); FEED=$(endpoint feed)
}

# hub_pin_ports: from now on bind the same ports, so agents find a restarted hub.
hub_pin_ports() {
  INGEST_EP=$INGEST STATUS_EP=$STATUS FEED_EP=$FEED hub_config
}

hub_kill() { kill -9 "$HUB_PID" 2>/dev/null || true; wait "$HUB_PID" 2>/dev/null || true; HUB_PID=; }

hub_stop() {
  kill -TERM "$HUB_PID"
  local rc=0
  wait "$HUB_PID" || rc=$?
  HUB_PID=
  return $rc
}

# agent_config UNIT: write $T/agents/UNIT/agent.ini pointing at the hub's ingest port.
agent_config() {
  local u=$1 d=$T/agents/$1
  mkdir -p "$d"
  cat > "$d/agent.ini" <<INI
[agent]
unit = $u
hub = ${INGEST:?start the hub first or set INGEST}
outbox = $d/outbox.db
resend_ms = ${RESEND_MS:-1000}
heartbeat = ${HEARTBEAT_S:-5}
poll_ms = ${POLL_MS:-100}
outbox_max = ${OUTBOX_MAX:-1000000}
[security]
curve = off
INI
}

agent() { local u=$1; shift; "$AGENT_BIN" --config "$T/agents/$u/agent.ini" "$@"; }

agent_start() {
  "$AGENT_BIN" --config "$T/agents/$1/agent.ini" run >>"$T/agents/$1/agent.log" 2>&1 &
  AGENT_PIDS[$1]=$!
}

agent_kill() { kill -9 "${AGENT_PIDS[$1]}" 2>/dev/null || true; wait "${AGENT_PIDS[$1]}" 2>/dev/null || true; unset "AGENT_PIDS[$1]"; }

agent_stop() {
  kill -TERM "${AGENT_PIDS[$1]}"
  local rc=0
  wait "${AGENT_PIDS[$1]}" || rc=$?
  unset "AGENT_PIDS[$1]"
  return $rc
}

ctl() { "$CTL_BIN" --hub "$STATUS" "$@"; }

# province FIELD: one number from the province scope of `rolloutctl status --json`.
province() { ctl status --json | jq -r ".scopes[0].$1"; }
unit_field() { ctl status --unit "$1" --json | jq -r ".scopes[0].$2"; }

# db SQL: ask the hub's store directly (tests only; rolloutctl never does).
db() { sqlite3 -batch -noheader "$T/hub/hub.db" "$1"; }

province_reports_is() { [ "$(province reports 2>/dev/null)" == "$1" ]; }

# outbox_count UNIT TABLE N: true when the agent's outbox TABLE (outbox|refused) holds N rows.
outbox_count() { [ "$(sqlite3 "$T/agents/$1/outbox.db" "select count(*) from $2")" == "$3" ]; }
