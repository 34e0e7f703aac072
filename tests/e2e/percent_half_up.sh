#!/usr/bin/env bash
# The dashboard showed a share of 1.5% where rolloutctl showed 1.4% (issue
# 12): 29 of 2000 is exactly 1.45%, and printf("%.1f") of the double gives
# 1.4. One rule everywhere: round half up on the exact ratio
# (ro_pct_tenths). Here rolloutctl's tables and reports show 1.5%.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
# items 29 of 2000 no-visit; 29 people trained of the province's 2000
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 items 20180620 2000 29 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 2 training 20180620 29 10 >/dev/null
wait_until 20 province_reports_is 2 || fail "hub has $(province reports) of 2 reports"
# (the JSON carries the ratios; it is only their printing that rounds)
expect_eq "$(ctl status --json | jq -r '.scopes[0].indicators[] | select(.id == "items_no_visit") | .value')" \
  0.0145 "the items share in JSON"

has() { grep -qF -- "$2" <<<"$1" || fail "$3: '$2' not in: $1"; }
out=$(ctl status --as-of 2018-06-30) || fail "status"
has "$(grep "no-visit items" <<<"$out")" "29 / 2000 (1.5%)" "raw items line"
has "$(grep "^  items_no_visit" <<<"$out")" " 1.5% " "items indicator value"
# the participants' share of the goal: 29 / 2000
has "$(grep "^  training_participants" <<<"$out")" " 1.5% " "participants share of goal"
out=$(ctl status --unit 460100-001 --as-of 2018-06-30) || fail "status --unit"
has "$(grep "no-visit items" <<<"$out")" "29 / 2000 (1.5%)" "unit's raw items line"
out=$(ctl status --divisions --as-of 2018-06-30) || fail "status --divisions"
has "$(grep "^460100 " <<<"$out")" "1.5%" "division line"
for fmt in md csv html; do
  out=$(ctl report --as-of 2018-06-30 --format $fmt) || fail "report --format $fmt"
  has "$out" "1.5%" "report $fmt"
  ! grep -qF "1.4%" <<<"$out" || fail "report $fmt shows 1.4%: $(grep -F -m1 "1.4%" <<<"$out")"
done
out=$(ctl watch --once 2>&1) || fail "watch --once: $out"
has "$(grep -m1 "事项占比" <<<"$out")" "1.5%" "watch, items"
say "29 of 2000 is 1.5% in status, report and watch"
