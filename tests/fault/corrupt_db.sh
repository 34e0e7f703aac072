#!/usr/bin/env bash
# Corrupt or truncated databases at start, the hub's and an agent's: each is
# refused with a clear error that says what to do, and the file is left
# exactly as it was (same checksum): never recreated, emptied or "repaired".
source "$(dirname "$0")/fault_lib.sh"
DRILL=corrupt-db

hub_config; hub_start
u=$(units 1 500)
agent_config "$u"
s=$(gen_events "$T/agents/$u/events.txt" 3000 11)
agent "$u" record --file "$T/agents/$u/events.txt" >/dev/null || fail "record"
agent_start "$u"
wait_until 30 all_delivered "$u" || fail "events not delivered: $TALLY_BAD"
agent_stop "$u" || fail "agent did not stop cleanly"
hub_stop || fail "hub did not stop cleanly"
[ ! -s "$T/hub/hub.db-wal" ] || fail "a cleanly stopped hub left a WAL behind"
cp "$T/hub/hub.db" "$T/hub.good"
# and an outbox that still holds events: record with no agent running
s=$(gen_events "$T/agents/$u/waiting.txt" 2000 12)
agent "$u" record --file "$T/agents/$u/waiting.txt" >/dev/null || fail "record"
cp "$T/agents/$u/outbox.db" "$T/outbox.good"
[ ! -s "$T/agents/$u/outbox.db-wal" ] || fail "record left a WAL behind"

hub_pages=$(( $(stat -c %s "$T/hub.good") / 4096 ))
units_root=$(sqlite3 "$T/hub.good" "select rootpage from sqlite_schema where name = 'units'")
reports_root=$(sqlite3 "$T/hub.good" "select rootpage from sqlite_schema where name = 'reports'")
# the reports' last page (the file's last is unit_days', read by the recount after start)
reports_last=$(sqlite3 "$T/hub.good" "select max(pageno) from dbstat where name = 'reports'")
[ -n "$reports_last" ] || fail "no page of reports found (sqlite3 without dbstat?)"
ob_pages=$(( $(stat -c %s "$T/outbox.good") / 4096 ))
ob_root=$(sqlite3 "$T/outbox.good" "select rootpage from sqlite_schema where name = 'outbox'")

# garble FILE PAGE: overwrite one 4 KiB page with random bytes
garble() { dd if=/dev/urandom of="$1" bs=4096 seek=$(($2 - 1)) count=1 conv=notrunc status=none; }
# damage FILE HOW
damage() {
  case $2 in
    truncated-half) truncate -s $(( $(stat -c %s "$1") / 2 )) "$1" ;;
    truncated-1k) truncate -s 1000 "$1" ;;
    empty) truncate -s 0 "$1" ;;
    header) printf 'this is no database at all' | dd of="$1" conv=notrunc status=none ;;
    page1) dd if=/dev/urandom of="$1" bs=1 seek=100 count=3996 conv=notrunc status=none ;;
    page-*) garble "$1" "${2#page-}" ;;
    *) fail "no damage called $2" ;;
  esac
}

checked=0
# refused WHAT RC OUTPUT FILE SUM: a start that must have failed, left FILE alone and said what to do
refused() {
  local what=$1 rc=$2 out=$3 file=$4 sum=$5 advice=$6
  [ "$rc" -ne 0 ] || fail "$what: started on a damaged file (exit 0): $out"
  [ "$rc" -ne 124 ] || fail "$what: still running after 10 s on a damaged file"
  [ "$rc" -eq 1 ] || fail "$what: exit status $rc, expected 1: $out"
  grep -qiE "damaged|truncated|not a database|empty" <<< "$out" || fail "$what: unclear error: $out"
  grep -qE "$advice" <<< "$out" || fail "$what: the error does not say what to do: $out"
  [ -e "$file" ] || fail "$what: $file is gone"
  [ "$(sha256sum < "$file")" == "$sum" ] || fail "$what: $file was changed"
  checked=$((checked + 1))
  say "$what: $(echo "$out" | tail -n 1 | cut -c1-160)"
}

