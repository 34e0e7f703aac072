#!/usr/bin/env bash
# The dashboard's figures and charts as an operator reads them (issue 12),
# in headless Chromium driven by page_probe.py with dashboard_probe.js:
# - every percent follows the project's rule, one decimal rounded half up on
#   the exact ratio: 29 of 2,000 trained (exactly 1.45%) reads 1.5%, never
#   1.4%; 102 of 160 items (63.75%) reads 63.8%, where the old page printed
#   (100 * ratio).toFixed(1) and said 63.7%;
# - a bar past 125% of its goal says it is cut and shows its real figure,
#   so 130% and 2000% are told apart;
# - the no-visit chart's milestone labels overlap none of its lines, its
#   diamonds, or each other.
# Keeps RO_ARTEFACTS/dashboard_charts.png (both charts, the division chart
# on its Training time tab).
source "$(dirname "$0")/feed_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/test installs it: apt-get install chromium)"
ART=${RO_ARTEFACTS:-$T}
mkdir -p "$ART"

hub_config_feed; hub_start_feed
# 29 people trained in all; hours past their goal in 海口 (130%) and 东方
# (2000%, in sessions of at most 240 h), 60% of it in 三亚 (the goals are
# the hub's, however it shares 300 h out); items lines that pass right by
# their milestones (where the old labels sat); staff 29 of 400 (7.25%).
A=460100-001 B=469007-001 C=460200-001
for u in $A $B $C; do HEARTBEAT_S=3600 agent_config "$u"; done
hours_goal() { ctl status --division "$1" --json | jq -r '.scopes[0].indicators[] | select(.id == "training_hours") | .goal'; }
# tenths of an hour: PERCENT of division CODE's goal, rounded up
hours_for() { python3 -c 'import sys, math; from fractions import Fraction as F
print(math.ceil(F(sys.argv[1]) * int(sys.argv[2]) / 10))' "$(hours_goal "$1")" "$2"; }
tenths() { printf '%d.%d' $(($1 / 10)) $(($1 % 10)); }
agent $A record training --date 2018-03-01 --participants 20 --hours "$(tenths "$(hours_for 460100 130)")" >/dev/null
left=$(hours_for 469007 2000) people=5 day=1
while [ "$left" -gt 0 ]; do
  chunk=$((left > 2400 ? 2400 : left)) left=$((left - chunk))
  n=$((left > 0 && people > 1 ? 1 : people)) people=$((people - n))
  [ "$n" -ge 1 ] || fail "too many sessions for 东方's hours"
  agent $B record training --date "2018-04-$(printf %02d $day)" --participants "$n" --hours "$(tenths "$chunk")" >/dev/null
  day=$((day + 1))
done
agent $C record training --date 2018-03-03 --participants 4 --hours "$(tenths "$(hours_for 460200 60)")" >/dev/null
agent $A record items --date 2017-11-15 --total 80 --no-visit 20 >/dev/null
agent $A record items --date 2018-01-15 --total 80 --no-visit 27 >/dev/null
agent $A record items --date 2018-07-15 --total 80 --no-visit 58 >/dev/null
agent $A record items --date 2018-10-15 --total 80 --no-visit 63 >/dev/null
agent $B record items --date 2018-12-20 --total 80 --no-visit 39 >/dev/null
agent $C record cases --month 2018-11 --total 40 --no-visit 30 >/dev/null
agent $C record cases --month 2018-12 --total 40 --no-visit 36 >/dev/null
agent $C record staff --date 2018-06-30 --total 400 --proficient 29 >/dev/null
reports=$(( 9 + day ))
for u in $A $B $C; do agent_start "$u"; done
wait_until 30 province_reports_is $reports || fail "reports not stored: $(province reports) of $reports"
wait_until 10 feed_settled || fail "the feed did not settle"

api() { curl -sf "http://$HTTP$1"; }
# /api/status has caught up with the feed, and its series (rebuilt less often)
# end where the province is now
api_ready() {
  local d; d=$(api /api/status) || return 1
  [ "$(jq -r .feed_seq <<<"$d")" == "$(hub_feed_seq)" ] &&
    jq -e '. as $d | (.series | length) == 2 and ([.series[] | .indicator as $i | .points[-1].value ==
      ($d.province.indicators[] | select(.id == $i) | .value)] | all)' <<<"$d" >/dev/null
}
wait_until 20 api_ready || fail "/api/status lags the feed: $(api /api/status | jq -c '{feed_seq, series}')"
# the page needs to know which of a scope's counts an indicator divides
expect_eq "$(api /api/status | jq -c '[.targets[] | [.id, .part, .total]]')" \
  '[["training_participants","participants",null],["training_hours","hours",null],["staff_proficient","staff_proficient","staff_total"],["items_no_visit","items_no_visit","items_total"],["cases_no_visit","cases_no_visit","cases_total"]]' \
  "/api/status targets' part and total"

