# deps.sh: install the Debian packages a script needs, only those missing, and
# build. Sourced by scripts/test, scripts/demo, scripts/drill, scripts/fuzz and
# .ci/run. Needs root (or sudo) only when something is missing.

ro_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The packages that build rollout and run its tests.
RO_BUILD_PACKAGES=(gcc pkg-config meson ninja-build protobuf-c-compiler libprotobuf-c-dev
  libzmq3-dev libsqlite3-dev libinih-dev libmicrohttpd-dev libcmocka-dev sqlite3 jq procps)

# What the tests need beyond that: the dashboard test's browser (headless), a
# CJK font so its screenshot shows the Chinese names, curl for HTTP, and
# systemd and man-db for the install test's `systemd-analyze verify` (which
# checks each unit's Documentation=man: page), groff-base for its man-page
# check, and iproute2's ss for the agent-kill drill (it watches a connection's
# queues to kill an agent between the hub's ack and its delete),
# clang-format for the unit test that checks the C files' format, and for the
# interop suite's Python client Debian's ZeroMQ and protobuf bindings and
# protoc, which generates its code from proto/rollout.proto at test time.
RO_TEST_PACKAGES=(chromium fonts-wqy-microhei curl systemd man-db groff-base iproute2
  clang-format python3-zmq python3-protobuf protobuf-compiler faketime)

# What CI runs beyond scripts/test: the unit tests under valgrind, and
# debootstrap for the fresh-machine run of the README's two commands.
RO_CI_PACKAGES=(valgrind debootstrap)

# ro_apt ARG...: apt-get that waits for another apt or dpkg (unattended-upgrades
# on a new cloud machine holds their locks for minutes) instead of failing with
# "Could not get lock", and says what it waits for.
ro_apt() {
  local tries
  for tries in 1 2 3 4 5; do
    "$ro_scripts/apt-locks" wait "${RO_APT_WAIT:-1800}" || return 1
    # The timeout covers dpkg's locks taken between our check and apt's;
    # apt-get update has none for its lists lock, hence the loop.
    if $ro_sudo apt-get -o DPkg::Lock::Timeout="${RO_APT_WAIT:-1800}" "$@" 2> "$ro_apt_err"; then
      grep -v '^debconf: delaying package configuration' "$ro_apt_err" >&2 || true
      return 0
    fi
    grep -q 'Could not get lock' "$ro_apt_err" || { cat "$ro_apt_err" >&2; return 1; }
  done
  cat "$ro_apt_err" >&2
  return 1
}

# ro_need PACKAGE...: apt-get install what is not installed yet, with a line of
# progress every tenth of the way; on failure apt's own messages follow.
ro_need() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  ro_sudo=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "missing packages: ${missing[*]}; run as root to install them" >&2; return 1; }
    ro_sudo=sudo
  fi
  ro_apt_err=$(mktemp)
  local log
  log=$(mktemp)
  echo "installing what is missing, and what it needs: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "  reading Debian's package lists (apt-get update)..."
  if ! ro_apt update -q > "$log"; then
    tail -n 20 "$log" >&2
    echo "apt-get update failed (above); check the machine's network and /etc/apt/sources.list*" >&2
    rm -f "$log" "$ro_apt_err"
    return 1
  fi
  # APT::Status-Fd writes machine-readable progress ("dlstatus:...:PERCENT:..."
  # and "pmstatus:PACKAGE:PERCENT:WHAT") to fd 3; awk shows a line per 10%.
  local rc=0
  ro_apt install -y -q --no-install-recommends -o APT::Status-Fd=3 "${missing[@]}" 3> >(
    awk -F: 'BEGIN { dl = -1; pm = -1 }
      $1 == "dlstatus" { p = int($3 / 10) * 10; if (p > dl) { dl = p; printf "  downloading %d%%\n", p; fflush() } }
      $1 == "pmstatus" { p = int($3 / 10) * 10; if (p > pm) { pm = p; printf "  installing %d%%: %s\n", p, $4; fflush() } }'
  ) > "$log" || rc=$?
  wait $! 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    tail -n 30 "$log" >&2
    echo "could not install: ${missing[*]} (apt's messages above)" >&2
    rm -f "$log" "$ro_apt_err"
    return 1
  fi
  rm -f "$log" "$ro_apt_err"
  echo "  installed."
}

# ro_build DIR: configure (once) and build rollout in DIR. Configuration is
# quiet unless it fails; ninja shows its progress (one line on a terminal).
ro_build() {
  local dir=$1 out
  if [ ! -f "$dir/build.ninja" ]; then
    echo "configuring the build in $dir (meson setup)..."
    if ! out=$(meson setup "$dir" 2>&1); then
      printf '%s\n' "$out" >&2
      echo "meson setup failed (above); the full log is $dir/meson-logs/meson-log.txt" >&2
      return 1
    fi
  fi
  echo "building in $dir (ninja)..."
  if [ -t 1 ]; then
    ninja -C "$dir"
  else
    # not a terminal: one line per step would be hundreds; show the failing
    # step's output, and a count of steps when all went well
    if ! out=$(ninja -C "$dir" 2>&1); then
      printf '%s\n' "$out" | grep -v '^\[[0-9]*/[0-9]*\] ' >&2
      echo "the build failed (above)" >&2
      return 1
    fi
    printf '%s\n' "$out" | tail -n 1
  fi
}

# ro_help SCRIPT: print SCRIPT's opening comment (after the #! line), which is
# its help, without the comment marks.
ro_help() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}
