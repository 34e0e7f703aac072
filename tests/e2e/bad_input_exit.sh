#!/usr/bin/env bash
# Bad input exits 2 with one line saying what is wrong, everywhere (issue 12):
# a unit already on the allow-list, a broken allow-list, a ctl.ini naming a
# key file that is not there, a --hub that is no host or port all exited 1,
# as if the hub were in trouble; --timeout 0 named the range 0-3600 where
# it is 1-3600; and rolloutctl without a command named four of its six.
source "$(dirname "$0")/lib.sh"

# bad ARGS...: rolloutctl ARGS exits 2 with one line on stderr; that line in $ERR.
bad() {
  local rc=0
  ERR=$("$CTL_BIN" "$@" 2>&1 >/dev/null) || rc=$?
  expect_eq "$rc" 2 "exit status of: rolloutctl $*"
  expect_eq "$(wc -l <<<"$ERR")" 1 "one line from: rolloutctl $* (got: $ERR)"
}
# says TEXT WHAT: the last line from bad contains TEXT.
says() { grep -qF -- "$1" <<<"$ERR" || fail "$2: '$1' not in: $ERR"; }

REG=$RO_SOURCE/config/units.csv
L=$T/allow.list
"$CTL_BIN" keys unit 460100-001 "$T/u1" --registry "$REG" --allow-list "$L" >/dev/null \
  || fail "keys unit 460100-001"

# a unit already listed
bad keys unit 460100-001 "$T/u1b" --registry "$REG" --allow-list "$L"
says "unit 460100-001 is already listed (line" "duplicate unit"
says "revoke it first" "duplicate unit"
[ ! -e "$T/u1b/agent.key" ] || fail "a refused unit left a key behind"
# the batch form over a registry with a listed unit
printf 'id,level,division,name\n460100-001,municipal,460100,a\n' > "$T/one.csv"
bad keys units --registry "$T/one.csv" "$T/batch" --allow-list "$L"
says "unit 460100-001 is already listed" "duplicate unit in a batch"
# revoking what is not listed
bad keys revoke 460100-002 --allow-list "$L"
says "no entry for '460100-002'" "revoke of an unlisted unit"

# a broken allow-list: not listed, not added to
cp "$L" "$T/broken.list"
echo "unit 460300-001 broken" >> "$T/broken.list"
bad keys list --allow-list "$T/broken.list"
says "broken.list:" "broken list"
says "is not a 40-character Z85 public key" "broken list"
bad keys unit 460100-002 "$T/u2" --registry "$REG" --allow-list "$T/broken.list"
says "broken.list:" "adding to a broken list"
bad keys list --allow-list "$T/no-such.list"
says "no-such.list" "a list that is not there"

# ctl.ini naming a key file that is not there: said at once, not as no answer
printf '[security]\ncurve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
  "$KEYS/hub/hub.pub" "$T/missing/operator.key" "$KEYS/operator/operator.pub" > "$T/ctl.ini"
bad --config "$T/ctl.ini" --hub 127.0.0.1:1 status
says "$T/ctl.ini: [security] secret_key: $T/missing/operator.key: cannot open key" "missing key file"
printf '[security]\ncurve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
  "$T/missing/hub.pub" "$KEYS/operator/operator.key" "$KEYS/operator/operator.pub" > "$T/ctl.ini"
bad --config "$T/ctl.ini" --hub 127.0.0.1:1 status
says "[security] hub_public_key: $T/missing/hub.pub: cannot open key" "missing hub key"

# --hub that is no host, or no port
bad --hub 'not a host:99999' status
says "--hub 'not a host:99999' is not an endpoint or a host: 'not a host' is not a host name" "host"
bad --hub 'hub.example.org:99999' status
says "port '99999' is not a number from 1 to 65535" "port"
bad --hub 'tcp://127.0.0.1' status
says "a tcp:// endpoint needs a port" "tcp without a port"
bad --hub '127.0.0.1:0' status
says "port '0' is not a number from 1 to 65535" "port 0"
# (and a good one still goes through to the question: nothing listens there)
rc=0; "$CTL_BIN" --hub 127.0.0.1:1 --timeout 1 status >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 1 "no answer from a well-formed endpoint"

# --timeout: the range it takes, 1 to 3600, in its message
bad --timeout 0 status
says "--timeout '0' is not a number of seconds from 1 to 3600" "timeout 0"
bad --timeout 3601 status
says "from 1 to 3600" "timeout 3601"

# no command: all six
bad
says "which command: status, report, watch, review, metrics, verify or keys?" "no command"
bad keys
says "hub, unit, units, operator, reviewer, revoke or list" "no keys command"

say "bad input exits 2 with its reason, for keys, ctl.ini, --hub, --timeout and no command"
