#!/usr/bin/env bash
# keys unit accepted a unit that is not in the registry (issue 12): a key was
# made and listed for 999999-999, which the hub can never admit. It checks
# the unit against --registry, else the installed registry (RO_ETC/units.csv)
# when there is one, and says which file it checked.
source "$(dirname "$0")/lib.sh"

REG=$RO_SOURCE/config/units.csv
L=$T/allow.list

# refused ARGS...: `keys unit ARGS` exits 2 with one line, makes no key, lists nothing.
refused() {
  local rc=0 dir=$2
  ERR=$("$CTL_BIN" keys unit "$@" --allow-list "$L" 2>&1 >/dev/null) || rc=$?
  expect_eq "$rc" 2 "exit status of: keys unit $*"
  expect_eq "$(wc -l <<<"$ERR")" 1 "one line from: keys unit $* (got: $ERR)"
  [ ! -e "$dir/agent.key" ] || fail "keys unit $* made a key"
  ! grep -q "^unit $1 " "$L" 2>/dev/null || fail "keys unit $* listed the unit"
}
says() { grep -qF -- "$1" <<<"$ERR" || fail "$2: '$1' not in: $ERR"; }

# a division rollout does not know: refused even with no registry to read
refused 999999-999 "$T/a"
says "unit 999999-999: 999999 is not one of Hainan's 19 division codes" "unknown division"
refused 999999-999 "$T/a" --registry "$REG"
# a known division, but not in the registry
refused 460100-999 "$T/b" --registry "$REG"
says "unit 460100-999 is not in the registry $REG: check the id, or add the unit" "not registered"
# a registry that does not load is no registry to check against
printf 'id,level,division,name\n460100-001,county,460100,x\n' > "$T/bad.csv"
refused 460100-001 "$T/c" --registry "$T/bad.csv"
says "cannot check unit 460100-001 against the registry: $T/bad.csv:2:" "broken registry"

# a unit of the registry: made, listed, and the registry named
out=$("$CTL_BIN" keys unit 460100-001 "$T/ok" --registry "$REG" --allow-list "$L") \
  || fail "keys unit 460100-001 --registry"
grep -qF "unit 460100-001 is in the registry $REG" <<<"$out" || fail "registry not named: $out"
grep -q "^unit 460100-001 " "$L" || fail "460100-001 not listed"
# without --registry: the installed registry, named either way
rc=0; all=$("$CTL_BIN" keys unit 460100-002 "$T/ok2" 2>&1) || rc=$?
grep -q "registry.*/units\.csv\|/units\.csv.*registry" <<<"$all" || fail "no registry named: $all"
default=$(grep -o '/[^ :]*/units\.csv' <<<"$all" | head -1)
if [ -e "$default" ]; then
  say "an installed registry at $default was checked (exit $rc)"
else
  expect_eq "$rc" 0 "keys unit with no registry installed"
  grep -qF "no registry at $default" <<<"$all" || fail "missing registry not said: $all"
fi
say "keys unit refuses units outside the registry and names the registry it checked"
