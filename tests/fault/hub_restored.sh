#!/usr/bin/env bash
# The hub's store goes back in time under load, and the agents refill it.
#   MODE=backup   the hub is restored from an older backup (sqlite3 .backup,
#                 as docs/OPERATING.md says), while agents go on recording;
#   MODE=wal-cut  after a SIGKILL, hub.db-wal is cut to half its length;
#   MODE=wal-flip after a SIGKILL, 16 bytes in the middle of hub.db-wal are
#                 flipped;
#   MODE=beyond   as backup, but the agents keep no acknowledged events
#                 (retain_days = 0): what the store lost is beyond their
#                 retention window. The hub writes it off once per unit
#                 (logged, listed in problems) and the units are not wedged:
#                 everything recorded after is stored.
# Either way the store no longer holds reports it acknowledged. The agents'
# version-2 heartbeats hold acks the store lacks: the hub logs that its store
# is behind and flags the units, acknowledges what it really has, and the
# agents send again the events they keep (retain_days): every event ever
# recorded is stored exactly once, no unit is wedged, and the flag clears.
#   MODE (backup), AGENTS (4), EVENTS per agent and phase (300)
source "$(dirname "$0")/fault_lib.sh"
MODE=${MODE:-backup}
DRILL=hub-restored-$MODE
AGENTS=${AGENTS:-4}
EVENTS=${EVENTS:-300}

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS" 160)
expect=0 seed=10
record_phase() { # record EVENTS more at every unit (the agents may be running)
  local u
  for u in "${US[@]}"; do
    seed=$((seed + 1))
    expect=$((expect + $(gen_events "$T/ev.$seed" "$EVENTS" "$seed")))
    agent "$u" record --file "$T/ev.$seed" >/dev/null || fail "record at $u"
  done
}
for u in "${US[@]}"; do
  agent_config "$u"
  [ "$MODE" = beyond ] && ini_set "$T/agents/$u/agent.ini" agent retain_days 0
  agent_start "$u"
done
record_phase
wait_until 60 all_delivered "${US[@]}" || fail "phase 1 not delivered: $TALLY_BAD"
if [ "$MODE" = backup ] || [ "$MODE" = beyond ]; then
  sqlite3 "$T/hub/hub.db" ".backup $T/backup.db" || fail "backup"
fi
record_phase
wait_until 60 all_delivered "${US[@]}" || fail "phase 2 not delivered: $TALLY_BAD"
wait_until 30 outboxes_empty "${US[@]}" || fail "phase 2 not acknowledged"
acked=$RECORDED

hub_kill
case $MODE in
  backup | beyond)
    mkdir -p "$T/aside"; mv "$T/hub"/hub.db* "$T/aside/"
    cp "$T/backup.db" "$T/hub/hub.db" ;;
  wal-cut)
    size=$(stat -c %s "$T/hub/hub.db-wal")
    truncate -s $((size / 2)) "$T/hub/hub.db-wal" ;;
  wal-flip)
    size=$(stat -c %s "$T/hub/hub.db-wal")
    printf '\xff%.0s' $(seq 16) | dd of="$T/hub/hub.db-wal" bs=1 seek=$((size / 2)) conv=notrunc status=none ;;
  *) fail "MODE is backup, beyond, wal-cut or wal-flip, not $MODE" ;;
esac
hub_start
have=$(db "select count(*) from reports")
[ "$have" -lt "$acked" ] || fail "the store lost nothing ($have of $acked): the drill did not set the store back"
say "$MODE: the store holds $have of the $acked reports it acknowledged"
record_phase # under load: the agents record while they refill
behind() { grep -q "the store is behind unit" "$T/hub.log"; }
wait_until 30 behind || fail "the hub did not log that its store is behind"
if [ "$MODE" = beyond ]; then
  # the phase-2 events are gone with the restore and kept nowhere: written
  # off once per unit; all that was recorded after is stored
  gone=$((acked - have))
  off() { [ "$(grep -c "acknowledged reports\? lost for good" "$T/hub.log")" -ge "$AGENTS" ]; }
  wait_until 30 off || fail "the hub did not write off the lost reports of every unit"
  tally "${US[@]}" # RECORDED: every event ever recorded, the last phase's too
  want=$((RECORDED - gone))
  rest() { [ "$(db "select count(*) from reports")" = "$want" ] && outboxes_empty "${US[@]}"; }
  wait_until 90 rest || fail "the units are wedged: $(db "select count(*) from reports") of $want stored"
  grep -q "lost: seq" <<<"$(ctl status --problems)" || fail "status --problems does not list the lost reports"
  verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
  dups=$(db "select (select sum(reports) from units) - (select count(*) from reports)")
  finish "beyond the retention window: the store fell back to $have of $acked, the agents kept none; $gone written off (logged, in problems), every one of the $((want - have)) recorded after stored: 0 lost, $dups duplicated"
  exit 0
fi
wait_until 90 all_delivered "${US[@]}" || fail "not refilled: $TALLY_BAD"
wait_until 30 outboxes_empty "${US[@]}" || fail "not acknowledged after the refill"
check_counts "after the refill" "${US[@]}"
caught_up() { [ "$(metric store_behind_units)" = 0 ]; }
wait_until 30 caught_up || fail "store_behind_units still $(metric store_behind_units)"
grep -q "the hub's store is behind" "$T/agents/${US[0]}/agent.log" || fail "the agent did not log the refill"
check_totals "$expect"
finish "$MODE: the store fell back to $have of $acked acknowledged reports; the agents refilled it under load: $STORED of $RECORDED stored, $LOST lost, $DUPS duplicated"
