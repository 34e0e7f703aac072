#!/usr/bin/env bash
# Long outage: the hub is down while one agent records at least 10,000
# events and others record too; the agents keep running (and backing off)
# all along. When the hub returns, everything arrives, in sequence order,
# and the catch-up time is printed.
#   BIG events of the main agent (10000), OTHERS (4) with SMALL events (1000),
#   OUTAGE_S extra seconds of outage after the recording (3), SEED
source "$(dirname "$0")/fault_lib.sh"
DRILL=long-outage

BIG=${BIG:-10000}
OTHERS=${OTHERS:-4}
SMALL=${SMALL:-1000}
OUTAGE_S=${OUTAGE_S:-3}
SEED=${SEED:-$RANDOM}
say "seed $SEED: $BIG + $OTHERS x $SMALL events while the hub is down, then $OUTAGE_S s more"

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units $((OTHERS + 1)) 200)
for u in "${US[@]}"; do agent_config "$u"; agent_start "$u"; done
sleep 0.5
t_down=$(now)
hub_stop || fail "hub did not stop cleanly"

expect=0
main=${US[0]}
# the main agent records in files of 1000 (one transaction each) plus single events
for ((c = 0; c < BIG / 1000; c++)); do
  s=$(gen_events "$T/agents/$main/big-$c.txt" 1000 $((SEED + c)))
  expect=$((expect + s))
  agent "$main" record --file "$T/agents/$main/big-$c.txt" >/dev/null || fail "record while down"
done
for ((c = 0; c < BIG % 1000; c++)); do
  agent "$main" record training --date 2018-05-0$((c % 9 + 1)) --participants 2 --hours 1 >/dev/null \
    || fail "record while down"
  expect=$((expect + 2))
done
for u in "${US[@]:1}"; do
  s=$(gen_events "$T/agents/$u/small.txt" "$SMALL" $((SEED + 77)))
  expect=$((expect + s))
  agent "$u" record --file "$T/agents/$u/small.txt" >/dev/null || fail "record while down"
done
sleep "$OUTAGE_S"
waiting=0
for u in "${US[@]}"; do waiting=$((waiting + $(outbox_sql "$u" 'select count(*) from outbox where acked_at is null'))); done
expect_eq "$waiting" $((BIG + OTHERS * SMALL)) "events waiting in the outboxes while the hub is down"
down=$(elapsed "$t_down")

t_up=$(now)
hub_start
wait_until 180 all_delivered "${US[@]}" \
  || { echo "$DRILL drill: $RECORDED reports, $LOST lost, $DUPS duplicated"; fail "not all delivered: $TALLY_BAD"; }
catchup=$(elapsed "$t_up")
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied after everything was stored"
check_counts "after the outage" "${US[@]}"
check_totals "$expect"

# in sequence order: per unit, no seq stored later than a higher one, no gap
for u in "${US[@]}"; do
  read -r n maxseq disorder < <(db "select count(*), max(seq), (select count(*) from (select received_at,
      lag(received_at) over (order by seq) as prev from reports r2 where r2.uid = r.uid) where prev > received_at)
      from reports r where uid = (select uid from units where id = '$u')" | tr '|' ' ')
  [ "$n" -eq "$maxseq" ] || fail "$u: $n reports but the highest seq is $maxseq: a gap"
  [ "$disorder" -eq 0 ] || fail "$u: $disorder reports stored after a later seq"
done
last=$(grep -c "reconnected to the hub" "$T/agents/$main/agent.log" || true)
[ "$last" -ge 1 ] || fail "$main never logged its reconnect"
finish "hub down $down s, $RECORDED reports recorded meanwhile ($BIG by $main), caught up in $catchup s, in sequence order, $LOST lost, $DUPS duplicated"
