#!/usr/bin/env bash
# The hub is upgraded under running agents (PROTOCOL.md 7, REVISION-2.md 6):
# the old hub speaks protocol version 1 only (rollout-hub-v1, a test build of
# the same sources), and rollout-hub takes its place on the same folder and
# store while the agents record.
#   MODE=stop  the old hub is stopped cleanly (SIGTERM) for the upgrade;
#   MODE=kill  it is killed (SIGKILL).
# Either way it goes with a legacy outbox's events in flight. That outbox was
# left by a revision-1 agent (schema 1, events waiting): the agent migrates
# it, keeps the legacy sequence, falls back to version 1 (logged) and
# delivers to the old hub. The other outboxes are new, each with an
# incarnation of its own: against the old hub they wait (logged), and it
# stores nothing of theirs. After the upgrade every agent speaks version 2:
# every event ever recorded is stored exactly once, in the sequence of the
# outbox that recorded it, nothing refused, no unit wedged.
#   MODE (stop), AGENTS (4: the first one legacy), EVENTS per agent and phase (300)
source "$(dirname "$0")/fault_lib.sh"
MODE=${MODE:-stop}
DRILL=hub-upgraded
AGENTS=${AGENTS:-4}
EVENTS=${EVENTS:-300}
OLD_HUB_BIN=${OLD_HUB_BIN:-$RO_BUILD/hub/rollout-hub-v1}
NEW_HUB_BIN=$HUB_BIN
case $MODE in
  stop) how="stopped cleanly (SIGTERM)" ;;
  kill) how="killed (SIGKILL)" ;;
  *) fail "MODE is stop or kill, not $MODE" ;;
esac
[ -x "$OLD_HUB_BIN" ] || fail "no $OLD_HUB_BIN (built with -Dtests=true)"

# what the agents log (agent/outbox.c, agent/sender.c)
MIGRATED="upgraded from schema 1 to"
FELL_BACK="speaks protocol version 1 only"
WAITS="speaks only protocol version 1, which knows only"
SPEAKS_2="the hub speaks protocol version 2: sending under incarnation"
NO_ACK="no ack for"
agent_log() { cat "$T/agents/$1/agent.log" 2>/dev/null || true; }
logged() { grep -q "$2" <<<"$(agent_log "$1")"; }

HUB_BIN=$OLD_HUB_BIN
hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS" 200)
L=${US[0]} NEW=("${US[@]:1}")
expect=0 seed=20

# record_at UNIT [CONFIG]: record EVENTS more at UNIT (its agent may be running).
record_at() {
  seed=$((seed + 1))
  expect=$((expect + $(gen_events "$T/ev.$seed" "$EVENTS" "$seed")))
  "$AGENT_BIN" --config "${2:-$T/agents/$1/agent.ini}" record --file "$T/ev.$seed" >/dev/null ||
    fail "record at $1"
}
record_phase() { local u; for u in "${US[@]}"; do record_at "$u"; done; }

# legacy_outbox UNIT: UNIT's outbox as a revision-1 agent left it, EVENTS
# events waiting: schema 1's tables, holding the bytes that agent stored.
# An agent of today still encodes an event as version 1 did (the wire
# identity is stamped at each send), so a scratch outbox makes the bodies.
legacy_outbox() {
  local d=$T/agents/$1
  cp "$d/agent.ini" "$d/scratch.ini"
  ini_set "$d/scratch.ini" agent outbox "$d/scratch.db"
  record_at "$1" "$d/scratch.ini"
  sqlite3 -batch "$d/outbox.db" "
    CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), unit TEXT NOT NULL,
      next_seq INTEGER NOT NULL, last_ack INTEGER NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
    CREATE TABLE refused (seq INTEGER PRIMARY KEY, body BLOB NOT NULL,
      reason INTEGER NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL);
    ATTACH '$d/scratch.db' AS s;
    INSERT INTO meta SELECT 1, unit, next_seq, 0, created_at FROM s.meta;
    INSERT INTO outbox SELECT seq, body FROM s.outbox;
    DETACH s;
    PRAGMA user_version = 1;" || fail "making $1's schema-1 outbox"
  rm -f "$d/scratch.db"*
}

for u in "${US[@]}"; do agent_config "$u"; done
legacy_outbox "$L"
for u in "${US[@]}"; do agent_start "$u"; done
# the service migrates the legacy outbox as it starts; record_phase's
# first record, were it first, would do it instead (and log it elsewhere)
wait_until 10 logged "$L" "$MIGRATED" || fail "$L's agent did not migrate the schema-1 outbox"
record_phase

