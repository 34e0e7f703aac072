#!/usr/bin/env bash
# PROTOCOL.md (decoding): a StatusRequest with every field written out, those
# at their default value too (LEVEL with key "", as_of 0, indicator "", limit
# 0), is a valid encoding: every query so asked is answered with status 0 and
# with what the units sent (the checks of status_every_query.sh).
source "$(dirname "$0")/interop_lib.sh"

five_units # in interop_lib.sh
client status_queries.py explicit
# one refused: the DECIDE an operator key may not make (status_queries.py)
expect_eq "$(metric status_refused)" 1 "status requests refused"
say "15 queries with every field written out answered, each with what was reported; DECIDE refused to an operator key"
