#!/usr/bin/env bash
# data_dir is made whole (issue 12): with the folders above it missing,
# --check says ok and creates nothing, and the start makes every one (data_dir
# itself with mode 0750) and serves. Where it cannot be made (a file on the
# path, a folder the hub's user may not write), --check says why and exits 2,
# and the start exits 1 with the same reason.
source "$(dirname "$0")/fault_lib.sh"

check() { rc=0; "$@" "$HUB_BIN" --config "$T/hub.ini" --check >"$T/check.out" 2>"$T/check.err" || rc=$?; }
start_fails() {
  rc=0; "$@" "$HUB_BIN" --config "$T/hub.ini" >>"$T/hub.log" 2>&1 || rc=$?
  expect_eq $rc 1 "the start's exit status"
}

hub_config
dir=$T/prefix/var/lib/rollout
ini_set "$T/hub.ini" hub data_dir "$dir"
check
expect_eq $rc 0 "--check with data_dir's parents missing ($(cat "$T/check.err"))"
[ ! -e "$T/prefix" ] || fail "--check created $T/prefix"
"$HUB_BIN" --config "$T/hub.ini" >>"$T/hub.log" 2>&1 &
HUB_PID=$!
wait_until 10 test -s "$dir/endpoints" || fail "the hub did not start with data_dir's parents missing"
grep -qF "store $dir/hub.db (data_dir to be created)" "$T/check.out" \
  || fail "--check's ok line does not say data_dir will be created: $(cat "$T/check.out")"
expect_eq "$(stat -c %a "$dir")" 750 "data_dir's mode"
STATUS=$(awk '$1 == "status" { print $2 }' "$dir/endpoints")
expect_eq "$(province units)" 893 "units served from the new data_dir"
hub_stop || fail "hub stop"
say "$dir made with its parents; --check created nothing"

# a file where a folder should be: --check and the start say the same
: > "$T/afile"
ini_set "$T/hub.ini" hub data_dir "$T/afile/var/lib/rollout"
why="cannot create data_dir $T/afile/var/lib/rollout: $T/afile exists and is not a folder"
check
expect_eq $rc 2 "--check's exit status with a file on data_dir's path"
grep -qF "[hub] data_dir: $why" "$T/check.err" || fail "--check's reason: $(cat "$T/check.err")"
start_fails
tail -n 1 "$T/hub.log" | grep -qF "error: $why" || fail "the start's reason: $(tail -n 1 "$T/hub.log")"
say "a file on the path: --check exits 2, the start 1, both say $T/afile is not a folder"

# a folder the hub's user may not write: root may write anything, so ask as nobody
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
  say "not root or no setpriv: the unwritable-folder case is skipped"
  exit 0
fi
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${as_nobody[@]}" test -x "$HUB_BIN" -a -r "$RO_SOURCE/config/units.csv" || {
  say "nobody cannot run the build's hub: the unwritable-folder case is skipped"
  exit 0
}
chmod 755 "$T"
mkdir -m 555 "$T/ro"
mkdir -m 755 "$T/rw-root"
ini_set "$T/hub.ini" security curve off # nobody may not read the hub's secret key
chmod 644 "$T/hub.ini"
ini_set "$T/hub.ini" hub data_dir "$T/ro/var/lib/rollout"
check "${as_nobody[@]}"
expect_eq $rc 2 "--check's exit status under a folder nobody may not write"
grep -qF "[hub] data_dir: cannot create data_dir $T/ro/var/lib/rollout: $T/ro is not writable: Permission denied" "$T/check.err" \
  || fail "--check's reason: $(cat "$T/check.err")"
[ ! -e "$T/ro/var" ] || fail "--check created $T/ro/var"
start_fails "${as_nobody[@]}"
tail -n 1 "$T/hub.log" | grep -qF "error: cannot create data_dir $T/ro/var/lib/rollout: $T/ro/var: Permission denied" \
  || fail "the start's reason: $(tail -n 1 "$T/hub.log")"
ini_set "$T/hub.ini" hub data_dir "$T/rw-root"
check "${as_nobody[@]}"
expect_eq $rc 2 "--check's exit status with a data_dir nobody may not write"
grep -qF "[hub] data_dir: data_dir $T/rw-root is not writable: Permission denied" "$T/check.err" \
  || fail "--check's reason: $(cat "$T/check.err")"
say "folders the hub's user may not write: --check exits 2 and says which, the start exits 1"
