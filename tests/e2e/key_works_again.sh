#!/usr/bin/env bash
# An agent whose key the hub refuses says so, and says so again when the key
# works once more (the operator lists it and reloads): staff who saw the
# refusal in the agent's log also see that it is over, and the waiting
# report is delivered.
source "$(dirname "$0")/lib.sh"
[ "$PLAIN" = 1 ] && { say "PLAIN=1: no keys to refuse"; exit 77; }

hub_config; hub_start
u=460100-002
agent_config $u     # makes the unit's key pair and lists it
grep -v "$u" "$ALLOW" > "$T/allow.tmp" && cp "$ALLOW" "$T/allow.full" && mv "$T/allow.tmp" "$ALLOW"
hub_reload_keys
agent $u record staff --date 2018-01-05 --total 40 --proficient 31 >/dev/null || fail "record"
agent_start $u
log_has() { grep -q -- "$1" "$T/agents/$u/agent.log"; }
wait_until 20 log_has "the hub refused this agent's CURVE key" || fail "the agent did not log the refusal"
expect_eq "$(province reports)" 0 "reports stored while the key is refused"
log_has "accepts unit $u's key again" && fail "the agent said the key works before it did"

cp "$T/allow.full" "$ALLOW"
hub_reload_keys
# the agent tries again 5 s after the first refusal, then 10 s, 20 s...
wait_until 60 log_has "the hub accepts unit $u's key again" || fail "the agent never said its key works again"
wait_until 20 province_reports_is 1 || fail "the waiting report was not delivered"
say "refusal logged, recovery logged, report delivered"
