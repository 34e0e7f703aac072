#!/usr/bin/env bash
# Junk bytes and half-open TCP connections on the hub's raw ports do not
# disturb real agents: while dozens of connections sit silent or spray
# random bytes, fake ZMTP greetings and broken CURVE hellos at ingest,
# status and feed, three agents deliver every event and get every ack, and
# the hub stores exactly those events.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
port() { echo "${1##*:}"; }
units=(460100-001 460200-001 469002-003)
for u in "${units[@]}"; do agent_config "$u"; done
keys_sync

zmtp=$'\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f'
for ep in "$INGEST" "$STATUS" "$FEED"; do
  p=$(port "$ep")
  for _ in $(seq 10); do # half-open: connect, say nothing
    (exec 3<>"/dev/tcp/127.0.0.1/$p" && sleep 60) 2>/dev/null & BG_PIDS+=($!)
  done
  for _ in $(seq 5); do # random bytes
    (exec 3<>"/dev/tcp/127.0.0.1/$p" && head -c 200000 /dev/urandom >&3; sleep 60) 2>/dev/null & BG_PIDS+=($!)
  done
  for _ in $(seq 5); do # a ZMTP 3 greeting asking for CURVE, then garbage
    (exec 3<>"/dev/tcp/127.0.0.1/$p" && { printf '%s\x03\x00CURVE' "$zmtp"; head -c 59 /dev/zero;
      head -c 5000 /dev/urandom; } >&3; sleep 60) 2>/dev/null & BG_PIDS+=($!)
  done
  for _ in $(seq 5); do # a greeting that stops half way
    (exec 3<>"/dev/tcp/127.0.0.1/$p" && printf '%s\x03' "$zmtp" >&3; sleep 60) 2>/dev/null & BG_PIDS+=($!)
  done
done
say "${#BG_PIDS[@]} junk and half-open connections open"

total=0
for u in "${units[@]}"; do
  for d in $(seq 1 20); do
    echo "training --date 2018-03-$(printf %02d "$d") --participants 2 --hours 1 --course junk-test"
  done > "$T/agents/$u/events.txt"
  agent "$u" record --file "$T/agents/$u/events.txt" >/dev/null || fail "record $u"
  total=$((total + 20))
  agent_start "$u"
done
# more junk while they report
for ep in "$INGEST" "$STATUS"; do
  for _ in $(seq 5); do
    (exec 3<>"/dev/tcp/127.0.0.1/$(port "$ep")" && head -c 100000 /dev/urandom >&3) 2>/dev/null &
    BG_PIDS+=($!)
  done
done
for u in "${units[@]}"; do
  wait_until 20 outbox_count "$u" outbox 0 || fail "$u's events were not all acknowledged"
  expect_eq "$(stored_for "$u" | cut -d' ' -f1-3)" "20 0 20" "$u stored"
  if grep -qE "resend|refus|handshake" "$T/agents/$u/agent.log"; then
    fail "$u noticed trouble: $(grep -E 'resend|refus|handshake' "$T/agents/$u/agent.log" | head -3)"
  fi
done
expect_eq "$(db 'select count(*) from reports')" "$total" "rows stored"
expect_eq "$(province participants)" $((total * 2)) "participants"
kill -0 "$HUB_PID" || fail "the hub died"
say "$total events from 3 agents stored and acked beside $((${#BG_PIDS[@]})) junk connections"
