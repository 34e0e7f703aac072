#!/bin/sh
# install-config.sh DIR SAMPLE...: meson install's last step. Copies each sample
# config into DIR (under $DESTDIR) unless a file of that name is already there,
# so that an operator's edited config survives a reinstall or an upgrade, and
# says which it did.
# meson 1.0 (Debian 12) captures an install script's output and shows it only
# on failure; these lines matter to whoever installs, so they go straight to
# meson's own standard output (this script's parent's) when that is a terminal
# or a pipe. Not when it is a file: meson's buffered output, written later at
# its own offset, would overwrite them; `meson install | tee FILE` keeps them.
dest="${DESTDIR:-}$1"
shift
out=/proc/$PPID/fd/1
say() {
  if [ -c "$out" ] || [ -p "$out" ]; then
    { echo "$*" > "$out"; } 2>/dev/null && return
  fi
  echo "$*"
}
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
