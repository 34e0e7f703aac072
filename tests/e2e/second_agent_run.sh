#!/usr/bin/env bash
# A second `rollout-agent run` on an outbox that one is already sending from
# is refused (exit 1, saying which process holds it), as a second hub on one
# store is; the first goes on delivering; once it stops, a new run starts.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
u=460100-001
agent_config $u
agent $u record staff --date 2018-01-05 --total 40 --proficient 31 >/dev/null || fail "record"
agent_start $u
first=${AGENT_PIDS[$u]}
wait_until 20 province_reports_is 1 || fail "the first agent did not deliver"

rc=0
out=$(timeout 20 "$AGENT_BIN" --config "$T/agents/$u/agent.ini" run 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of a second run"
<<<"$out" grep -q "another \`rollout-agent run\` (pid $first) is already sending from this outbox" \
  || fail "the second run did not say which agent holds the outbox: $out"
kill -0 "$first" 2>/dev/null || fail "the first agent died"

agent $u record items --date 2018-01-05 --total 100 --no-visit 35 >/dev/null || fail "record"
wait_until 20 province_reports_is 2 || fail "the first agent stopped delivering"
agent_stop $u || fail "the first agent did not stop cleanly"
agent_start $u
agent $u record cases --month 2018-01 --total 50 --no-visit 20 >/dev/null || fail "record"
wait_until 20 province_reports_is 3 || fail "a run started after the first stopped did not deliver"
say "second run refused while the first sent; a run after it stopped delivers"
