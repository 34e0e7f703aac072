#!/usr/bin/env bash
# A frame that is not a Report at all (junk, a report cut short) is refused
# REASON_MALFORMED with seq 0; the unit's sequence does not move and the same
# connection goes on: the next seq is stored. Nothing of the junk is stored.
# PROTOCOL.md: the refusal names the unit of the connection's key (checked
# last, after all that the hub does today).
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=469005-012; unit_keys $u; hub_start
client garbage_frame.py
expect_stored garbage_frame
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "2 0 2" "reports, refusals and last seq of $u"
expect_eq "$(metric refused_malformed)" 2 "frames refused as malformed"
say "junk refused as malformed with seq 0; the unit went on"
