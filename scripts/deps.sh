# deps.sh: install the Debian packages a script needs, only those missing.
# Sourced by scripts/test, scripts/demo and scripts/drill. Needs root (or sudo)
# only when something is missing.

# The packages that build rollout and run its tests.
RO_BUILD_PACKAGES=(gcc pkg-config meson ninja-build protobuf-c-compiler libprotobuf-c-dev
  libzmq3-dev libsqlite3-dev libinih-dev libmicrohttpd-dev libcmocka-dev sqlite3 jq procps)

# What the tests need beyond that: the dashboard test's browser (headless), a
# CJK font so its screenshot shows the Chinese names, and curl for HTTP.
RO_TEST_PACKAGES=(chromium fonts-wqy-microhei curl)

# What CI runs beyond scripts/test: the unit tests under valgrind, and the
# install test's `systemd-analyze verify` and groff checks (.ci/run).
RO_CI_PACKAGES=(valgrind systemd groff-base)

# ro_need PACKAGE...: apt-get install what is not installed yet.
ro_need() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "missing packages: ${missing[*]}; run as root to install them" >&2; return 1; }
    sudo=sudo
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ro_build DIR: configure (once) and build rollout in DIR.
ro_build() {
  local dir=$1
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}
