#!/usr/bin/env bash
# Review (issue 16): a unit's agent sends an implausible training session (the
# issue's kind: 5,000,000 people where the province's goal is 2,000). The hub stores and
# acknowledges it but holds it for review: the unit's and the province's
# figures leave it out, `rolloutctl review list` shows it with the rule and
# what it saw, an operator key may look but not decide, a reviewer key
# accepts it (the figures take it in) or rejects another (it stays out for
# good). The same decision again answers ok; the other one is refused,
# naming who decided. The trail and a restarted hub say the same.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
u=460100-001
agent_config $u
agent_start $u
agent $u record staff --date 2018-03-01 --total 40 --proficient 31 >/dev/null || fail "record staff"
agent $u record training --date 2018-03-02 --participants 20 --hours 1.5 >/dev/null || fail "record"
agent $u record training --date 2018-03-03 --participants 200 --hours 2 >/dev/null ||
  fail "record 200"
agent $u record training --date 2018-03-04 --participants 5000000 --hours 3 >/dev/null ||
  fail "record 5e6"
wait_until 20 outbox_count $u outbox 0 || fail "the reports were not all acknowledged"
expect_eq "$(unit_field $u participants)" 20 "the unit's participants leave the flagged out"
expect_eq "$(province participants)" 20 "the province's participants leave the flagged out"
expect_eq "$(db "select group_concat(seq || ':' || state) from reports order by seq")" \
  "1:0,2:0,3:2,4:2" "stored: the flagged held for review (state 2)"

list=$(ctl review list --json)
expect_eq "$(jq -r '[.reviews[] | (.seq|tostring) + ":" + .rule + ":" + .state] | sort | join(",")' <<<"$list")" \
  "3:participants_above_staff:pending,4:participants_above_staff:pending" "review list"
grep -q "200 participants, the unit's staff is 40" <<<"$(ctl review list)" ||
  fail "the list says what the rule saw: $(ctl review list)"
grep -q "pending" <<<"$(ctl review show $u 4)" || fail "show: $(ctl review show $u 4)"
expect_eq "$(province held_review)" 2 "the province's reports held for review"
expect_eq "$(unit_field $u held_review)" 2 "the unit's"
expect_eq "$(ctl status --problems --json | jq -r '[.problems[] | select(.kind == "review") | .unit] | join(",")')" \
  "$u" "the problems list the unit's pending reviews"
expect_eq "$(agent $u status --json | jq -r .hub.held_for_review)" 2 "the agent hears it (Ack.held)"
grep -q "^review      2 of the unit's reports held for a reviewer" <<<"$(agent $u status)" ||
  fail "rollout-agent status: $(agent $u status)"
out=$(ctl watch --once 2>&1) || fail "watch --once: $out"
grep -q "held for review 2" <<<"$(grep -m1 "units reporting" <<<"$out")" ||
  fail "watch's head line lacks the pending count: $out"

# an operator key looks but does not decide
rc=0; out=$(ctl review accept $u 3 --reason "checked with the unit" 2>&1) || rc=$?
expect_eq "$rc" 2 "an operator's accept exits 2"
grep -q "forbidden: only a reviewer key decides" <<<"$out" || fail "operator accept said: $out"
expect_eq "$(db "select count(*) from events where what in (4, 5)")" 0 "no decision recorded"

# a reviewer key decides
"$CTL_BIN" keys reviewer ann "$KEYS/reviewer" --allow-list "$ALLOW" >/dev/null || fail "keys reviewer"
touch "$KEYS/.dirty"; keys_sync
printf '[security]\ncurve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
  "$KEYS/hub/hub.pub" "$KEYS/reviewer/reviewer.key" "$KEYS/reviewer/reviewer.pub" > "$KEYS/review.ini"
rv() { "$CTL_BIN" --hub "$STATUS" --config "$KEYS/review.ini" review "$@"; }
rv accept $u 3 --reason "a joint session with the township" >/dev/null || fail "accept"
expect_eq "$(unit_field $u participants)" 220 "the accepted report counts"
expect_eq "$(unit_field $u held_review)" 1 "one left held for review"
expect_eq "$(province participants)" 220 "in the province too"
rv accept $u 3 --reason "asked again" >/dev/null || fail "the same decision again is ok"
rv reject $u 4 --reason "typed five million" >/dev/null || fail "reject"
rc=0; out=$(rv accept $u 4 --reason "changed my mind" 2>&1) || rc=$?
expect_eq "$rc" 2 "the other decision exits 2"
grep -q "was rejected by reviewer:ann" <<<"$out" || fail "the other decision said: $out"
expect_eq "$(province participants)" 220 "the rejected report stays out"
expect_eq "$(province held_review)" 0 "nothing held for review once both are decided"
expect_eq "$(db "select group_concat(what || ':' || by_key) from events where what in (4, 5) order by id")" \
  "4:reviewer:ann,5:reviewer:ann" "one decision each in the trail, by the reviewer"
list=$(ctl review list --json)
expect_eq "$(jq -r '[.reviews[] | (.seq|tostring) + ":" + .state + ":" + .by] | sort | join(",")' <<<"$list")" \
  "3:accepted:reviewer:ann,4:rejected:reviewer:ann" "review list after the decisions"
trail=$(ctl status --history $u --json)
expect_eq "$(jq -r '[.trail[] | .what + ":" + (.target_seq|tostring)] | join(",")' <<<"$trail")" \
  "reject:4,accept:3,flag:4,flag:3" "the trail"

# bad input: exit 2 with a reason
rc=0; rv accept $u 2 --reason "not flagged" 2>/dev/null || rc=$?
expect_eq "$rc" 2 "deciding a report never flagged"
rc=0; rv accept $u x --reason y 2>/dev/null || rc=$?
expect_eq "$rc" 2 "a seq that is not a number"

# a restarted hub says the same, and its recount agrees
hub_stop || fail "the hub did not stop cleanly"
hub_start
expect_eq "$(province participants)" 220 "participants after a restart"
expect_eq "$(province held_review)" 0 "held for review after a restart"
ctl verify >/dev/null || fail "verify after the decisions: $(ctl verify 2>&1)"
# the daily states follow the decisions too: once re-derived (ingest idle),
# none is stale, verify recounts them, and an as-of answer agrees with today
fresh() { [ "$(db "select count(*) from units where day_stale > 0")" == 0 ]; }
wait_until 20 fresh || fail "daily states still stale: $(db "select id, day_stale from units where day_stale > 0")"
ctl verify >/dev/null || fail "verify of the daily states: $(ctl verify 2>&1)"
expect_eq "$(ctl status --as-of 2030-01-01 --json | jq -r '.scopes[0].participants')" 220 \
  "participants as of a later date"
say "flagged reports are held, listed, and counted only once a reviewer key accepts them"
