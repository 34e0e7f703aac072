#!/usr/bin/env bash
# PROTOCOL.md 5.10 and 4.3: corrections sent over the wire by a client
# written from the docs (corrections.py: an amend and a cancel, and a
# second amend of one target refused REASON_TARGET), then what an operator
# sees: the unit's totals follow them, and `rolloutctl status --history`
# lists them below the history (JSON "trail"; the table's was -> now), a
# unit with none says so.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=469005-012; unit_keys $u; hub_start
client corrections.py
expect_eq "$(unit_field $u participants) $(unit_field $u sessions) $(unit_field $u staff_total)" "20 1 0" \
  "participants, sessions and staff after the amend and the cancel"
expect_eq "$(metric corrections) $(metric refused_target)" "2 1" "metrics corrections and refused_target"
json=$(ctl status --history $u --indicator training_participants --json)
expect_eq "$(jq -c '[.history[] | [.seq, .total]]' <<<"$json")" '[[3,20]]' \
  "the history: the amend's report in the session's place"
expect_eq "$(jq -c '[.trail_total, [.trail[] | [.what, .target_seq, .target_kind, .target_date,
  .target_total, .target_part, .seq, .new_date, .new_total, .by, .reason]]]' <<<"$json")" \
  '[2,[["cancel",2,"staff","2018-02-01",12,6,4,null,null,"'$u'","录错了月份"],["amend",1,"training","2018-01-05",200,35,3,"2018-01-05",20,"'$u'","200 typed for 20"]]]' \
  "status --history --json: the trail"
expect_eq "$(jq -r '.trail[0].target_incarnation' <<<"$json")" "$(printf 'aa%.0s' {1..16})" \
  "the target's incarnation in hex"
table=$(ctl status --history $u --indicator training_participants)
grep -qE "^[0-9-]+ [0-9:]+ +amend +1 +training +2018-01-05 200 people 3\.5 h → 20 people 3\.5 h +$u +200 typed for 20$" \
  <<<"$table" || fail "status --history lacks the amend's line: $table"
grep -qE " cancel +2 +staff +2018-02-01 6 / 12 → cancelled +$u +录错了月份$" <<<"$table" \
  || fail "status --history lacks the cancel's line: $table"
grep -qx "no corrections" <<<"$(ctl status --history 460000-001)" \
  || fail "status --history of a unit without corrections does not say so"
say "an amend and a cancel over the wire: totals follow, the trail lists both (JSON and table)"
