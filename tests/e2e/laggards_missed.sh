#!/usr/bin/env bash
# status --laggards --as-of 2018-06-30 printed the next milestone (80% by
# 2018-12-31) beside "missed", which is about the milestone already due
# (70% by 2018-06-30) (issue 12). A missed unit's row shows the milestone it
# missed and its gap to it; an at-risk unit's, the next one. The JSON keeps
# both (next_* and due_*), as before.
source "$(dirname "$0")/lib.sh"

three_units_at_the_2018_06_30_milestone

A=(--as-of 2018-06-30)
out=$(ctl status --laggards "${A[@]}") || fail "status --laggards"
echo "$out" | sed 's/^/#   /'
grep -q "2 units behind" <<<"$out" || fail "laggards count: $out"
# row UNIT: "value target due gap status" of that unit's line in the table
row() { awk -v u="$1" '$2 == u { print $3, $4, $5, $6, $7 }' <<<"$out"; }
expect_eq "$(row 460000-001)" "50.0% 70.0% 2018-06-30 20.0% missed" "the missed unit's row"
expect_eq "$(row 460100-001)" "75.0% 80.0% 2018-12-31 5.0% at-risk" "the at-risk unit's row"
# the day before, the same unit is only at risk of the milestone then next
out=$(ctl status --laggards --as-of 2018-06-29) || fail "status --laggards the day before"
expect_eq "$(row 460000-001)" "50.0% 70.0% 2018-06-30 20.0% at-risk" "the day before"
# after the last milestone, a missed unit's row names the last one
out=$(ctl status --laggards --as-of 2019-01-31) || fail "status --laggards after the last"
expect_eq "$(row 460000-001)" "50.0% 80.0% 2018-12-31 30.0% missed" "after the last milestone"
expect_eq "$(row 460100-001)" "75.0% 80.0% 2018-12-31 5.0% missed" "at-risk turned missed"

# the JSON is as it was: the next milestone and the one due
j=$(ctl status --laggards "${A[@]}" --json) || fail "status --laggards --json"
ind() { jq -r ".scopes[] | select(.id == \"$1\") | .indicators[] | select(.id == \"items_no_visit\") | $2" <<<"$j"; }
expect_eq "$(ind 460000-001 '"\(.milestone) \(.next_date) \(.next_goal) \(.gap) \(.due_date) \(.due_goal)"')" \
  "missed 2018-12-31 0.8 0.3 2018-06-30 0.7" "the missed unit's JSON"
say "a missed laggard shows the milestone it missed"
