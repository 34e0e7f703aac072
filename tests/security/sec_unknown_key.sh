#!/usr/bin/env bash
# Only listed keys connect, and each only to its sockets: a key the hub does
# not know, a client without keys, an operator key on ingest and a unit key
# on the status socket all fail their handshake (no answer at all), the hub
# logs why, and nothing is stored.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
u=460100-003

# a key pair that was never listed, from a peer that knows the hub's public key
"$CTL_BIN" keys unit $u "$T/stranger" >/dev/null
out=$("$PROBE_EXE" "$INGEST" --curve "$KEYS/hub/hub.pub" "$T/stranger/agent.pub" \
  "$T/stranger/agent.key" --wait 1500 report $u 1 staff 20180105 10 5)
[ -z "$out" ] || fail "an unknown key got an answer: $out"
grep "refused a connection to ingest from 127.0.0.1" "$T/hub.log" \
  | grep -F "(key $(cat "$T/stranger/agent.pub")): key not on the allow-list" >/dev/null \
  || fail "the hub did not log the unknown key"

# a peer without CURVE at all
out=$("$PROBE_EXE" "$INGEST" --wait 1000 report $u 1 staff 20180105 10 5)
[ -z "$out" ] || fail "a plain peer got an answer: $out"

# the operator's key on the ingest socket
out=$("$PROBE_EXE" "$INGEST" --curve "$KEYS/hub/hub.pub" "$KEYS/operator/operator.pub" \
  "$KEYS/operator/operator.key" --wait 1500 report $u 1 staff 20180105 10 5)
[ -z "$out" ] || fail "an operator key was answered on ingest: $out"
hub_log_has "refused a connection to ingest .*operator keys may not use the ingest socket" "operator on ingest"

# a unit's key on the status socket
unit_keys $u; keys_sync
printf '[security]\ncurve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
  "$KEYS/hub/hub.pub" "$KEYS/units/$u/agent.key" "$KEYS/units/$u/agent.pub" > "$T/unit-ctl.ini"
rc=0; "$CTL_BIN" --config "$T/unit-ctl.ini" --hub "$STATUS" --timeout 2 status >/dev/null 2>&1 || rc=$?
expect_eq $rc 1 "rolloutctl with a unit key"
hub_log_has "refused a connection to status .*unit keys may use only the ingest socket" "unit on status"

nothing_stored $u "refused handshakes"
expect_eq "$(db 'select count(*) from reports') $(db 'select count(*) from refusals')" "0 0" "rows stored"
[ "$(metric auth_refused_unknown-key)" -ge 1 ] || fail "auth_refused_unknown-key not counted"
[ "$(metric auth_refused_wrong-socket)" -ge 2 ] || fail "auth_refused_wrong-socket not counted"
say "unknown key, keyless peer, operator on ingest, unit on status: no connection, nothing stored"