# ---- the old hub: the legacy outbox delivers, the new ones wait ----
wait_until 60 all_delivered "$L" || fail "the legacy outbox did not deliver to the old hub: $TALLY_BAD"
check_counts "the legacy outbox, before the upgrade" "$L"
jq -e '.legacy' <<<"$(agent "$L" status --json --no-hub)" >/dev/null ||
  fail "$L's migrated outbox is not the legacy one"
logged "$L" "$FELL_BACK" || fail "$L's agent did not log its fall back to version 1"
for u in "${NEW[@]}"; do
  wait_until 30 logged "$u" "$WAITS" || fail "$u's agent did not log that its new outbox waits"
done
grep -q "this hub speaks 1 to 1" "$T/hub.log" || fail "the old hub did not refuse version 2"

# ---- the upgrade, mid-stream ----
# a phase at every unit; once the old hub has taken some of it, the hub is
# frozen and the legacy unit records more, until its agent logs that no ack
# came: the old hub goes with the agent's events in flight
before=$(recorded "$L")
record_phase
more() { [ "$(hub_last_seq "$L")" -gt "$before" ]; }
wait_until 30 more || fail "the old hub took none of $L's new events"
no_acks() { grep -c "$NO_ACK" <<<"$(agent_log "$L")" || true; }
had=$(no_acks)
stop_procs "$HUB_PID"
record_at "$L"
in_flight() { [ "$(no_acks)" -gt "$had" ]; }
wait_until 30 in_flight || fail "$L's agent sent nothing to the frozen hub"
flight=$(grep -o '[0-9]* were in flight' <<<"$(agent_log "$L")" | tail -n 1)
flight=${flight%% *}
case $MODE in
  stop) kill -CONT "$HUB_PID"; hub_stop || fail "the old hub did not stop cleanly" ;;
  kill) hub_kill ;;
esac
for u in "${US[@]}"; do
  ! logged "$u" "$SPEAKS_2" || fail "$u's agent heard version 2 from a hub that speaks only 1"
done
tally "${NEW[@]}"
[ "$STORED" = 0 ] || fail "the old hub stored $STORED reports of new outboxes (they speak version 2)"
waited=$RECORDED
tally "$L"
held="$STORED of $RECORDED"
record_phase # while no hub runs
HUB_BIN=$NEW_HUB_BIN
hub_start
record_phase # under load: the new outboxes send all they kept waiting

# ---- the new hub: everything, once, each in its outbox's sequence ----
wait_until 90 all_delivered "${US[@]}" || fail "not delivered after the upgrade: $TALLY_BAD"
wait_until 30 outboxes_empty "${US[@]}" || fail "not acknowledged after the upgrade"
check_counts "after the upgrade" "${US[@]}"
for u in "${US[@]}"; do
  wait_until 30 logged "$u" "$SPEAKS_2" || fail "$u's agent does not speak version 2 to the new hub"
  outbox_count "$u" refused 0 || fail "$u's agent set refused events aside"
done
# seqs UNIT: "the legacy sequence's last seq|other incarnations|their last seqs summed"
seqs() {
  db "select ifnull(sum(case when i.incarnation = zeroblob(16) then $INC_LAST_SEQ_SQL end), 0),
        count(case when i.incarnation != zeroblob(16) then 1 end),
        ifnull(sum(case when i.incarnation != zeroblob(16) then $INC_LAST_SEQ_SQL end), 0)
      from incarnations i join units u on u.uid = i.uid where u.id = '$1'"
}
# the legacy outbox's events in the unit's legacy sequence, none renumbered;
# a new outbox's in a sequence of its own, none in the legacy one
expect_eq "$(seqs "$L")" "$(recorded "$L")|0|0" "$L's sequences"
for u in "${NEW[@]}"; do expect_eq "$(seqs "$u")" "0|1|$(recorded "$u")" "$u's sequences"; done
for m in store_behind_units two_agent_units; do expect_eq "$(metric "$m")" 0 "metric $m"; done
check_totals "$expect"
finish "the version-1 hub $how with $flight events in flight and upgraded under load; the legacy outbox fell back to version 1 ($held delivered before), ${#NEW[@]} new ones waited ($waited events) and sent after: $STORED of $RECORDED stored, $LOST lost, $DUPS duplicated"
