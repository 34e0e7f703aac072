#!/usr/bin/env bash
# An agent folder copied and both copies running, so that both draw a new
# identity (the hub takes nothing more under the one they shared once it
# finds two holders); later the hub's store is restored from a backup taken
# before the copy, and the copies and a third agent record while it is
# refilled. The events acknowledged under the shared identity after the
# backup are kept by both copies under an identity neither records in any
# more (an earlier incarnation): each copy heartbeats it, sees the hub hold
# less of it than it acknowledged, and sends its kept events again under
# that identity and its wire seqs (the hub stores the first of two and
# answers the other `seen`). Every event either copy ever recorded is
# stored exactly once. Beside them, a single agent that drew a new identity
# by itself (an old copy of its outbox put back) heartbeats its earlier
# incarnation too, and the hub does not take that for a second agent.
#   EVENTS before the backup (200), MORE after it, before the copy (200),
#   AFTER by each copy (200), LOAD by each agent during the refill (200)
source "$(dirname "$0")/fault_lib.sh"
DRILL=copied-then-restored
EVENTS=${EVENTS:-200}
MORE=${MORE:-200}
AFTER=${AFTER:-200}
LOAD=${LOAD:-200}

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units 2 180)
U=${US[0]} V=${US[1]} C=${US[0]}-copy
expect=0 seed=20
declare -A WANT=([$U]=0 [$V]=0)
# rec AGENT UNIT N: AGENT records N new events for UNIT (counted in WANT and expect)
rec() {
  seed=$((seed + 1))
  expect=$((expect + $(gen_events "$T/ev.$seed" "$3" "$seed")))
  agent "$1" record --file "$T/ev.$seed" >/dev/null || fail "record at $1"
  WANT[$2]=$((WANT[$2] + $3))
}
of_unit() { db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$1'"; }
stored() { [ "$(of_unit "$1")" = "${WANT[$1]}" ]; }
switched() { grep -q "speaks for unit $2 under the same identity" "$T/agents/$1/agent.log"; }

# V: an old copy of its outbox put back while the hub holds more under its
# identity, so that it draws a new one by itself (all before the backup)
agent_config "$V"; agent_config "$U"
rec "$V" "$V" "$EVENTS"; agent_start "$V"
wait_until 30 stored "$V" || fail "V's first events did not arrive"
wait_until 10 outboxes_empty "$V" || fail "V's first events not acknowledged"
agent_stop "$V" || fail "agent stop"
sqlite3 "$T/agents/$V/outbox.db" ".backup $T/v-old.db" || fail "copy of V's outbox"
agent_start "$V"; rec "$V" "$V" "$MORE"
wait_until 30 stored "$V" || fail "V's second events did not arrive"
wait_until 10 outboxes_empty "$V" || fail "V's second events not acknowledged"
agent_stop "$V" || fail "agent stop"
rm -f "$T/agents/$V"/outbox.db*; cp "$T/v-old.db" "$T/agents/$V/outbox.db"
agent_start "$V"
wait_until 30 switched "$V" "$V" || fail "V did not draw a new identity"
rec "$V" "$V" "$AFTER"
wait_until 30 stored "$V" || fail "V's events under its new identity did not arrive"

# U before the backup, and after it under the same identity
rec "$U" "$U" "$EVENTS"; agent_start "$U"
wait_until 30 stored "$U" || fail "U's first events did not arrive"
wait_until 10 outboxes_empty "$U" "$V" || fail "not acknowledged before the backup"
sqlite3 "$T/hub/hub.db" ".backup $T/backup.db" || fail "backup"
rec "$U" "$U" "$MORE"
wait_until 30 stored "$U" || fail "U's events after the backup did not arrive"
wait_until 10 outboxes_empty "$U" || fail "U's events after the backup not acknowledged"
agent_stop "$U" || fail "agent stop"

# the copy. The original delivers its next events first; then the copy
# starts with as many of its own under the same seqs: refused identity, it
# draws a new one, and the hub takes nothing more under the shared one, so
# the original's next events make it draw a new one too
cp -a "$T/agents/$U" "$T/agents/$C"
sed -i "s|$T/agents/$U/|$T/agents/$C/|g" "$T/agents/$C/agent.ini"
rm -f "$T/agents/$C/agent.log"
half=$((AFTER / 2))
agent_start "$U"; rec "$U" "$U" "$half"
wait_until 30 stored "$U" || fail "the original's first events after the copy did not arrive"
wait_until 10 outboxes_empty "$U" || fail "the original's first events not acknowledged"
rec "$C" "$U" "$half"; agent_start "$C"
wait_until 30 switched "$C" "$U" || fail "the copy did not draw a new identity"
rec "$U" "$U" $((AFTER - half))
wait_until 30 switched "$U" "$U" || fail "the original did not draw a new identity"
rec "$C" "$U" $((AFTER - half))
wait_until 60 stored "$U" || fail "the copies' events did not arrive: $(of_unit "$U") of ${WANT[$U]}"
wait_until 10 outboxes_empty "$U" "$C" "$V" || fail "the copies' events not acknowledged"
# both keep the shared identity as an earlier one: what each acknowledged under it
earlier() { agent "$1" status --json --no-hub | jq -r '[.earlier[] | "\(.incarnation) \(.retained)"] | join(",")'; }
shared=$(agent "$U" status --json --no-hub | jq -r '.earlier[0].incarnation')
expect_eq "$(earlier "$U")" "$shared $((EVENTS + MORE + half))" "the original's earlier identities"
expect_eq "$(earlier "$C")" "$shared $((EVENTS + MORE))" "the copy's earlier identities"
acked=$(db "select count(*) from reports")

hub_kill
mkdir -p "$T/aside"; mv "$T/hub"/hub.db* "$T/aside/"
cp "$T/backup.db" "$T/hub/hub.db"
# counted before the hub starts: the agents begin the refill at once
have=$(sqlite3 -batch -noheader "$T/backup.db" "select count(*) from reports")
hub_start
[ "$have" -lt "$acked" ] || fail "the store lost nothing ($have of $acked): the drill did not set it back"
say "the store holds $have of the $acked reports it acknowledged"
rec "$U" "$U" "$LOAD"; rec "$C" "$U" "$LOAD"; rec "$V" "$V" "$LOAD" # under load
behind() { grep -q "the store is behind unit" "$T/hub.log"; }
wait_until 30 behind || fail "the hub did not log that its store is behind"
all_in() { stored "$U" && stored "$V" && outboxes_empty "$U" "$C" "$V"; }
if ! wait_until 120 all_in; then
  echo "$DRILL drill: not refilled: $U has $(of_unit "$U") of ${WANT[$U]}, $V $(of_unit "$V") of ${WANT[$V]}: $((WANT[$U] + WANT[$V] - $(db "select count(*) from reports"))) lost"
  fail "not every event either copy recorded is stored"
fi
# the original holds what it alone sent under the shared identity: it must
# refill it; the copy holds only what both hold, which the original may
# have refilled before the copy's heartbeat asked
refilled() { grep -c "of an earlier identity of this outbox" "$T/agents/$1/agent.log" || true; }
[ "$(refilled "$U")" -ge 1 ] || fail "the original did not refill its earlier identity"
copies=$(($(refilled "$U") > 0 ? 1 : 0)); [ "$(refilled "$C")" -ge 1 ] && copies=$((copies + 1))
for a in "$U" "$C" "$V"; do outbox_count "$a" refused 0 || fail "$a set events aside"; done
caught_up() { [ "$(metric store_behind_units)" = 0 ]; }
wait_until 30 caught_up || fail "store_behind_units still $(metric store_behind_units)"
two() { [ "$(metric two_agent_units)" -ge 1 ]; }
wait_until 15 two || fail "the hub did not flag the copies as two agents"
expect_eq "$(metric two_agent_units)" 1 "units flagged two-agents (the copies' only)"
! grep -q "$V.*two-agents" <<<"$(ctl status --problems)" ||
  fail "$V's earlier identity's heartbeats were taken for a second agent"
check_totals "$expect"
dups=$(db "select (select sum(reports) from units) - (select count(*) from reports)
           + (select count(*) - count(distinct hash) from reports)")
lost=$((WANT[$U] + WANT[$V] - $(db "select count(*) from reports")))
finish "agent folder copied (both drew a new identity), then the hub restored from a backup before the copy, under load: the store fell back to $have of $acked; ${WANT[$U]} of ${WANT[$U]} events of the copies and ${WANT[$V]} of ${WANT[$V]} of a lone agent stored, copies that refilled their earlier identity: $copies, one unit flagged two agents; $lost lost, $dups duplicated"
