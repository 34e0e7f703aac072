#!/usr/bin/env bash
# "As of D, as known on K": the year-end report as of 2018-12-31 is saved
# on the hub's day K (2019-01-10, the hub's clock set with libfaketime).
# Days later (the hub restarted on 2019-01-20) the unit's staff amend a
# session, cancel a snapshot and record a late one dated in December. The
# report as of 2018-12-31 as known on K is then the saved one, but for its
# heading, which says how many corrections came after K; without
# --known-on it shows the corrected figures. status --known-on answers
# the same in JSON, and what it cannot answer exits 2 with why.
source "$(dirname "$0")/lib.sh"
FAKE=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FAKE" ] || { echo "1..0 # SKIP libfaketime is not installed (scripts/deps.sh)"; exit 77; }
# a sanitized hub (CI's ASan run) wants its runtime first; libfaketime before it is harmless
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

hub_config
LD_PRELOAD=$FAKE FAKETIME="@2019-01-10 09:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1 hub_start
hub_pin_ports
expect_eq "$(ctl status --json | jq -r .as_of)" 2019-01-10 "the hub's today"
u=460100-001
agent_config $u
agent_start $u
agent $u record staff --date 2018-11-30 --total 400 --proficient 300 >/dev/null || fail "record staff"
agent $u record training --date 2018-12-01 --participants 200 --hours 2 >/dev/null || fail "record 1"
agent $u record training --date 2018-12-03 --participants 30 --hours 3 >/dev/null || fail "record 2"
agent $u record staff --date 2018-12-15 --total 400 --proficient 320 >/dev/null || fail "record staff 2"
wait_until 20 province_reports_is 4 || fail "the four records did not arrive: $(province reports)"
wait_until 20 outbox_count $u outbox 0 || fail "the records were not acknowledged"
ctl report --as-of 2018-12-31 --out "$T/saved.md" || fail "the report on K"
expect_eq "$(ctl status --as-of 2018-12-31 --known-on 2019-01-10 --json | jq -r .corrections_after)" 0 \
  "corrections after K, on K"

# ten days later: an amend, a cancel and a late record dated in December
hub_stop || fail "the hub did not stop cleanly"
LD_PRELOAD=$FAKE FAKETIME="@2019-01-20 09:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1 hub_start
expect_eq "$(ctl status --json | jq -r .as_of)" 2019-01-20 "the hub's today, ten days later"
agent $u amend 2 --reason "200 typed for 20" training --date 2018-12-01 --participants 20 --hours 2 \
  >/dev/null || fail "amend"
agent $u cancel 4 --reason "recorded twice" >/dev/null || fail "cancel"
agent $u record training --date 2018-12-20 --participants 7 --hours 1 >/dev/null || fail "late record"
participants_are() { [ "$(unit_field $u participants)" == "$1" ]; }
wait_until 20 participants_are 57 || fail "the corrections did not count: $(unit_field $u participants)"
wait_until 20 outbox_count $u outbox 0 || fail "the corrections were not acknowledged"

# as known on K: the saved table, but for the heading
ctl report --as-of 2018-12-31 --known-on 2019-01-10 --out "$T/known.md" || fail "the report known on K"
grep -q "as of 2018-12-31, as known on 2019-01-10" "$T/known.md" || fail "heading: $(head -12 "$T/known.md")"
grep -q "2 corrections and review decisions came after 2019-01-10" "$T/known.md" ||
  fail "the corrections after K: $(head -12 "$T/known.md")"
heading='Known on|Corrected after'
diff <(grep -vE "$heading" "$T/saved.md") <(grep -vE "$heading" "$T/known.md") >"$T/known.diff" ||
  fail "the table as known on K differs from the one saved then: $(cat "$T/known.diff")"
# without it: the corrected figures
ctl report --as-of 2018-12-31 --out "$T/now.md" || fail "the report now"
grep -qE "$heading" "$T/now.md" && fail "a report of now says known on"
diff -q "$T/saved.md" "$T/now.md" >/dev/null && fail "the report now shows the figures of K"

# status says the same in JSON; the count is the unit's and the province's
json=$(ctl status --unit $u --as-of 2018-12-31 --known-on 2019-01-10 --json)
expect_eq "$(jq -r '[.known_on, .corrections_after, .scopes[0].participants] | join(",")' <<<"$json")" \
  "2019-01-10,2,230" "the unit as known on K"
expect_eq "$(ctl status --unit $u --as-of 2018-12-31 --json | jq -r .scopes[0].participants)" 57 \
  "the unit now"
# known on a day before the as-of date: as of that day
json=$(ctl status --as-of 2018-12-31 --known-on 2018-12-02 --json)
expect_eq "$(jq -r '[.as_of, .known_on, .scopes[0].participants] | join(",")' <<<"$json")" \
  "2018-12-02,2018-12-02,0" "known on a day before any report came"
grep -q "as known on 2019-01-10: 2 corrections" <<<"$(ctl status --as-of 2018-12-31 --known-on 2019-01-10)" ||
  fail "status's line: $(ctl status --as-of 2018-12-31 --known-on 2019-01-10)"

# what cannot be answered: exit 2, with why
refused() { # WHY ARGS...
  local why=$1 rc=0 out; shift
  out=$(ctl "$@" 2>&1) || rc=$?
  expect_eq "$rc" 2 "exit status of: $*"
  grep -q -- "$why" <<<"$out" || fail "$* said: $out"
}
refused "after the hub's today 2019-01-20" status --known-on 2019-01-21
refused "after the hub's today" report --known-on 2019-02-01
refused "needs a date" status --known-on 2019-02-30
refused "known only now" status --problems --known-on 2019-01-10
ctl verify >/dev/null || fail "verify: $(ctl verify 2>&1)"
say "as of 2018-12-31 as known on K: the table saved on K, and 2 corrections after it"
