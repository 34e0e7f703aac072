#!/usr/bin/env bash
# `rolloutctl status --problems` lists every unit that cannot deliver or
# needs a look, most urgent first, each with what to do: a unit stuck on a
# gap (its next seq never came), one whose report was refused, one with a
# report held until its date, and the units never heard from. A gap that
# closes leaves the list; the refused unit is flagged (Scope.flags), also
# after a restart.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
gap=460100-001 bad=460100-002 ahead=460100-003
grep -q "^ack $gap 1" <<<"$(probe "$INGEST" report $gap 1 staff 20180105 10 5)" || fail "seq 1 not stored"
grep -q "^ack $gap 1" <<<"$(probe "$INGEST" report $gap 3 staff 20180106 10 6)" || fail "the gap was not answered with the last ack"
answer=$(probe "$INGEST" report $bad 1 staff 20180105 10 11)
grep -q "^refusal $bad 1 invalid" <<<"$answer" || fail "not refused: $answer"
grep -q "^ack $ahead 1" <<<"$(probe "$INGEST" report $ahead 1 staff 20300105 10 5)" || fail "not held and acked"

out=$(ctl status --problems --json)
units=$(jq '.scopes | length' <<<"$out")
expect_eq "$(jq -r '[.problems[0:4][] | .unit + ":" + .kind] | join(" ")' <<<"$out")" \
  "$gap:gap $bad:refused $ahead:held 460000-001:silent" "the most urgent first"
expect_eq "$(jq -r .total <<<"$out")" "$(province units)" \
  "problems: the three units, and every other one never heard"
expect_eq "$(jq -r '.problems[3].kind + ":" + .problems[3].text' <<<"$out")" "silent:never heard from" \
  "then the units never heard from"
jq -e '.problems[0].text | test("sends seq 3 but the hub.s next is seq 2")' <<<"$out" >/dev/null \
  || fail "the gap does not say which seq: $(jq -c '.problems[0]' <<<"$out")"
jq -e '.problems[1].text | test("seq 1: invalid: staff: part 11 is above total 10")' <<<"$out" >/dev/null \
  || fail "the refusal does not say why: $(jq -c '.problems[1]' <<<"$out")"
jq -e '[.problems[] | select(.what_to_do == "")] | length == 0' <<<"$out" >/dev/null \
  || fail "a problem without what to do"
expect_eq "$units" 0 "scopes in a problems answer"
expect_eq "$(jq '.problems | length' <<<"$out")" 50 "problems shown by default"

text=$(ctl status --problems --limit 3)
grep -q "^problems: $(jq -r .total <<<"$out"), 3 shown" <<<"$text" || fail "the table's head: $text"
grep -q "what to do: nothing if it clears within minutes" <<<"$text" || fail "the gap's advice: $text"

# the missing seq comes: the gap is behind the unit, and it leaves the list
grep -q "^ack $gap 2" <<<"$(probe "$INGEST" report $gap 2 staff 20180106 10 6)" || fail "seq 2 not stored"
expect_eq "$(ctl status --problems --json | jq -r '[.problems[] | select(.unit == "'$gap'")] | length')" 0 \
  "problems of $gap once its gap closed"
ctl status --problems --as-of 2018-06-30 >/dev/null 2>&1 && fail "a problems question as of a past date was answered"

# the refused unit is flagged where the feed and status --unit show it, and
# still after a restart (the store keeps the refusal; the flag is read back)
expect_eq "$(unit_field $bad 'flags | join(" ")')" refused "the refused unit's flags"
grep -q "flagged *refused" <<<"$(ctl status --unit $bad)" || fail "status --unit does not say: $(ctl status --unit $bad)"
hub_stop || fail "the hub did not stop cleanly"
hub_start
expect_eq "$(unit_field $bad 'flags | join(" ")')" refused "the refused unit's flags after a restart"
expect_eq "$(unit_field $gap 'flags | join(" ")')" "" "the unit whose gap closed"
say "gap, refused, held and silent units listed, most urgent first, each with what to do"
