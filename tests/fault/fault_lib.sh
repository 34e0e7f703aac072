# fault_lib.sh: helpers of the fault drills, on top of the end-to-end
# harness (../e2e/lib.sh: temp folder, ports, hub and agent processes).
# Sourced, not run. Every drill ends with one summary line that says
# "N lost, M duplicated"; a drill that finds a fault prints its line and a
# reason, and exits non-zero.
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
targets_without_review # random or made-up figures: no [review] rule judges them

# Drills name themselves in their summary line; failures still go through fail().
DRILL=${DRILL:-$E2E_NAME}

# tmpfs_mount DIR KIB MODE: a tmpfs of KIB KiB on DIR, for a drill that
# fills a disk; false where mounting is not allowed. At exit the processes
# go first (a busy tmpfs does not unmount), then, when the drill failed,
# DIR's content is copied to DIR.kept as evidence, and DIR is unmounted.
TMPFS_DIR=
tmpfs_mount() {
  mount -t tmpfs -o "size=$2k,mode=$3" tmpfs "$1" 2>/dev/null || return 1
  TMPFS_DIR=$1
  trap tmpfs_cleanup EXIT
}
tmpfs_cleanup() {
  local rc=$?
  for pid in "${AGENT_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  [ -n "$HUB_PID" ] && kill -9 "$HUB_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  HUB_PID=; AGENT_PIDS=()
  [ $rc -ne 0 ] && cp -a "$TMPFS_DIR" "$TMPFS_DIR.kept" 2>/dev/null
  umount "$TMPFS_DIR" || true
  (exit $rc); cleanup
}

# now: seconds since the epoch with microseconds (bash's own clock, no fork).
now() { echo "$EPOCHREALTIME"; }
# elapsed START [END]: seconds between two now values, one decimal... or two.
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.2f", b - a }'; }
# fmax A B: the larger of two decimals.
fmax() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
# fgt A B: true when A > B (decimals).
fgt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# units N [SKIP]: N unit ids of the registry, after skipping SKIP of them.
units() {
  # one awk, no head: a reader that quits early would kill the pipe (SIGPIPE, pipefail)
  awk -F, -v n="$1" -v skip="${2:-0}" '/^#/ || !seen++ { next } k++ >= skip && k <= skip + n { print $1 }' \
    "${REGISTRY:-$RO_SOURCE/config/units.csv}"
}

# ini_set FILE SECTION KEY VALUE: set KEY in [SECTION], replacing or adding it.
ini_set() {
  local f=$1 sec=$2 key=$3 val=$4
  awk -v sec="[$sec]" -v key="$key" -v val="$val" '
    function flush() { if (insec && !done) { print key " = " val; done = 1 } }
    /^\[/ { flush(); insec = ($0 == sec) }
    insec && $1 == key && ($2 == "=" || substr($1, length($1)) == "=") { if (!done) print key " = " val; done = 1; next }
    { print }
    END { flush() }' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
}

# gen_events FILE N SEED: write N random valid events (mostly training) for
# `record --file`; prints the participants they add up to.
gen_events() {
  awk -v n="$2" -v seed="$3" -v out="$1" 'BEGIN {
    srand(seed); s = 0
    for (i = 0; i < n; i++) {
      k = int(rand() * 10); y = 2017 + int(rand() * 2); m = 1 + int(rand() * 12); d = 1 + int(rand() * 28)
      t = 10 + int(rand() * 990); p = int(rand() * (t + 1))
      if (k < 7) {
        q = 1 + int(rand() * 50); s += q
        printf "training --date %04d-%02d-%02d --participants %d --hours %d.%d --course \"drill %d\"\n", y, m, d, q, 1 + int(rand() * 8), int(rand() * 10), i > out
      } else if (k == 7) {
        printf "staff --date %04d-%02d-%02d --total %d --proficient %d\n", y, m, d, t, p > out
      } else if (k == 8) {
        printf "items --date %04d-%02d-%02d --total %d --no-visit %d\n", y, m, d, t, p > out
      } else {
        printf "cases --month %04d-%02d --total %d --no-visit %d\n", y, m, t, p > out
      }
    }
    close(out); print s }'
}

# outbox_sql UNIT SQL: ask a unit's outbox (it may be in use: WAL readers are fine).
outbox_sql() { sqlite3 -batch -noheader "$T/agents/$1/outbox.db" "$2"; }
# recorded UNIT: the last seq the unit's outbox handed out.
recorded() { outbox_sql "$1" 'select next_seq - 1 from meta'; }

