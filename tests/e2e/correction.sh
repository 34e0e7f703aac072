#!/usr/bin/env bash
# A unit's staff correct a mistyped record from the agent: `rollout-agent
# amend` replaces a training session typed with 200 participants for 20,
# `cancel` withdraws a staff snapshot recorded twice. The hub keeps the
# originals and the corrections, the unit's and the province's figures
# follow, `rolloutctl status --history` shows the trail with the reasons,
# and a restarted hub says the same; `rollout-agent list` shows each event
# with its corrections. What cannot be corrected (corrected
# already, another kind, a seq never recorded, no reason) is refused by the
# agent with exit 2 and nothing recorded.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start; hub_pin_ports
u=460100-001
agent_config $u
agent_start $u
out=$(agent $u record training --date 2018-03-02 --participants 200 --hours 1.5 --course "Platform basics")
grep -q "as seq 1$" <<<"$out" || fail "record: $out"
agent $u record staff --date 2018-03-01 --total 40 --proficient 31 >/dev/null || fail "record staff"
agent $u record staff --date 2018-03-05 --total 40 --proficient 35 >/dev/null || fail "record staff twice"
wait_until 20 province_reports_is 3 || fail "the three records did not arrive"
expect_eq "$(unit_field $u participants)" 200 "participants as typed"

out=$(agent $u amend 1 --reason "200 typed for 20" training --date 2018-03-02 --participants 20 --hours 1.5 --course "Platform basics")
grep -q "^recorded seq 4: amends seq 1 (training 2018-03-02)" <<<"$out" || fail "amend: $out"
out=$(agent $u cancel 3 --reason "recorded twice")
grep -q "^recorded seq 5: cancels seq 3 (staff 2018-03-05)" <<<"$out" || fail "cancel: $out"
participants_are() { [ "$(unit_field $u participants)" == "$1" ]; }
wait_until 20 participants_are 20 || fail "the amend did not count: $(unit_field $u participants)"
wait_until 20 outbox_count $u outbox 0 || fail "the corrections were not acknowledged"
expect_eq "$(unit_field $u staff_proficient)" 31 "staff after the later snapshot was cancelled"
expect_eq "$(province participants)" 20 "the province's participants"
expect_eq "$(unit_field $u reports)" 2 "reports counted: the amend and the first snapshot"
expect_eq "$(db "select count(*) from reports")" 5 "rows kept: the originals and the corrections"

# what cannot be corrected: exit 2, a reason, nothing recorded
bad() { # WHY ARGS...: the agent refuses with exit 2 and says WHY
  local why=$1 rc=0; shift
  out=$(agent $u "$@" 2>&1) || rc=$?
  expect_eq "$rc" 2 "exit status of: $*"
  grep -q -- "$why" <<<"$out" || fail "$* said: $out"
}
bad "corrected already by seq 4" amend 1 --reason again training --date 2018-03-02 --participants 21 --hours 1.5
bad "is a training event" amend 4 --reason kind staff --date 2018-03-02 --total 4 --proficient 1
bad "no event has it yet" cancel 99 --reason never
bad "is a cancel" cancel 5 --reason "undo"
bad "reason TEXT is required" cancel 2
bad "which seq" cancel --reason x
expect_eq "$(agent $u status --json --no-hub | jq -r .next_seq)" 6 "the next seq after the refusals"

# the agent lists its events with what became of them
list=$(agent $u list)
grep -qE "^ +4  delivered  training  2018-03-02  20 participants, 1.5 h, Platform basics; amends seq 1: 200 typed for 20$" <<<"$list" ||
  fail "list does not show the amend: $list"
grep -qE "^ +1  delivered  training  2018-03-02  200 participants.* \(corrected by seq 4\)$" <<<"$list" ||
  fail "list does not show seq 1 corrected: $list"
grep -qE "^ +5  delivered  -  .*cancels seq 3: recorded twice$" <<<"$list" || fail "list: the cancel: $list"
expect_eq "$(agent $u list --json --last 2 | jq -r '[.events[] | .seq|tostring] | join(",")')" "5,4" "list --last 2"
expect_eq "$(agent $u list --json | jq -r '.events[] | select(.seq == 3) | .corrected_by')" 5 "seq 3 cancelled by"

# the trail, newest first, with the reasons
trail=$(ctl status --history $u --json)
expect_eq "$(jq -r '[.trail[] | .what + ":" + (.target_seq|tostring) + ":" + .reason] | join(",")' <<<"$trail")" \
  "cancel:3:recorded twice,amend:1:200 typed for 20" "the trail"
grep -q "200 typed for 20" <<<"$(ctl status --history $u)" || fail "the trail's table: $(ctl status --history $u)"

# a restarted hub says the same, and its recount agrees
hub_stop || fail "the hub did not stop cleanly"
hub_start
expect_eq "$(unit_field $u participants)" 20 "participants after a restart"
expect_eq "$(unit_field $u staff_proficient)" 31 "staff after a restart"
ctl verify >/dev/null || fail "verify after the corrections: $(ctl verify 2>&1)"
say "amend and cancel from the agent: the figures follow, the trail says why, refusals exit 2"
