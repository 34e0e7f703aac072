#!/usr/bin/env bash
# A report from a unit that is not in the registry is refused and not stored,
# and an agent keeps such refused reports aside instead of retrying forever.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
out=$("$PROBE_BIN" "$INGEST" report 469030-999 1 staff 20180105 10 5)
echo "$out" | grep -q "^refusal 469030-999 1 unknown-unit" || fail "not refused: $out"
expect_eq "$(db 'select count(*) from reports')" 0 "rows stored"
expect_eq "$(province reports)" 0 "province reports"

u=469030-998
agent_config $u
agent $u record staff --date 2018-01-05 --total 10 --proficient 5 || fail "record"
agent $u record items --date 2018-01-05 --total 10 --no-visit 5 || fail "record"
agent_start $u
wait_until 15 outbox_count $u refused 2 \
  || fail "agent did not set the refused reports aside"
expect_eq "$(sqlite3 "$T/agents/$u/outbox.db" 'select count(*) from outbox')" 0 "outbox after refusals"
grep -q "unknown-unit" "$T/agents/$u/agent.log" || fail "agent did not log the refusal"
expect_eq "$(db 'select count(*) from reports')" 0 "rows stored"
refused=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "refused_unknown-unit") | .value][0]')
# the probe's report and the agent's two; an agent may resend once after its
# (slower, CURVE) handshake completes, so its refusals can count twice
[ "${refused%.*}" -ge 3 ] || fail "refused_unknown-unit metric: expected at least 3, got $refused"
say "unknown unit refused 3 times, nothing stored"
