#!/usr/bin/env bash
# An agent that records while the hub is down delivers everything, in order,
# once the hub comes up.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start; hub_pin_ports
hub_stop || fail "hub did not stop cleanly"
u=460200-007
agent_config $u
agent_start $u
n=0
for d in 01 02 03 04 05 06 07 08 09 10; do
  agent $u record training --date 2018-03-$d --participants 3 --hours 1 || fail "record while down"
  agent $u record cases --month 2018-$d --total 100 --no-visit $((10#$d * 5)) || fail "record while down"
  n=$((n + 2))
done
sleep 1
expect_eq "$(sqlite3 "$T/agents/$u/outbox.db" 'select count(*) from outbox where acked_at is null')" $n "events waiting while the hub is down"
hub_start
wait_until 30 province_reports_is $n || fail "hub has $(province reports) of $n after coming up"
expect_eq "$(db "select group_concat(seq) from (select seq from reports order by received_at, seq)")" \
  "$(seq -s, 1 $n)" "stored in sequence order"
expect_eq "$(province participants)" 30 "participants"
expect_eq "$(province cases_no_visit)" 50 "latest month's no-visit cases"
say "$n events recorded while the hub was down, $n delivered after it came up"
