#!/usr/bin/env bash
# Agent outbox full (outbox_max): with the hub down, `record` fills the
# outbox and then refuses with a clear message and exit status 1, keeping
# every earlier event; the agent keeps running, delivers everything once the
# hub is back, and `record` works again.
#   MAX (200)
source "$(dirname "$0")/fault_lib.sh"
DRILL=outbox-full

MAX=${MAX:-200}
hub_config; hub_start; hub_pin_ports
hub_stop || fail "hub did not stop cleanly"
u=$(units 1 400)
OUTBOX_MAX=$MAX agent_config "$u"
agent_start "$u"

expect=0
s=$(gen_events "$T/agents/$u/fill.txt" $((MAX - 1)) 5); expect=$((expect + s))
agent "$u" record --file "$T/agents/$u/fill.txt" >/dev/null || fail "record below outbox_max"
agent "$u" record training --date 2018-04-01 --participants 7 --hours 2 >/dev/null || fail "record the last one that fits"
expect=$((expect + 7))
sum_before=$(outbox_sql "$u" "select count(*), sum(length(body)), max(seq) from outbox where acked_at is null")

# one more, on the command line and from a file: refused, exit 1, nothing changes
rc=0; msg=$(agent "$u" record training --date 2018-04-02 --participants 9 --hours 1 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of record into a full outbox"
grep -q "outbox full" <<< "$msg" || fail "no clear message: $msg"
grep -q "$MAX" <<< "$msg" || fail "the message does not say the bound or the depth: $msg"
s=$(gen_events "$T/agents/$u/more.txt" 5 6)
rc=0; msg2=$(agent "$u" record --file "$T/agents/$u/more.txt" 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of record --file into a full outbox"
grep -q "outbox full" <<< "$msg2" || fail "no clear message for --file: $msg2"
expect_eq "$(outbox_sql "$u" "select count(*), sum(length(body)), max(seq) from outbox where acked_at is null")" "$sum_before" \
  "outbox after refused records"
expect_eq "$(recorded "$u")" "$MAX" "seqs handed out"
kill -0 "${AGENT_PIDS[$u]}" || fail "the agent died with a full outbox"

# the hub returns: the agent drains the outbox, and record works again
hub_start
wait_until 60 all_delivered "$u" || fail "full outbox not delivered: $TALLY_BAD"
wait_until 30 outboxes_empty "$u" || fail "outbox not emptied"
agent "$u" record training --date 2018-04-03 --participants 11 --hours 1 >/dev/null \
  || fail "record after the outbox drained"
expect=$((expect + 11))
wait_until 30 all_delivered "$u" || fail "the record after the drain was not delivered"
check_counts "after the outbox filled up" "$u"
check_totals "$expect"
say "refused: $msg"
finish "outbox_max $MAX reached, record refused with exit 1 (\"outbox full\"), $RECORDED reports, $LOST lost, $DUPS duplicated"
