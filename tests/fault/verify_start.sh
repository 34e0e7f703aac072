#!/usr/bin/env bash
# Verify on demand and at start, on a large store: the hub's check at start
# takes index seeks, not a scan, so it starts as fast on millions of reports;
# the full recount runs in the background after start (ingest goes on) and
# logs its result; `rolloutctl verify` recounts on demand. Tampered
# aggregates are found by both and reported.
# How fast the start is, is measured by bench/run (hub start on 10 M
# reports), not asserted here: this drill reports its figures.
#   REPORTS (1000000)
source "$(dirname "$0")/fault_lib.sh"
DRILL=verify

REPORTS=${REPORTS:-1000000}

hub_config; hub_start; hub_pin_ports
hub_stop || fail "hub did not stop cleanly"

# the raw reports, in key order, and their aggregates, with the sqlite3 shell
# (setup only), for every unit but the one whose agent runs below, in the
# reports table of schemas 4 to 8 (keyed by (uid, iid, seq)): the store goes
# back to schema 5 below
u=$(units 1 800)
sqlite3 -batch "$T/hub/hub.db" "DROP TABLE reports; DROP TABLE report_runs;
  CREATE TABLE reports (uid INTEGER NOT NULL, iid INTEGER NOT NULL,
    seq INTEGER NOT NULL, kind INTEGER NOT NULL, date INTEGER NOT NULL, total INTEGER NOT NULL,
    part INTEGER NOT NULL, text TEXT NOT NULL, recorded_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL, hash INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,
    released_at INTEGER, PRIMARY KEY (uid, iid, seq)) WITHOUT ROWID;
  CREATE INDEX reports_held ON reports (date, kind, uid) WHERE state = 1;" ||
  fail "cannot make the keyed reports table"
per=$(( (REPORTS + 891) / 892 ))
t0=$(now)
sqlite3 -batch "$T/hub/hub.db" "PRAGMA synchronous = OFF; BEGIN;
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $per)
  INSERT INTO reports(uid, iid, seq, kind, date, total, part, text, recorded_at, received_at, hash)
    SELECT u.uid, i.iid, s.i, CASE WHEN s.i % 10 = 0 THEN 2 ELSE 1 END,
    20180101 + s.i % 28, 50 + s.i % 50, CASE WHEN s.i % 10 = 0 THEN 40 ELSE 10 + s.i % 30 END,
    'drill', 1514764800, 1514764800 + s.i, s.i
    FROM units u JOIN incarnations i ON i.uid = u.uid AND i.incarnation = zeroblob(16), s
    WHERE u.id <> '$u' ORDER BY u.uid, s.i;
  UPDATE incarnations SET last_seq = $per WHERE incarnation = zeroblob(16)
    AND uid IN (SELECT uid FROM units WHERE id <> '$u');
  UPDATE units SET reports = $per,
    participants = (SELECT sum(total) FROM reports r WHERE r.uid = units.uid AND kind = 1),
    hours_tenths = (SELECT sum(part) FROM reports r WHERE r.uid = units.uid AND kind = 1),
    sessions = (SELECT count(*) FROM reports r WHERE r.uid = units.uid AND kind = 1),
    staff_date = (SELECT date FROM reports r WHERE r.uid = units.uid AND kind = 2 ORDER BY date DESC, seq DESC LIMIT 1),
    staff_total = (SELECT total FROM reports r WHERE r.uid = units.uid AND kind = 2 ORDER BY date DESC, seq DESC LIMIT 1),
    staff_proficient = (SELECT part FROM reports r WHERE r.uid = units.uid AND kind = 2 ORDER BY date DESC, seq DESC LIMIT 1)
    WHERE id <> '$u';
  COMMIT;" || fail "cannot build the store"
# the reports went in around the hub: back to schema 5, so that the hub derives
# their daily states (unit_days) from them at start, in the migrations to 6 and 7,
# and the scopes' (scope_days) at its first start on schema 8
sqlite3 -batch "$T/hub/hub.db" "DROP TABLE scope_days; DROP INDEX units_stale; ALTER TABLE units DROP COLUMN scope;
  ALTER TABLE reports DROP COLUMN released_at;
  DROP TABLE unit_days; ALTER TABLE units DROP COLUMN last_day;
  ALTER TABLE units DROP COLUMN day_stale; ALTER TABLE events DROP COLUMN hold;
  PRAGMA user_version = 5;" || fail "cannot go back to schema 5"
