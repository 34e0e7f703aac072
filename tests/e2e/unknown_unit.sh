#!/usr/bin/env bash
# A report from a unit that is not in the hub's registry is refused and not
# stored, and the refusal does not use up its seq; the agent of such a unit
# is refused its heartbeat and keeps its events in its outbox, trying again, so once the operator adds the
# unit to the registry (SIGHUP) they are stored, each once. Nothing is lost
# to a registry that lags behind the rollout.
source "$(dirname "$0")/lib.sh"

u=469030-210
REGISTRY=$T/units.csv
grep -v "^$u," "$RO_SOURCE/config/units.csv" > "$REGISTRY"
hub_config; hub_start
out=$("$PROBE_BIN" "$INGEST" report 469030-999 1 staff 20180105 10 5)
<<<"$out" grep -q "^refusal 469030-999 1 unknown-unit" || fail "not refused: $out"
expect_eq "$(db 'select count(*) from reports')" 0 "rows stored"
expect_eq "$(province reports)" 0 "province reports"

agent_config $u
agent $u record staff --date 2018-01-05 --total 10 --proficient 5 || fail "record"
agent $u record items --date 2018-01-05 --total 10 --no-visit 5 || fail "record"
agent_start $u
# the agent's heartbeat is refused (it settles the protocol version before
# any event goes): the events wait in the outbox, none set aside
refused_hb() { [ "$(metric heartbeats_refused)" -ge 1 ]; }
wait_until 15 refused_hb || fail "the agent's heartbeat was not refused as unknown-unit"
wait_until 15 grep -q "refused our heartbeat (unknown-unit)" "$T/agents/$u/agent.log" \
  || fail "the agent did not log that the hub refused its heartbeat"
outbox_count $u outbox 2 || fail "the agent did not keep its 2 events"
outbox_count $u refused 0 || fail "the agent set events aside that the hub may take later"
agent $u status --json --no-hub | jq -e '.depth == 2 and .refused == 0 and (.recent_refusals | length) == 0
  and .legacy == false and .wire_next_seq == 3' >/dev/null || fail "rollout-agent status --json: $(agent $u status --json --no-hub)"
expect_eq "$(db 'select count(*) from reports')" 0 "rows stored"

# the operator adds the unit: the same events are stored, once
grep "^$u," "$RO_SOURCE/config/units.csv" >> "$REGISTRY"
kill -HUP "$HUB_PID"
wait_until 90 outbox_count $u outbox 0 || fail "the agent's events were not stored once the unit was added"
expect_eq "$(db "select count(*) from reports r join units n on n.uid = r.uid where n.id = '$u'")" 2 \
  "reports of $u stored"
expect_eq "$(hub_last_seq "$u")" 2 "last seq of $u"
say "unknown unit refused, its events kept by the agent and stored once the unit was added"
