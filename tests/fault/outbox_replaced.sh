#!/usr/bin/env bash
# A unit's disk replaced mid-stream, and one key with two fresh outboxes.
# (1) An agent delivers, then is killed while it sends; its outbox is lost
# (the disk is replaced, agent.ini and the key restored from a backup) and
# a new, empty outbox records more. The new outbox has an incarnation of its
# own (protocol version 2), so its seqs never collide with the old ones:
# nothing refused as a conflict, no ack of an old seq deletes a new event,
# and the hub holds everything the old outbox delivered plus everything the
# new one recorded. (2) Two fresh outboxes under one unit's key (a second PC
# set up from the same backup), both running and recording: both counted,
# each once, and the hub flags two agents for the unit.
#   EVENTS per outbox (400)
source "$(dirname "$0")/fault_lib.sh"
DRILL=outbox-replaced
EVENTS=${EVENTS:-400}

hub_config; hub_start; hub_pin_ports
mapfile -t UV < <(units 2 120); U=${UV[0]} V=${UV[1]}
agent_config "$U"
gen_events "$T/old.txt" "$EVENTS" 1 >/dev/null
agent "$U" record --file "$T/old.txt" >/dev/null || fail "record (old outbox)"
agent_start "$U"
wait_until 30 all_delivered "$U" || fail "the old outbox did not deliver its first $EVENTS events"
# mid-stream: the hub frozen, 50 more recorded and sent (they wait in the
# hub's socket), the agent killed and its disk gone, the hub let go
stop_procs "$HUB_PID"
gen_events "$T/last.txt" 50 9 >/dev/null
agent "$U" record --file "$T/last.txt" >/dev/null || fail "record (old outbox, last events)"
agent_kill "$U"
kill -CONT "$HUB_PID"
old_inc=$(outbox_sql "$U" "select hex(incarnation) from meta")
rm -f "$T/agents/$U"/outbox.db* "$T/agents/$U"/*reserve*
say "disk replaced mid-stream: $EVENTS events delivered, 50 more recorded while the hub was frozen"

p_new=$(gen_events "$T/new.txt" "$EVENTS" 2)
agent "$U" record --file "$T/new.txt" >/dev/null || fail "record (new outbox)"
new_inc=$(outbox_sql "$U" "select hex(incarnation) from meta")
[ "$new_inc" != "$old_inc" ] || fail "the new outbox has the old one's incarnation"
agent_start "$U"
of_unit() { db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$U'"; }
in_new() { db "select $INC_LAST_SEQ_SQL from incarnations i join units u on u.uid = i.uid
               where u.id = '$U' and hex(i.incarnation) = '$new_inc'"; }
new_all() { [ "$(in_new)" = "$EVENTS" ] && outboxes_empty "$U"; }
wait_until 60 new_all || fail "the new outbox's events did not all arrive: $(in_new) of $EVENTS"
delivered=$(db "select count(*) from reports r join incarnations i on i.iid = r.iid
                where hex(i.incarnation) = '$old_inc'")
[ "$delivered" -ge "$EVENTS" ] && [ "$delivered" -le $((EVENTS + 50)) ] || fail "the old outbox's reports: $delivered"
expect_eq "$(of_unit)" $((delivered + EVENTS)) "reports of $U: the old outbox's delivered + the new one's"
expect_eq "$(metric conflicts)" 0 "conflicts"
outbox_count "$U" refused 0 || fail "the new outbox set events aside"
agent_stop "$U" || fail "agent stop"
lost1=$((delivered + EVENTS - $(of_unit)))

# (2) one key, two fresh outboxes, both recording while both run
agent_config "$V"
mkdir -p "$T/agents/$V-b"
sed "s|$T/agents/$V/outbox.db|$T/agents/$V-b/outbox.db|" "$T/agents/$V/agent.ini" > "$T/agents/$V-b/agent.ini"
p_a=$(gen_events "$T/a.txt" "$EVENTS" 3); p_b=$(gen_events "$T/b.txt" "$EVENTS" 4)
agent_start "$V"; agent_start "$V-b"
split -n l/4 -d "$T/a.txt" "$T/a."; split -n l/4 -d "$T/b.txt" "$T/b."
for k in 00 01 02 03; do # recorded in turns while both deliver
  agent "$V" record --file "$T/a.$k" >/dev/null || fail "record (first PC)"
  agent "$V-b" record --file "$T/b.$k" >/dev/null || fail "record (second PC)"
done
of_v() { db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$V'"; }
both() { [ "$(of_v)" = $((2 * EVENTS)) ] && outboxes_empty "$V" "$V-b"; }
wait_until 60 both || fail "the two outboxes' events did not all arrive: $(of_v) of $((2 * EVENTS))"
two() { [ "$(metric two_agent_units)" -ge 1 ]; }
wait_until 15 two || fail "the hub did not flag two agents for $V"
grep -q "$V.*two-agents" <<<"$(ctl status --problems)" || fail "status --problems does not list two agents for $V"
expect_eq "$(metric conflicts)" 0 "conflicts"
expect_eq "$(db "select count(*) from incarnations i join units u on u.uid = i.uid where u.id = '$V' and $INC_LAST_SEQ_SQL > 0")" 2 \
  "sequences of $V"
lost2=$((2 * EVENTS - $(of_v)))
verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
dups=$(db "select (select sum(reports) from units) - (select count(*) from reports)")
p_old=$(db "select ifnull(sum(r.total), 0) from reports r join incarnations i on i.iid = r.iid
            where hex(i.incarnation) = '$old_inc' and r.kind = 1")
expect_eq "$(db "select count(*) || ' ' || max(r.seq) from reports r join incarnations i on i.iid = r.iid
                 where hex(i.incarnation) = '$old_inc'")" "$delivered $delivered" "the old outbox's reports: seqs 1 to $delivered"
expect_eq "$(province participants)" $((p_old + p_new + p_a + p_b)) "province participants"
finish "outbox replaced mid-stream (the hub has $delivered of its $((EVENTS + 50)) events; the rest went with the disk), then $EVENTS more all stored; one key with two fresh outboxes, $((2 * EVENTS)) of $((2 * EVENTS)) stored, two agents flagged; $((lost1 + lost2)) lost, $dups duplicated"
