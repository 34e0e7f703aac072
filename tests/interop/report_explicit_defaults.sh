#!/usr/bin/env bash
# PROTOCOL.md (decoding): a field written out at its default value (0, "")
# is a valid proto3 encoding, as Google's protobuf writes an `optional`
# field. Each report kind and a heartbeat with every field written out,
# defaults too, is acknowledged and stored once, with the values sent.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=460100-001; unit_keys $u; hub_start
client report_kinds.py explicit
expect_stored report_kinds
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "4 0 4" "reports, refusals and last seq of $u"
expect_eq "$(metric heartbeats)" 1 "heartbeats counted"
expect_eq "$(metric refused_malformed)" 0 "reports refused as malformed"
say "4 report kinds and a heartbeat with every field written out acknowledged, stored once"
