#!/usr/bin/env bash
# Disk full at an agent: the outbox lives on a small tmpfs that a filler
# file fills up, with acknowledged events retained in it (the province's
# second copy). `record` still records, on the command line and from a file:
# the outbox gives up its reserve and deletes its oldest retained events, and
# says so; the events are delivered, 0 lost, 0 duplicated. Skipped where
# mounting is not allowed (the unit test test_disk_full_prunes_retained caps
# the file instead).
#   EVENTS delivered and retained first (3000), TMPFS_KB (8192: room for the WAL,
#   which grows to 4 MiB before a checkpoint)
source "$(dirname "$0")/fault_lib.sh"
DRILL=agent-disk-full

EVENTS=${EVENTS:-3000}
TMPFS_KB=${TMPFS_KB:-8192}
SEED=${SEED:-$RANDOM}


hub_config; hub_start; hub_pin_ports
u=$(units 1 450)
agent_config "$u"
DISK=$T/agents/$u/disk
mkdir -p "$DISK"
tmpfs_mount "$DISK" "$TMPFS_KB" 0700 ||
  { echo "1..0 # SKIP mounting a tmpfs is not allowed here"; exit 77; }
ini_set "$T/agents/$u/agent.ini" agent outbox "$DISK/outbox.db"
outbox_db() { sqlite3 -batch -noheader "$DISK/outbox.db" "$1"; }
recorded() { outbox_db 'select next_seq - 1 from meta'; } # fault_lib's, for this outbox
say "seed $SEED: the outbox on a tmpfs of $TMPFS_KB KiB"

expect=$(gen_events "$T/agents/$u/before.txt" "$EVENTS" "$SEED")
agent "$u" record --file "$T/agents/$u/before.txt" >/dev/null || fail "record"
agent_start "$u"
delivered() { tally "$u"; [ "$LOST" -eq 0 ] && [ "$STORED" -eq "$RECORDED" ] &&
  [ "$(outbox_db 'select count(*) from outbox where acked_at is null')" -eq 0 ]; }
wait_until 60 delivered || fail "first events not delivered: $TALLY_BAD"
kept=$(agent "$u" status --json --no-hub | jq -r .retained)
expect_eq "$kept" "$EVENTS" "events retained after delivery"

# fill the file system: dd stops at ENOSPC
dd if=/dev/zero of="$DISK/filler" bs=4k 2>/dev/null || true
say "filler of $(($(stat -c %s "$DISK/filler") / 1024)) KiB; $(df -k --output=avail "$DISK" | tail -1 | tr -d ' ') KiB left"

# records keep going in, one at a time and from files
notes=0
for i in $(seq 1 20); do
  out=$(agent "$u" record training --date 2018-05-$(printf %02d "$i") --participants 3 --hours 1 2>&1) ||
    fail "record $i on a full disk: $out"
  expect=$((expect + 3))
  grep -q "the disk is full" <<< "$out" && notes=$((notes + 1))
done
for i in 1 2 3; do
  s=$(gen_events "$T/agents/$u/during$i.txt" 200 $((SEED + i)))
  out=$(agent "$u" record --file "$T/agents/$u/during$i.txt" 2>&1) ||
    fail "record --file $i on a full disk: $out"
  expect=$((expect + s))
  grep -q "the disk is full" <<< "$out" && notes=$((notes + 1))
done
[ "$notes" -gt 0 ] || fail "no record said the disk was full: the disk never filled up?"
wait_until 60 delivered || fail "events recorded on a full disk not delivered: $TALLY_BAD"
st=$(agent "$u" status --json --no-hub)
kept=$(jq -r .retained <<< "$st"); from=$(jq -r .retained_from <<< "$st")
[ "$kept" -lt "$EVENTS" ] || fail "still $kept retained: nothing made way on a full disk"
[ "$kept" -eq 0 ] || [ "$from" -gt 1 ] || fail "retained from seq $from: the oldest did not go first"
grep -q "the disk is full" "$T/agents/$u/agent.log" && say "the running agent noted the full disk too"

check_counts "after the agent's disk filled up" "$u"
check_totals "$expect"
finish "outbox on $TMPFS_KB KiB filled up, $notes records said so, $((EVENTS - kept)) retained events made way, $kept kept from seq $from, $RECORDED reports, $LOST lost, $DUPS duplicated"
