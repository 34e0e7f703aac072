#!/usr/bin/env bash
# CSV reports had no UTF-8 byte-order mark, so Excel on Chinese Windows read
# them as GBK and showed mojibake (issue 12). report --format csv starts with
# the mark (EF BB BF), target table and score sheet alike; --no-bom leaves it
# out; md and html have none.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 items 20180620 100 70 >/dev/null
wait_until 20 province_reports_is 1 || fail "hub has $(province reports) of 1 report"

head3() { head -c 3 "$1" | od -An -tx1 | tr -d ' \n'; }
S=(--sheet "$RO_SOURCE/config/scoresheet.ini" --scores "$RO_SOURCE/config/scores-2019.ini")
ctl report --as-of 2018-06-30 --format csv --out "$T/t.csv" || fail "report csv"
expect_eq "$(head3 "$T/t.csv")" efbbbf "the target table's first bytes"
grep -q "绩效目标表" <(tail -c +4 "$T/t.csv") || fail "csv text after the mark"
ctl report --score-sheet "${S[@]}" --format csv --out "$T/s.csv" || fail "score sheet csv"
expect_eq "$(head3 "$T/s.csv")" efbbbf "the score sheet's first bytes"
ctl report --as-of 2018-06-30 --format csv > "$T/stdout.csv" || fail "report csv to stdout"
expect_eq "$(head3 "$T/stdout.csv")" efbbbf "csv on stdout"

ctl report --as-of 2018-06-30 --format csv --no-bom --out "$T/n.csv" || fail "report csv --no-bom"
[ "$(head3 "$T/n.csv")" != efbbbf ] || fail "--no-bom wrote the mark"
cmp -s <(tail -c +4 "$T/t.csv") "$T/n.csv" || fail "--no-bom changed more than the mark"
ctl report --score-sheet "${S[@]}" --format csv --no-bom --out "$T/sn.csv" || fail "sheet --no-bom"
[ "$(head3 "$T/sn.csv")" != efbbbf ] || fail "score sheet --no-bom wrote the mark"

for fmt in md html; do
  ctl report --as-of 2018-06-30 --format $fmt --out "$T/r.$fmt" || fail "report $fmt"
  [ "$(head3 "$T/r.$fmt")" != efbbbf ] || fail "$fmt starts with a byte-order mark"
done
rc=0; err=$(ctl report --format md --no-bom 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" 2 "--no-bom with md"
grep -q "no-bom goes with --format csv" <<<"$err" || fail "--no-bom with md: $err"
say "csv reports start with a UTF-8 byte-order mark unless --no-bom"
