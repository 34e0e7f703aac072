#!/usr/bin/env bash
# Every query of the status API, asked by a Python client on an operator key
# (one frame on a DEALER, as rolloutctl asks) with Google's encoding, is
# answered with status 0 and with what the units sent: unit, division, level
# and province sums, laggards, silent units, history, series, metrics,
# verify, the targets file, problems, a unit's trail (empty). The units send
# first, with the same client.
source "$(dirname "$0")/interop_lib.sh"

five_units # in interop_lib.sh
client status_queries.py google
expect_eq "$(province reports)" 7 "province reports (rolloutctl)"
say "16 queries asked: 15 answered, each with what was reported; DECIDE refused to an operator key"
