#!/usr/bin/env bash
# A subscriber survives a hub restart: the new hub starts a new feed epoch
# (its seqs count from 1 again), the subscriber notices and resyncs, and ends
# with the restarted hub's state. Also: a subscriber of one division only
# (topic prefixes) holds that division equal to the hub's.
source "$(dirname "$0")/feed_lib.sh"

hub_config_feed; hub_start_feed; hub_pin_ports
sub_start all
sub_start one --topic division/469005 --topic unit/469005-
wait_until 10 test -s "$T/all.state" || fail "the subscriber did not sync"
"$PROBE_BIN" "$INGEST" --wait 300 report 469005-012 1 items 20180105 100 40 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 training 20180105 30 25 >/dev/null
wait_until 10 sub_caught_up all || fail "no catch-up before the restart"
epoch1=$(sub_field all epoch)
expect_same_as_hub all

hub_stop || fail "the hub did not stop cleanly"
sleep 1.5 # longer than nothing: the subscriber sees the hub gone (no heartbeat)...
hub_start
"$PROBE_BIN" "$INGEST" --wait 300 report 469005-012 2 items 20180205 100 70 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 469005-013 1 items 20180205 50 50 >/dev/null
wait_until 20 sub_caught_up all || fail "the subscriber did not resync after the restart: $(cat "$T/all.err")"
epoch2=$(sub_field all epoch)
[ "$epoch2" -gt "$epoch1" ] || fail "the feed epoch did not grow across the restart ($epoch1 -> $epoch2)"
expect_same_as_hub all
expect_eq "$(sub_field all province.reports)" 4 "reports after the restart"
grep -qE "resync: (new feed epoch|no heartbeat)" "$T/all.err" || fail "no resync logged: $(cat "$T/all.err")"

# the division subscriber: its division equals the hub's
one_ok() {
  [ "$(jq -cS '.divisions[] | select(.id == "469005") | {reports, items_total, items_no_visit}' "$T/one.state" 2>/dev/null)" == \
    "$(ctl status --division 469005 --json | jq -cS '.scopes[0] | {reports, items_total, items_no_visit}')" ]
}
wait_until 20 one_ok || fail "the division subscriber differs: $(jq -c '.divisions[] | select(.id == "469005")' "$T/one.state")"
# once synced it hears its division's units as they change, and no other unit
"$PROBE_BIN" "$INGEST" --wait 300 report 469005-013 2 items 20180305 50 45 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 2 items 20180305 50 45 >/dev/null
heard_013() { jq -e '[.events[].unit] | index("469005-013")' "$T/one.state" >/dev/null 2>&1; }
wait_until 20 heard_013 || fail "the division subscriber did not hear 469005-013: $(jq -c .events "$T/one.state")"
wait_until 20 one_ok || fail "the division subscriber differs after 469005-013 changed"
units_heard=$(jq -r '[.events[].unit | select(startswith("469005-") | not)] | length' "$T/one.state")
expect_eq "$units_heard" 0 "units of other divisions the division subscriber heard"
say "epoch $epoch1 -> $epoch2; subscribers resynced and equal the hub"
