#!/usr/bin/env bash
# Corrections and the as-of questions (issue 16): a client from the docs
# (corrections.py) sends a session of 200 people on 2018-01-05 and a staff
# snapshot of 2018-02-01, then amends the session to 20 and cancels the
# snapshot. `status --as-of` answers from the store's daily states: before
# 2018-01-05 nothing; from it on the amend in the session's place (never the
# 200); the cancelled snapshot never counts; `verify` finds the daily states
# equal to a recount of the reports, and names a damaged one. As known on
# yesterday (5.12) the unit had nothing, and both corrections came after.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=469005-012; unit_keys $u; hub_start
client corrections.py
as_of() { ctl status --unit $u --as-of "$1" --json | jq -r ".scopes[0].$2"; }
expect_eq "$(as_of 2018-01-04 participants) $(as_of 2018-01-04 reports)" "0 0" "as of 2018-01-04"
expect_eq "$(as_of 2018-01-05 participants) $(as_of 2018-01-05 sessions)" "20 1" \
  "as of 2018-01-05: the amend in the session's place"
expect_eq "$(as_of 2018-02-01 participants) $(as_of 2018-02-01 staff_total) $(as_of 2018-02-01 reports)" \
  "20 0 1" "as of 2018-02-01: the cancelled snapshot counts nowhere"
expect_eq "$(as_of 2018-12-31 participants) $(unit_field $u participants)" "20 20" \
  "as of the year's end, as today"
# a row on each day a report lands on, the cancelled snapshot's too (schema 7),
# once written: the client's reports came in batch after batch
wait_until 20 days_fresh || fail "daily states still stale: $(db "select id, day_stale from units where day_stale > 0")"
expect_eq "$(db "SELECT group_concat(d.date || ':' || d.reports || ':' || d.participants) FROM unit_days d JOIN units u ON u.uid = d.uid WHERE u.id = '$u'")" \
  "20180105:1:20,20180201:1:20" "the unit's daily states"
# as known on yesterday (UTC): nothing was received; the amend and the cancel came after
known=$(ctl status --unit $u --as-of 2018-12-31 --known-on "$(date -u -d yesterday +%F)" --json)
expect_eq "$(jq -r '[.scopes[0].participants, .scopes[0].reports, .corrections_after] | join(" ")' <<<"$known")" \
  "0 0 2" "as known on yesterday"
known=$(ctl status --unit $u --as-of 2018-12-31 --known-on "$(date -u +%F)" --json)
expect_eq "$(jq -r '[.scopes[0].participants, .corrections_after] | join(" ")' <<<"$known")" \
  "20 0" "as known on today"
ctl verify >/dev/null || fail "verify finds differences in an undamaged store"
hub_stop
db "UPDATE unit_days SET participants = 200 WHERE date = 20180105"
hub_start
out=$(ctl verify) && fail "verify finds no difference in a damaged daily state: $out"
grep -q "$u participants of 20180105: stored 200, recount 20" <<<"$out" \
  || fail "verify does not name the damaged daily state: $out"
say "as-of answers follow an amend and a cancel; verify checks the daily states"
