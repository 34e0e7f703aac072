# feed_lib.sh: helpers of the feed tests, on top of the end-to-end harness
# (../e2e/lib.sh: temp folder, ports, keys, hub and agent processes). ro-sub
# subscribers run in the background and write their Clone state to
# $T/NAME.state whenever a heartbeat finds them caught up. Sourced, not run.
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
targets_without_review # random or made-up figures: no [review] rule judges them

SUB_BIN=$RO_BUILD/tests/tools/ro-sub
declare -A SUB_PIDS=()
declare -A WATCH_PIDS=()

feed_cleanup() {
  local rc=$?
  set +e # a failed test must still be cleaned up: (exit 1) below must not stop us
  for pid in "${SUB_PIDS[@]}" "${WATCH_PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null
    kill -9 "$pid" 2>/dev/null
  done
  (exit $rc) # cleanup reads the test's exit status from $?
  cleanup
}
trap feed_cleanup EXIT

# hub_config_feed [FEED_HWM]: hub.ini with the HTTP port on (a free loopback
# port) and, if given, a small feed queue per subscriber.
hub_config_feed() {
  hub_config
  sed -i '/^\[sockets\]/a metrics_http = 127.0.0.1:0' "$T/hub.ini"
  if [ -n "${1:-}" ]; then sed -i "/^\[sockets\]/a feed_hwm = $1" "$T/hub.ini"; fi
}

# hub_start_feed: hub_start, then wait for the HTTP line of the endpoints file.
hub_start_feed() {
  hub_start
  wait_until 10 test -n "$(endpoint http)" || fail "the hub wrote no http endpoint"
  HTTP=$(endpoint http)
}

# units N [SKIP]: N unit ids of the registry, after skipping SKIP of them.
units() {
  grep -v '^#' "${REGISTRY:-$RO_SOURCE/config/units.csv}" | sed 1d | cut -d, -f1 \
    | tail -n +$(( ${2:-0} + 1 )) | head -n "$1"
}

# sub_start NAME [ro-sub options]: a subscriber writing $T/NAME.state.
sub_start() {
  local name=$1; shift
  rm -f "$T/$name.state"
  "$SUB_BIN" --feed "$FEED" --status "$STATUS" --state "$T/$name.state" --verbose "$@" \
    >"$T/$name.out" 2>"$T/$name.err" &
  SUB_PIDS[$name]=$!
}
sub_stop() {
  kill -TERM "${SUB_PIDS[$1]}" 2>/dev/null || true
  wait "${SUB_PIDS[$1]}" 2>/dev/null || true
  unset "SUB_PIDS[$1]"
}
sub_field() { jq -r ".$2" "$T/$1.state" 2>/dev/null; }

# hub_feed_seq: the feed seq (and epoch) the hub's status answers carry now.
hub_feed_seq() { ctl status --json | jq -r .feed_seq; }
hub_feed_at() { ctl status --json | jq -r '"\(.feed_epoch) \(.feed_seq)"'; }
# feed_settled: the feed seq stays put for longer than the feed's interval (200 ms,
# HUB_FEED_INTERVAL_MS): what the hub stored has been published, so its answers are
# no newer than its feed. Until then a status answer may be ahead of the feed.
feed_settled() { local at; at=$(hub_feed_at); sleep 0.5; [ "$at" == "$(hub_feed_at)" ]; }
# sub_caught_up NAME: NAME holds a synced state at the hub's current epoch and seq,
# and the feed has published what the hub stored.
sub_caught_up() {
  [ -s "$T/$1.state" ] && [ "$(sub_field "$1" synced)" == true ] && feed_settled &&
    [ "$(jq -r '"\(.epoch) \(.seq)"' "$T/$1.state")" == "$(hub_feed_at)" ]
}

# The fields a Clone must agree with the status API on, per scope.
SCOPE_VIEW='{kind, id, units, units_reporting, reports, participants, hours, sessions,
  staff_total, staff_proficient, items_total, items_no_visit, cases_total, cases_no_visit,
  last_heard, grade, indicators: [.indicators[] | {id, value, share, grade, milestone, gap}]}'

# expect_same_as_hub NAME: NAME's province and divisions equal `rolloutctl status`'s.
expect_same_as_hub() {
  local mine hubs
  mine=$(jq -cS ".province | $SCOPE_VIEW" "$T/$1.state")
  hubs=$(ctl status --json | jq -cS ".scopes[0] | $SCOPE_VIEW")
  [ "$mine" == "$hubs" ] || fail "$1's province differs from the hub's:
  $1:  $mine
  hub: $hubs"
  mine=$(jq -cS "[.divisions[] | $SCOPE_VIEW]" "$T/$1.state")
  hubs=$(ctl status --divisions --json | jq -cS "[.scopes[] | $SCOPE_VIEW]")
  [ "$mine" == "$hubs" ] || fail "$1's divisions differ from the hub's"
  [ "$(jq '.divisions | length' "$T/$1.state")" == 19 ] || fail "$1 holds no 19 divisions"
}

# record_events UNIT N: N events in UNIT's outbox (items snapshots and training).
record_events() {
  local u=$1 n=$2 f=$T/agents/$1/events.txt i
  : >"$f"
  for ((i = 1; i <= n; i++)); do
    if ((i % 2)); then
      echo "training --date 2018-03-$(printf %02d $(( (i % 28) + 1 ))) --participants $(( i % 7 + 1 )) --hours 1.5" >>"$f"
    else
      echo "items --date 2018-$(printf %02d $(( (i % 12) + 1 )))-15 --total 100 --no-visit $(( (i * 7) % 100 ))" >>"$f"
    fi
  done
  agent "$u" record --file "$f" >/dev/null || fail "record --file for $u"
}
