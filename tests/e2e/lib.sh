# lib.sh: shared by the end-to-end and fault tests. Each test gets its own
# temporary folder and its own ports (the hub binds tcp://127.0.0.1:* and
# writes the ports it got to <data_dir>/endpoints), so tests run in parallel.
# CURVE is on, as in production: the harness makes the hub's key pair, an
# operator key for rolloutctl (ctl.ini, through ROLLOUT_CTL_CONFIG) and each
# unit's key pair on first use, keeps the allow-list and has the hub reload it
# (SIGHUP) before an agent or probe needs it. PLAIN=1 runs it all over plain TCP.
# Sourced, not run. Needs RO_BUILD (the meson build root) in the environment.
set -euo pipefail

: "${RO_BUILD:?RO_BUILD must name the meson build folder}"
: "${RO_SOURCE:?RO_SOURCE must name the source folder}"
HUB_BIN=${HUB_BIN:-$RO_BUILD/hub/rollout-hub} # what hub_start runs: another build may be named
CTL_BIN=$RO_BUILD/ctl/rolloutctl
AGENT_BIN=$RO_BUILD/agent/rollout-agent
PROBE_BIN=$RO_BUILD/tests/tools/ro-probe
PROBE_EXE=$PROBE_BIN # the binary; under CURVE, PROBE_BIN names the probe function below
T=$(mktemp -d /tmp/rollout-e2e.XXXXXX)
PLAIN=${PLAIN:-0}
KEYS=$T/keys          # hub/ (hub pair), operator/ (rolloutctl's pair), units/UNIT/, allow.list
ALLOW=$KEYS/allow.list
PROBE_UNIT=${PROBE_UNIT:-460000-999} # the key junk probes speak with (not in the registry)
HUB_PID=
declare -A AGENT_PIDS=()
BG_PIDS=() # other background helpers a test starts; killed at exit
E2E_NAME=$(basename "$0" .sh)

say() { echo "# $E2E_NAME: $*"; }
fail() {
  echo "FAIL $E2E_NAME: $*" >&2
  if [ -f "$T/hub.log" ]; then echo "--- last hub log lines:" >&2; tail -n 20 "$T/hub.log" >&2; fi
  exit 1
}

cleanup() {
  local rc=$?
  for pid in "${AGENT_PIDS[@]}" "${BG_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  [ -n "$HUB_PID" ] && kill -9 "$HUB_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "# kept $T for inspection" >&2; fi
}
trap cleanup EXIT
trap 'exit 143' TERM # meson's timeout: exit through cleanup, keeping the evidence

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

