#!/usr/bin/env bash
# PROTOCOL.md ("the same report"): a resend is judged by its decoded content.
# The same report re-encoded (fields in another order, defaults written out)
# is a duplicate: acknowledged again, stored and counted once, no conflict.
# Other content at a stored seq (a count, the course, recorded_at) is refused
# REASON_CONFLICT naming the unit and seq, and changes nothing.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=469005-012; unit_keys $u; hub_start
client resend_reencoded.py
expect_stored resend_reencoded
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "3 0 3" "reports, refusals and last seq of $u"
expect_eq "$(metric conflicts) $(metric refused_conflict)" "3 3" "conflicts counted, refused"
expect_eq "$(metric duplicates)" 6 "duplicates counted"
expect_eq "$(unit_field $u participants) $(unit_field $u sessions)" "12 1" "training counted once"
say "6 re-encoded resends taken as duplicates; 3 changed ones refused as conflicts"
