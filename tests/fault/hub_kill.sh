#!/usr/bin/env bash
# Hub hard kill: kill -9 the hub at random moments while many agents send;
# afterwards every event any outbox accepted is stored exactly once, the
# aggregates equal a recount of the raw reports. How soon the hub answers
# status after each restart is reported (the longest), not asserted: speed is
# bench/run's to measure.
#   KILLS (20), AGENTS (50), EVENTS per agent (500), SEED
source "$(dirname "$0")/fault_lib.sh"
DRILL=hub-kill

KILLS=${KILLS:-20}
AGENTS=${AGENTS:-50}
EVENTS=${EVENTS:-500}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
say "seed $SEED: $KILLS kills, $AGENTS agents x $EVENTS events"

hub_config; hub_start; hub_pin_ports

# After each restart every agent reconnects at once: the ingest socket's
# listen queue (a LISTEN socket's Send-Q in ss) must hold them all, not
# libzmq's default of 100, past which the kernel drops connections and each
# waits for TCP's next try (seconds).
want=$(( $(cat /proc/sys/net/core/somaxconn) < 4096 ? $(cat /proc/sys/net/core/somaxconn) : 4096 ))
backlog=$(ss -Hltn "( sport = :${INGEST##*:} )" | awk '{ print $3; exit }')
[ "$backlog" = "$want" ] || fail "the ingest socket's listen queue is ${backlog:-unknown}, not $want"
mapfile -t US < <(units "$AGENTS")

# the events, in one chunk per kill round and agent (record --file: one transaction each)
per=$((EVENTS / KILLS)); extra=$((EVENTS - per * KILLS))
expect=0
for i in "${!US[@]}"; do
  u=${US[$i]}
  agent_config "$u"
  mkdir -p "$T/agents/$u/chunks"
  for ((k = 1; k <= KILLS; k++)); do
    n=$per; [ $k -eq 1 ] && n=$((per + extra))
    s=$(gen_events "$T/agents/$u/chunks/$k.txt" "$n" $((SEED * 1000 + i * 100 + k)))
    expect=$((expect + s))
  done
done

for u in "${US[@]}"; do agent_start "$u"; done

max_restart=0
for ((k = 1; k <= KILLS; k++)); do
  # a round of records lands while agents send, then the hub dies at a random moment
  pids=()
  for u in "${US[@]}"; do
    agent "$u" record --file "$T/agents/$u/chunks/$k.txt" >/dev/null &
    pids+=($!)
  done
  sleep "0.$(printf '%03d' $((RANDOM % 600)))"
  hub_kill
  hub_restart_timed
  max_restart=$(fmax "$max_restart" "$RESTART_S")
  for p in "${pids[@]}"; do wait "$p" || fail "kill $k: record --file failed"; done
done

t0=$(now)
wait_until 120 all_delivered "${US[@]}" \
  || { echo "$DRILL drill: $KILLS kills, $RECORDED reports, $LOST lost, $DUPS duplicated"; fail "not all delivered: $TALLY_BAD"; }
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied after everything was stored"
drain=$(elapsed "$t0")
check_counts "after $KILLS kills" "${US[@]}"
check_totals "$expect"
[ "$RECORDED" -eq $((AGENTS * EVENTS)) ] || fail "recorded $RECORDED events, meant $((AGENTS * EVENTS))"
dups=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "duplicates") | .value][0]')
say "drained in $drain s after the last restart; the last hub run dropped ${dups%.*} resent duplicates"
finish "$KILLS kills, $RECORDED reports, $LOST lost, $DUPS duplicated, max restart $(printf '%.2f' "$max_restart") s"
