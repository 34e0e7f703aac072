#!/usr/bin/env bash
# A unit's key speaks for its own unit only: unit A's key sending unit B's
# report or heartbeat is refused as forbidden, and nothing of B is stored,
# not even the time it was last heard. A is still served on the same key.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
A=460100-001 B=460100-002

out=$(probe_as $A "$INGEST" report $B 1 staff 20180105 10 5)
<<<"$out" grep -q "^refusal $B 1 forbidden this connection's key speaks for $A, not $B" \
  || fail "B's report on A's key not refused: $out"
out=$(probe_as $A "$INGEST" heartbeat $B)
<<<"$out" grep -q "^refusal $B 0 forbidden" || fail "B's heartbeat on A's key not refused: $out"
nothing_stored $B "A's key speaking for B"

# the key itself is fine for its own unit
out=$(probe_as $A "$INGEST" report $A 1 staff 20180105 10 5)
<<<"$out" grep -q "^ack $A 1$" || fail "A's own report not acked: $out"
expect_eq "$(stored_for $A | cut -d' ' -f1-3)" "1 0 1" "A's report stored"

# a real agent for B that was given A's key pair: refused, never stored; the
# agent keeps the events (forbidden uses no seq up: once B has its own key
# they go through)
agent_config $B
sed -i "s|$KEYS/units/$B/|$KEYS/units/$A/|" "$T/agents/$B/agent.ini"
agent $B record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
agent $B record items --date 2018-01-05 --total 10 --no-visit 5 >/dev/null || fail "record"
agent_start $B
# (the agent's heartbeat, which settles the protocol version before any
# event goes, is what the hub refuses: the events wait behind it)
forbidden_2() { [ "$(metric refused_forbidden)" -ge 2 ]; }
wait_until 20 forbidden_2 || fail "refused_forbidden is $(metric refused_forbidden), not 2 or more"
wait_until 20 grep -q "refused our heartbeat (forbidden)" "$T/agents/$B/agent.log" \
  || fail "agent B did not log the refusal"
outbox_count $B outbox 2 || fail "agent B did not keep its events"
outbox_count $B refused 0 || fail "agent B set aside events that its own key would deliver"
nothing_stored $B "agent B on A's key"
expect_eq "$(db 'select count(*) from reports')" 1 "rows stored in all"
say "B's reports and heartbeats on A's key refused as forbidden; nothing of B stored, B's events kept"
