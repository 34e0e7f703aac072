#!/usr/bin/env bash
# Issue 13, item 4: slow clients blocked the dashboard. The old HTTP port
# took 32 connections and let each keep its slot for as long as it sent a
# byte within every 10 s, so 40 clients sending one header byte every 4 s
# left /metrics and the dashboard unanswered. Here: while 100 connections
# send one header byte every 2 s and never finish their request, 9 scrapes of
# /metrics and one of / each answer 200 while the slow connections are all
# still open (the old port answered none while they lasted; the 3 s limit
# per scrape is only there so a hang fails fast: how fast the hub answers is
# measured in docs/SECURITY.md, not asserted) and the hub keeps storing
# reports; the hub closes each slow connection 10 s after accept (counted).
# Then 300 such clients, reconnecting whenever they are cut, keep the
# connection table full: the scrapes still get through, the oldest slow
# connections making room (counted).
source "$(dirname "$0")/sec_lib.sh"

hub_config
sed -i '/^\[sockets\]/a metrics_http = 127.0.0.1:0' "$T/hub.ini"
hub_start
wait_until 10 test -n "$(endpoint http)" || fail "the hub wrote no http endpoint"
HTTP=$(endpoint http)

# slow N RECONNECT NAME: N connections, each sending one byte of a request
# that never ends every 2 s; RECONNECT=1 opens a new one at the next tick for
# each the hub closes. $T/NAME.status is rewritten on each change as
# "OPEN CUT MIN_HELD MAX_HELD" (seconds from connect to the hub closing it).
slow() {
  python3 - "${HTTP##*:}" "$1" "$2" "$T/$3.status" <<'PY' &
import os, select, socket, sys, time
port, n, reconnect, status = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port
socks, cut, held, last = {}, 0, [], None
def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    socks[s] = [time.monotonic(), 0]
def closed(s):
    global cut
    held.append(time.monotonic() - socks.pop(s)[0])
    s.close()
    cut += 1
def report():
    global last
    now = (len(socks), cut, round(min(held), 1) if held else 0, round(max(held), 1) if held else 0)
    if now != last:
        with open(status + ".tmp", "w") as f:
            f.write("%d %d %s %s\n" % now)
        os.rename(status + ".tmp", status)
        last = now
for _ in range(n):
    connect()
report()
while True:
    tick = time.monotonic() + 2
    while time.monotonic() < tick:
        ready, _, _ = select.select(list(socks), [], [], max(0, tick - time.monotonic()))
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed(s)
        report()
    for s, st in list(socks.items()):
        try:
            s.send(req[st[1]:st[1] + 1] or b"a")
            st[1] += 1
        except OSError:
            closed(s)
    while reconnect and len(socks) < n:
        connect()
    report()
PY
  BG_PIDS+=($!)
}
slow_field() { awk -v f="$2" '{ print $f }' "$T/$1.status" 2>/dev/null; }
slow_open() { [ "$(slow_field "$1" 1)" == "$2" ]; }

metric_http() { curl -sf --max-time 3 "http://$HTTP/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
http_at_least() { local v; v=$(metric_http "$1") && [ -n "$v" ] && [ "$v" -ge "$2" ]; }

# scrapes WHAT: 9 of /metrics and one of /, each 200 (a hang fails in 3 s)
scrapes() {
  local i code
  for i in 1 2 3 4 5 6 7 8 9 /; do
    local path=/metrics
    [ "$i" == / ] && path=/
    code=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 3 "http://$HTTP$path") || true
    [ "${code%% *}" == 200 ] || fail "$1: GET $path: '$code' (want 200)"
    say "$1: GET $path: $code"
  done
}

# 100 slow clients, all of them open in the hub
slow 100 0 slow
wait_until 10 slow_open slow 100 || fail "could not open 100 connections: $(cat "$T/slow.status" 2>/dev/null)"
wait_until 5 http_at_least rollout_http_connections 100 ||
  fail "scrapes beside 100 slow connections: $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "http://$HTTP/metrics")"
scrapes "100 slow clients"
# the hub stores reports meanwhile
for seq in 1 2 3; do
  "$PROBE_BIN" "$INGEST" --wait 300 report 460000-001 "$seq" training "2018040$seq" 25 40 >/dev/null
done
wait_until 10 province_reports_is 3 || fail "reports not stored beside slow clients: $(province reports)"
slow_open slow 100 || fail "the slow clients were cut before the scrapes were done: $(cat "$T/slow.status")"
http_at_least rollout_http_connections 100 || fail "the hub no longer holds the 100 slow connections"
say "3 reports stored, 100 slow connections still open"

# each is closed 10 s after accept, whatever it sends
wait_until 15 slow_open slow 0 || fail "slow connections still open 15 s on: $(cat "$T/slow.status")"
read -r _ cut min max <"$T/slow.status"
expect_eq "$cut" 100 "slow connections the hub closed"
awk -v a="$min" -v b="$max" 'BEGIN { exit !(a >= 9.5 && b <= 12) }' ||
  fail "slow connections held from $min to $max s (want 10 s after accept)"
wait_until 5 http_at_least 'rollout_http_cut_total{reason="deadline"}' 100 ||
  fail "cuts not counted: $(curl -s "http://$HTTP/metrics" | grep rollout_http_cut)"
hub_log_has 'HTTP: closed [0-9]+ connections? still open 10 s after accept' "the deadline"
say "100 slow connections closed $min-$max s after accept, counted"

# 300 that reconnect: the table stays full of slow clients
slow 300 1 crowd
wait_until 10 test -s "$T/crowd.status" || fail "could not open 300 connections"
wait_until 10 http_at_least 'rollout_http_cut_total{reason="crowded"}' 1 ||
  fail "no connection closed to make room: $(curl -s --max-time 1 "http://$HTTP/metrics" | grep rollout_http)"
scrapes "300 reconnecting slow clients"
hub_log_has 'HTTP: [0-9]+ connections open: closed the oldest' "making room"
[ "$(metric_http rollout_http_connections)" -le 128 ] || fail "more than 128 HTTP connections open"
say "scrapes answered beside a full table: $(metric_http 'rollout_http_cut_total{reason="crowded"}') connections closed to make room"
