#!/usr/bin/env bash
# A unit removed from the registry and added back (SIGHUP) brings back what
# its figures rest on: its report held for review is still held, and the
# status of today (the committed flags) says so, as ingest counts it.
source "$(dirname "$0")/lib.sh"

awk '!/^#/ && k++ <= 10' "$RO_SOURCE/config/units.csv" > "$T/units.csv" # header + 10 units
REGISTRY=$T/units.csv hub_config
hub_start
A=$(sed -n 2p "$T/units.csv" | cut -d, -f1)
agent_config "$A"
agent "$A" record staff --date 2018-03-01 --total 40 --proficient 31 >/dev/null || fail "record"
agent "$A" record training --date 2018-03-03 --participants 200 --hours 2 >/dev/null ||
  fail "record 200"
agent_start "$A"
wait_until 20 outbox_count "$A" outbox 0 || fail "the reports were not all acknowledged"
expect_eq "$(unit_field "$A" held_review)" 1 "held for review before the reloads"
agent_stop "$A" || fail "agent $A did not exit 0 on SIGTERM"

log_count() { grep -c -- "$1" "$T/hub.log" || true; }
log_count_above() { [ "$(log_count "$1")" -gt "$2" ]; }
hup() {
  local n; n=$(log_count "SIGHUP: reloaded")
  kill -HUP "$HUB_PID"
  wait_until 10 log_count_above "SIGHUP: reloaded" "$n"
}
cp "$T/units.csv" "$T/units.good"
grep -v "^$A," "$T/units.good" > "$T/units.csv"
hup || fail "no reload after removing $A"
cp "$T/units.good" "$T/units.csv"
hup || fail "no reload after adding $A back"
expect_eq "$(db "select count(*) from reports where state = 2")" 1 "the store holds it"
expect_eq "$(unit_field "$A" held_review)" 1 "$A's held for review after coming back"
expect_eq "$(province held_review)" 1 "the province's held for review after $A came back"
say "$A removed and added back: its report held for review counts as held"
hub_stop || fail "hub did not exit 0 on SIGTERM"
