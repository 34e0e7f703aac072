#!/usr/bin/env bash
# A unit key's holder cannot make the hub abort by taking the routing ids
# libzmq would give the next agents. libzmq 4.3 numbers a ROUTER's peers that
# bring no id from rand(), never seeded: the same numbers on every start, and
# never checked against ids that peers chose themselves. Here a unit key holds
# the first ids an unseeded process would give (on both ROUTERs' candidates),
# then a real agent connects: the hub (which seeds rand() from the kernel)
# stays up and stores the agent's report.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
# the ZAP handler and its self-test make sockets of their own before the
# ROUTERs: hold the first four starting numbers, three ids each
mapfile -t next < <("$PROBE_EXE" --predict-ids 4)
[ ${#next[@]} -eq 4 ] || fail "ro-probe --predict-ids printed ${#next[@]} ids"
unit_keys "$PROBE_UNIT" && keys_sync # once, before the holders start side by side
held=0
for id in "${next[@]}"; do
  for k in 0 1 2; do
    rid=$(printf '00%08x' $((16#${id:2} + k)))
    # the binary itself in the background (not the probe function), so that
    # the harness's cleanup kills it
    "$PROBE_EXE" "$INGEST" --curve "$KEYS/hub/hub.pub" "$KEYS/units/$PROBE_UNIT/agent.pub" \
      "$KEYS/units/$PROBE_UNIT/agent.key" --routing-id "$rid" --wait 600000 heartbeat "$PROBE_UNIT" \
      > "$T/held-$rid.out" 2>&1 &
    BG_PIDS+=($!)
    held=$((held + 1))
  done
done
answered() { [ "$(cat "$T"/held-*.out 2>/dev/null | grep -c '^\(ack\|refusal\)')" -ge "$held" ]; }
wait_until 30 answered || fail "the $held holders of predicted ids were not all answered"
say "$held connections hold the routing ids an unseeded libzmq would give next"

u=460100-003
agent_config $u
agent $u record staff --date 2018-01-05 --total 40 --proficient 31 >/dev/null || fail "record"
agent_start $u
wait_until 20 province_reports_is 1 || true
kill -0 "$HUB_PID" 2>/dev/null || fail "the hub died when an agent connected: $(grep -m1 -i assert "$T/hub.log")"
expect_eq "$(province reports)" 1 "the agent's report stored"
grep -qi "assertion" "$T/hub.log" && fail "libzmq asserted: $(grep -m1 -i assert "$T/hub.log")"
say "the hub stayed up and stored the agent's report"
