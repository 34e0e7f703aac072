#!/usr/bin/env bash
# Issue 13: an operator key whose client asks the status socket and never
# reads a reply. With libzmq's default SNDHWM the hub queued up to 1,000
# replies on that one connection (the largest, every laggard of the 893
# units, is 1.2 MB: 1.2 GB pinned). Here mallory asks for every laggard
# ASK times, then sends one bad request (counted in status_refused once the
# hub has come to it, after the ASK), reading nothing. The hub's RSS must
# stay under the bound of docs/SECURITY.md (two replies per connection,
# checked here as RSS before + BOUND_MIB), the dropped replies are logged
# and counted under mallory's name, a unit's report is still stored and
# another operator still gets its answer.
source "$(dirname "$0")/sec_lib.sh"

FLOOD=$RO_BUILD/tests/tools/ro-flood
[ -x "$FLOOD" ] || { echo "1..0 # SKIP ro-flood was not built (no libsodium)"; exit 77; }
ASK=${ASK:-200}
BOUND_MIB=${BOUND_MIB:-32}

hub_config; hub_start
"$CTL_BIN" keys operator mallory "$KEYS/mallory" --allow-list "$ALLOW" >/dev/null || fail "keys operator"
touch "$KEYS/.dirty"; keys_sync
reply=$(ctl status --laggards --limit 0 --json | wc -c)
base=$(rss_kib)
limit=$((base + BOUND_MIB * 1024))
refused=$(metric status_refused)
say "hub RSS $((base / 1024)) MiB before; every laggard is $((reply / 1024)) KiB of JSON"

out=$T/ask.out
"$FLOOD" "$STATUS" --curve "$KEYS/hub/hub.pub" "$KEYS/mallory/operator.pub" \
  "$KEYS/mallory/operator.key" --ask "$ASK" > "$out" 2>&1 &
apid=$!
BG_PIDS+=($apid)
# the hub has come to the last request when status_refused moves; sample
# its RSS until then (the bound, not a time, is the condition)
peak=0
answered() { local v; v=$(metric status_refused 2>/dev/null); [ "${v:-0}" -gt "$refused" ]; }
end=$((SECONDS + 90))
until answered; do
  kill -0 $apid 2>/dev/null || fail "ro-flood --ask ended early: $(cat "$out")"
  [ $SECONDS -lt $end ] || fail "the hub did not come to the last of $ASK requests in 90 s"
  r=$(rss_kib)
  [ "$r" -gt "$peak" ] && peak=$r
  if [ "$r" -gt "$limit" ] && rss_bound_checked; then
    fail "hub RSS $((r / 1024)) MiB with $ASK replies unread, above the bound $((limit / 1024)) MiB"
  fi
  sleep 0.05
done
r=$(rss_kib)
[ "$r" -gt "$peak" ] && peak=$r
if [ "$peak" -gt "$limit" ] && rss_bound_checked; then
  fail "hub RSS $((peak / 1024)) MiB with $ASK replies unread, above the bound $((limit / 1024)) MiB"
fi
grep -q "^asked $ASK" "$out" || fail "ro-flood did not send its requests: $(cat "$out")"
say "the hub came to the last of $ASK requests: RSS peak $((peak / 1024)) MiB, now $((r / 1024)) MiB"

# mallory is named in the log and the metrics
key=$(cat "$KEYS/mallory/operator.pub")
grep -qF "status: operator:mallory (key $key) does not read its replies" "$T/hub.log" \
  || fail "the dropped replies are not logged with the operator and key"
dropped=$(metric "status_replies_dropped:operator:mallory")
[ "$dropped" -gt 0 ] || fail "no status_replies_dropped:operator:mallory"
expect_eq "$(metric status_replies_dropped)" "$dropped" "status_replies_dropped, all mallory's"

# the others go on: a unit's report is stored, another operator is answered
"$PROBE_BIN" "$INGEST" --wait 300 report 460100-001 1 items 20180620 100 75 >/dev/null
wait_until 20 province_reports_is 1 || fail "a unit's report was not stored during the attack"
ctl status >/dev/null || fail "rolloutctl status from another operator"
kill -0 $apid 2>/dev/null || say "the hub closed mallory's connection: $(tail -n 1 "$out")"
say "$ASK requests unread: hub RSS peak $((peak / 1024)) MiB (+$(((peak - base) / 1024)) MiB," \
  "bound +$BOUND_MIB MiB), $dropped replies dropped; reports stored, other operator answered"
