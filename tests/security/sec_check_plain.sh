#!/usr/bin/env bash
# `rollout-hub --check` warns about plain TCP as the start does, in the same
# words (one function says it for both): an error per socket that listens
# beyond loopback with curve = off, a warning when all are on loopback. It
# binds nothing, so the endpoints it names need not be free.
source "$(dirname "$(dirname "$0")")/e2e/lib.sh"

hub_check() { rc=0; "$HUB_BIN" --config "$T/hub.ini" --check >"$T/check.out" 2>"$T/check.err" || rc=$?; }
plain_ini() {
  INGEST_EP=$1 hub_config
  sed -i 's/^curve = on$/curve = off/; /^secret_key\|^public_key\|^allow_list/d' "$T/hub.ini"
}

plain_ini "tcp://0.0.0.0:7450"
hub_check
expect_eq $rc 0 "--check exit status with curve off beyond loopback (the start goes ahead too)"
grep -qF "error: CURVE is OFF and the ingest socket (tcp://0.0.0.0:7450) listens beyond loopback: anyone who can reach it can read the traffic and speak for any unit; set [security] curve = on" "$T/check.err" \
  || fail "--check did not warn about the ingest socket: $(cat "$T/check.err")"
[ "$(grep -c "CURVE is OFF" "$T/check.err")" -eq 1 ] || fail "--check warned about loopback sockets too"
grep -q "ok: .*curve OFF beyond loopback (see above)" "$T/check.out" \
  || fail "--check's ok line hides it: $(cat "$T/check.out")"
[ ! -e "$T/hub/endpoints" ] && [ ! -e "$T/hub/hub.db" ] || fail "--check wrote to data_dir"
say "curve off on 0.0.0.0: --check says what the start says"

plain_ini "tcp://127.0.0.1:7450"
hub_check
expect_eq $rc 0 "--check exit status with curve off on loopback"
grep -q "warning: CURVE is off: plain TCP, for loopback development only" "$T/check.err" \
  || fail "--check did not mention plain TCP on loopback: $(cat "$T/check.err")"
grep -q "CURVE is OFF" "$T/check.err" && fail "--check warned of loopback sockets as remote"

# the start says the very same (loopback: nothing binds beyond it)
plain_ini "tcp://127.0.0.1:*"
hub_start
grep -q "warning: CURVE is off: plain TCP, for loopback development only" "$T/hub.log" \
  || fail "the start did not say it"
hub_stop || fail "hub stop"

# with curve on, neither
hub_config
hub_check
expect_eq $rc 0 "--check exit status with curve on"
grep -q "CURVE is" "$T/check.err" && fail "--check warned with curve on: $(cat "$T/check.err")"
grep -q "ok: .*curve on$" "$T/check.out" || fail "--check's ok line: $(cat "$T/check.out")"
say "curve off on loopback: the lesser warning, at --check and at start; curve on: none"
