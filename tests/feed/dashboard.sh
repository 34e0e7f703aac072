#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium loads the hub's page
# (no network beyond the hub), and every number it shows for the province,
# the divisions and the levels equals what `rolloutctl status --json` says.
# Keeps a screenshot as a test artefact (RO_ARTEFACTS/dashboard.png, in the
# build folder). Also: /metrics is Prometheus text with the histograms, and
# the status API's METRICS has the new gauges.
source "$(dirname "$0")/feed_lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/test installs it: apt-get install chromium)"
ART=${RO_ARTEFACTS:-$T}
mkdir -p "$ART"

hub_config_feed; hub_start_feed
# a known state over a few divisions, from two agents that stay connected
# (and quiet: no heartbeats to move the feed while the page is compared)
for u in 460100-001 469005-012; do HEARTBEAT_S=3600 agent_config "$u"; done
agent 460100-001 record training --date 2018-03-01 --participants 40 --hours 6.5 >/dev/null
agent 460100-001 record items --date 2018-06-30 --total 120 --no-visit 90 >/dev/null
agent 460100-001 record staff --date 2018-06-30 --total 12 --proficient 11 >/dev/null
agent 469005-012 record items --date 2017-12-31 --total 80 --no-visit 20 >/dev/null
agent 469005-012 record items --date 2018-12-31 --total 80 --no-visit 70 >/dev/null
agent 469005-012 record cases --month 2018-12 --total 500 --no-visit 420 >/dev/null
for u in 460100-001 469005-012; do agent_start "$u"; done
"$PROBE_BIN" "$INGEST" --wait 300 report 460000-001 1 training 20180401 25 40 >/dev/null
"$PROBE_BIN" "$INGEST" --wait 300 report 469030-210 1 items 20180401 10 3 >/dev/null
wait_until 30 province_reports_is 8 || fail "reports not stored: $(province reports)"
wait_until 10 feed_settled || fail "the feed did not settle"

api() { curl -sf "http://$HTTP$1"; }
api_caught_up() { [ "$(api /api/status | jq -r .feed_seq)" == "$(hub_feed_seq)" ]; }
wait_until 10 api_caught_up || fail "/api/status lags the feed"
expect_eq "$(api /api/status | jq -r .province.reports)" 8 "/api/status province reports"
# its problems are rebuilt every 5 s, not with the feed: wait for them too
problems_caught_up() {
  [ "$(api /api/status | jq -r .problems.total)" == "$(ctl status --problems --json | jq -r .total)" ]
}
wait_until 15 problems_caught_up || fail "/api/status's problems lag: $(api /api/status | jq -c '.problems.total')"

# the browser: DOM after the page's first fetch and render, then a screenshot
export HOME=$T/chromium-home
mkdir -p "$HOME"
chrome() {
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$T/chromium" --virtual-time-budget=5000 "$@" 2>>"$T/chromium.log"
}
chrome --dump-dom "http://$HTTP/" >"$T/dom.html" || fail "chromium failed: $(tail -5 "$T/chromium.log")"
grep -q 'data-ready="1"' "$T/dom.html" || fail "the page did not render its data (see $T/dom.html)"
grep -o 'data-k="[^"]*"[^>]*data-v="[^"]*"' "$T/dom.html" |
  sed -E 's/data-k="([^"]*)".*data-v="([^"]*)"/\1 \2/' | sort -u >"$T/shown.txt"
say "the page shows $(wc -l <"$T/shown.txt") numbers"

# what rolloutctl says, as the same "key value" lines
{
  ctl status --json | jq -r '.scopes[0] | ("province.reports \(.reports)",
    "province.units_reporting \(.units_reporting)",
    (.indicators[] | "province.\(.id).value \(.value)"),
    "province.\(.id).reports \(.reports)", "province.\(.id).units_reporting \(.units_reporting)",
    (.id as $s | .indicators[] | "province.\($s).\(.id).value \(.value)"))'
  for kind in divisions level; do
    if [ $kind = divisions ]; then ctl status --divisions --json; else ctl status --level "" --json 2>/dev/null || true; fi
  done | jq -r '.scopes[] | .kind as $k | .id as $s |
    ("\($k).\($s).reports \(.reports)", "\($k).\($s).units_reporting \(.units_reporting)",
     (.indicators[] | "\($k).\($s).\(.id).value \(.value)"))'
  ctl status --divisions --json | jq -r '.scopes[] | .id as $s | .indicators[] |
    select(.id == "items_no_visit") | "division.\($s).items_no_visit.share \(.share)"'
} | sort -u >"$T/ctl.txt"
n=0
while read -r key want; do
  got=$(awk -v k="$key" '$1 == k { print $2; exit }' "$T/shown.txt")
  [ -n "$got" ] || fail "the page does not show $key (rolloutctl: $want)"
  if [ "$want" == null ] || [ "$got" == null ]; then
    expect_eq "$got" "$want" "$key on the page"
  else
    awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(d < 1e-9 && d > -1e-9) }' ||
      fail "$key: the page shows $got, rolloutctl says $want"
  fi
  n=$((n + 1))