rows=$(db "select count(*) from reports")
say "store of $rows reports ($(( $(stat -c %s "$T/hub/hub.db") / 1048576 )) MiB) built in $(elapsed "$t0") s"

# an agent with events waiting, so ingest runs while the recount does
agent_config "$u"
s=$(gen_events "$T/agents/$u/events.txt" 2000 21)
agent "$u" record --file "$T/agents/$u/events.txt" >/dev/null || fail "record"
agent_start "$u"

# start: from exec to the first status answer, and to the hub's own "up" line
# (this start migrates the store to schema 7 first: seconds on a loaded
# machine, reported, never asserted)
: > "$T/hub.log"
t_exec=$(now)
RESTART_LIMIT_S=300 hub_restart_timed
up=$RESTART_S
stamp=$(grep -m1 "rollout-hub .* up: " "$T/hub.log" | cut -d' ' -f1)
logged_up=$(elapsed "$t_exec" "$(date -d "$stamp" +%s.%N)")
check_ms=$(grep -o "check at start: last seq of 893 units in step with the raw reports ([0-9]* ms)" "$T/hub.log" \
  | grep -o "[0-9]* ms" | tr -d ' ms') || fail "no 'check at start' line in the log"
verified() { grep -q "verify at start: " "$T/hub.log"; }
wait_until 600 verified || fail "no result of the verify at start"
line=$(grep "verify at start: " "$T/hub.log" | head -n 1)
grep -q "equal the recount of" <<< "$line" || fail "verify at start: $line"
bg=$(grep -o "raw reports ([0-9.]* s)" <<< "$line" | grep -o "[0-9.]*")
wait_until 60 all_delivered "$u" || fail "the agent's events were not stored: $TALLY_BAD"

# on demand
t0=$(now)
verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
ondemand=$(elapsed "$t0")
grep -q "recount of $((rows + 2000)) reports" <<< "$VERIFY_OUT" || fail "verify counted: $VERIFY_OUT"
rows=$((rows + 2000))
lost=$(( 892 * per + 2000 - $(db "select count(*) from reports") ))
dups=$(( $(db "select sum(reports) from units") - $(db "select count(*) from reports") ))

# tampering: aggregates that no longer match the raw reports are found at start and by the recount
agent_stop "$u" || fail "agent did not stop"
hub_stop || fail "hub did not stop"
v1=$(units 1 10); v2=$(units 1 20)
db "UPDATE units SET participants = participants + 1 WHERE id = '$v1';
    UPDATE incarnations SET last_seq = last_seq + 5
      WHERE uid = (SELECT uid FROM units WHERE id = '$v2') AND incarnation = zeroblob(16)" >/dev/null
: > "$T/hub.log"
hub_restart_timed
grep -q "check at start: unit $v2: last_seq is $((per + 5)), but the raw reports say $per" "$T/hub.log" \
  || fail "the check at start missed a last_seq ahead of the raw reports: $(grep "check at start" "$T/hub.log")"
wait_until 600 verified || fail "no result of the verify at start after tampering"
grep -q "verify at start: .* stored aggregates in .* differ from the recount" "$T/hub.log" \
  || fail "the verify at start missed the tampering: $(grep "verify at start" "$T/hub.log")"
grep -q "verify at start:   $v1 participants: stored" "$T/hub.log" || fail "the verify at start did not name $v1 participants"
rc=0; out=$(ctl --timeout 600 verify 2>&1) || rc=$?
expect_eq "$rc" 1 "rolloutctl verify exit status on a tampered store"
grep -q "MISMATCH" <<< "$out" && grep -q "$v1 participants" <<< "$out" || fail "rolloutctl verify: $out"
finish "$rows reports: hub up in $logged_up s and answering status $up s after exec, check at start $check_ms ms, background recount $bg s (ingest running), rolloutctl verify $ondemand s; tampering found at start and by both recounts, $lost lost, $dups duplicated"
