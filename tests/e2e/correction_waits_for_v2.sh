#!/usr/bin/env bash
# A correction waits for a hub that speaks protocol version 2. A legacy
# outbox (left by a revision-1 agent) delivers to a hub that speaks only
# version 1 (rollout-hub-v1); its staff amend an event: the amend is not
# sent (that hub has no corrections), the agent logs why, and it and the
# events recorded after it wait in the outbox, in order. Once rollout-hub
# takes the old hub's place on the same store, all of them are delivered
# and the amend is applied, once.
source "$(dirname "$0")/lib.sh"
OLD_HUB_BIN=${OLD_HUB_BIN:-$RO_BUILD/hub/rollout-hub-v1}
NEW_HUB_BIN=$HUB_BIN
HUB_BIN=$OLD_HUB_BIN
hub_config; hub_start; hub_pin_ports
u=460100-001 d=$T/agents/460100-001
agent_config $u
# the legacy outbox: schema 1 as a revision-1 agent left it, empty
sqlite3 -batch "$d/outbox.db" "
  CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), unit TEXT NOT NULL,
    next_seq INTEGER NOT NULL, last_ack INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
  CREATE TABLE refused (seq INTEGER PRIMARY KEY, body BLOB NOT NULL,
    reason INTEGER NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL);
  INSERT INTO meta VALUES (1, '$u', 1, 0, 1514764800);
  PRAGMA user_version = 1;" || fail "making the schema-1 outbox"
agent_start $u
agent $u record training --date 2018-03-02 --participants 200 --hours 1.5 >/dev/null || fail "record 1"
agent $u record staff --date 2018-03-01 --total 40 --proficient 31 >/dev/null || fail "record 2"
wait_until 60 province_reports_is 2 ||
  fail "the old hub did not get the first two: agent: $(tail -n 5 "$d/agent.log"); hub: $(tail -n 5 "$T/hub.log")"

agent $u amend 1 --reason "200 typed for 20" training --date 2018-03-02 --participants 20 --hours 1.5 \
  >/dev/null || fail "amend"
agent $u record staff --date 2018-03-05 --total 40 --proficient 35 >/dev/null || fail "record 4"
waits() { grep -q "seq 3 is a correction and the hub" "$d/agent.log"; }
wait_until 20 waits || fail "the agent did not log that the correction waits: $(tail -3 "$d/agent.log")"
sleep 1 # time enough for a wrong send
expect_eq "$(hub_last_seq $u)" 2 "seqs the old hub holds"
expect_eq "$(unit_field $u participants)" 200 "participants at the old hub"
outbox_count $u outbox 2 || fail "the amend and the event after it do not wait in the outbox"
outbox_count $u refused 0 || fail "the agent set events aside"

hub_stop || fail "the old hub did not stop cleanly"
HUB_BIN=$NEW_HUB_BIN
hub_start
participants_are() { [ "$(unit_field $u participants)" == "$1" ]; }
wait_until 20 participants_are 20 || fail "the amend did not count after the upgrade"
wait_until 20 outbox_count $u outbox 0 || fail "not acknowledged after the upgrade"
expect_eq "$(hub_last_seq $u)" 4 "seqs after the upgrade"
expect_eq "$(unit_field $u staff_proficient)" 35 "the event after the amend"
expect_eq "$(db "select count(*) from events")" 1 "corrections in the trail"
ctl verify >/dev/null || fail "verify: $(ctl verify 2>&1)"
say "the amend waited for the upgraded hub with what followed it, then counted once"
