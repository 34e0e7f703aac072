#!/usr/bin/env bash
# PROTOCOL.md (evolution): a report from a newer schema, with a field the hub
# does not know (on Report, on Training), is acknowledged and stored without
# it; the hub counts each in the metric unknown_fields and stores none of it.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=460100-001; unit_keys $u; hub_start
client unknown_fields.py
expect_stored unknown_fields
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "3 0 3" "reports, refusals and last seq of $u"
expect_eq "$(metric unknown_fields)" 2 "unknown fields counted"
expect_eq "$(db "select count(*) from reports where text like '%vendor%' or text like '%王老师%'")" 0 \
  "reports holding an unknown field's text"
say "two reports with unknown fields acknowledged and stored without them, counted"
