#!/usr/bin/env bash
# From recorded events to attainment: real agents record a known state, and
# rolloutctl status (province, unit, division, level, divisions, laggards,
# silent, history, series; with as-of dates either side of a milestone) and
# rolloutctl report (md, csv, html) show the exact numbers that state gives.
source "$(dirname "$0")/lib.sh"

# A small registry, so that every laggard and silent unit is known.
REGISTRY=$T/units.csv
cat > "$REGISTRY" <<'CSV'
id,level,division,name
460000-001,provincial,460000,省发展和改革委员会
460000-002,provincial,460000,省教育厅
460100-001,municipal,460100,海口市发展和改革委员会
460100-201,township,460100,海口市第1乡镇人民政府
469005-012,municipal,469005,文昌市交通运输局
469005-201,township,469005,文昌市第1乡镇人民政府
469030-210,township,469030,琼中黎族苗族自治县第10乡镇人民政府
CSV
hub_config; hub_start

# What each unit records. Items as of 2018-06-30: 70/100 + 50/100 + 10/50 +
# 50/50 = 180/300 = 60.0%, exactly the lower bound of 中; staff 36/40 = 90%,
# exactly the lower bound of 良; cases 800/1000 = 80%.
rec() { agent "$@" >/dev/null || fail "record $*"; }
for u in 460000-001 460100-001 460100-201 469005-012 469030-210; do agent_config $u; done
rec 460000-001 record items --date 2017-12-20 --total 100 --no-visit 30
rec 460000-001 record items --date 2018-06-20 --total 100 --no-visit 70
rec 460000-001 record staff --date 2018-03-01 --total 40 --proficient 36
rec 460000-001 record training --date 2018-01-10 --participants 40 --hours 12.5
rec 460100-001 record items --date 2017-12-20 --total 100 --no-visit 20
rec 460100-001 record items --date 2018-06-20 --total 100 --no-visit 50
rec 460100-001 record training --date 2018-02-01 --participants 20 --hours 7.5
rec 460100-001 record cases --month 2018-05 --total 1000 --no-visit 800
rec 460100-201 record items --date 2018-06-25 --total 50 --no-visit 10
rec 469005-012 record items --date 2018-06-28 --total 50 --no-visit 50
total=10
for u in 460000-001 460100-001 460100-201 469005-012 469030-210; do agent_start $u; done
wait_until 60 province_reports_is $total || fail "hub has $(province reports) of $total reports"
# 469030-210 records nothing, but its agent's heartbeat is heard
wait_until 30 bash -c "[ \"\$(\"$CTL_BIN\" --hub $STATUS status --unit 469030-210 --json | jq .scopes[0].last_heard)\" != 0 ]" \
  || fail "469030-210 never heard"

# jqs ARGS... FILTER: run `rolloutctl status ARGS --json` and apply FILTER.
jqs() { local f=${*: -1}; ctl status "${@:1:$#-1}" --json | jq -r "$f"; }
ind() { echo ".scopes[$1].indicators[] | select(.id == \"$2\") | .$3"; }

# ---- the province, as of dates around the milestone of 2018-06-30 ---------
A=(--as-of 2018-06-30)
expect_eq "$(jqs "${A[@]}" "$(ind 0 items_no_visit value)")" 0.6 "items share"
expect_eq "$(jqs "${A[@]}" "$(ind 0 items_no_visit grade)")" 中 "items grade at the 中 edge"
expect_eq "$(jqs "${A[@]}" "$(ind 0 items_no_visit milestone)")" missed "items on the milestone day"
expect_eq "$(jqs "${A[@]}" "$(ind 0 items_no_visit next_date)")" 2018-12-31 "next milestone"
expect_eq "$(jqs "${A[@]}" "$(ind 0 items_no_visit gap)")" 0.2 "gap to 80%"
expect_eq "$(jqs "${A[@]}" "$(ind 0 items_no_visit due_date)")" 2018-06-30 "milestone due"
expect_eq "$(jqs "${A[@]}" "$(ind 0 staff_proficient value)")" 0.9 "staff share"
expect_eq "$(jqs "${A[@]}" "$(ind 0 staff_proficient grade)")" 良 "staff grade at the 良 edge"
expect_eq "$(jqs "${A[@]}" "$(ind 0 cases_no_visit milestone)")" met "cases ahead of 2018-12-31"
expect_eq "$(jqs "${A[@]}" "$(ind 0 training_participants value)")" 60 "participants"
expect_eq "$(jqs "${A[@]}" "$(ind 0 training_hours value)")" 20 "hours"
expect_eq "$(jqs "${A[@]}" "$(ind 0 training_participants share)")" 0.03 "participants share"
expect_eq "$(jqs "${A[@]}" '.scopes[0].grade')" 差 "overall grade: the worst"
grep -q "missed 70.0% due 2018-06-30" <<<"$(jqs "${A[@]}" "$(ind 0 items_no_visit why)")" \
  || fail "items why: $(jqs "${A[@]}" "$(ind 0 items_no_visit why)")"