# stopped PID: every thread of PID is stopped ('T' in /proc/PID/task/*/stat).
stopped() {
  local f s
  for f in /proc/"$1"/task/*/stat; do
    s=$(<"$f") 2>/dev/null || return 1
    s=${s##*) }
    [ "${s%% *}" = T ] || return 1
  done
}
# stop_procs PID...: SIGSTOP each PID and return once all of its threads have
# stopped. kill -STOP returns before that: the stop begins when one of the
# target's threads next runs, and until every thread has stopped another can
# still read what arrives (a frozen agent taking the ack meant to wait in its
# socket buffer, say). Fails the test after 10 s.
stop_procs() {
  local pid end=$((SECONDS + 10))
  kill -STOP "$@"
  for pid in "$@"; do
    until stopped "$pid"; do
      [ $SECONDS -lt $end ] || fail "process $pid did not stop within 10 s of SIGSTOP"
      sleep 0.005
    done
  done
}

# hub_config [EXTRA_INI_LINES]: write $T/hub.ini (plain TCP on loopback, free ports).
hub_config() {
  mkdir -p "$T/hub"
  cat > "$T/hub.ini" <<INI
[hub]
data_dir = $T/hub
registry = ${REGISTRY:-$RO_SOURCE/config/units.csv}
targets = ${TARGETS_INI:-$RO_SOURCE/config/targets.ini}
silent_after = ${SILENT_AFTER:-3600}
log_level = ${HUB_LOG_LEVEL:-info}
[sockets]
ingest = ${INGEST_EP:-tcp://127.0.0.1:*}
feed = ${FEED_EP:-tcp://127.0.0.1:*}
status = ${STATUS_EP:-tcp://127.0.0.1:*}
[security]
$(hub_security_ini)
INI
}

# targets_without_review: hub_config names the shipped targets file without
# its [review] rules, for tests whose made-up figures (random drills, a share
# that wraps around, 240-hour sessions) test something else than plausibility:
# a rule would hold some of their reports for a reviewer.
targets_without_review() {
  sed '/^\[review\]$/,$d' "$RO_SOURCE/config/targets.ini" > "$T/targets-no-review.ini"
  TARGETS_INI=$T/targets-no-review.ini
}

# ---- CURVE keys (nothing happens here with PLAIN=1) ----

# hub_security_ini / agent_security_ini UNIT: the [security] lines of hub.ini / agent.ini.
hub_security_ini() {
  if [ "$PLAIN" = 1 ]; then echo "curve = off"; return; fi
  printf 'curve = on\nsecret_key = %s\npublic_key = %s\nallow_list = %s\n' \
    "$KEYS/hub/hub.key" "$KEYS/hub/hub.pub" "$ALLOW"
}
agent_security_ini() {
  if [ "$PLAIN" = 1 ]; then echo "curve = off"; return; fi
  unit_keys "$1"
  printf 'curve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
    "$KEYS/hub/hub.pub" "$KEYS/units/$1/agent.key" "$KEYS/units/$1/agent.pub"
}

# unit_keys UNIT: make UNIT's key pair and list it, once; the hub learns of it at
# its next start or keys_sync.
# `keys unit` checks the unit against a registry (by default an installed one):
# the harness names a one-line registry of its own, so that it can also enrol
# units the hub's registry deliberately lacks, whatever the machine has installed.
unit_keys() {
  [ "$PLAIN" = 1 ] || [ -f "$KEYS/units/$1/agent.key" ] && return 0
  local level=municipal
  [ "${1%%-*}" = 460000 ] && level=provincial
  mkdir -p "$KEYS/units"
  printf 'id,level,division,name\n%s,%s,%s,test\n' "$1" "$level" "${1%%-*}" > "$KEYS/units/$1.csv"
  "$CTL_BIN" keys unit "$1" "$KEYS/units/$1" --registry "$KEYS/units/$1.csv" --allow-list "$ALLOW" \
    >/dev/null || return 1
  touch "$KEYS/.dirty"
}

# keys_sync: if the allow-list changed since the running hub read it, reload it now.
keys_sync() {
  [ "$PLAIN" != 1 ] && [ -e "$KEYS/.dirty" ] || return 0
  [ -n "$HUB_PID" ] && kill -0 "$HUB_PID" 2>/dev/null || return 0
  rm -f "$KEYS/.dirty"
  hub_reload_keys
}

# hub_reload_keys: SIGHUP the hub and wait until its log says it read the allow-list.
ALLOW_LOG='allow-list (loaded from|unusable)|lists no keys'
allow_loads() { grep -cE "$ALLOW_LOG" "$T/hub.log" 2>/dev/null || true; }
allow_loads_above() { [ "$(allow_loads)" -gt "$1" ]; }
hub_reload_keys() {
  local n; n=$(allow_loads)
  kill -HUP "$HUB_PID"
  wait_until 10 allow_loads_above "$n" || fail "the hub did not reload its allow-list"
}

# probe ENDPOINT [--wait MS] [--append HEX] COMMAND...: ro-probe with a unit's CURVE key:
# the unit a report or heartbeat names (made and listed on first use), else
# PROBE_UNIT's. With PLAIN=1, or --curve given, it is ro-probe as is. Under CURVE,
# $PROBE_BIN is this function, so `"$PROBE_BIN" "$INGEST" report ...` works either way.
probe() {
  local ep=$1; shift
  if [ "$PLAIN" = 1 ] || [ "${1:-}" = --curve ]; then "$PROBE_EXE" "$ep" "$@"; return; fi
  local opts=() u=$PROBE_UNIT
  while [ $# -gt 1 ] && { [ "$1" = --wait ] || [ "$1" = --append ] || [ "$1" = --routing-id ] || [ "$1" = --recorded-at ]; }; do
    opts+=("$1" "$2"); shift 2
  done
  case "${1:-}" in report | heartbeat) [ $# -gt 1 ] && u=$2 ;; esac
  unit_keys "$u" 2>/dev/null || { u=$PROBE_UNIT; unit_keys "$u"; }
  keys_sync
  probe_as "$u" "$ep" "${opts[@]}" "$@"
}
# probe_as UNIT ENDPOINT ARGS...: ro-probe speaking with UNIT's key pair (made if need be).
probe_as() {
  local u=$1 ep=$2; shift 2
  unit_keys "$u"; keys_sync
  "$PROBE_EXE" "$ep" --curve "$KEYS/hub/hub.pub" "$KEYS/units/$u/agent.pub" "$KEYS/units/$u/agent.key" "$@"
}

# The hub's and rolloutctl's keys, once per test; ctl.ini for every rolloutctl call.
mkdir -p "$KEYS"
if [ "$PLAIN" = 1 ]; then
  printf '[security]\ncurve = off\n' > "$KEYS/ctl.ini"
else
  "$CTL_BIN" keys hub "$KEYS/hub" >/dev/null
  "$CTL_BIN" keys operator e2e "$KEYS/operator" --allow-list "$ALLOW" >/dev/null
  printf '[security]\ncurve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
    "$KEYS/hub/hub.pub" "$KEYS/operator/operator.key" "$KEYS/operator/operator.pub" > "$KEYS/ctl.ini"
  PROBE_BIN=probe
fi
export ROLLOUT_CTL_CONFIG=$KEYS/ctl.ini

endpoint() { awk -v k="$1" '$1 == k { print $2 }' "$T/hub/endpoints" 2>/dev/null; }

# hub_start: start the hub and wait until its endpoints file names its ports.
# A restart on pinned ports (hub_pin_ports) can find one taken meanwhile by
# another test's connection (the first start took it from the ephemeral
# range): the hub exits saying so, and it is started again, for up to 30 s.
hub_started_or_gone() { [ -s "$T/hub/endpoints" ] || ! kill -0 "$HUB_PID" 2>/dev/null; }
hub_start() {
  local tries=0
  while :; do
    rm -f "$T/hub/endpoints" "$KEYS/.dirty"
    "$HUB_BIN" --config "$T/hub.ini" >>"$T/hub.log" 2>&1 &
    HUB_PID=$!
    wait_until "${RESTART_LIMIT_S:-10}" hub_started_or_gone
    [ -s "$T/hub/endpoints" ] && break
    if ! kill -0 "$HUB_PID" 2>/dev/null && [ $tries -lt 30 ] &&
      grep -q "Address already in use" <<<"$(tail -n 3 "$T/hub.log")"; then
      tries=$((tries + 1))
      sleep 1
      continue
    fi
    fail "hub did not start (its log: $(tail -n 3 "$T/hub.log"))"
  done
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
$(agent_security_ini "$u")
INI
}

agent() { local u=$1; shift; keys_sync; "$AGENT_BIN" --config "$T/agents/$u/agent.ini" "$@"; }

agent_start() {
  keys_sync
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

# metric NAME: one counter of `rolloutctl metrics` (0 when absent).
metric() {
  local v
  v=$(ctl metrics --json | jq -r --arg n "$1" '[.metrics[] | select(.name == $n) | .value][0] // 0')
  echo "${v%.*}"
}
unit_field() { ctl status --unit "$1" --json | jq -r ".scopes[0].$2"; }

# db SQL: ask the hub's store directly (tests only; rolloutctl never does).
db() { sqlite3 -batch -noheader "$T/hub/hub.db" "$1"; }
# days_fresh: no unit's daily states (unit_days) wait to be re-derived; the
# hub leaves a unit's for the quiet after ingest when it reports in batch
# after batch, or far back (units.day_stale). Poll it with wait_until.
days_fresh() { [ "$(db "select count(*) from units where day_stale > 0")" == 0 ]; }
# In SQL, in a query over `incarnations i` of `units u`: incarnation i's last
# seq, as the hub reads it (INC_LAST_SEQ in hub/store_db.h): the higher of
# its last run's and its highest refused seq (the column last_seq is what a
# hub before schema 10 wrote, and stays a floor).
INC_LAST_SEQ_SQL="max(i.last_seq,
  ifnull((select max(k.last_seq) from report_runs k where k.iid = i.iid), 0),
  ifnull((select max(f.seq) from refusals f where f.unit = u.id and f.iid = i.iid), 0))"
# In SQL, in a query over `units u`: the seqs the unit's sequences hold, all
# incarnations summed (protocol version 1 speaks in the legacy one; a
# version-2 agent in its outbox's own): with one outbox that never drew a
# new identity, its last seq.
LAST_SEQ_SQL="(select sum($INC_LAST_SEQ_SQL) from incarnations i where i.uid = u.uid)"
# hub_last_seq UNIT: the seqs the hub's store holds for UNIT (LAST_SEQ_SQL).
hub_last_seq() { db "select $LAST_SEQ_SQL from units u where u.id = '$1'"; }

province_reports_is() { [ "$(province reports 2>/dev/null)" == "$1" ]; }

# outbox_count UNIT TABLE N: true when the agent's outbox TABLE (outbox|refused) holds N rows;
# of the outbox table, the events waiting for the hub (not those kept acknowledged).
outbox_count() {
  local where=; [ "$2" == outbox ] && where=" where acked_at is null"
  [ "$(sqlite3 "$T/agents/$1/outbox.db" "select count(*) from $2$where")" == "$3" ]
}

# three_units_at_the_2018_06_30_milestone: a hub over a three-unit registry
# whose no-visit items stand, as of 2018-06-30, at 50% (missed 70%), 75% (70%
# met, at risk of 80%) and 90% (met): the milestone tests' fixture.
three_units_at_the_2018_06_30_milestone() {
  REGISTRY=$T/units.csv
  cat > "$REGISTRY" <<'CSV'
id,level,division,name
460000-001,provincial,460000,省发展和改革委员会
460100-001,municipal,460100,海口市发展和改革委员会
469005-012,municipal,469005,文昌市交通运输局
CSV
  hub_config; hub_start
  # items as of 2018-06-30: 50% (missed 70%), 75% (70% met, at risk of 80%), 90% (met)
  "$PROBE_BIN" "$INGEST" --wait 300 report 460000-001 1 items 20180620 100 50 >/dev/null
  "$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 items 20180620 100 75 >/dev/null
  "$PROBE_BIN" "$INGEST" --wait 300 report 469005-012 1 items 20180620 100 90 >/dev/null
  wait_until 20 province_reports_is 3 || fail "hub has $(province reports) of 3 reports"
}
