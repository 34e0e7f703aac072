#!/usr/bin/env bash
# A hub started from a shell (soft open-file limit 1024, as scripts/demo
# starts it) raises its soft limit to the hard one: 1,500 idle TCP connections
# to the status port (more than 1024) leave rolloutctl answered, where the old
# hub ran out of descriptors and spun in libzmq's accept loop.
source "$(dirname "$0")/sec_lib.sh"

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 4096 ] || { say "hard limit $hard: nothing to raise to"; exit 77; }
ulimit -Sn 1024
hub_config; hub_start
read -r soft hardp < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$HUB_PID/limits")
expect_eq "$soft" "$hardp" "the hub's soft open-file limit (was 1024)"
grep -q "open-file limit raised from 1024 to $hardp" "$T/hub.log" || fail "the hub did not say it raised its limit"

port=${STATUS##*:}
python3 - "$port" "$T/idle.ready" <<'PY' &
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(1500)]
open(sys.argv[2], "w").close()
time.sleep(600)
PY
BG_PIDS+=($!)
wait_until 30 test -e "$T/idle.ready" || fail "could not open 1,500 connections to the status port"
ctl status >/dev/null || fail "rolloutctl status failed with 1,500 idle connections open"
grep -q "Too many open files" "$T/hub.log" && fail "the hub ran out of descriptors"
say "soft limit raised to $hardp; status answered beside 1,500 idle connections"
