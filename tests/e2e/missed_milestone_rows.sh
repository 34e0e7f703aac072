#!/usr/bin/env bash
# rolloutctl's scope table (status, --unit, --division, --level) printed
# "missed" beside the NEXT milestone (80% by 2018-12-31, under a column
# "next"), and the report's laggards table did so under Target/Due/Gap while
# its status cell named the milestone missed (70% by 2018-06-30); rolloutctl's
# laggards showed the one missed. Every row that says missed now shows the
# milestone it missed and the gap to it (the column is "due"); any other row,
# the next milestone. The report's laggards and rolloutctl's agree.
source "$(dirname "$0")/lib.sh"

three_units_at_the_2018_06_30_milestone

# items STATUS-ARGS...: "milestone due target gap" of the items row of the scope table
items() {
  local out
  out=$(ctl status "$@") || fail "status $*"
  grep -q '^  indicator .* milestone  *due  *target  *gap$' <<<"$out" \
    || fail "status $*: the header: $(grep '^  indicator' <<<"$out")"
  awk '$1 == "items_no_visit" { print $6, $7, $8, $9 }' <<<"$out"
}
A=(--as-of 2018-06-30)
# the province: 215 of 300 = 71.7%, met 70%, at risk of 80%
expect_eq "$(items "${A[@]}")" "at-risk 2018-12-31 80.0% 8.3%" "the province"
expect_eq "$(items --unit 460000-001 "${A[@]}")" "missed 2018-06-30 70.0% 20.0%" "the missed unit"
expect_eq "$(items --division 460000 "${A[@]}")" "missed 2018-06-30 70.0% 20.0%" "its division"
expect_eq "$(items --level provincial "${A[@]}")" "missed 2018-06-30 70.0% 20.0%" "its level"
expect_eq "$(items --unit 460100-001 "${A[@]}")" "at-risk 2018-12-31 80.0% 5.0%" "an at-risk unit"
expect_eq "$(items --unit 469005-012 "${A[@]}")" "met 2018-12-31 80.0% 0.0%" "a unit that met"
# the day before, the same unit is at risk of the milestone then next
expect_eq "$(items --unit 460000-001 --as-of 2018-06-29)" "at-risk 2018-06-30 70.0% 20.0%" \
  "the day before"
# after the last milestone: the last, missed, instead of "-"
expect_eq "$(items --unit 460000-001 --as-of 2019-01-31)" "missed 2018-12-31 80.0% 30.0%" \
  "after the last milestone"
expect_eq "$(items --unit 469005-012 --as-of 2019-01-31)" "met - 80.0% 0.0%" \
  "met after the last milestone"

# the report's laggards: the same target, due date and gap as rolloutctl's
for as_of in 2018-06-30 2019-01-31; do
  lag=$(ctl status --laggards --as-of $as_of) || fail "status --laggards --as-of $as_of"
  rep=$(ctl report --as-of $as_of) || fail "report --as-of $as_of"
  for u in 460000-001 460100-001; do
    want=$(awk -v u=$u '$2 == u { print $3, $4, $5, $6 }' <<<"$lag")
    got=$(awk -F' [|] ' -v u=$u '$2 == u { print $5, $6, $7, $8 }' <<<"$rep")
    [ -n "$want" ] || fail "$u is not among rolloutctl's laggards as of $as_of"
    expect_eq "$got" "$want" "the report's laggard $u as of $as_of"
  done
done
expect_eq "$(awk -F' [|] ' '$2 == "460000-001" { print $5, $6, $7, $8, $9 }' <<<"$(ctl report "${A[@]}")")" \
  "50.0% 70.0% 2018-06-30 20.0% 未达成 missed: 70.0% @ 2018-06-30 |" "the report's missed row"
say "a row that says missed shows the milestone missed, in status and report alike"