# the day before the milestone: the same value is only at risk, 10 points short
B=(--as-of 2018-06-29)
expect_eq "$(jqs "${B[@]}" "$(ind 0 items_no_visit milestone)")" at-risk "items the day before"
expect_eq "$(jqs "${B[@]}" "$(ind 0 items_no_visit next_date)")" 2018-06-30 "next milestone before"
expect_eq "$(jqs "${B[@]}" "$(ind 0 items_no_visit gap)")" 0.1 "gap the day before"
# the first milestone: 50/200 = 25% before it is due (at risk), missed on the day
expect_eq "$(jqs --as-of 2017-12-30 "$(ind 0 items_no_visit value)")" 0.25 "items 2017-12-30"
expect_eq "$(jqs --as-of 2017-12-30 "$(ind 0 items_no_visit milestone)")" at-risk "2017-12-30"
expect_eq "$(jqs --as-of 2017-12-31 "$(ind 0 items_no_visit milestone)")" missed "2017-12-31"
# before anything was recorded: no data, and JSON says so
expect_eq "$(jqs --as-of 2017-06-01 "$(ind 0 items_no_visit no_data)")" true "no data in 2017-06"
expect_eq "$(jqs --as-of 2017-06-01 "$(ind 0 items_no_visit value)")" null "no value in 2017-06"

# ---- unit, division, level, divisions ----------------------------------------
expect_eq "$(jqs --unit 460000-001 "${A[@]}" "$(ind 0 staff_proficient grade)")" 良 "unit staff grade"
# 70% meets the milestone due, but the next asks 80%: at risk; 100% is met
expect_eq "$(jqs --unit 460000-001 "${A[@]}" "$(ind 0 items_no_visit milestone)")" at-risk "unit at 70%"
expect_eq "$(jqs --unit 469005-012 "${A[@]}" "$(ind 0 items_no_visit milestone)")" met "unit at 100%"
expect_eq "$(jqs --division 460100 "${A[@]}" "$(ind 0 items_no_visit value)")" 0.4 "Haikou items"
expect_eq "$(jqs --division 460100 "${A[@]}" '.scopes[0].units')" 2 "Haikou units"
expect_eq "$(jqs --level municipal "${A[@]}" "$(ind 0 items_no_visit value)")" 0.6666666667 "municipal items"
expect_eq "$(jqs --level township "${A[@]}" "$(ind 0 items_no_visit value)")" 0.2 "township items"
expect_eq "$(jqs --divisions "${A[@]}" '.scopes | length')" 19 "division scopes"
expect_eq "$(jqs --divisions "${A[@]}" '.scopes[0].name')" 省直属单位 "the provincial units first"
expect_eq "$(jqs --divisions "${A[@]}" "$(ind 0 items_no_visit value)")" 0.7 "provincial units' items"

# ---- laggards: no data first (gap 80%), then by gap ----------------------------
expect_eq "$(jqs --laggards --limit 0 "${A[@]}" '[.scopes[].id] | join(" ")')" \
  "460000-002 469005-201 469030-210 460100-201 460100-001 460000-001" "laggards order"
expect_eq "$(jqs --laggards --limit 4 "${A[@]}" '"\(.total) \(.scopes | length) \(.indicator)"')" \
  "6 4 items_no_visit" "laggards limit"
expect_eq "$(jqs --laggards --limit 0 "${A[@]}" '.scopes[3].division')" 460100 "laggard's division"
expect_eq "$(jqs --laggards --limit 0 "${A[@]}" "$(ind 3 items_no_visit gap)")" 0.6 "its gap"
expect_eq "$(jqs --laggards --indicator cases_no_visit --limit 0 "${A[@]}" '.total')" 6 "cases laggards"
# (outputs go through variables: with pipefail, `ctl | grep -q` can fail on SIGPIPE)
out=$(ctl status --laggards "${A[@]}"); grep -q "6 units behind" <<<"$out" || fail "laggards table"

