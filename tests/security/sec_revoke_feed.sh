#!/usr/bin/env bash
# Issue 13, item 3: after `rolloutctl keys revoke` and SIGHUP, a revoked
# operator's live feed subscription gets nothing more. ZAP runs only at the
# handshake and a PUB has no per-subscriber drop; the feed is now an XPUB whose
# subscriptions show each subscriber's connection and key, and the reload cuts
# the revoked one's connection (and refuses its reconnection). Two operators
# subscribe; one is revoked; updates published after the reload reach the
# other and not the revoked one; the log and the metrics name the revoked key.
source "$(dirname "$0")/sec_lib.sh"

FLOOD=$RO_BUILD/tests/tools/ro-flood # its `watch` prints every feed message
[ -x "$FLOOD" ] || { echo "1..0 # SKIP ro-flood was not built (no libsodium)"; exit 77; }

hub_config; hub_start
"$CTL_BIN" keys operator gone "$KEYS/gone" --allow-list "$ALLOW" >/dev/null || fail "keys operator"
touch "$KEYS/.dirty"; keys_sync
watch_as() { exec "$FLOOD" watch "$FEED" --curve "$KEYS/hub/hub.pub" "$1/operator.pub" "$1/operator.key"; }
watch_as "$KEYS/operator" > "$T/stays.out" 2>&1 &
BG_PIDS+=($!)
watch_as "$KEYS/gone" > "$T/gone.out" 2>&1 &
BG_PIDS+=($!)

u=460100-001
agent_config $u
agent_start $u
agent $u record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
wait_until 15 grep -q "^update .* unit/" "$T/stays.out" || fail "the listed operator got no update"
wait_until 15 grep -q "^update .* unit/" "$T/gone.out" || fail "the operator to revoke got no update"

"$CTL_BIN" keys revoke operator:gone --allow-list "$ALLOW" >/dev/null || fail "keys revoke"
hub_reload_keys # returns once the hub's log says it read the allow-list
seq0=$(metric feed_seq)
say "reloaded at feed seq $seq0"

# updates after the reload, one by one, each seen by the listed operator
after() { awk -v s="$seq0" '$1 == "update" && $2 > s' "$1"; }
units_after() { after "$1" | grep -c " unit/" || true; }
for m in 2 3; do
  n=$(($(units_after "$T/stays.out") + 1))
  agent $u record staff --date 2018-0$m-05 --total 10 --proficient $((m + 4)) >/dev/null \
    || fail "record $m"
  has() { [ "$(units_after "$T/stays.out")" -ge "$n" ]; }
  wait_until 15 has || fail "the listed operator did not get the update of report $m"
done
expect_eq "$(after "$T/gone.out" | wc -l)" 0 "updates past seq $seq0 the revoked operator got"
say "after the reload: listed operator $(after "$T/stays.out" | wc -l) updates, revoked 0"

key=$(cat "$KEYS/gone/operator.pub")
grep -qF "cut the feed connection of operator:gone (key $key)" "$T/hub.log" \
  || fail "the cut of the revoked subscriber is not logged with its key"
expect_eq "$(metric "peer_cuts_revoked:operator:gone")" 1 "metric peer_cuts_revoked:operator:gone"
expect_eq "$(metric "peer_cuts_revoked:operator:e2e")" 0 "metric peer_cuts_revoked:operator:e2e"
# its reconnection is refused at the handshake
wait_until 10 grep -qF "refused a connection to feed from 127.0.0.1 (key $key)" "$T/hub.log" \
  || fail "the revoked operator's reconnection was not refused"
say "the revoked subscription was cut at the reload; the other kept its stream"
