#!/usr/bin/env bash
# install: `meson install --destdir` lays out the programs, the man pages, the
# sample configs (with this build's paths in them, never overwriting an edited
# one), the systemd units and the sysusers file; the units pass
# `systemd-analyze verify`; the man pages render without a groff warning.
# Exit 77 (skipped) where systemd-analyze or groff is missing.
set -euo pipefail
: "${RO_BUILD:?RO_BUILD must name the meson build folder}"
T=$(mktemp -d /tmp/rollout-install.XXXXXX)
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "# kept $T" >&2; fi' EXIT
fail() { echo "FAIL install: $*" >&2; exit 1; }
say() { echo "# install: $*"; }

S=$T/stage
meson install -C "$RO_BUILD" --no-rebuild --destdir "$S" >"$T/install.log" 2>&1 \
  || { cat "$T/install.log" >&2; fail "meson install failed"; }
opt() { meson introspect "$RO_BUILD" --buildoptions | jq -r ".[] | select(.name == \"$1\") | .value"; }
prefix=$(opt prefix)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
bindir=$(abs "$(opt bindir)"); etc=$(abs "$(opt sysconfdir)")/rollout
mandir=$(abs "$(opt mandir)"); datadir=$(abs "$(opt datadir)")

for f in "$bindir"/{rollout-hub,rollout-agent,rolloutctl} "$mandir"/man8/{rollout-hub,rollout-agent}.8 \
  "$mandir"/man1/rolloutctl.1 "$etc"/{hub.ini,agent.ini,ctl.ini,targets.ini,units.csv,scoresheet.ini,scores-2019.ini} \
  "$datadir"/doc/rollout/examples/hub.ini "$prefix"/lib/systemd/system/rollout-{hub,agent}.service \
  "$prefix"/lib/sysusers.d/rollout.conf; do
  [ -e "$S$f" ] || fail "missing $f"
done
grep -q "^registry = $etc/units.csv$" "$S$etc/hub.ini" || fail "hub.ini does not name $etc/units.csv"
grep -q "^data_dir = /var/lib/rollout$" "$S$etc/hub.ini" || fail "hub.ini's data_dir is not /var/lib/rollout"
grep -q "^ExecStart=$bindir/rollout-hub --config $etc/hub.ini$" "$S$prefix/lib/systemd/system/rollout-hub.service" \
  || fail "rollout-hub.service does not start $bindir/rollout-hub with $etc/hub.ini"
# what the programs read when not told, and what the man pages say, follow sysconfdir
grep -q "$etc/agent.ini" <<<"$("$S$bindir/rollout-agent" --help)" || fail "rollout-agent's default config is not $etc/agent.ini"
grep -q "$etc/scoresheet.ini" <<<"$("$S$bindir/rolloutctl" report --help)" \
  || fail "rolloutctl report's default score sheet is not $etc/scoresheet.ini"
grep -q "^\.I $etc/hub.ini$" "$S$mandir/man8/rollout-hub.8" || fail "the installed rollout-hub(8) does not name $etc/hub.ini"
say "laid out under $prefix (configs in $etc, the defaults and man pages say so)"

# an edited config survives a reinstall; the examples are refreshed
echo "; edited by the operator" >> "$S$etc/hub.ini"
echo "; stale" >> "$S$datadir/doc/rollout/examples/hub.ini"
# through a pipe, as a terminal would show it (see config/install-config.sh)
meson install -C "$RO_BUILD" --no-rebuild --destdir "$S" 2>&1 | cat >"$T/install2.log" \
  || fail "reinstall failed"
tail -n 1 "$S$etc/hub.ini" | grep -q "edited by the operator" || fail "reinstall overwrote $etc/hub.ini"
grep -q "^rollout: kept $S$etc/hub.ini as it is" "$T/install2.log" \
  || { cat "$T/install2.log" >&2; fail "meson install did not say that it kept $etc/hub.ini"; }
tail -n 1 "$S$datadir/doc/rollout/examples/hub.ini" | grep -q stale && fail "reinstall did not refresh the examples"
say "reinstall kept the edited hub.ini"

skip=0
if command -v systemd-analyze >/dev/null; then
  # verify checks that ExecStart's program exists: point the units at the staged tree
  mkdir -p "$T/units"
  for u in rollout-hub rollout-agent; do
    sed -e "s|$bindir/|$S$bindir/|g" -e "s|$etc/|$S$etc/|g" \
      "$S$prefix/lib/systemd/system/$u.service" > "$T/units/$u.service"
  done
  (cd "$T/units" && MANPATH="$S$mandir:" systemd-analyze verify rollout-hub.service rollout-agent.service) \
    >"$T/verify.log" 2>&1 || { cat "$T/verify.log" >&2; fail "systemd-analyze verify failed"; }
  [ -s "$T/verify.log" ] && { cat "$T/verify.log" >&2; fail "systemd-analyze verify complained"; }
  say "systemd-analyze verify: both units clean"
else
  say "no systemd-analyze here: units not verified"; skip=1
fi

if command -v groff >/dev/null && command -v preconv >/dev/null; then
  for m in "$S$mandir"/man8/rollout-hub.8 "$S$mandir"/man8/rollout-agent.8 "$S$mandir"/man1/rolloutctl.1; do
    w=$(preconv "$m" | groff -man -Tutf8 -ww -z 2>&1) || fail "groff failed on $m"
    [ -z "$w" ] || fail "groff warns on $(basename "$m"): $w"
    for sec in NAME SYNOPSIS DESCRIPTION OPTIONS FILES SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
      grep -q "^\.SH \"\{0,1\}$sec\"\{0,1\}$" "$m" || fail "$(basename "$m") has no $sec section"
    done
  done
  say "man pages render without warnings and have their sections"
else
  say "no groff here: man pages not rendered"; skip=1
fi
[ $skip -eq 0 ] || exit 77
