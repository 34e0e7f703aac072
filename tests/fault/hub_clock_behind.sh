#!/usr/bin/env bash
# The hub's clock two days behind, then fixed. Agents with right clocks
# record training sessions dated today and the three days before. The hub,
# two days behind, holds the ones dated after its today + 1 day (today's):
# stored and acknowledged, so the outboxes drain, but counted nowhere, with
# held_clock saying how many. The hub is restarted with its clock right: its
# first batch releases them, and every recorded event counts exactly once.
# libfaketime (scripts/deps.sh installs it) sets the hub's wall clock only;
# its monotonic clock (ZeroMQ's timers) stays true.
#   UNITS (3)
source "$(dirname "$0")/fault_lib.sh"
DRILL=hub-clock-behind
FAKE=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FAKE" ] || { echo "1..0 # SKIP libfaketime is not installed (scripts/deps.sh)"; exit 77; }
UNITS=${UNITS:-3}

hub_config
LD_PRELOAD=$FAKE FAKETIME=-2d FAKETIME_DONT_FAKE_MONOTONIC=1 hub_start
hub_pin_ports
today=$(date -u +%F)
hub_today=$(ctl status --json | jq -r .as_of)
expect_eq "$hub_today" "$(date -u -d '2 days ago' +%F)" "the hub's today, two days behind"

mapfile -t US < <(units "$UNITS" 300)
expect=0
for u in "${US[@]}"; do
  agent_config "$u"
  for back in 0 1 2 3; do
    agent "$u" record training --date "$(date -u -d "$back days ago" +%F)" --participants $((back + 5)) \
      --hours 2 >/dev/null || fail "record"
    expect=$((expect + back + 5))
  done
  agent_start "$u"
done
wait_until 30 outboxes_empty "${US[@]}" || fail "the agents' events were not all acknowledged"
held() { [ "$(metric held_clock)" = "$1" ]; }
wait_until 10 held "$UNITS" || fail "held_clock is $(metric held_clock), expected $UNITS"
expect_eq "$(db 'select count(*) from reports where state = 1')" "$UNITS" "reports stored held"
expect_eq "$(province reports)" $((UNITS * 3)) "reports counted while the hub's clock is behind"
expect_eq "$(province participants)" $((expect - UNITS * 5)) "participants counted meanwhile"
grep -q "held ${US[0]} seq [0-9]*: dated $today, after the hub's today $hub_today" "$T/hub.log" \
  || fail "the hub did not log what it held"
verify_ok || fail "rolloutctl verify while reports are held: $VERIFY_OUT"

# the clock is fixed: the hub's next batch (a heartbeat will do) releases them
hub_stop || fail "the hub did not stop cleanly"
hub_start
wait_until 30 held 0 || fail "held_clock is still $(metric held_clock) after the clock was fixed"
grep -q "released $UNITS held reports of $UNITS units" "$T/hub.log" || fail "no release logged"
wait_until 30 all_delivered "${US[@]}" || fail "not every event counted: $TALLY_BAD"
check_counts "after the clock was fixed" "${US[@]}"
check_totals "$expect"
finish "hub clock 2 days behind: $UNITS of $RECORDED reports held, then counted once it was fixed, $LOST lost, $DUPS duplicated"
