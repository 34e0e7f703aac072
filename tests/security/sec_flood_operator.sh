#!/usr/bin/env bash
# Issue 13, item 2 on the operator's sockets: an admitted operator key sends a
# message that never ends to the status ROUTER (after one complete request)
# and to the feed (after its subscription; the old PUB queued it the same
# way). Each flooder is cut, the hub's RSS stays under the bound of
# rollout-hub(8) for one flooding key (RSS before + 64 MiB), the cuts are
# counted under the operator's name, and a listed operator still gets its
# answers and its feed.
source "$(dirname "$0")/sec_lib.sh"

FLOOD=$RO_BUILD/tests/tools/ro-flood
[ -x "$FLOOD" ] || { echo "1..0 # SKIP ro-flood was not built (no libsodium)"; exit 77; }
BOUND_MIB=64

hub_config; hub_start
"$CTL_BIN" keys operator mallory "$KEYS/mallory" --allow-list "$ALLOW" >/dev/null || fail "keys operator"
touch "$KEYS/.dirty"; keys_sync
"$FLOOD" watch "$FEED" --curve "$KEYS/hub/hub.pub" "$KEYS/operator/operator.pub" \
  "$KEYS/operator/operator.key" > "$T/watch.out" 2>&1 &
BG_PIDS+=($!)
wait_until 10 grep -q "^heartbeat" "$T/watch.out" || fail "the listed operator gets no feed"

base=$(rss_kib)
limit=$((base + BOUND_MIB * 1024))
m=("$KEYS/hub/hub.pub" "$KEYS/mallory/operator.pub" "$KEYS/mallory/operator.key")
peak=0
for target in status feed; do
  out=$T/flood-$target.out
  if [ $target = status ]; then
    "$FLOOD" "$STATUS" --curve "${m[@]}" --heartbeat 460100-001 --frame 4000 > "$out" 2>&1 &
  else
    "$FLOOD" "$FEED" --curve "${m[@]}" --type SUB --subscribe --frame 4000 > "$out" 2>&1 &
  fi
  fpid=$!
  BG_PIDS+=($fpid)
  rss_within $fpid "$limit" "$target flood" "$out"
  grep -q "^cut after" "$out" || fail "the $target flooder was not cut: $(cat "$out")"
  key=$(cat "$KEYS/mallory/operator.pub")
  grep -qF "cut the $target connection of operator:mallory (key $key)" "$T/hub.log" \
    || fail "the $target cut is not logged with the operator and key"
  say "$target flood: $(tail -n 1 "$out"); hub peak RSS so far $((peak / 1024)) MiB"
done
expect_eq "$(metric "peer_cuts_flood:operator:mallory")" 2 "metric peer_cuts_flood:operator:mallory"
# the listed operator is still answered and fed
ctl status >/dev/null || fail "rolloutctl status after the floods"
n=$(grep -c "^heartbeat" "$T/watch.out" || true)
more() { [ "$(grep -c "^heartbeat" "$T/watch.out" || true)" -gt "$n" ]; }
wait_until 5 more || fail "the listed operator's feed stopped"
say "status and feed floods cut (peak RSS $((peak / 1024)) MiB, bound $((limit / 1024)) MiB); the listed operator unaffected"
