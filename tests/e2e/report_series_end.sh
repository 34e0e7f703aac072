#!/usr/bin/env bash
# The html report's chart of the province over time ran to the report's
# date, today by default: 108 months to 2026 for a rollout whose data and
# milestones ended in 2018. Without --as-of it ends, as status --series does,
# at the later of the series' last change and the targets' last milestone.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 items 20171220 100 30 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 2 items 20180620 100 70 >/dev/null
wait_until 20 province_reports_is 2 || fail "hub has $(province reports) of 2 reports"
[ "$(date -u +%Y%m%d)" -gt 20190131 ] || fail "this test needs a clock past 2019-01-31"

# chart FILE: "first-date last-date points" of the series chart, from its axis and circles
chart() {
  sed -n '/全省走势 Province over time/,/<\/svg>/p' "$1" > "$1.chart"
  [ -s "$1.chart" ] || fail "no series chart in $1"
  local first last points
  first=$(grep -o '<text x="[0-9.]*" y="[0-9.]*">[0-9-]*</text>' "$1.chart" | grep -o '[0-9]\{4\}-[0-9-]*')
  last=$(grep -o 'text-anchor="end">[0-9]\{4\}-[0-9-]*</text>' "$1.chart" | grep -o '[0-9]\{4\}-[0-9-]*')
  points=$(grep -c '<circle ' "$1.chart")
  echo "$first $last $points"
}
status_dates() { ctl status --series "$@" --json | jq -r '[.history[].date] | "\(.[0]) \(.[-1]) \(length)"'; }

ctl report --format html --out "$T/now.html" || fail "report --format html"
# 2017-12-31 to 2018-12-31: 13 month ends, as status --series shows
expect_eq "$(chart "$T/now.html")" "2017-12-31 2018-12-31 13" "the chart without --as-of"
expect_eq "$(status_dates)" "2017-12-31 2018-12-31 13" "status --series"
! grep -q '20[2-9][0-9]-[0-9-]*</title></circle>' "$T/now.html.chart" || fail "a point after 2019"
# --as-of within the rollout: to that date, as before
ctl report --as-of 2018-06-30 --format html --out "$T/jun.html" || fail "report --as-of 2018-06-30"
expect_eq "$(chart "$T/jun.html")" "2017-12-31 2018-12-31 7" "the chart as of 2018-06-30"

# data after the last milestone: the chart runs to it
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 3 items 20190210 100 85 >/dev/null
wait_until 20 province_reports_is 3 || fail "hub has $(province reports) of 3 reports"
ctl report --format html --out "$T/later.html" || fail "report --format html, later data"
expect_eq "$(chart "$T/later.html")" "2017-12-31 2019-02-28 15" "the chart to the last change"
expect_eq "$(status_dates)" "2017-12-31 2019-02-28 15" "status --series to the last change"
say "the report's chart ends at the last data or milestone"

# --as-of past the data and the milestones: the chart runs to that date, as status does
ctl report --as-of 2019-06-30 --format html --out "$T/asked.html" || fail "report --as-of 2019-06-30"
expect_eq "$(chart "$T/asked.html" | cut -d' ' -f2-)" "$(status_dates --as-of 2019-06-30 | cut -d' ' -f2-)" \
  "the chart as of 2019-06-30 against status --series --as-of 2019-06-30"
