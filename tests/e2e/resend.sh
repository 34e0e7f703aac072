#!/usr/bin/env bash
# A report sent again counts once; the same seq with another body is refused
# as a conflict; a gap is not stored and the ack tells the sender where to resume.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
u=469002-003
out=$("$PROBE_BIN" "$INGEST" report $u 1 items 20180105 50 20 3)
expect_eq "$(echo "$out" | grep -c "^ack $u 1$")" 3 "three acks of seq 1"
expect_eq "$(unit_field $u reports)" 1 "reports after three sends"
expect_eq "$(unit_field $u items_no_visit)" 20 "no-visit items"

out=$("$PROBE_BIN" "$INGEST" report $u 1 items 20180105 50 49)
<<<"$out" grep -q "^refusal $u 1 conflict" || fail "conflict not refused: $out"
expect_eq "$(unit_field $u items_no_visit)" 20 "no-visit items after conflict"

out=$("$PROBE_BIN" "$INGEST" report $u 3 staff 20180105 10 5)
<<<"$out" grep -q "^ack $u 1$" || fail "gap not answered with ack 1: $out"
expect_eq "$(unit_field $u reports)" 1 "reports after a gap"

out=$("$PROBE_BIN" "$INGEST" report $u 2 staff 20180105 10 5)
<<<"$out" grep -q "^ack $u 2$" || fail "seq 2 not acked: $out"
expect_eq "$(unit_field $u reports)" 2 "reports after seq 2"
expect_eq "$(db "select count(*) from reports")" 2 "rows stored"
dups=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "duplicates") | .value][0]')
[ "${dups%.*}" -ge 2 ] || fail "duplicates metric is $dups, expected at least 2"
conf=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "conflicts") | .value][0]')
expect_eq "${conf%.*}" 1 "conflicts metric"
say "3 sends of one report stored once; conflict refused; gap not stored"
