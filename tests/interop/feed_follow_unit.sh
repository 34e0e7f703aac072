#!/usr/bin/env bash
# A Python subscriber follows a unit on the feed as docs/FEED.md says (CURVE
# with an operator key, topics `unit/<id>` and `heartbeat`, a status snapshot,
# then updates past its feed_seq of the same epoch, chained by prev_seq): each
# report the unit sends shows in the next update on its topic.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=469005-012; unit_keys $u; hub_start
client feed_follow.py
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "2 0 2" "reports, refusals and last seq of $u"
[ "$(metric feed_updates)" -ge 2 ] || fail "feed_updates is $(metric feed_updates)"
say "two reports seen on the feed, in their topic's chain"
