#!/usr/bin/env bash
# Agent hard kill: kill -9 agents while they send. Most kills come at random
# moments; every IN_WINDOW_EVERY-th one is steered into the window between the
# hub's commit+ack and the agent deleting what was acknowledged: the hub is
# frozen (SIGSTOP, every thread stopped: stop_procs) while the agent sends, so
# the events wait in the hub's socket buffer; once the kernel shows them there
# the agent is frozen likewise and the hub let go; when the hub's store holds
# them and its ack sits unread in the agent's socket buffer, the frozen agent
# is killed. Every restarted agent asks the hub first (protocol version 2: its
# first heartbeat), whose ack, checked against the events' content hash, marks
# what the hub already has; what is resent anyway (in flight at a kill) the
# hub drops: 0 lost, 0 duplicated, every steered kill in the window.
# Each step waits on what the kernel, the store or the outbox shows, never on
# a clock.
#   KILLS (60), AGENTS (8), EVENTS per kill (300), IN_WINDOW_EVERY (3), SEED
source "$(dirname "$0")/fault_lib.sh"
DRILL=agent-kill

KILLS=${KILLS:-60}
AGENTS=${AGENTS:-8}
EVENTS=${EVENTS:-300}
IN_WINDOW_EVERY=${IN_WINDOW_EVERY:-3}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
say "seed $SEED: $KILLS kills over $AGENTS agents, $EVENTS events recorded before each," \
  "one kill in ${IN_WINDOW_EVERY} steered between ack and delete (0: none)"
steered_kill() { [ "$IN_WINDOW_EVERY" -gt 0 ] && [ $(($1 % IN_WINDOW_EVERY)) -eq 0 ]; }

# A frozen process is let go whatever happens: fail() exits through this trap,
# which then runs the harness's cleanup with the exit status it came with
# (errexit off: a failed status must not end the trap before the cleanup).
FROZEN=()
thaw_then_cleanup() {
  local rc=$? pid
  set +e
  for pid in "${FROZEN[@]}"; do kill -CONT "$pid" 2>/dev/null; done
  FROZEN=()
  (exit $rc)
  cleanup
}
trap thaw_then_cleanup EXIT
freeze() { FROZEN+=("$1"); stop_procs "$1"; }
# unfrozen PID: PID is running again (or dead): nothing to thaw at exit.
unfrozen() {
  local keep=() pid
  for pid in "${FROZEN[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  FROZEN=("${keep[@]+"${keep[@]}"}")
}
thaw() { kill -CONT "$1"; unfrozen "$1"; }

# The kernel's view of one agent's connection to the hub's ingest port.
# agent_port UNIT: the local port of UNIT's agent's established connection.
agent_port() {
  ss -tnpH state established "( dport = :${INGEST##*:} )" 2>/dev/null |
    awk -v pid="pid=${AGENT_PIDS[$1]}," 'index($0, pid) { n = split($3, a, ":"); print a[n]; exit }'
}
# conn_recvq LOCAL_PORT PEER_PORT: bytes waiting unread on that end of the connection.
conn_recvq() {
  ss -tnH state established "( sport = :$1 and dport = :$2 )" 2>/dev/null | awk '{ print $1; exit }'
}
hub_rx() { conn_recvq "${INGEST##*:}" "$1"; }
agent_rx() { conn_recvq "$1" "${INGEST##*:}"; }
hub_rx_above() { local q; q=$(hub_rx "$1"); [ -n "$q" ] && [ "$q" -gt "$2" ]; }
agent_rx_some() { local q; q=$(agent_rx "$1"); [ -n "$q" ] && [ "$q" -gt 0 ]; }
have_port() { [ -n "$(agent_port "$1")" ]; }

# soon LIMIT COMMAND...: wait_until with a finer poll, for the steps taken while
# the hub or an agent is frozen (keeps those freezes short).
soon() {
  local end=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.01
  done
}

stored_of() { hub_last_seq "$1"; }
stored_above() { [ "$(stored_of "$1")" -gt "$2" ]; }
# caught_up UNIT: the hub stored all UNIT recorded and the agent deleted it all.
caught_up() { [ "$(stored_of "$1")" -eq "$(recorded "$1")" ] && outboxes_empty "$1"; }

export POLL_MS=${POLL_MS:-20}
hub_config; hub_start
mapfile -t US < <(units "$AGENTS" 100)
expect=0
for u in "${US[@]}"; do agent_config "$u"; agent_start "$u"; done

