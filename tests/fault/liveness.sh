#!/usr/bin/env bash
# Liveness. The hub's ingest connections have TCP keepalive on (how the hub
# finds a dead agent's). A hub frozen by SIGSTOP past the ZeroMQ heartbeat timeout is
# noticed by every agent (they drop the connection) and, once it runs
# again, they reconnect and deliver what was recorded meanwhile. A killed
# hub is retried with a jittered, growing, capped backoff. A unit whose
# agent dies shows up as silent after the hub's silent_after, and leaves the
# list when it reports again.
# With FLEET=1 (slow suite): 893 real agents connected, the hub killed and
# restarted: every unit is heard again, and delivers a new event, within 60 s.
#   AGENTS (4), STOP_S (longest freeze, 25), DOWN_S (8), FLEET (0), FLEET_LIMIT_S (60)
source "$(dirname "$0")/fault_lib.sh"
DRILL=liveness

FLEET=${FLEET:-0}
DOWN_S=${DOWN_S:-8}
STOP_S=${STOP_S:-25}
FLEET_LIMIT_S=${FLEET_LIMIT_S:-60}

# unit_heard_since EPOCH UNIT...: every unit's last_heard is at or after EPOCH
heard_since() {
  local since=$1; shift
  local list; list=$(printf "'%s'," "$@")
  [ "$(db "select count(*) from units where last_heard >= $since and id in (${list%,})")" -eq $# ]
}

if [ "$FLEET" = 1 ]; then
  # ---- 893 agents and a hub restart ----
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  export HEARTBEAT_S=${HEARTBEAT_S:-30} POLL_MS=${POLL_MS:-1000}
  hub_config; hub_start; hub_pin_ports
  mapfile -t US < <(units 893)
  t0=$(now)
  for u in "${US[@]}"; do agent_config "$u"; done
  keys_s=$(elapsed "$t0")
  printf '%s\n' "${US[@]}" | xargs -P 4 -I{} "$AGENT_BIN" --config "$T/agents/{}/agent.ini" \
    record staff --date 2018-01-05 --total 10 --proficient 4 >/dev/null || fail "first records"
  keys_sync
  t0=$(now)
  for u in "${US[@]}"; do agent_start "$u"; done
  wait_until 120 all_delivered "${US[@]}" || fail "first events of 893 agents not delivered: $TALLY_BAD"
  say "configs and keys for ${#US[@]} agents in $keys_s s; all started and delivered in $(elapsed "$t0") s"
  alive=0; for u in "${US[@]}"; do kill -0 "${AGENT_PIDS[$u]}" 2>/dev/null && alive=$((alive + 1)); done
  expect_eq "$alive" 893 "agents running"

  hub_kill
  sleep 1
  since=$(date +%s)
  t0=$(now)
  hub_start
  wait_until "$FLEET_LIMIT_S" heard_since "$since" "${US[@]}" \
    || fail "$(db "select count(*) from units where last_heard >= $since") of 893 units heard within ${FLEET_LIMIT_S} s of the restart"
  heard=$(elapsed "$t0")
  printf '%s\n' "${US[@]}" | xargs -P 4 -I{} "$AGENT_BIN" --config "$T/agents/{}/agent.ini" \
    record staff --date 2018-02-05 --total 11 --proficient 5 >/dev/null || fail "second records"
  wait_until "$FLEET_LIMIT_S" all_delivered "${US[@]}" || fail "not every unit delivered after the restart: $TALLY_BAD"
  delivered=$(elapsed "$t0")
  check_counts "893 agents" "${US[@]}"
  verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
  finish "893 agents, hub restarted: all heard again in $heard s, all delivered a new event in $delivered s (record included), $RECORDED reports, $LOST lost, $DUPS duplicated"
  exit 0
fi

# ---- a few agents: frozen hub, killed hub, silent unit ----
AGENTS=${AGENTS:-4}
export SILENT_AFTER=${SILENT_AFTER:-3} HEARTBEAT_S=${HEARTBEAT_S:-1}
hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS" 700)
for u in "${US[@]}"; do
  agent_config "$u"
  ini_set "$T/agents/$u/agent.ini" agent log_level debug
  agent_start "$u"
done
expect=0
record_round() {
  local u s
  for u in "${US[@]}"; do
    s=$(gen_events "$T/agents/$u/$1.txt" 50 $((RANDOM)))
    expect=$((expect + s))
    agent "$u" record --file "$T/agents/$u/$1.txt" >/dev/null || fail "record ($1)"
  done
}
record_round before
wait_until 30 all_delivered "${US[@]}" || fail "not delivered: $TALLY_BAD"

# 0. the hub finds a dead agent's connection by the kernel's TCP keepalive, not by ZMTP
# heartbeats of its own (lib/ro_sock.h, ro_sock_keepalive): every one of its ingest
# connections has the keepalive timer running
port=${INGEST##*:}
conns=$(ss -tnoH state established "( sport = :$port )")
kept=$(grep -c "timer:(keepalive," <<< "$conns" || true)
expect_eq "$(grep -c . <<< "$conns")" "$AGENTS" "the hub's ingest connections"
expect_eq "$kept" "$AGENTS" "ingest connections with TCP keepalive on"

# 1. the hub freezes: every agent notices by the heartbeat timeout, and recovers after SIGCONT
lost_lines() { cat "$T"/agents/*/agent.log | grep -c "lost the connection to the hub" || true; }
all_noticed() { [ "$(lost_lines)" -ge $((lost0 + AGENTS)) ]; }
lost0=$(lost_lines)
stop_procs "$HUB_PID"
t_stop=$(now)
record_round frozen
wait_until "$STOP_S" all_noticed || { kill -CONT "$HUB_PID"; fail "only $(( $(lost_lines) - lost0 )) of $AGENTS agents noticed a hub frozen for $STOP_S s"; }
noticed=$(elapsed "$t_stop")
kill -CONT "$HUB_PID"
t_cont=$(now)
wait_until 60 all_delivered "${US[@]}" || fail "not delivered after SIGCONT: $TALLY_BAD"
after_cont=$(elapsed "$t_cont")
say "frozen hub noticed by all $AGENTS agents in $noticed s; delivered $(elapsed "$t_cont") s after SIGCONT"

# 2. the hub dies: agents retry with a jittered, growing, capped backoff, then deliver
for u in "${US[@]}"; do : > "$T/agents/$u/agent.log"; done
hub_kill
t_kill=$(now)
record_round down
sleep "$DOWN_S"
# "hub socket event 0x4 (value MS)": ZMQ_EVENT_CONNECT_RETRIED with the interval it waits
ivls=$(for u in "${US[@]}"; do
  grep -o "hub socket event 0x4 (value [0-9]*)" "$T/agents/$u/agent.log" | grep -o "[0-9]*)" | tr -d ')' | paste -sd' '
done)
say "retry intervals (ms), one agent a line:"; while read -r l; do say "  $l"; done <<< "$ivls"
awk -v cap=30000 '{ if (NF < 2) bad = bad " too few retries: " $0 ";"
                    if ($NF <= $1) bad = bad " no growth: " $0 ";"
                    for (i = 1; i <= NF; i++) if ($i > 2 * cap) bad = bad " above the cap: " $i ";"
                    first[$1]++ }
     END { n = 0; for (f in first) n++; if (NR > 1 && n < 2) bad = bad " no jitter: every agent waits the same;"
           if (bad != "") { print bad; exit 1 } }' <<< "$ivls" > "$T/backoff.txt" \
  || fail "backoff: $(cat "$T/backoff.txt")"
grow=$(awk '{ if (min == "" || $1 < min) min = $1; if ($NF > max) max = $NF } END { printf "%.1f-%.1f s", min / 1000, max / 1000 }' <<< "$ivls")
t_up=$(now)
hub_start
wait_until 60 all_delivered "${US[@]}" || fail "not delivered after the restart: $TALLY_BAD"
after_restart=$(elapsed "$t_up")
say "hub down $(elapsed "$t_kill" "$t_up") s: retries every $grow; delivered $after_restart s after the restart"

# 3. silent: a dead agent's unit is listed after silent_after, and leaves the list when back
silent_ids() { ctl status --silent --limit 1000 --json | jq -r '.scopes[].id'; }
is_silent() { local ids; ids=$(silent_ids) || return 1; grep -qx "$1" <<< "$ids"; }
not_silent() { local ids; ids=$(silent_ids) || return 1; ! grep -qx "$1" <<< "$ids"; }
silent_note=
if ! ctl status --silent --limit 1 --json >/dev/null 2>&1; then
  silent_note=", silent check skipped (the hub does not answer status --silent)"
else
  wait_until 10 not_silent "${US[1]}" || fail "${US[1]} is listed silent while its agent runs"
  agent_kill "${US[0]}"
  t_dead=$(now)
  wait_until $((SILENT_AFTER + 10)) is_silent "${US[0]}" || fail "${US[0]} not listed silent $((SILENT_AFTER + 10)) s after its agent died"
  silent_in=$(elapsed "$t_dead")
  for u in "${US[@]:1}"; do is_silent "$u" && fail "$u is listed silent while its agent runs"; done
  agent_start "${US[0]}"
  wait_until 10 not_silent "${US[0]}" || fail "${US[0]} still silent after its agent came back"
  silent_note=", a dead agent's unit listed silent after $silent_in s (silent_after $SILENT_AFTER s)"
fi
check_counts "liveness" "${US[@]}"
check_totals "$expect"
finish "frozen hub noticed in $noticed s and caught up $after_cont s after SIGCONT, killed hub retried every $grow and caught up $after_restart s after restart$silent_note, $RECORDED reports, $LOST lost, $DUPS duplicated"