# ---- silent: the two units never heard -------------------------------------------
expect_eq "$(jqs --silent '[.scopes[].id] | join(" ")')" "460000-002 469005-201" "silent units"
expect_eq "$(jqs --silent '.silent_after')" 3600 "silent_after"

# ---- history and series ------------------------------------------------------------
expect_eq "$(jqs --history 460000-001 --indicator items_no_visit '[.history[] | "\(.date)=\(.value)"] | join(" ")')" \
  "2017-12-20=0.3 2018-06-20=0.7" "history of items"
expect_eq "$(jqs --history 460000-001 --indicator items_no_visit --as-of 2018-01-01 '.history | length')" 1 "history as of"
expect_eq "$(jqs --history 460100-001 --indicator training_hours '.history[0].value')" 7.5 "hours history"
expect_eq "$(jqs --history 460100-001 --indicator cases_no_visit '.history[0].date')" 2018-05 "cases month"
expect_eq "$(jqs --series "${A[@]}" '[.history[] | "\(.date)=\(.value)"] | join(" ")')" \
  "2017-12-31=0.25 2018-01-31=0.25 2018-02-28=0.25 2018-03-31=0.25 2018-04-30=0.25 2018-05-31=0.25 2018-06-30=0.6" \
  "series of the items share"

# ---- bad usage: one line, exit 2 -------------------------------------------------------
bad() {
  local rc=0 err
  err=$(ctl "$@" 2>&1 >/dev/null) || rc=$?
  expect_eq "$rc" 2 "exit status of: $*"
  expect_eq "$(echo "$err" | wc -l)" 1 "one line for: $*"
}
bad status --division 123456
bad status --as-of 2018-02-30
bad status --level county
bad status --laggards --indicator nosuch
bad status --history 469030-999
bad status --unit 460000-001 --divisions
bad report --format pdf

# ---- the year-end report, from the hub over the socket -------------------------------
for fmt in md csv html; do
  ctl report --as-of 2018-06-30 --format $fmt --out "$T/report.$fmt" || fail "report --format $fmt"
done
grep -q "截至 As of:\*\* 2018-06-30" "$T/report.md" || fail "md: as-of"
grep -q "| 180 / 300\|60.0%" "$T/report.md" || fail "md: items share"
row=$(grep -F "Share of service items no-visit (%) |" "$T/report.md")
grep -qF "| 60.0% | 75.0% | 中 fair |" <<<"$row" || fail "md: items row: $row"
row=$(grep -F "Approval staff able to use the platform (%) |" "$T/report.md")
grep -qF "| 90.0% | 90.0% | 良 good |" <<<"$row" || fail "md: staff row: $row"
grep -q "| 1 | 460000-002 | 省教育厅 | 省直属单位 | 无数据 no data |" "$T/report.md" || fail "md: first laggard"
grep -q "| 6 | 460000-001 |" "$T/report.md" || fail "md: last laggard"
grep -q "60.0%" "$T/report.csv" || fail "csv: items share"
grep -q "460100-201" "$T/report.csv" || fail "csv: laggards"
grep -q "<svg" "$T/report.html" || fail "html: no chart"
grep -q "60.0%" "$T/report.html" || fail "html: items share"
! grep -q "https\?://" "$T/report.html" || fail "html fetches: $(grep -o 'https\?://[^"]*' "$T/report.html" | head -1)"
ctl report --as-of 2018-06-30 --targets "$RO_SOURCE/config/targets.ini" > "$T/local.md" \
  || fail "report --targets"
cmp -s "$T/local.md" "$T/report.md" || fail "report with local --targets differs from the hub's"
out=$(ctl report --as-of 2018-06-30 --laggards 2) || fail "report --laggards 2"
grep -q "滞后单位共 6 个" <<<"$out" || fail "laggard note"
out=$(ctl report --score-sheet --sheet "$RO_SOURCE/config/scoresheet.ini" \
  --scores "$RO_SOURCE/config/scores-2019.ini") || fail "report --score-sheet"
grep -q "| 总分 Total | 100 |.*| 92.50 |" <<<"$out" || fail "score sheet total"
say "status and report agree with the recorded state"
