#!/usr/bin/env bash
# An agent's earlier identity, partly aged out, refills a store restored
# from a backup older than that identity. Unit V records 100 events under
# identity X; an old copy of its outbox is put back, so V draws identity Y by
# itself and X becomes an earlier incarnation whose acknowledged events it
# keeps; X's ten oldest age past retain_days and are pruned. Then the hub's
# store is restored from a backup taken before V's first report: it never
# held X. The hub writes off what V no longer keeps of X (seq 1..10, logged
# and listed in problems) and V refills the 90 it keeps, under X, with Y's
# event: every event V still keeps is stored once.
source "$(dirname "$0")/fault_lib.sh"
DRILL=earlier-pruned-restored
hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units 1 190)
V=${US[0]}
agent_config "$V"
seed=40
rec() { seed=$((seed + 1)); gen_events "$T/ev.$seed" "$2" "$seed" >/dev/null;
        agent "$1" record --file "$T/ev.$seed" >/dev/null || fail "record"; }
of_unit() { db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$1'"; }
is_n() { [ "$(of_unit "$1")" = "$2" ]; }
switched() { grep -q "speaks for unit $2 under the same identity" "$T/agents/$1/agent.log"; }

# the backup: before V's first report (its first incarnation X is unknown to it)
sqlite3 "$T/hub/hub.db" ".backup $T/backup.db" || fail "backup"

rec "$V" 100; agent_start "$V"
wait_until 30 is_n "$V" 100 || fail "V's first events did not arrive"
wait_until 10 outboxes_empty "$V" || fail "not acknowledged"
agent_stop "$V"
sqlite3 "$T/agents/$V/outbox.db" ".backup $T/v-old.db"
agent_start "$V"; rec "$V" 10
wait_until 30 is_n "$V" 110 || fail "V's next events did not arrive"
wait_until 10 outboxes_empty "$V" || fail "not acknowledged"
agent_stop "$V"
# an old copy of V's outbox put back: V draws a new identity Y by itself,
# X (local 1..100, all acknowledged, kept) becomes an earlier incarnation
rm -f "$T/agents/$V"/outbox.db*; cp "$T/v-old.db" "$T/agents/$V/outbox.db"
agent_start "$V"
wait_until 30 switched "$V" "$V" || fail "V did not draw a new identity"
agent_stop "$V"
# X's ten oldest events age past retain_days (400): the next ack prunes them
outbox_sql "$V" "update outbox set acked_at = acked_at - 500*86400 where seq <= 10"
agent_start "$V"; rec "$V" 1
wait_until 30 is_n "$V" 111 || fail "V's event under Y did not arrive"
wait_until 10 outboxes_empty "$V" || fail "not acknowledged"
agent_stop "$V"
expect_eq "$(outbox_sql "$V" 'select count(*), min(seq), max(seq) from outbox where seq <= 100')" \
  "90|11|100" "X's kept events after pruning"

# the hub's store restored from the backup: it holds nothing of V
hub_kill
mkdir -p "$T/aside"; mv "$T/hub"/hub.db* "$T/aside/"
cp "$T/backup.db" "$T/hub/hub.db"
hub_start
agent_start "$V"
wait_until 60 is_n "$V" 91 || fail "the hub holds $(of_unit "$V") of V's 91 events it can still get (X's kept 11..100 and Y's 1)"
wait_until 30 outboxes_empty "$V" || fail "not acknowledged after the refill"
written_off=$(db "select count(*) from refusals where text like 'lost: seq 1 to 10 %'")
expect_eq "$written_off" 1 "the write-off of X's seq 1..10"
grep -q "refused" <<<"$(ctl status --problems --json | jq -r '.problems[] | select(.unit == "'"$V"'") | .kind')" ||
  fail "the write-off is not in problems"
sleep 1 # a resend would show now
got=$(of_unit "$V")
lost=$((got < 91 ? 91 - got : 0)) dup=$((got > 91 ? got - 91 : 0))
verify_ok || fail "verify: $VERIFY_OUT"
finish "an earlier identity with 10 of its 100 events aged out, the store restored from before it: 10 written off (logged, in problems), $((got - 1)) of 90 kept events refilled under it and Y's 1: $got of 91 stored; $lost lost, $dup duplicated"
