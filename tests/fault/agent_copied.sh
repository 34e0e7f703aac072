#!/usr/bin/env bash
# An agent folder copied to a second PC (or a virtual machine cloned), and
# both run and record. The copies share one outbox identity: for the seqs
# both hand out, the first arrival is stored and the other copy's different
# report is refused REASON_IDENTITY; from then on the hub takes nothing new
# under that identity, so each copy in turn draws a new incarnation by
# itself and sends its waiting events again under it (an ack whose content
# hash is not its own event never deletes anything). Every event either copy
# recorded is stored exactly once, nothing is set aside, and the hub flags
# two agents for the unit.
#   EVENTS before the copy (300), AFTER per copy (300)
source "$(dirname "$0")/fault_lib.sh"
DRILL=agent-copied
EVENTS=${EVENTS:-300}
AFTER=${AFTER:-300}

hub_config; hub_start
U=$(units 1 140)
agent_config "$U"
p0=$(gen_events "$T/before.txt" "$EVENTS" 5)
agent "$U" record --file "$T/before.txt" >/dev/null || fail "record"
agent_start "$U"
wait_until 30 all_delivered "$U" || fail "the first $EVENTS events did not arrive"
wait_until 10 outboxes_empty "$U" || fail "not acknowledged"
agent_stop "$U" || fail "agent stop"

# the copy: the whole folder, outbox and all, pointed at its own path
C=$U-copy
cp -a "$T/agents/$U" "$T/agents/$C"
sed -i "s|$T/agents/$U/|$T/agents/$C/|g" "$T/agents/$C/agent.ini"
rm -f "$T/agents/$C/agent.log"
p_a=$(gen_events "$T/a.txt" "$AFTER" 6); p_b=$(gen_events "$T/b.txt" "$AFTER" 7)
split -n l/3 -d "$T/a.txt" "$T/a."; split -n l/3 -d "$T/b.txt" "$T/b."
agent_start "$U"; agent_start "$C"
for k in 00 01 02; do # both record while both deliver
  agent "$U" record --file "$T/a.$k" >/dev/null || fail "record (original)"
  agent "$C" record --file "$T/b.$k" >/dev/null || fail "record (copy)"
done
want=$((EVENTS + 2 * AFTER))
of_unit() { db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$U'"; }
all_in() { [ "$(of_unit)" = "$want" ] && outboxes_empty "$U" "$C"; }
wait_until 90 all_in || fail "not every event arrived: $(of_unit) of $want"
outbox_count "$U" refused 0 || fail "the original set events aside"
outbox_count "$C" refused 0 || fail "the copy set events aside"
switched=$(grep -l "speaks for unit $U under the same identity" "$T/agents/$U/agent.log" "$T/agents/$C/agent.log" | wc -l)
[ "$switched" -ge 1 ] || fail "neither copy logged that it drew a new identity"
two() { [ "$(metric two_agent_units)" -ge 1 ]; }
wait_until 15 two || fail "the hub did not flag two agents for $U"
grep -q "$U.*two-agents" <<<"$(ctl status --problems)" || fail "status --problems does not list two agents"
identity=$(metric refused_identity)
verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
expect_eq "$(province participants)" $((p0 + p_a + p_b)) "province participants"
lost=$((want - $(of_unit)))
dups=$(db "select (select sum(reports) from units) - (select count(*) from reports)")
finish "agent folder copied, both running: $want of $want events stored ($EVENTS before the copy, $AFTER by each copy after), $identity identity refusals, copies that drew a new identity: $switched, two agents flagged; $lost lost, $dups duplicated"
