#!/usr/bin/env bash
# Issue 13, item 4: the HTTP port did not check the Host header, so a page on
# evil.example whose name was made to resolve to 127.0.0.1 (DNS rebinding)
# could read the dashboard's data from a browser on the hub's machine. A Host
# that names another server gets 421 with a one-line reason, counted and
# logged; the hub's own address, localhost and the IP connected to, each with
# the port, get 200. HTTP/1.1 without Host is 400; HTTP/1.0 without Host,
# which no browser sends, is answered. Also on an IPv6 loopback port.
source "$(dirname "$0")/sec_lib.sh"

hub_config
sed -i '/^\[sockets\]/a metrics_http = 127.0.0.1:0' "$T/hub.ini"
hub_start
wait_until 10 test -n "$(endpoint http)" || fail "the hub wrote no http endpoint"
HTTP=$(endpoint http)
PORT=${HTTP##*:}

# get HOST PATH [ADDR]: "CODE" for GET PATH with that Host header; the body in $T/body
get() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 -H "Host: $1" "http://${3:-$HTTP}$2"; }
# raw REQUEST: the status line answered to REQUEST sent as is
raw() {
  python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
print(s.makefile("rb").readline().decode().strip())
PY
}
metric_http() { curl -sf "http://$HTTP/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
refused_is() { [ "$(metric_http 'rollout_http_refused_total{reason="host"}')" == "$1" ]; }

# another server's name, on every path: 421 and one line saying why
for path in / /metrics /api/status /nothing; do
  expect_eq "$(get "evil.example:$PORT" "$path")" 421 "GET $path with Host evil.example:$PORT"
  expect_eq "$(wc -l <"$T/body")" 1 "lines of the 421 body"
  grep -q "^misdirected request: the Host header must name this hub's HTTP port, $HTTP or localhost:$PORT$" "$T/body" ||
    fail "the 421 body: $(cat "$T/body")"
done
expect_eq "$(get "evil.example" /metrics)" 421 "Host evil.example"
expect_eq "$(get "127.0.0.1:1" /metrics)" 421 "Host 127.0.0.1:1 (another port)"
expect_eq "$(get "127.0.0.2:$PORT" /metrics)" 421 "Host 127.0.0.2:$PORT (not the address connected to)"
expect_eq "$(get "127.0.0.1" /metrics)" 421 "Host 127.0.0.1 (port 80 implied)"
expect_eq "$(get "localhost.evil.example:$PORT" /metrics)" 421 "Host localhost.evil.example:$PORT"
expect_eq "$(raw "GET /metrics HTTP/1.1\r\nHost: localhost:$PORT\r\nHost: evil.example\r\n\r\n")" \
  "HTTP/1.1 400 Bad Request" "two Host headers"
expect_eq "$(raw 'GET /metrics HTTP/1.1\r\n\r\n')" "HTTP/1.1 400 Bad Request" "HTTP/1.1 without Host"
say "other hosts refused"

# this port's own names
expect_eq "$(get "127.0.0.1:$PORT" /metrics)" 200 "Host 127.0.0.1:$PORT"
grep -q '^rollout_feed_seq' "$T/body" || fail "Host 127.0.0.1:$PORT: not the metrics"
expect_eq "$(get "localhost:$PORT" /metrics)" 200 "Host localhost:$PORT"
expect_eq "$(get "LocalHost:$PORT" /)" 200 "Host LocalHost:$PORT"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$PORT/api/status")" 200 \
  "curl http://localhost:$PORT/api/status"
expect_eq "$(raw 'GET /metrics HTTP/1.0\r\n\r\n')" "HTTP/1.1 200 OK" "HTTP/1.0 without Host"
say "127.0.0.1:$PORT, localhost:$PORT and HTTP/1.0 without Host answered"

# 11 refusals, counted and logged (the log at most 10 lines at once, then one per 5 s)
wait_until 5 refused_is 11 || fail "refusals counted: $(metric_http 'rollout_http_refused_total{reason="host"}')"
hub_log_has "HTTP: refused a request from 127\.0\.0\.1: Host names another server \(Host 'evil\.example:$PORT'\)" \
  "the refusal"

# an IPv6 loopback port, when this machine has one
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  hub_stop || fail "the hub did not stop cleanly"
  sed -i 's/^metrics_http = .*/metrics_http = [::1]:0/' "$T/hub.ini"
  hub_start
  wait_until 10 test -n "$(endpoint http)" || fail "the hub wrote no http endpoint on ::1"
  HTTP=$(endpoint http)
  PORT=${HTTP##*:}
  expect_eq "$HTTP" "[::1]:$PORT" "the IPv6 endpoint"
  expect_eq "$(get "[::1]:$PORT" /metrics)" 200 "Host [::1]:$PORT"
  expect_eq "$(get "[0:0::1]:$PORT" /metrics)" 200 "Host [0:0::1]:$PORT (the same address)"
  expect_eq "$(get "localhost:$PORT" /metrics)" 200 "Host localhost:$PORT on ::1"
  expect_eq "$(get "evil.example:$PORT" /metrics)" 421 "Host evil.example:$PORT on ::1"
  expect_eq "$(get "[::2]:$PORT" /metrics)" 421 "Host [::2]:$PORT"
  expect_eq "$(get "127.0.0.1:$PORT" /metrics)" 421 "Host 127.0.0.1:$PORT on ::1"
  say "[::1]:$PORT and localhost:$PORT answered on IPv6, others refused"
else
  say "no IPv6 loopback here: the IPv6 part is skipped"
fi
