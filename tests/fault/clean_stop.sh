#!/usr/bin/env bash
# Clean stop: SIGTERM the hub while agents stream to it; it commits and
# acknowledges what it took in and exits 0 (each agent's last ack then
# equals what the hub stored for it). SIGTERM the agents mid-stream: they
# exit 0. After restarts, no work is lost.
#   ROUNDS (4), AGENTS (6), EVENTS per agent and round (1500)
source "$(dirname "$0")/fault_lib.sh"
DRILL=clean-stop

ROUNDS=${ROUNDS:-4}
AGENTS=${AGENTS:-6}
EVENTS=${EVENTS:-1500}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
say "seed $SEED: $ROUNDS rounds, $AGENTS agents x $EVENTS events each"

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS" 600)
expect=0
for u in "${US[@]}"; do agent_config "$u"; agent_start "$u"; done

# acks_match: every agent's last ack equals what the hub committed for it
acks_match() {
  local u
  for u in "${US[@]}"; do
    [ "$(outbox_sql "$u" 'select last_ack from meta')" == "$(hub_last_seq "$u")" ] || return 1
  done
}

hub_stops=0 agent_stops=0 midstream=0
for ((r = 1; r <= ROUNDS; r++)); do
  pids=()
  for u in "${US[@]}"; do
    s=$(gen_events "$T/agents/$u/r$r.txt" "$EVENTS" $((SEED + r * 100)))
    expect=$((expect + s))
    agent "$u" record --file "$T/agents/$u/r$r.txt" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "round $r: record --file failed"; done
  sleep "0.$(printf '%02d' $((RANDOM % 20)))"
  tally "${US[@]}"
  [ "$STORED" -lt "$RECORDED" ] && midstream=$((midstream + 1))
  hub_stop || fail "round $r: the hub did not exit 0 on SIGTERM"
  hub_stops=$((hub_stops + 1))
  grep -q "stopped" "$T/hub.log" || fail "round $r: the hub did not log its stop"
  # what the hub committed, it acknowledged before exiting: the agents catch up on acks alone
  if ! wait_until 10 acks_match; then
    for u in "${US[@]}"; do
      say "$u: last ack $(outbox_sql "$u" 'select last_ack from meta'), hub stored $(hub_last_seq "$u")"
    done
    fail "round $r: an agent's last ack differs from what the stopped hub stored"
  fi
  hub_start
  # now stop an agent mid-stream
  u=${US[$((RANDOM % AGENTS))]}
  s=$(gen_events "$T/agents/$u/r$r-more.txt" "$EVENTS" $((SEED + r * 100 + 7)))
  expect=$((expect + s))
  agent "$u" record --file "$T/agents/$u/r$r-more.txt" >/dev/null
  sleep "0.$(printf '%02d' $((RANDOM % 20)))"
  agent_stop "$u" || fail "round $r: agent $u did not exit 0 on SIGTERM"
  agent_stops=$((agent_stops + 1))
  grep -q "stopped:" "$T/agents/$u/agent.log" || fail "agent $u did not log its stop"
  agent_start "$u"
done

wait_until 60 all_delivered "${US[@]}" \
  || { echo "$DRILL drill: $RECORDED reports, $LOST lost, $DUPS duplicated"; fail "not all delivered: $TALLY_BAD"; }
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied"
for u in "${US[@]}"; do agent_stop "$u" || fail "agent $u did not exit 0 on SIGTERM"; done
hub_stop || fail "the hub did not exit 0 on SIGTERM"
hub_start
check_counts "after clean stops" "${US[@]}"
check_totals "$expect"
finish "$hub_stops hub and $((agent_stops + AGENTS)) agent SIGTERMs ($midstream hub stops mid-stream), all exited 0, last acks = stored, $RECORDED reports, $LOST lost, $DUPS duplicated"
