#!/usr/bin/env bash
# The feed is consistent for a subscriber that stalls and for one that comes
# late: a subscriber SIGSTOPped while the agents deliver (its queue overflows
# and the hub drops what it cannot take) and a `rolloutctl watch` stopped with
# it both resync and end up with the hub's state; a subscriber started after
# the fact does too. Ingest is not held up by a stopped subscriber: every
# report is stored while it sleeps (completion is checked, not timing).
source "$(dirname "$0")/feed_lib.sh"

N_UNITS=${N_UNITS:-60}
N_EVENTS=${N_EVENTS:-40}
hub_config_feed 50   # a short queue per subscriber, so the stopped one loses messages
hub_start_feed
mapfile -t us < <(units "$N_UNITS" 100)
for u in "${us[@]}"; do
  agent_config "$u"
  # one report in flight per agent: many small commits, many feed messages
  sed -i '/^\[agent\]/a window = 1' "$T/agents/$u/agent.ini"
  record_events "$u" "$N_EVENTS"
done
total=$((N_UNITS * N_EVENTS))

sub_start early --rcvhwm 20 --rcvbuf 4096
"$CTL_BIN" --hub "$STATUS" watch --feed "$FEED" --plain --interval 0.3 >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PIDS[watch]=$!
wait_until 10 test -s "$T/early.state" || fail "the early subscriber did not sync"
wait_until 10 grep -q "   live   " "$T/watch.out" || fail "watch did not go live"

stop_procs "${SUB_PIDS[early]}" "${WATCH_PIDS[watch]}"
say "subscriber and watch stopped; $N_UNITS agents deliver $total reports"
for u in "${us[@]}"; do agent_start "$u"; done
wait_until 90 province_reports_is "$total" ||
  fail "ingest stalled behind a stopped subscriber: $(province reports) of $total stored"
state=$(ps -o stat= -p "${SUB_PIDS[early]}")
[[ $state == T* ]] || fail "the subscriber was not stopped during ingest (state $state)"
say "all $total reports stored while the subscriber slept (feed seq $(hub_feed_seq))"

for u in "${us[@]}"; do agent_stop "$u" || fail "agent $u did not stop cleanly"; done
kill -CONT "${SUB_PIDS[early]}" "${WATCH_PIDS[watch]}"
sub_start late
wait_until 30 sub_caught_up early || fail "the stopped subscriber did not catch up: $(cat "$T/early.err")"
wait_until 30 sub_caught_up late || fail "the late subscriber did not catch up: $(cat "$T/late.err")"
expect_same_as_hub early
expect_same_as_hub late
expect_eq "$(sub_field early province.reports)" "$total" "reports held by the stopped subscriber"
syncs=$(sub_field early syncs)
[ "$syncs" -ge 2 ] || fail "the stopped subscriber never resynced (syncs $syncs): were messages dropped?"
# the hub dropped updates and heartbeats alike: a hole in the seqs or the
# heartbeat clock, whichever it meets first, sends it back to a snapshot
grep -qE "resync: (feed gap|no heartbeat)" "$T/early.err" ||
  fail "the early subscriber resynced for another reason: $(cat "$T/early.err")"

# the watch: its last frame shows the hub's totals and it is live again
frame_total=$(printf "%d" "$total" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
last_frame_ok() {
  grep -m1 "units reporting" <<<"$(tac "$T/watch.out")" | grep -q "reports $frame_total " &&
    grep -m1 "rollout watch" <<<"$(tac "$T/watch.out")" | grep -q "   live   "
}
wait_until 20 last_frame_ok || fail "watch's last frame does not show $frame_total reports, live:
$(tac "$T/watch.out" | grep -m1 -B0 "rollout watch")
$(tac "$T/watch.out" | grep -m1 "units reporting")"
grep -q "resyncing: feed gap" "$T/watch.out" || say "note: watch caught up without a resync"
say "stopped subscriber resynced $((syncs - 1)) time(s); both subscribers and watch equal the hub at seq $(hub_feed_seq)"
