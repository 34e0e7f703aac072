#!/usr/bin/env bash
# A report refused as invalid mid-stream (0 participants, a date in 2016) is
# named in its Refusal (unit, seq, REASON_INVALID), uses up its seq, and the
# unit's next report is stored and acknowledged past it; a heartbeat is
# acknowledged up to the refused seq. The store holds the good reports once
# and the refusals.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=460100-001; unit_keys $u; hub_start
client refusal_mid_stream.py
expect_stored refusal_mid_stream
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "3 2 5" "reports, refusals and last seq of $u"
expect_eq "$(db "select group_concat(seq || ':' || reason, ' ') from refusals where unit = '$u'")" \
  "2:4 4:4" "refusals stored (seq:reason)"
expect_eq "$(metric refused_invalid)" 2 "reports refused as invalid"
say "seq 2 and 4 refused as invalid and named; 1, 3 and 5 stored"
