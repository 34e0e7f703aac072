#!/usr/bin/env bash
# PROTOCOL.md (refusals): a report that decodes but breaks a limit (a NUL
# byte, text over 200 bytes, bad UTF-8) is refused REASON_MALFORMED naming its
# unit and seq, and uses up the seq: the unit's next report is not a gap but
# stored and acknowledged past it. The store holds the refusals, not the text.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=460100-002; unit_keys $u; hub_start
client refusal_malformed.py
expect_stored refusal_malformed
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "4 4 8" "reports, refusals and last seq of $u"
expect_eq "$(db "select group_concat(seq || ':' || reason, ' ') from refusals where unit = '$u'")" \
  "2:1 4:1 6:1 8:1" "refusals stored (seq:reason)"
expect_eq "$(metric refused_malformed) $(metric gaps)" "4 0" "refused as malformed, gaps"
say "NUL, 201 bytes and bad UTF-8 refused as malformed with their seq, each seq used up"
