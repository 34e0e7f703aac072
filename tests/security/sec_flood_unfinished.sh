#!/usr/bin/env bash
# Issue 13, item 2: an admitted unit key sends one heartbeat, then one message
# that never ends (every frame with MORE set, each under ZMQ_MAXMSGSIZE), up to
# 2 GiB. libzmq queues the frames of an unfinished message whatever the HWM and
# the hub never sees them: the old hub grew about 2 MiB per MiB sent and kept
# it. Now the hub's watchdog cuts the connection once HUB_PEERS_BOUND (8 MiB)
# came without a complete message, and gives the memory back. Three floods in
# a row (4000-byte frames, the most CURVE fits under the 4096-byte frame limit;
# empty frames, the worst amplification; small ones): the hub's RSS stays under
# the bound rollout-hub(8) states for one flooding key (RSS before + 64 MiB) the
# whole time, each flooder is cut, the log and the metrics name its key, and
# another agent's reports are stored between and during the floods.
source "$(dirname "$0")/sec_lib.sh"

FLOOD=$RO_BUILD/tests/tools/ro-flood
[ -x "$FLOOD" ] || { echo "1..0 # SKIP ro-flood was not built (no libsodium)"; exit 77; }
BOUND_MIB=64 # rollout-hub(8), MEMORY: one key flooding costs at most this much

hub_config; hub_start
bad=460100-001 good=460100-002
unit_keys $bad
agent_config $good
agent_start $good
agent $good record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
wait_until 15 outbox_count $good outbox 0 || fail "agent $good's first event not stored"

base=$(rss_kib)
limit=$((base + BOUND_MIB * 1024))
say "hub RSS before the floods: $((base / 1024)) MiB; bound $((limit / 1024)) MiB"

peak=0
round=0
for frame in 4000 0 64; do
  round=$((round + 1))
  out=$T/flood$round.out
  "$FLOOD" "$INGEST" --curve "$KEYS/hub/hub.pub" "$KEYS/units/$bad/agent.pub" \
    "$KEYS/units/$bad/agent.key" --heartbeat $bad --frame $frame --total $((2 << 30)) > "$out" 2>&1 &
  fpid=$!
  BG_PIDS+=($fpid)
  # another unit's report while the flood runs
  agent $good record staff --date 2018-0$((round + 1))-05 --total 10 --proficient 5 >/dev/null \
    || fail "record during flood $round"
  # the condition is the bound: sample RSS until the flooder ends
  rss_within $fpid "$limit" "flood $round ($frame-byte frames)" "$out"
  wait $fpid && rc=0 || rc=$?
  expect_eq "$rc" 0 "flood $round ($frame-byte frames) cut: $(tail -n 1 "$out")"
  grep -q "^cut after" "$out" || fail "flood $round: the flooder was not cut: $(cat "$out")"
  wait_until 15 outbox_count $good outbox 0 || fail "agent $good's event during flood $round not stored"
  say "flood $round ($frame-byte frames): $(tail -n 1 "$out"); hub peak RSS so far $((peak / 1024)) MiB"
done

key=$(cat "$KEYS/units/$bad/agent.pub")
cuts=$(grep -cF "cut the ingest connection of $bad (key $key)" "$T/hub.log" || true)
expect_eq "$cuts" 3 "cuts logged with the flooder's unit and key"
expect_eq "$(metric "peer_cuts_flood:$bad")" 3 "metric peer_cuts_flood:$bad"
expect_eq "$(metric "peer_cuts_flood:$good")" 0 "metric peer_cuts_flood:$good"
expect_eq "$(stored_for $good | cut -d' ' -f1)" 4 "agent $good's reports stored"
# the memory came back: RSS settles under the bound (freed queues are trimmed)
settled() { [ "$(rss_kib)" -lt $((base + 16 * 1024)) ]; }
! rss_bound_checked || wait_until 5 settled || fail "hub RSS $(($(rss_kib) / 1024)) MiB a while after the floods (was $((base / 1024)) MiB)"
say "3 floods cut, peak RSS $((peak / 1024)) MiB (bound $((limit / 1024)) MiB), 4 reports of $good stored"
