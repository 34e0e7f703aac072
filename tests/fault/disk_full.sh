#!/usr/bin/env bash
# Disk full at the hub: hub.db lives on a small tmpfs that a filler file
# fills up (or, where mounting is not allowed, under [hub] max_store_bytes).
# While full, nothing unstored is acknowledged (the outboxes keep it),
# status is still answered and says store "full", the log says so too; when
# the space returns (the filler is deleted, or the bound raised and the hub
# sent SIGHUP) ingest resumes by itself and nothing is lost.
#   AGENTS (3), EVENTS before (400) and while full (300) per agent, TMPFS_KB (4096)
source "$(dirname "$0")/fault_lib.sh"
DRILL=disk-full

AGENTS=${AGENTS:-3}
EVENTS=${EVENTS:-400}
TMPFS_KB=${TMPFS_KB:-4096}
SEED=${SEED:-$RANDOM}


mkdir -p "$T/hub"
MOUNTED=
if [ "${DISK_FULL_MODE:-tmpfs}" == tmpfs ] && tmpfs_mount "$T/hub" "$TMPFS_KB" 0750; then
  MOUNTED=1; mode="a tmpfs of $TMPFS_KB KiB"
else
  mode="max_store_bytes (raised by SIGHUP)"
fi
say "seed $SEED: hub.db on $mode"

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS" 300)
expect=0
for u in "${US[@]}"; do
  agent_config "$u"
  s=$(gen_events "$T/agents/$u/before.txt" "$EVENTS" $((SEED + 1)))
  expect=$((expect + s))
  agent "$u" record --file "$T/agents/$u/before.txt" >/dev/null || fail "record"
  agent_start "$u"
done
wait_until 30 all_delivered "${US[@]}" || fail "first events not delivered: $TALLY_BAD"

if [ -n "$MOUNTED" ]; then
  # fill the file system: dd stops at ENOSPC
  dd if=/dev/zero of="$T/hub/filler" bs=4k 2>/dev/null || true
  say "filler of $(($(stat -c %s "$T/hub/filler") / 1024)) KiB; $(df -k --output=avail "$T/hub" | tail -1 | tr -d ' ') KiB left"
else
  # cap the store at its current size and make the hub read the cap
  size=$(( $(db "pragma page_count") * $(db "pragma page_size") ))
  ini_set "$T/hub.ini" hub max_store_bytes "$size"
  hub_stop || fail "hub did not stop cleanly"
  hub_start
fi

for u in "${US[@]}"; do
  s=$(gen_events "$T/agents/$u/during.txt" 300 $((SEED + 2)))
  expect=$((expect + s))
  agent "$u" record --file "$T/agents/$u/during.txt" >/dev/null || fail "record while the hub's disk is full"
done
store_state() { ctl --timeout 2 status --json 2>/dev/null | jq -r .store_state; }
store_is() { [ "$(store_state)" == "$1" ]; }
wait_until 20 store_is full || fail "store_state is '$(store_state)', not full, with the disk full"

# while full: status answers, the operator is told, and no ack runs ahead of the store
t_full=$(now)
grep -q "store full: ingest is paused" <<< "$(ctl status)" || fail "rolloutctl status does not say the store is full"
grep -qE "^store +full" <<< "$(ctl metrics)" || fail "rolloutctl metrics does not say the store is full"
grep -q "store full" "$T/hub.log" || fail "the hub's log does not say the store is full"
tally "${US[@]}"; stored_at_full=$STORED
sleep 3
unacked=0
for u in "${US[@]}"; do
  read -r next ack n < <(outbox_sql "$u" 'select next_seq - 1, last_ack, (select count(*) from outbox where acked_at is null) from meta' | tr '|' ' ')
  hub=$(hub_last_seq "$u")
  [ "$ack" -le "$hub" ] || fail "$u: acknowledged up to $ack but the hub stored only $hub"
  [ "$n" -eq $((next - ack)) ] || fail "$u: outbox holds $n events, expected $((next - ack)) unacknowledged"
  unacked=$((unacked + n))
done
[ "$unacked" -gt 0 ] || fail "nothing waits in the outboxes: the disk never filled up"
store_is full || fail "store_state left 'full' with the disk still full"
tally "${US[@]}"
[ "$STORED" -eq "$stored_at_full" ] || fail "the hub stored $((STORED - stored_at_full)) reports on a full disk?"
held=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "held_messages") | .value][0]')
say "full: $unacked events wait in the outboxes, ${held%.*} held unacknowledged at the hub"

# space returns: ingest resumes by itself
t_free=$(now)
if [ -n "$MOUNTED" ]; then
  rm -f "$T/hub/filler"
else
  ini_set "$T/hub.ini" hub max_store_bytes 0
  kill -HUP "$HUB_PID"
fi
wait_until 30 store_is ok || fail "store_state still '$(store_state)' after the space returned"
wait_until 60 all_delivered "${US[@]}" || fail "not all delivered after the space returned: $TALLY_BAD"
resumed=$(elapsed "$t_free")
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied"
grep -q "store writable again" "$T/hub.log" || fail "the hub's log does not say the store is writable again"
check_counts "after the disk filled up" "${US[@]}"
check_totals "$expect"
finish "$mode, full for $(elapsed "$t_full" "$t_free") s with $unacked events waiting, 0 acked unstored, status said full, resumed in $resumed s, $RECORDED reports, $LOST lost, $DUPS duplicated"
