#!/usr/bin/env bash
# PROTOCOL.md 5.9: protocol version 2 from a client written from the docs.
# Two incarnations and the legacy sequence of one unit each store their seq
# 1; a resend is acknowledged with `seen`; other content under a stored
# identity is refused REASON_IDENTITY and changes nothing; a heartbeat of an
# incarnation never stored under adds none to the store.
source "$(dirname "$0")/interop_lib.sh"

hub_config; u=469005-012; unit_keys $u; hub_start
client version2.py
of_unit() { db "select $1 from incarnations i join units u on u.uid = i.uid where u.id = '$u' $2"; }
expect_eq "$(db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$u'")" 3 "reports of $u"
expect_eq "$(of_unit "count(*)" "and $INC_LAST_SEQ_SQL = 1")" 3 "sequences of $u at seq 1 (legacy, A, B)"
expect_eq "$(of_unit "count(*)" "and i.incarnation = x'cccccccccccccccccccccccccccccccc'")" 0 \
  "an incarnation heard only in a heartbeat"
expect_eq "$(unit_field $u participants)" 36 "participants: 11 + 12 + 13"
expect_eq "$(metric refused_identity) $(metric duplicates)" "1 1" "identity refusals and duplicates"
expect_eq "$(metric two_agent_units) $(metric skewed_agents)" "1 1" "two agents and a clock far off flagged"
expect_eq "$(ctl status --unit $u --json | jq -c '.scopes[0].flags')" '["two-agents","clock-skew"]' \
  "the unit's scope: Scope.flags"
grep -q "flagged *two-agents clock-skew" <<<"$(ctl status --unit $u)" || fail "rolloutctl status --unit does not say what is flagged"
say "three sequences of one unit, a resend seen, an identity refusal; the store as the client expects"
