#!/usr/bin/env bash
# enrol: the operator's guide, run as written. Takes every command block of
# docs/OPERATING.md marked <!-- enrol:hub --> or <!-- enrol:unit --> and runs
# them in order on two "hosts", each a temporary folder standing for / (so
# /etc/rollout and /var/lib/rollout become <host>/etc/rollout ...). The sample
# configs are "installed" the way config/meson.build does it. systemctl,
# sudo, chown and scp are small stand-ins: systemctl starts the ExecStart line
# of config/systemd/*.service and sends SIGHUP for reload, as systemd would.
# Then it checks what the guide promises: the unit appears in rolloutctl
# status with its report, and nothing is admitted without the allow-list.
set -euo pipefail

: "${RO_BUILD:?RO_BUILD must name the meson build folder}"
: "${RO_SOURCE:?RO_SOURCE must name the source folder}"
T=$(mktemp -d /tmp/rollout-enrol.XXXXXX)
GUIDE=$RO_SOURCE/docs/OPERATING.md
HUBROOT=$T/hub-host
UNITROOT=$T/unit-host
UNIT=460100-001

say() { echo "# enrol: $*"; }
fail() {
  echo "FAIL enrol: $*" >&2
  for f in "$T"/*.journal; do
    [ -f "$f" ] && { echo "--- last lines of $(basename "$f"):" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
cleanup() {
  local rc=$?
  for f in "$T"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  wait 2>/dev/null || true
  if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "# kept $T for inspection" >&2; fi
}
trap cleanup EXIT

# ---- two hosts, installed ------------------------------------------------------
read -r PI PF PS < <(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
for root in "$HUBROOT" "$UNITROOT"; do
  mkdir -p "$root/etc/rollout" "$root/var/lib/rollout" "$root/tmp"
  for f in hub.ini agent.ini ctl.ini targets.ini units.csv scoresheet.ini scores-2019.ini; do
    sed -e "s|/etc/rollout|$root/etc/rollout|g" -e "s|/var/lib/rollout|$root/var/lib/rollout|g" \
      "$RO_SOURCE/config/$f" > "$root/etc/rollout/$f"
  done
done
# the one change a test needs: loopback and free ports instead of *:7450..7452
# (and ctl.ini's default hub, tcp://127.0.0.1:7452, moves to the test's port)
sed -i "s|^;hub = tcp://127.0.0.1:7452$|hub = tcp://127.0.0.1:$PS|" "$HUBROOT/etc/rollout/ctl.ini"
grep -q "^hub = tcp://127.0.0.1:$PS$" "$HUBROOT/etc/rollout/ctl.ini" \
  || fail "config/ctl.ini no longer has ';hub = tcp://127.0.0.1:7452'"
sed -i -e "s|^ingest = tcp://\*:7450$|ingest = tcp://127.0.0.1:$PI|" \
  -e "s|^feed = tcp://\*:7451$|feed = tcp://127.0.0.1:$PF|" \
  -e "s|^status = tcp://\*:7452$|status = tcp://127.0.0.1:$PS|" "$HUBROOT/etc/rollout/hub.ini"
grep -q "^ingest = tcp://127.0.0.1:$PI$" "$HUBROOT/etc/rollout/hub.ini" \
  || fail "config/hub.ini no longer has 'ingest = tcp://*:7450'"

# ---- the guide's blocks ----------------------------------------------------------
mkdir -p "$T/blocks"
awk -v dir="$T/blocks" '
  /^<!-- enrol:(hub|unit) -->$/ { tag = $2; sub(/^enrol:/, "", tag); pending = 1; next }
  pending && /^```sh$/ { inblock = 1; pending = 0; n++; file = sprintf("%s/%02d.%s.sh", dir, n, tag); next }
  inblock && /^```$/ { inblock = 0; close(file); next }
  inblock { print > file }
' "$GUIDE"
mapfile -t BLOCKS < <(ls "$T/blocks"/*.sh 2>/dev/null)
[ ${#BLOCKS[@]} -ge 5 ] || fail "found ${#BLOCKS[@]} marked blocks in $GUIDE, expected at least 5"

# The stand-ins every block sees. A block runs under bash -euo pipefail on its host.
cat > "$T/prelude.sh" <<'EOF'
set -euo pipefail
rolloutctl() { "$RO_BUILD/ctl/rolloutctl" "$@"; }
rollout-hub() { "$RO_BUILD/hub/rollout-hub" "$@"; }
rollout-agent() {
  # the programs' built-in default config is /etc/rollout/agent.ini: this host's
  case "${1:-}" in --config|--config=*|-c) ;; *) set -- --config "$ROOT/etc/rollout/agent.ini" "$@" ;; esac
  "$RO_BUILD/agent/rollout-agent" "$@"
}
chown() { local f; for f in "${@:2}"; do [ -e "$f" ] || { echo "chown: no $f" >&2; return 1; }; done; }
sudo() { [ "${1:-}" = -u ] && shift 2; "$@"; }
# HOST:PATH is another host's file; PATH is this host's
scp() {
  local from=$1 to=$2
  case "$from" in
    hub.example.org:*) from=$HUBROOT${from#hub.example.org:$ROOT} ;;
    unit.example.org:*) from=$UNITROOT${from#unit.example.org:$ROOT} ;;
  esac
  cp "$from" "$to"
}
# systemctl enable --now NAME | reload NAME | stop NAME, from config/systemd/NAME.service
systemctl() {
  local verb=$1 name
  [ "$verb" = enable ] && [ "${2:-}" = --now ] && { verb=start; shift; }
  name=${2:?systemctl: which unit?}
  local unit=$RO_SOURCE/config/systemd/$name.service pidf=$T/$name.pid log=$T/$name.journal
  [ -f "$unit" ] || { echo "systemctl: no unit $name" >&2; return 1; }
  line() {
    sed -n "s/^$1=//p" "$unit" | sed -e "s|/usr/bin/rollout-hub|$RO_BUILD/hub/rollout-hub|" \
      -e "s|/usr/bin/rollout-agent|$RO_BUILD/agent/rollout-agent|" -e "s|/etc/rollout|$ROOT/etc/rollout|g"
  }
  case "$verb" in
    start)
      local pre cmd
      pre=$(line ExecStartPre); cmd=$(line ExecStart)
      [ -z "$pre" ] || $pre >>"$log" 2>&1 || { echo "systemctl: $name: ExecStartPre failed" >&2; return 1; }
      # the real process's pid in $pidf, its exit status in $T/NAME.rc when it ends
      ( $cmd >>"$log" 2>&1 & echo $! > "$pidf"; wait $!; echo $? > "$T/$name.rc" ) &
      local i
      for i in $(seq 50); do [ -s "$pidf" ] && break; sleep 0.02; done
      if [ "$name" = rollout-hub ]; then   # like a notify service: back once it listens
        local i
        for i in $(seq 100); do [ -s "$ROOT/var/lib/rollout/endpoints" ] && return 0; sleep 0.1; done
        echo "systemctl: $name did not start" >&2; return 1
      fi ;;
    reload)
      local before cmd i
      before=$(grep -c "allow-list loaded" "$log" || true)
      cmd=$(line ExecReload)
      [ -n "$cmd" ] || { echo "systemctl: $name cannot reload" >&2; return 1; }
      MAINPID=$(cat "$pidf")
      eval "$cmd"
      for i in $(seq 50); do [ "$(grep -c "allow-list loaded" "$log")" -gt "$before" ] && return 0; sleep 0.1; done
      echo "systemctl: $name did not reload" >&2; return 1 ;;
    stop)
      local pid rc=0
      pid=$(cat "$pidf"); kill -TERM "$pid"
      for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$pidf" ;;
    *) echo "systemctl: $verb is not emulated" >&2; return 1 ;;
  esac
}
EOF

# run_block FILE: one block, rewritten for its host, output to FILE.out
run_block() {
  local f=$1 host root
  host=${f##*/}; host=${host#*.}; host=${host%.sh}
  case "$host" in hub) root=$HUBROOT ;; unit) root=$UNITROOT ;; esac
  sed -e "s|\([ (]\)/tmp/|\1$root/tmp/|g" -e "s|/etc/rollout|$root/etc/rollout|g" \
    -e "s|/var/lib/rollout|$root/var/lib/rollout|g" \
    -e "s|tcp://127.0.0.1:7452|tcp://127.0.0.1:$PS|g" -e "s|tcp://hub.example.org:7450|tcp://127.0.0.1:$PI|g" \
    "$f" > "$f.run"
  local ctlcfg=/nonexistent
  [ "$host" = hub ] && ctlcfg=$root/etc/rollout/ctl.ini
  say "running $(basename "$f") on the $host host"
  ROOT=$root HUBROOT=$HUBROOT UNITROOT=$UNITROOT T=$T RO_BUILD=$RO_BUILD RO_SOURCE=$RO_SOURCE \
    ROLLOUT_CTL_CONFIG=$ctlcfg bash -c 'source "$T/prelude.sh"; source "$1"' block "$f.run" \
    > "$f.out" 2>&1 || { cat "$f.out" >&2; fail "$(basename "$f") failed"; }
}