# tally UNIT...: compare what each agent recorded with what the hub stored.
# Sets LOST, DUPS, RECORDED, STORED and TALLY_BAD (the first units that differ).
tally() {
  local want=$T/tally.want got=$T/tally.got
  : > "$want"
  for u in "$@"; do echo "$u $(recorded "$u")" >> "$want"; done
  # the reports counted in one pass (they are in arrival order, not by unit)
  db "select u.id, $LAST_SEQ_SQL, u.reports, ifnull(c.n, 0)
      from units u left join (select uid, count(*) as n from reports group by uid) c
      on c.uid = u.uid" | tr '|' ' ' > "$got"
  read -r LOST DUPS RECORDED STORED TALLY_BAD < <(awk '
    NR == FNR { rec[$1] = $2; next }
    ($1 in rec) { seen[$1] = 1; r = rec[$1]; n += r; s += $4
      if ($4 < r) lost += r - $4
      if ($4 > r) dup += $4 - r
      if ($3 > $4) dup += $3 - $4
      if ($4 != r || $3 != $4 || $2 != r) if (nb++ < 3) bad = bad $1 ":recorded=" r ",rows=" $4 ",reports=" $3 ",last_seq=" $2 ";" }
    END { for (u in rec) if (!(u in seen)) { lost += rec[u]; n += rec[u]; bad = bad u ":unknown-to-hub;" }
          printf "%d %d %d %d %s\n", lost, dup, n, s, (bad == "" ? "-" : bad) }' "$want" "$got")
  # rows counted in no unit's aggregate, or counted twice, anywhere in the store
  local sums
  sums=$(db "select (select ifnull(sum(reports), 0) from units) - (select count(*) from reports)")
  [ "$sums" -gt 0 ] && DUPS=$((DUPS + sums))
  [ "$sums" -lt 0 ] && TALLY_BAD="$TALLY_BAD sum(units.reports)-count(reports)=$sums"
  return 0
}

# all_delivered UNIT...: true when the hub holds every event the units recorded.
all_delivered() { tally "$@"; [ "$LOST" -eq 0 ] && [ "$STORED" -eq "$RECORDED" ]; }

# outboxes_empty UNIT...: true when no outbox holds an unacknowledged event.
outboxes_empty() {
  local u
  for u in "$@"; do [ "$(outbox_sql "$u" 'select count(*) from outbox where acked_at is null')" -eq 0 ] || return 1; done
}

# verify_ok: the hub's aggregates equal a recount of its raw reports.
verify_ok() {
  local out
  out=$(ctl --timeout 60 verify 2>&1) || { VERIFY_OUT=$out; return 1; }
  VERIFY_OUT=$out
}

# hub_restart_timed: start the hub and wait for its first answer to
# `rolloutctl status` (at most RESTART_LIMIT_S, 10); sets RESTART_S (seconds
# from exec to that answer).
hub_restart_timed() {
  local t0=$EPOCHREALTIME limit=${RESTART_LIMIT_S:-10}
  hub_start
  local end=$((SECONDS + limit))
  until ctl --timeout 1 status >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "hub not answering status $limit s after a restart"
    sleep 0.01
  done
  RESTART_S=$(elapsed "$t0")
}

# finish LINE: print the drill's summary line, then fail if it holds a loss
# or a duplicate (the caller checked everything else already).
finish() {
  echo "$DRILL drill: $1"
  case "$1" in
    *" 0 lost, 0 duplicated"*) return 0 ;;
    *) fail "summary shows lost or duplicated events: $1" ;;
  esac
}

# check_counts WHAT UNIT...: fail with the units that differ unless 0 lost, 0 duplicated.
check_counts() {
  local what=$1; shift
  tally "$@"
  if [ "$LOST" -ne 0 ] || [ "$DUPS" -ne 0 ] || [ "$TALLY_BAD" != "-" ]; then
    echo "$DRILL drill: $what: $RECORDED recorded, $STORED stored, $LOST lost, $DUPS duplicated"
    fail "$what: units that differ: $TALLY_BAD"
  fi
}

# check_totals EXPECTED_PARTICIPANTS: the province's participants equal the
# sum of every recorded training session (each counted once), and verify agrees.
check_totals() {
  local got
  got=$(province participants)
  [ "$got" == "$1" ] || fail "province participants $got, expected $1: aggregates off"
  verify_ok || fail "rolloutctl verify: $VERIFY_OUT"
}