hub_cases=(truncated-half truncated-1k empty header page1 "page-$units_root" "page-$reports_root" "page-$reports_last")
for how in "${hub_cases[@]}"; do
  rm -f "$T/hub/hub.db" "$T/hub/hub.db-wal" "$T/hub/hub.db-shm"
  cp "$T/hub.good" "$T/hub/hub.db"
  damage "$T/hub/hub.db" "$how"
  sum=$(sha256sum < "$T/hub/hub.db")
  rc=0; out=$(timeout 10 "$HUB_BIN" --config "$T/hub.ini" 2>&1) || rc=$?
  if [ "$rc" -eq 124 ] && [ "$how" == "page-$reports_last" ]; then
    fail "hub $how: a damaged last page (reports) went unnoticed at start"
  fi
  refused "hub $how" "$rc" "$out" "$T/hub/hub.db" "$sum" "restore|move it aside|backup"
done

# a damaged page in the middle of the raw reports: the fast check at start
# reads no such page, the recount after start does: ingest stops, status
# says "error", the log says what to do, and the file is not written to
mid=$(( (reports_root + hub_pages) / 2 ))
rm -f "$T/hub/hub.db" "$T/hub/hub.db-wal" "$T/hub/hub.db-shm"
cp "$T/hub.good" "$T/hub/hub.db"
garble "$T/hub/hub.db" "$mid"
sum=$(sha256sum < "$T/hub/hub.db")
: > "$T/hub.log"
rc=0; timeout 5 "$HUB_BIN" --config "$T/hub.ini" --check >/dev/null 2>&1 || rc=$?
if "$HUB_BIN" --config "$T/hub.ini" >> "$T/hub.log" 2>&1 & HUB_PID=$!; wait_until 10 test -s "$T/hub/endpoints"; then
  STATUS=$(endpoint status)
  wait_until 10 grep -q "verify at start: .*is damaged" "$T/hub.log" || fail "hub page-$mid: running, and the verify after start did not find the damage"
  grep -q "ingest stopped: nothing more is stored or acknowledged" "$T/hub.log" || fail "hub page-$mid: ingest not stopped"
  expect_eq "$(ctl status --json | jq -r .store_state)" error "store_state with a damaged store"
  hub_stop || fail "hub page-$mid: no clean stop"
  [ "$(sha256sum < "$T/hub/hub.db")" == "$sum" ] || fail "hub page-$mid: hub.db was changed"
  checked=$((checked + 1))
  say "hub page-$mid: $(grep -m1 "verify at start" "$T/hub.log" | cut -c1-160)"
else
  wait "$HUB_PID" || true; HUB_PID=
  out=$(tail -n 1 "$T/hub.log")
  refused "hub page-$mid" 1 "$out" "$T/hub/hub.db" "$sum" "restore|move it aside|backup"
fi
hub_cases+=("page-$mid")

ob=$T/agents/$u/outbox.db
ob_cases=(truncated-half truncated-1k empty header page1 "page-$ob_root" "page-$ob_pages")
for how in "${ob_cases[@]}"; do
  rm -f "$ob" "$ob-wal" "$ob-shm"
  cp "$T/outbox.good" "$ob"
  damage "$ob" "$how"
  sum=$(sha256sum < "$ob")
  rc=0; out=$(timeout 10 "$AGENT_BIN" --config "$T/agents/$u/agent.ini" record staff --date 2018-01-05 --total 9 --proficient 3 2>&1) || rc=$?
  refused "agent record, outbox $how" "$rc" "$out" "$ob" "$sum" "keep a copy|operator|moving it aside"
  rc=0; out=$(timeout 10 "$AGENT_BIN" --config "$T/agents/$u/agent.ini" run 2>&1) || rc=$?
  refused "agent run, outbox $how" "$rc" "$out" "$ob" "$sum" "keep a copy|operator|moving it aside"
  rc=0; out=$(timeout 10 "$AGENT_BIN" --config "$T/agents/$u/agent.ini" status --no-hub 2>&1) || rc=$?
  refused "agent status, outbox $how" "$rc" "$out" "$ob" "$sum" "keep a copy|operator|moving it aside"
done

# the good files still work, and nothing was lost along the way
rm -f "$T/hub/hub.db"* "$ob"*
cp "$T/hub.good" "$T/hub/hub.db"; cp "$T/outbox.good" "$ob"
hub_start
INGEST=$(endpoint ingest) agent_config "$u"
agent_start "$u"
wait_until 30 all_delivered "$u" || fail "good copies: not all delivered: $TALLY_BAD"
check_counts "after the refusals" "$u"
verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
finish "${#hub_cases[@]} damaged hub stores and ${#ob_cases[@]} damaged outboxes refused ($checked starts; a reports page only the recount reads: ingest stopped), all left byte for byte as they were, $RECORDED reports, $LOST lost, $DUPS duplicated"
