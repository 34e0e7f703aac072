#!/usr/bin/env bash
# An agent whose clock is three years ahead, then fixed. The staff type each
# event's date, so only recorded_at (the agent's clock) is wrong: the hub
# stores and counts every event (recorded_at is never a reason to refuse),
# before and after the clock is put right. An event dated after the agent's
# own today + 1 day is refused at record time (exit 2), saying which clock
# to check. The hub reads the agent's clock in its heartbeats and flags it
# (skewed_agents, status --problems) until it is fixed. libfaketime (scripts/deps.sh installs it) sets the agent's wall
# clock only.
source "$(dirname "$0")/fault_lib.sh"
DRILL=agent-clock-ahead
FAKE=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FAKE" ] || { echo "1..0 # SKIP libfaketime is not installed (scripts/deps.sh)"; exit 77; }
ahead() { LD_PRELOAD=$FAKE FAKETIME=+1095d FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"; }

hub_config; hub_start; hub_pin_ports
u=$(units 1 400)
agent_config "$u"
expect=0
for n in 1 2 3; do
  ahead agent "$u" record training --date "$(date -u -d "$n days ago" +%F)" --participants 7 --hours 1 \
    >/dev/null || fail "record with the clock ahead"
  expect=$((expect + 7))
done
in_outbox=$(outbox_sql "$u" 'select count(*) from outbox where acked_at is null')
expect_eq "$in_outbox" 3 "events recorded with the clock three years ahead"
ahead agent_start "$u"
wait_until 30 all_delivered "$u" || fail "events recorded with the clock ahead not stored: $TALLY_BAD"
future=$(db "select count(*) from reports where recorded_at > strftime('%s', 'now') + 86400 * 1000")
expect_eq "$future" 3 "stored reports whose recorded_at lies years ahead"
skewed() { [ "$(metric skewed_agents)" = "$1" ]; }
wait_until 15 skewed 1 || fail "the hub did not flag the agent's clock (skewed_agents $(metric skewed_agents))"
grep -q "$u.*clock-skew" <<<"$(ctl status --problems)" || fail "status --problems does not list the skewed clock"

# the clock is fixed; what the agent records now is stored as well
kill "${AGENT_PIDS[$u]}"; wait "${AGENT_PIDS[$u]}" 2>/dev/null || true
agent "$u" record training --date "$(date -u +%F)" --participants 7 --hours 1 >/dev/null || fail "record"
expect=$((expect + 7))
rc=0; out=$(agent "$u" record training --date "$(date -u -d '3 days' +%F)" --participants 7 --hours 1 2>&1) || rc=$?
expect_eq "$rc" 2 "a date three days ahead, refused at record time"
grep -q "clock" <<<"$out" || fail "the refusal does not say which clock to check: $out"
agent_start "$u"
wait_until 30 all_delivered "$u" || fail "events after the clock was fixed not stored: $TALLY_BAD"
wait_until 15 skewed 0 || fail "the skewed clock is still flagged after the fix"
check_counts "after the clock was fixed" "$u"
check_totals "$expect"
finish "agent clock 3 years ahead: flagged, then cleared once fixed; $RECORDED reports stored and counted, before and after the fix, $LOST lost, $DUPS duplicated"
