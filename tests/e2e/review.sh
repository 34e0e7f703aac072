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

hub_config; hub_start; hub_pin_ports # the agent amends after a restart
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

# the reports say what their figures rest on: the two held, listed in html
ctl report > "$T/held.md" || fail "report"
grep -q "^| 产出指标 Output | 参加培训人数 .* | 20 (待审 2) |" "$T/held.md" ||
  fail "the province's people do not say 2 held: $(grep 参加培训人数 "$T/held.md")"
ctl report --format html > "$T/held.html" || fail "report html"
expect_eq "$(grep -c "<tr><td>$u</td><td>training</td><td>2018-03-0[34]</td><td>待审 pending</td>" "$T/held.html")" \
  2 "the html lists the two held reports"

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
wait_until 20 days_fresh || fail "daily states still stale: $(db "select id, day_stale from units where day_stale > 0")"
ctl verify >/dev/null || fail "verify of the daily states: $(ctl verify 2>&1)"
expect_eq "$(ctl status --as-of 2030-01-01 --json | jq -r '.scopes[0].participants')" 220 \
  "participants as of a later date"

# what the figures rest on (issue 16 part 3): the agent amends one report,
# the rejected one stays rejected; every scope and figure says so, and the
# reports show and list them
agent $u amend 2 --reason "21, not 20" training --date 2018-03-02 --participants 21 --hours 1.5 \
  >/dev/null || fail "amend"
participants_are() { [ "$(unit_field $u participants)" == "$1" ]; }
wait_until 20 participants_are 221 || fail "the amend did not count: $(unit_field $u participants)"
expect_eq "$(province corrected),$(province held_review),$(province rejected)" "1,0,1" \
  "the province: corrected, held, rejected"
expect_eq "$(ctl status --division 460100 --json | jq -r '.scopes[0] | "\(.corrected),\(.rejected)"')" \
  "1,1" "the division"
expect_eq "$(ctl status --level municipal --json | jq -r '.scopes[0] | "\(.corrected),\(.rejected)"')" \
  "1,1" "the level"
expect_eq "$(ctl status --json | jq -r '.scopes[0].indicators[] | select(.id == "training_hours") | "\(.corrected),\(.rejected)"')" \
  "1,1" "the training hours rest on them"
expect_eq "$(ctl status --json | jq -r '.scopes[0].indicators[] | select(.id == "items_no_visit") | "\(.corrected),\(.rejected)"')" \
  "0,0" "the items share does not"
expect_eq "$(ctl status --as-of 2018-03-02 --json | jq -r '.scopes[0] | "\(.corrected),\(.rejected)"')" \
  "1,0" "as of the amended report's date: the rejected one of 03-04 not yet"
grep -q "not counted *1 corrected, 0 held for review, 1 rejected" <<<"$(ctl status)" ||
  fail "status does not say it: $(ctl status)"
ctl report > "$T/report.md" || fail "report"
grep -q "更正 1 份、待审 0 份、退回 1 份报告" "$T/report.md" || fail "no key line: $(head "$T/report.md")"
grep -q "^| 产出指标 Output | 参加培训人数 .* | 221 (更正 1 退回 1) |" "$T/report.md" ||
  fail "the province's people do not say it: $(grep 参加培训人数 "$T/report.md")"
grep -q "| 海口市 | .* (更正 1 退回 1) |" "$T/report.md" || fail "the division's row: $(grep 海口市 "$T/report.md")"
ctl report --format html > "$T/report.html" || fail "report html"
grep -q "<tr><td>$u</td><td>[^<]*</td><td>海口市</td><td>1</td><td>0</td><td>1</td></tr>" "$T/report.html" ||
  fail "the html does not list the unit: $(grep -A3 'What the figures rest on' "$T/report.html")"
expect_eq "$(grep -c "<td>退回 rejected</td><td>participants_above_staff</td>" "$T/report.html")" 1 \
  "the html lists the rejected report"
say "flagged reports are held, listed, and counted only once a reviewer key accepts them; the reports say what their figures rest on"
