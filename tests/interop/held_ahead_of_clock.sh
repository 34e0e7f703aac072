#!/usr/bin/env bash
# PROTOCOL.md 5.3 (held): a report dated after the hub's today + 1 day is
# stored and acknowledged, held (state 1), and counted nowhere until the
# hub's date reaches it; the hub logs that its clock may be behind and shows
# held_clock. A recorded_at years ahead is stored and counted.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=460100-002; unit_keys $u; hub_start
client held_ahead_of_clock.py
expect_stored held_ahead_of_clock
expect_eq "$(db "select group_concat(seq || ':' || state, ' ') from reports")" "1:1 2:0" \
  "reports stored (seq:state)"
expect_eq "$(metric held_clock) $(metric refused_invalid) $(metric duplicates)" "1 0 1" \
  "held_clock, refused_invalid, duplicates"
expect_eq "$(unit_field $u reports) $(unit_field $u items_no_visit) $(unit_field $u last_seq)" \
  "1 40 2" "the unit's reports, items_no_visit (seq 2's) and last seq"
grep -q "held $u seq 1: .*the hub's clock may be behind" "$T/hub.log" \
  || fail "no 'held' warning in the hub's log"
out=$(ctl verify 2>&1) || fail "rolloutctl verify: $out"
say "a report three days ahead held, acknowledged and uncounted; recorded_at years ahead stored"
