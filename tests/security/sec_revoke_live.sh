#!/usr/bin/env bash
# A key revoked while its connection is up stops working on that connection:
# ZAP only runs at the handshake, so ingest checks every message against the
# reloaded allow-list. The report after the SIGHUP is refused as forbidden
# and not stored; a new handshake with the key fails; a real agent's later
# events are refused too; a revoked operator's next status request as well.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
u=460100-001

# one connection: report 1, wait while the key is revoked, then report 2 and a heartbeat
unit_keys $u; keys_sync
{ echo "report $u 1 staff 20180105 10 5"; echo "wait $T/revoked"
  echo "report $u 2 staff 20180106 10 6"; echo "heartbeat $u"; } \
  | probe_as $u "$INGEST" --wait 1000 - > "$T/probe.out" 2>&1 &
BG_PIDS+=($!)
wait_until 10 grep -q "^ack $u 1$" "$T/probe.out" || fail "report 1 not acked: $(cat "$T/probe.out")"
heard=$(stored_for $u | cut -d' ' -f4)
"$CTL_BIN" keys revoke $u --allow-list "$ALLOW" >/dev/null || fail "keys revoke"
hub_reload_keys
touch "$T/revoked"
wait_until 10 grep -q "^refusal $u 0 forbidden" "$T/probe.out" \
  || fail "the live connection was not refused: $(cat "$T/probe.out")"
grep -q "^refusal $u 2 forbidden the key of $u is no longer on the hub's allow-list" "$T/probe.out" \
  || fail "report 2 not refused as forbidden: $(cat "$T/probe.out")"
expect_eq "$(stored_for $u)" "1 0 1 $heard" "after the revocation: only report 1, last heard unchanged"

# a new connection with the revoked key fails its handshake
out=$(probe_as $u "$INGEST" --wait 1000 report $u 2 staff 20180106 10 6)
[ -z "$out" ] || fail "a revoked key was answered on a new connection: $out"

# a real agent revoked while connected
v=460100-002
agent_config $v
agent $v record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
agent_start $v
wait_until 15 outbox_count $v outbox 0 || fail "agent $v's first event not delivered"
"$CTL_BIN" keys revoke $v --allow-list "$ALLOW" >/dev/null || fail "keys revoke $v"
hub_reload_keys
agent $v record staff --date 2018-02-05 --total 10 --proficient 6 >/dev/null || fail "record"
agent $v record staff --date 2018-03-05 --total 10 --proficient 7 >/dev/null || fail "record"
wait_until 15 grep -q "refused $v seq 2: forbidden" "$T/hub.log" \
  || fail "agent $v's events after the revocation not refused"
outbox_count $v outbox 2 || fail "agent $v did not keep its refused events (a new key delivers them)"
expect_eq "$(stored_for $v | cut -d' ' -f1-3)" "1 0 1" "agent $v: only the event before the revocation"
expect_eq "$(db 'select count(*) from reports')" 2 "rows stored in all"

# an operator revoked while connected: its next status request is answered "forbidden"
op=("$KEYS/hub/hub.pub" "$KEYS/operator/operator.pub" "$KEYS/operator/operator.key")
province_request=08011002 # StatusRequest{version 1, query PROVINCE}
forbidden=$(printf forbidden | od -An -tx1 | tr -d ' \n')
{ echo "raw $province_request"; echo "wait $T/op-revoked"; echo "raw $province_request"; } \
  | "$PROBE_EXE" "$STATUS" --curve "${op[@]}" --hex --wait 1000 - > "$T/op.out" 2>&1 &
BG_PIDS+=($!)
wait_until 10 grep -q "^frame " "$T/op.out" || fail "the operator got no first answer"
grep -q "$forbidden" <<<"$(grep "^frame " "$T/op.out")" && fail "the operator was refused before the revocation"
"$CTL_BIN" keys revoke operator:e2e --allow-list "$ALLOW" >/dev/null || fail "keys revoke operator"
hub_reload_keys
touch "$T/op-revoked"
two_frames() { [ "$(grep -c "^frame " "$T/op.out")" -ge 2 ]; }
wait_until 10 two_frames || fail "the operator's second request got no answer"
grep -q "$forbidden" <<<"$(grep "^frame " "$T/op.out" | sed -n 2p)" \
  || fail "the revoked operator's request was answered: $(sed -n 2p "$T/op.out" | cut -c1-80)"
say "revoked keys refused on their live connections and at new handshakes; nothing stored after"
