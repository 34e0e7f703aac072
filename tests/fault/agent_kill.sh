#!/usr/bin/env bash
# Agent hard kill: kill -9 agents while they send, at random moments, some
# of them between the hub's ack and the agent deleting what it acknowledged;
# every restarted agent resends from its last ack and the hub drops what it
# already has: 0 lost, 0 duplicated.
#   KILLS (60), AGENTS (8), EVENTS per kill (300), SEED
source "$(dirname "$0")/fault_lib.sh"
DRILL=agent-kill

KILLS=${KILLS:-60}
AGENTS=${AGENTS:-8}
EVENTS=${EVENTS:-300}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
say "seed $SEED: $KILLS kills over $AGENTS agents, $EVENTS events recorded before each"

export POLL_MS=${POLL_MS:-20}
hub_config; hub_start
mapfile -t US < <(units "$AGENTS" 100)
expect=0
for u in "${US[@]}"; do agent_config "$u"; agent_start "$u"; done

mid=0
for ((k = 1; k <= KILLS; k++)); do
  u=${US[$((RANDOM % AGENTS))]}
  f=$T/agents/$u/chunk-$k.txt
  s=$(gen_events "$f" "$EVENTS" $((SEED * 1000 + k)))
  expect=$((expect + s))
  agent "$u" record --file "$f" >/dev/null || fail "record --file for $u"
  # the agent sees the records within poll_ms and starts sending: kill it somewhere in that
  sleep "0.$(printf '%03d' $((RANDOM % 80)))"
  before=$(outbox_sql "$u" 'select last_ack from meta')
  agent_kill "$u"
  after=$(outbox_sql "$u" 'select last_ack from meta')
  stored=$(db "select last_seq from units where id = '$u'")
  # the hub had stored more than the agent had deleted: it dies holding acknowledged events
  [ "$stored" -gt "$after" ] && mid=$((mid + 1))
  [ "$after" -ge "$before" ] || fail "kill $k: last ack of $u went back from $before to $after"
  agent_start "$u"
done

wait_until 60 all_delivered "${US[@]}" \
  || { echo "$DRILL drill: $KILLS kills, $RECORDED reports, $LOST lost, $DUPS duplicated"; fail "not all delivered: $TALLY_BAD"; }
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied after everything was stored"
check_counts "after $KILLS kills" "${US[@]}"
check_totals "$expect"
dups=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "duplicates") | .value][0]')
say "$mid kills left stored but undeleted events behind; the hub dropped ${dups%.*} resent duplicates"
[ "${dups%.*}" -gt 0 ] || fail "no kill ever made an agent resend what the hub had: the drill missed its window"
finish "$KILLS kills ($mid between ack and delete), $RECORDED reports, $LOST lost, $DUPS duplicated, ${dups%.*} resends dropped"
