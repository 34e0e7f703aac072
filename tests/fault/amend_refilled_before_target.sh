#!/usr/bin/env bash
# An amend and its target refilled to a restored hub, in whatever order. A
# training session is recorded under the outbox's first identity; an old
# copy of the outbox is put back, so the agent draws a new identity, and the
# staff amend the session under it. Then the hub's store is restored from a
# backup older than both: the agent refills its current identity (the
# amend) and its earlier one (the session) in lanes of their own, so the
# hub may meet the amend first. It does not refuse it (the store is behind:
# the target may still come), takes the session, then the amend sent again:
# the amend applies once, nothing is set aside.
source "$(dirname "$0")/fault_lib.sh"
DRILL=amend-refilled-before-target
hub_config; hub_start; hub_pin_ports
u=460100-001
agent_config $u
sqlite3 "$T/hub/hub.db" ".backup $T/backup.db" || fail "backup"
agent $u record training --date 2018-03-02 --participants 200 --hours 1.5 --course "Basics" >/dev/null
agent_start $u
wait_until 20 province_reports_is 1 || fail "seq 1 did not arrive"
wait_until 10 outbox_count $u outbox 0 || fail "seq 1 not acknowledged"
agent_stop $u
# an old copy of the outbox put back after the hub took more: a new identity
sqlite3 "$T/agents/$u/outbox.db" ".backup $T/old.db"
agent $u record staff --date 2018-03-01 --total 40 --proficient 31 >/dev/null
agent_start $u
wait_until 20 province_reports_is 2 || fail "seq 2 did not arrive"
wait_until 10 outbox_count $u outbox 0 || fail "seq 2 not acknowledged"
agent_stop $u
rm -f "$T/agents/$u"/outbox.db*; cp "$T/old.db" "$T/agents/$u/outbox.db"
agent_start $u
switched() { grep -q "identity" "$T/agents/$u/agent.log" && [ "$(agent $u status --json --no-hub | jq '.earlier | length')" -ge 1 ]; }
wait_until 30 switched || fail "no new identity: $(tail -5 "$T/agents/$u/agent.log")"
agent $u amend 1 --reason "200 typed for 20" training --date 2018-03-02 --participants 20 --hours 1.5 --course "Basics" >/dev/null ||
  fail "amend"
p20() { [ "$(unit_field $u participants)" == 20 ]; }
wait_until 20 p20 || fail "the amend did not apply before the restore"
wait_until 10 outbox_count $u outbox 0 || fail "the amend not acknowledged"

hub_kill
mkdir -p "$T/aside"; mv "$T/hub"/hub.db* "$T/aside/"
cp "$T/backup.db" "$T/hub/hub.db"
hub_start
p20_once() { [ "$(unit_field $u participants)" == 20 ] && [ "$(db 'select count(*) from events')" == 1 ]; }
wait_until 60 p20_once || fail "after the refill: participants $(unit_field $u participants), trail $(db 'select count(*) from events')"
wait_until 30 outbox_count $u outbox 0 || fail "not acknowledged after the refill"
refused=$(outbox_sql $u "select count(*) from refused")
expect_eq "$refused" 0 "events the agent set aside"
# (the staff snapshot was in the outbox copy that was replaced, and only in
# the store the backup predates: gone with both, as the scenario means)
rows=$(db "select count(*) from reports")
expect_eq "$rows" 2 "rows: the session and the amend"
verify_ok || fail "verify: $VERIFY_OUT"
waited=$(grep -c "which the store does not hold yet" "$T/hub.log" || true)
finish "the amend refilled with its target (the hub waited for the target $waited time(s)): participants 20, 1 correction in the trail, $rows of the 2 events the agent keeps stored; 0 lost, 0 duplicated"
