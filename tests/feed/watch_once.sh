#!/usr/bin/env bash
# `rolloutctl watch --once` prints one frame of a known state: the province's
# indicators with their goals, shares, grades and gaps, the divisions and
# levels, silent units, refusals and problems; plain text when not a terminal.
source "$(dirname "$0")/feed_lib.sh"

hub_config; hub_start
"$PROBE_BIN" "$INGEST" --wait 300 report 469005-012 1 items 20180105 100 60 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 training 20180105 30 25 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 2 staff 20180106 10 9 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 3 cases 201801 20 5 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 4 items 20180107 10 0 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 5 training 20189999 1 1 >/dev/null # refused: invalid
wait_until 10 province_reports_is 5 || fail "reports not stored"
wait_until 10 feed_settled || fail "the feed did not settle"

out=$T/frame.txt
ctl watch --once >"$out" 2>"$T/watch.err" || fail "watch --once failed: $(cat "$T/watch.err")"
cat "$out" | sed 's/^/#   /'
! grep -q $'\x1b' "$out" || fail "escape codes in a frame for a file"
line() { grep -m1 -- "$1" "$out" || fail "no line with '$1' in the frame"; }
has() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }

l=$(line "units reporting"); has "$l" "units reporting 2/893 · reports 5"; has "$l" "silent 891"
l=$(line "rollout watch"); has "$l" "海南省"; has "$l" "snapshot"; has "$l" "feed seq $(hub_feed_seq)"
# items: 60 of 110 = 54.5%, goal 80%: share 68.2%, 差, missed: beside it the
# milestone missed (80% due 2018-12-31, the last) and the gap to it, 25.5 points
l=$(line "政务服务“不见面审批”事项占比"); for f in "54.5%" "80.0%" "68.2%" "差" "missed" "2018-12-31" "25.5%"; do has "$l" "$f"; done
has "$(line "milestone")" " due "
# training: 30 of 2,000 people, 1.5%, gap 1,970
l=$(line "参加培训人数"); for f in " 30 " "2,000" "1.5%" "差" "1,970"; do has "$l" "$f"; done
l=$(line "培训时间"); has "$l" "2.5 h"; has "$l" "300.0 h"
l=$(line "“不见面审批”办件量占比"); has "$l" "25.0%"
# divisions and levels: units reporting, reports, the items share
l=$(line "469005     文昌市"); for f in "1/53" " 1 " "60.0%"; do has "$l" "$f"; done
l=$(line "460100     海口市"); for f in "1/56" " 4 " "30" "2.5 h" "90.0%" "0.0%" "25.0%"; do has "$l" "$f"; done
l=$(line "municipal"); has "$l" "2/660"
l=$(line "province   海南省"); has "$l" "2/893"; has "$l" "54.5%"
l=$(line "silent units"); has "$l" "silent units: 891"; has "$l" "never heard"
l=$(line "refusals"); has "$l" "invalid 1"; has "$l" "1 in all"
# the problems (issue 15): the count, and the first five, most urgent first:
# the refused report, then units never heard from, each with what to do
has "$(line "units reporting")" "problems 892"
has "$(line "^problems")" "problems: 892, the first 5"
l=$(grep -A1 "^problems" "$out" | tail -1)
has "$l" "460100-001   refused  what to do: the unit's staff record the event again"
expect_eq "$(grep -A5 "^problems" "$out" | grep -c "silent   what to do: install and start rollout-agent")" 4 \
  "units never heard from among the first problems"
# the watch's usage errors are usage errors
rc=0; ctl watch --bogus >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of watch --bogus"
say "watch --once frame matches the known state"
