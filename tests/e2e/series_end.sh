#!/usr/bin/env bash
# status --series ran to today: 108 monthly lines to 2026 for a rollout whose
# data and milestones ended in 2018 (issue 12). Without --as-of it ends at
# the later of the series' last change and the targets' last milestone;
# --as-of DATE runs it to DATE; --limit counts back from where it ends.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 items 20171220 100 30 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 2 items 20180620 100 70 >/dev/null
wait_until 20 province_reports_is 2 || fail "hub has $(province reports) of 2 reports"
[ "$(date -u +%Y%m%d)" -gt 20190131 ] || fail "this test needs a clock past 2019-01-31"

dates() { ctl status --series "$@" --json | jq -r '[.history[].date] | join(" ")'; }
months_2018="2018-01-31 2018-02-28 2018-03-31 2018-04-30 2018-05-31 2018-06-30 2018-07-31"
months_2018+=" 2018-08-31 2018-09-30 2018-10-31 2018-11-30 2018-12-31"
# the last change is 2018-06; the last milestone 2018-12-31 is later
expect_eq "$(dates)" "2017-12-31 $months_2018" "series to the last milestone"
out=$(ctl status --series) || fail "status --series"
expect_eq "$(tail -n 1 <<<"$out" | awk '{ print $1, $2, $3, $4, $5 }')" "2018-12-31 70.0% 70 / 100" \
  "the table's last line"
grep -q "to 2018-12-31 (its last change or the targets' last milestone" <<<"$out" \
  || fail "the table does not say where it ends: $(head -n 1 <<<"$out")"
expect_eq "$(grep -c '^20[0-9][0-9]-' <<<"$out")" 13 "lines of the table"
# --limit counts back from the end, not from today
expect_eq "$(dates --limit 3)" "2018-10-31 2018-11-30 2018-12-31" "--limit 3"
# --as-of: to that date
expect_eq "$(dates --as-of 2019-03-31 | awk '{ print NF, $NF }')" "16 2019-03-31" "--as-of 2019-03-31"
expect_eq "$(dates --as-of 2018-03-15)" "2017-12-31 2018-01-31 2018-02-28 2018-03-15" "--as-of 2018-03-15"

# data after the last milestone: the series runs to it
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 3 items 20190210 100 85 >/dev/null
wait_until 20 province_reports_is 3 || fail "hub has $(province reports) of 3 reports"
expect_eq "$(dates | awk '{ print NF, $NF }')" "15 2019-02-28" "series to its last change"
say "status --series ends at the last data or milestone"