ctl() { ROLLOUT_CTL_CONFIG=$HUBROOT/etc/rollout/ctl.ini "$RO_BUILD/ctl/rolloutctl" "$@"; }
unit_stored() { [ "$(ctl status --unit "$UNIT" --json 2>/dev/null | jq -r '.scopes[0].reports')" = 1 ]; }
wait_until() {
  local limit=$1 end; shift; end=$((SECONDS + limit))
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}

declare -A RAN=()
for f in "${BLOCKS[@]}"; do
  step=${f##*/}; step=${step%%.*}
  host=${f##*/}; host=${host#*.}; host=${host%.sh}
  # before the unit is seen at the hub (the last hub block), give the agent its second
  if [ "$host" = hub ] && [ -n "${RAN[record]:-}" ]; then
    wait_until 15 unit_stored || fail "the hub never stored the unit's report"
  fi
  run_block "$f"
  out=$(cat "$f.out")
  if grep -q "rolloutctl keys hub" "$f"; then
    echo "$out" | grep -Eq "units reporting +0 / 893" || fail "a fresh hub does not show 0 / 893 reporting: $out"
    [ "$(stat -c %a "$HUBROOT/etc/rollout/keys/hub.key")" = 600 ] || fail "hub.key is not mode 600"
    grep -q "curve on" "$T/rollout-hub.journal" || fail "the hub does not run with CURVE"
    say "hub up with CURVE; rolloutctl admitted with the operator key"
    RAN[hub]=1
  fi
  if grep -q "rolloutctl keys unit" "$f"; then
    [ "$(stat -c %a "$UNITROOT/etc/rollout/keys/agent.key")" = 600 ] || fail "agent.key is not mode 600"
    # not on the allow-list yet: the hub must not admit the unit's key
    cat > "$T/early.ini" <<INI
[agent]
unit = $UNIT
hub = tcp://127.0.0.1:$PI
outbox = $T/early-outbox.db
[security]
curve = on
hub_public_key = $HUBROOT/etc/rollout/keys/hub.pub
secret_key = $UNITROOT/etc/rollout/keys/agent.key
public_key = $UNITROOT/etc/rollout/keys/agent.pub
INI
    if "$RO_BUILD/agent/rollout-agent" --config "$T/early.ini" status >"$T/early.out" 2>&1; then
      fail "the hub answered a unit key that is not on its allow-list: $(cat "$T/early.out")"
    fi
    say "before the allow-list: the unit's key is refused"
  fi
  if grep -q "allow.list" "$f" && grep -q "systemctl reload" "$f"; then
    grep -q "^unit $UNIT " "$HUBROOT/etc/rollout/keys/allow.list" || fail "the allow-list has no line for $UNIT"
    grep -q "allow-list loaded from .*: 1 units, 1 operators" "$T/rollout-hub.journal" \
      || fail "the hub did not reload the allow-list with the unit"
    say "allow-list has $UNIT; the hub reloaded it"
  fi
  if grep -q "rollout-agent record" "$f"; then
    grep -q "answers in .* ms" "$f.out" || fail "rollout-agent status: the hub does not answer: $out"
    grep -q "recorded staff 2018-01-05 as seq 1" "$f.out" || fail "record: $out"
    say "agent running; the hub answers it; one event recorded"
    RAN[record]=1
  fi
  if [ -n "${RAN[record]:-}" ] && [ "$host" = hub ] && grep -q "status --unit $UNIT" "$f"; then
    <<<"$out" grep -q "^unit $UNIT" || fail "status --unit does not show the unit: $out"
    echo "$out" | grep -Eq "^  reports +1$" || fail "status --unit does not show 1 report: $out"
    echo "$out" | grep -Eq "^  last seq +1$" || fail "status --unit does not show last seq 1: $out"
    echo "$out" | grep -Eq "units reporting +1 / 893" || fail "status does not show 1 / 893 reporting: $out"
    say "the unit appears in rolloutctl status: 1 report, last seq 1, 1 / 893 reporting"
    RAN[seen]=1
  fi
done
[ -n "${RAN[hub]:-}" ] || fail "no block set up the hub"
[ -n "${RAN[seen]:-}" ] || fail "no block showed the unit in rolloutctl status"

# the services stop cleanly on SIGTERM, as systemctl stop would ask
for name in rollout-agent rollout-hub; do
  kill -TERM "$(cat "$T/$name.pid")"
  wait_until 10 test -s "$T/$name.rc" || fail "$name did not stop on SIGTERM"
  rm -f "$T/$name.pid"
  [ "$(cat "$T/$name.rc")" = 0 ] || fail "$name exited $(cat "$T/$name.rc") on SIGTERM"
done
say "ok: the guide's ${#BLOCKS[@]} blocks enrolled $UNIT end to end; both services stopped cleanly"
