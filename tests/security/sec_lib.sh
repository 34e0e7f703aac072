# sec_lib.sh: helpers of the security tests, on top of the end-to-end harness
# (../e2e/lib.sh: temporary folder, ports, hub and agents, CURVE keys).
# Every test shows that what it refuses left nothing in the hub's store.
# Sourced, not run.
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

[ "$PLAIN" != 1 ] || { echo "1..0 # SKIP security tests need CURVE (PLAIN=1 is set)"; exit 77; }

# stored_for UNIT: "REPORTS REFUSALS LAST_SEQ LAST_HEARD" as the store has them.
stored_for() {
  echo "$(db "select count(*) from reports r join units u on u.uid = r.uid where u.id = '$1'")" \
    "$(db "select count(*) from refusals where unit = '$1'")" \
    "$(db "select coalesce(max($LAST_SEQ_SQL), 0) from units u where u.id = '$1'")" \
    "$(db "select coalesce(max(last_heard), 0) from units where id = '$1'")"
}

# nothing_stored UNIT WHAT: fail unless the store holds no trace of UNIT.
nothing_stored() {
  expect_eq "$(stored_for "$1")" "0 0 0 0" "$2: reports, refusals, last seq, last heard of $1"
}

# hub_log_has PATTERN WHAT: the hub's log has a line matching the extended regex.
hub_log_has() { grep -qE "$1" "$T/hub.log" || fail "hub log lacks /$1/: $2"; }

# rss_bound_checked: false when the hub is built with AddressSanitizer, whose
# shadow memory and quarantine (freed memory held back on purpose) make its
# RSS no measure of the hub's; the flood tests then check the cuts, not the
# bound, which the ordinary build (scripts/test) checks.
rss_bound_checked() { case "$(ldd "$HUB_BIN" 2>/dev/null)" in *libasan*) return 1 ;; esac; }

# rss_kib: the hub's resident memory in KiB. The file is read in one read():
# bash's `read` takes it in small pieces, and procfs makes the text afresh at
# each one, so under a flood a line before VmRSS grew a digit between pieces
# and the key came apart (the test then ended with no message). Fails,
# saying how the hub ended, when it has exited.
rss_kib() {
  local v w
  v=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$HUB_PID/status" 2>/dev/null) || true
  [ -n "$v" ] && { echo "$v"; return; }
  # the last field of stat is the wait status, as waitpid(2) gives it
  w=$(awk '{ print $NF }' "/proc/$HUB_PID/stat" 2>/dev/null) || w=gone
  fail "no VmRSS for the hub (pid $HUB_PID): it has exited (wait status $w)"
}

# rss_within PID LIMIT_KIB WHAT OUT: sample the hub's RSS until PID (a
# flooder writing to OUT) ends, raising $peak; fail as soon as it passes
# LIMIT_KIB (where rss_bound_checked). The condition is the bound, not a time.
rss_within() {
  local pid=$1 limit=$2 what=$3 out=$4 r
  while kill -0 "$pid" 2>/dev/null; do
    r=$(rss_kib)
    [ "$r" -gt "$peak" ] && peak=$r
    if [ "$r" -gt "$limit" ] && rss_bound_checked; then
      kill "$pid" 2>/dev/null
      fail "$what: hub RSS $((r / 1024)) MiB, above the bound $((limit / 1024)) MiB: $(tail -n 1 "$out")"
    fi
    sleep 0.01
  done
}