export HOME=$T/chromium-home
mkdir -p "$HOME"
python3 "$HERE/page_probe.py" "$CHROMIUM" "http://$HTTP/" "$HERE/dashboard_probe.js" --profile "$T/chromium" \
  --log "$T/chromium.log" --shot "$ART/dashboard_charts.png" >"$T/page.json" ||
  fail "page_probe failed (chromium log: $(tail -3 "$T/chromium.log"))"
say "the page shows $(jq '.figures | length' "$T/page.json") figures"
shown() { jq -r --arg k "$1" '.figures[$k].text // "(not shown)"' "$T/page.json"; }

# expect_figures WANT.tsv WHAT: every "KEY<TAB>TEXT" of WANT is what the page shows
expect_figures() {
  jq -r '.figures | to_entries[] | "\(.key)\t\(.value.text)"' "$T/page.json" >"$T/shown.tsv"
  jq -r '.bars[] | "bar \(.k)\t\(.label)", "cut \(.k)\t\(.capped)"' "$T/page.json" >>"$T/shown.tsv"
  awk -F'\t' 'NR == FNR { shown[$1] = $2; next }
    { got = ($1 in shown) ? shown[$1] : "(not shown)"
      if (got != $2) { printf "%s: the page shows \"%s\", want \"%s\"\n", $1, got, $2; bad = 1 } }
    END { exit bad }' "$T/shown.tsv" "$1" >"$T/wrong.txt" ||
    fail "$2:
$(head -20 "$T/wrong.txt")"
}

# What every scope's indicators divide, from rolloutctl (the fields named in targets.ini)
{ ctl status --json; ctl status --divisions --json; for l in provincial municipal township; do ctl status --level $l --json; done; } |
  jq -r '.scopes[] | . as $s | .indicators[] |
    {training_participants: ["participants"], training_hours: ["hours"],
     staff_proficient: ["staff_proficient", "staff_total"], items_no_visit: ["items_no_visit", "items_total"],
     cases_no_visit: ["cases_no_visit", "cases_total"]}[.id] as $f |
    "\($s.kind) \($s.id) \(.id) \(.measure) \($s[$f[0]]) \(if $f[1] then $s[$f[1]] else "-" end) \(.goal)"' \
  >"$T/scopes.txt"
[ "$(wc -l <"$T/scopes.txt")" -ge 100 ] || fail "rolloutctl gave only $(wc -l <"$T/scopes.txt") indicators"

# The texts the rule asks for, in exact arithmetic (tenths = floor((2000n + d) / 2d)):
# every percent value (table and cards), the province's shares of goal, and the
# division bars of the Training time tab (cut past 125%: "» FIGURE GRADE").
python3 - "$T/scopes.txt" "$T/want_figures.tsv" "$T/want_bars.tsv" <<'PY'
import sys
from fractions import Fraction as F