# Bytes a frozen hub's buffer may gain from heartbeats (106 bytes each under
# CURVE, one per HEARTBEAT_S) while it waits: beyond this it holds whole events
# (300 of them take about 23 kB). Steering needs that many bytes of events.
RX_SLACK=1024
if [ "$IN_WINDOW_EVERY" -gt 0 ] && [ "$EVENTS" -lt 30 ]; then
  fail "steered kills need EVENTS >= 30 (more than $RX_SLACK bytes of events), or IN_WINDOW_EVERY=0"
fi
mid=0 steered=0 steered_in=0 resent_min=0
for ((k = 1; k <= KILLS; k++)); do
  u=${US[$((RANDOM % AGENTS))]}
  f=$T/agents/$u/chunk-$k.txt
  s=$(gen_events "$f" "$EVENTS" $((SEED * 1000 + k)))
  expect=$((expect + s))
  if steered_kill "$k"; then
    # steered: nothing in flight first, so whatever reaches the hub's buffer is new
    wait_until 60 caught_up "$u" || fail "kill $k: $u did not catch up (stored $(stored_of "$u"), recorded $(recorded "$u"))"
    wait_until 30 have_port "$u" || fail "kill $k: no connection from $u's agent to the hub"
    p=$(agent_port "$u")
    freeze "$HUB_PID"
    rx0=$(hub_rx "$p"); rx0=${rx0:-0}
    agent "$u" record --file "$f" >/dev/null || fail "record --file for $u"
    soon 30 hub_rx_above "$p" $((rx0 + RX_SLACK)) \
      || fail "kill $k: $u's agent sent nothing to the frozen hub ($(hub_rx "$p") bytes waiting)"
    freeze "${AGENT_PIDS[$u]}"
    thaw "$HUB_PID"
    before=$(outbox_sql "$u" 'select last_ack from meta')
    soon 30 stored_above "$u" "$before" \
      || fail "kill $k: the hub stored none of what $u sent (stored $(stored_of "$u"), last ack $before)"
    soon 30 agent_rx_some "$p" || fail "kill $k: no ack reached $u's frozen agent"
    steered=$((steered + 1))
  else
    agent "$u" record --file "$f" >/dev/null || fail "record --file for $u"
    # the agent sees the records within poll_ms and starts sending: kill it somewhere in that
    sleep "0.$(printf '%03d' $((RANDOM % 80)))"
    before=$(outbox_sql "$u" 'select last_ack from meta')
  fi
  pid=${AGENT_PIDS[$u]}
  agent_kill "$u"
  unfrozen "$pid" # SIGKILL ends a stopped process too
  after=$(outbox_sql "$u" 'select last_ack from meta')
  stored=$(stored_of "$u")
  [ "$after" -ge "$before" ] || fail "kill $k: last ack of $u went back from $before to $after"
  # the hub had stored more than the agent had deleted: it died holding acknowledged events
  if [ "$stored" -gt "$after" ]; then
    mid=$((mid + 1))
    if steered_kill "$k"; then
      steered_in=$((steered_in + 1)) resent_min=$((resent_min + stored - after))
    fi
  elif steered_kill "$k"; then
    fail "kill $k: steered kill missed the window: $u's outbox acked $after, hub stored $stored"
  fi
  agent_start "$u"
done

wait_until 60 all_delivered "${US[@]}" \
  || { echo "$DRILL drill: $KILLS kills, $RECORDED reports, $LOST lost, $DUPS duplicated"; fail "not all delivered: $TALLY_BAD"; }
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied after everything was stored"
check_counts "after $KILLS kills" "${US[@]}"
check_totals "$expect"
dups=$(ctl metrics --json | jq -r '[.metrics[] | select(.name == "duplicates") | .value][0]')
dups=${dups%.*}
say "$mid kills left stored but undeleted events behind ($steered_in of $steered steered," \
  "$((mid - steered_in)) of $((KILLS - steered)) random); the hub dropped $dups resent duplicates" \
  "(steered kills alone left $resent_min to resend)"
[ "$steered_in" -eq "$steered" ] || fail "only $steered_in of $steered steered kills landed between ack and delete"
finish "$KILLS kills ($mid between ack and delete, $steered_in of them steered), $RECORDED reports, $LOST lost, $DUPS duplicated, $dups resends dropped"
