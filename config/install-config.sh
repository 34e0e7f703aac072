#!/bin/sh
# install-config.sh DIR SAMPLE...: meson install's last step. Copies each sample
# config into DIR (under $DESTDIR) unless a file of that name is already there,
# so that an operator's edited config survives a reinstall or an upgrade, and
# says which it did.
# meson 1.0 (Debian 12) captures an install script's output and shows it only
# on failure; these lines matter to whoever installs, so they go to meson's own
# standard output (this script's parent), appended, when it can be opened.
dest="${DESTDIR:-}$1"
shift
say() { { echo "$*" >> "/proc/$PPID/fd/1"; } 2>/dev/null || echo "$*"; }
mkdir -p "$dest" || exit 1
for f in "$@"; do
  name=${f##*/}
  if [ -e "$dest/$name" ]; then
    say "rollout: kept $dest/$name as it is (the new sample is in the examples folder)"
  else
    install -m 0644 "$f" "$dest/$name" || exit 1
    say "rollout: installed $dest/$name"
  fi
done