def rule(n, d):
    t = (2000 * n + d) // (2 * d)
    return "%d.%d%%" % (t // 10, t % 10)

figures, bars = open(sys.argv[2], "w"), open(sys.argv[3], "w")
for line in open(sys.argv[1]):
    kind, sid, ind, measure, part, total, goal = line.split()
    part, goal = F(part), F(goal)
    if measure == "percent":
        want = "no data" if total == "0" else rule(part, F(total))
        figures.write("%s.%s.%s.value\t%s\n" % (kind, sid, ind, want))
        if kind == "province":
            figures.write("province.%s.value\t%s\n" % (ind, want))
    if kind == "province":
        want = "–" if total == "0" else rule(part, goal if total == "-" else F(total) * goal)
        figures.write("province.%s.share\t%s\n" % (ind, want))
    if kind == "division" and ind == "training_hours":
        k = "division.%s.training_hours.share" % sid
        cut = part > goal * F(5, 4)
        bars.write("bar %s\t%s%s %s\n" % (k, "» " if cut else "", rule(part, goal), "%GRADE%"))
        bars.write("cut %s\t%s\n" % (k, "true" if cut else "false"))
PY

# ---- 1. one rounding rule: the issue's own case, then every percent shown
expect_eq "$(shown province.items_no_visit.value)" 63.8% "102 of 160 items no-visit, on the card"
expect_eq "$(shown province.staff_proficient.value)" 7.3% "29 of 400 staff, on the card"
expect_eq "$(shown province.training_participants.share)" 1.5% "29 of 2,000 trained (issue 12)"
expect_figures "$T/want_figures.tsv" "percents that do not follow the rule"
say "$(wc -l <"$T/want_figures.tsv") percents on the page follow the rule"

# ---- 2. bars past 125% say so and give their figure (Training time tab)
expect_eq "$(jq '.bars | length' "$T/page.json")" 19 "division bars on the Training time tab"
# the grade beside a figure is the hub's
ctl status --divisions --json | jq -r '.scopes[] | "division.\(.id).training_hours.share \(.indicators[] |
  select(.id == "training_hours") | .grade)"' >"$T/grades.txt"
awk -F'\t' 'NR == FNR { split($0, g, " "); grade[g[1]] = g[2]; next }
  { k = substr($1, index($1, " ") + 1); sub("%GRADE%", grade[k], $2); print $1 "\t" $2 }' OFS='\t' \
  "$T/grades.txt" "$T/want_bars.tsv" >"$T/want_bars_graded.tsv"
expect_figures "$T/want_bars_graded.tsv" "division bars on the Training time tab"
expect_eq "$(grep -c '^cut .*true$' "$T/want_bars_graded.tsv")" 2 "bars past 125% (海口 at ~130%, 东方 at ~2000%)"
haikou=$(jq -r '.bars[] | select(.k == "division.460100.training_hours.share") | .label' "$T/page.json")
dongfang=$(jq -r '.bars[] | select(.k == "division.469007.training_hours.share") | .label' "$T/page.json")
[[ "$haikou" =~ ^»\ 1[23][0-9]\.[0-9]%\  && "$dongfang" =~ ^»\ [0-9]{4}\.[0-9]%\  ]] ||
  fail "the cut bars read '$haikou' and '$dongfang'"
for k in division.460100.training_hours.share division.469007.training_hours.share; do
  jq -e --arg k "$k" '.bars[] | select(.k == $k) | .title | contains("bar cut at 125%")' "$T/page.json" >/dev/null ||
    fail "$k: its title does not say the bar is cut"
done
jq -e '.chartText | contains("bar cut at 125% of goal")' "$T/page.json" >/dev/null ||
  fail "the division chart does not explain its cut bars"
say "cut bars: 海口 '$haikou', 东方 '$dongfang'"

# ---- 3. milestone labels clear of the lines
expect_eq "$(jq '.lines | length' "$T/page.json")" 2 "lines in the no-visit chart"
expect_eq "$(jq -c '[.labels[].text] | sort' "$T/page.json")" \
  '["30% by 2017-12-31","70% by 2018-06-30","80% by 2018-12-31"]' "milestone labels"
hits=$(jq -r '.hits[]' "$T/page.json")
[ -z "$hits" ] || fail "milestone labels overlap the chart:
$hits"
say "$(jq '.labels | length' "$T/page.json") milestone labels clear of $(jq '[.lines[] | length] | add' "$T/page.json") line points and $(jq '.diamonds | length' "$T/page.json") diamonds"

[ "$(head -c 8 "$ART/dashboard_charts.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ] ||
  fail "$ART/dashboard_charts.png is not a PNG"
say "screenshot: $ART/dashboard_charts.png"