done <"$T/ctl.txt"
[ "$n" -ge 150 ] || fail "only $n numbers compared"
expect_eq "$(awk '$1 == "feed_seq" { print $2 }' "$T/shown.txt")" "$(hub_feed_seq)" "feed seq on the page"
say "$n numbers on the page equal rolloutctl status --json"
# and the visible text of a few of them
grep -q '>8</span>' "$T/dom.html" || fail "the page does not read 8 reports"
grep -q '>4 / 893</span>' "$T/dom.html" || fail "the page does not read 4 / 893 units reporting"
# the problems (issue 15): as many as rolloutctl status --problems counts (889
# units never heard from), the first 100 in its order, and how many more
want=$(ctl status --problems --limit 100 --json)
expect_eq "$(awk '$1 == "problems.total" { print $2 }' "$T/shown.txt")" "$(jq -r .total <<<"$want")" \
  "problems counted on the page"
expect_eq "$(jq -r .total <<<"$want")" 889 "problems of the 889 units never heard from"
expect_eq "$(grep -o 'data-problem="[^"]*"' "$T/dom.html" | sed -E 's/data-problem="(.*)"/\1/' | paste -sd ' ')" \
  "$(jq -r '[.problems[] | .unit + ":" + .kind] | join(" ")' <<<"$want")" "the problems the page lists, in order"
grep -q 'id="problems-more">and 789 more' "$T/dom.html" || fail "the page does not say how many more problems there are"
expect_eq "$(api /api/status | jq '.problems.list | length')" 100 "problems in /api/status"

chrome --hide-scrollbars --window-size=1400,1900 --screenshot="$ART/dashboard.png" "http://$HTTP/" >/dev/null ||
  fail "no screenshot: $(tail -5 "$T/chromium.log")"
[ "$(head -c 8 "$ART/dashboard.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ] ||
  fail "$ART/dashboard.png is not a PNG"
say "screenshot: $ART/dashboard.png ($(wc -c <"$ART/dashboard.png") bytes)"

# /metrics: Prometheus text
m=$(curl -sf -D "$T/headers" "http://$HTTP/metrics") || fail "no /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers" || fail "/metrics content type: $(cat "$T/headers")"
for want in 'rollout_reports_stored_total 8' 'rollout_refused_total{reason="invalid"} 0' \
  '# TYPE rollout_commit_seconds histogram' 'rollout_commit_seconds_bucket{le="+Inf"}' \
  '# TYPE rollout_ack_seconds histogram' 'rollout_batch_size_count' 'rollout_feed_seq' \
  'rollout_units_silent 889' 'rollout_store_state{state="ok"} 1'; do
  grep -qF -- "$want" <<<"$m" || fail "/metrics lacks '$want'"
done
agents_connected() { grep -qx 'rollout_connected_agents 2' <<<"$(curl -sf "http://$HTTP/metrics")"; }
wait_until 10 agents_connected || fail "connected agents: $(curl -sf "http://$HTTP/metrics" | grep connected_agents)"
metric() { ctl metrics --json | jq -r ".metrics[] | select(.name == \"$1\") | .value"; }
expect_eq "$(metric connected_agents)" 2 "METRICS connected_agents"
expect_eq "$(metric units_silent)" 889 "METRICS units_silent"
[ "$(metric batch_size_count)" -ge 1 ] || fail "METRICS batch_size_count"
[ -n "$(metric commit_seconds_p99)" ] || fail "METRICS commit_seconds_p99"
[ -n "$(metric feed_subscribers)" ] || fail "METRICS feed_subscribers"
# the status socket's own counters reach /metrics too: one refused question
rc=0; ctl status --unit 469999-999 >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "a question about a unit not in the registry"
refused=$(metric status_refused)
[ "${refused%.*}" -ge 1 ] || fail "METRICS status_refused is $refused"
prom() { curl -sf "http://$HTTP/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
refused_shown() { [ "$(prom rollout_status_refused_total)" = "${refused%.*}" ]; }
wait_until 10 refused_shown \
  || fail "rollout_status_refused_total is '$(prom rollout_status_refused_total)', METRICS says $refused"
[ -n "$(prom rollout_status_replies_dropped_total)" ] || fail "/metrics lacks rollout_status_replies_dropped_total"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/nothing")
expect_eq "$code" 404 "GET /nothing"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$HTTP/metrics")
expect_eq "$code" 405 "POST /metrics"
say "metrics over HTTP and the status API agree"
