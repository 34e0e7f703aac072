#!/usr/bin/env bash
# Issue 15, one place to see every stuck unit: the dashboard and `rolloutctl
# watch` list the problems `rolloutctl status --problems` lists (the hub's
# PROBLEMS), each with what to do. Over a three-unit registry whose units
# have all reported, there are none, and the page and watch say so; a unit
# that sends seq 5 when the hub's next is 2 is stuck on a gap, and the page
# (in headless Chromium), /api/status, watch --once and a live watch show it
# with what to do; once the missing seqs come, the gap leaves them all.
source "$(dirname "$0")/feed_lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/test installs it: apt-get install chromium)"

REGISTRY=$T/units.csv
cat >"$REGISTRY" <<'CSV'
id,level,division,name
460000-001,provincial,460000,省发展和改革委员会
460100-001,municipal,460100,海口市发展和改革委员会
469005-012,municipal,469005,文昌市交通运输局
CSV
stuck=460100-001
hub_config_feed; hub_start_feed
for u in 460000-001 $stuck 469005-012; do
  grep -q "^ack $u 1" <<<"$(probe "$INGEST" report $u 1 staff 20180105 10 5)" || fail "$u seq 1 not stored"
done

api() { curl -sf "http://$HTTP/api/status"; }
api_problems() { api | jq -r 'if .problems == null then "null" else
  "\(.problems.total) \([.problems.list[] | .unit + ":" + .kind] | join(" "))" end'; }
api_problems_are() { [ "$(api_problems)" == "$1" ]; }
export HOME=$T/chromium-home
mkdir -p "$HOME"
page() {
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$T/chromium" --virtual-time-budget=5000 \
    --dump-dom "http://$HTTP/" 2>>"$T/chromium.log" >"$T/dom.html" ||
    fail "chromium failed: $(tail -5 "$T/chromium.log")"
  grep -q 'data-ready="1"' "$T/dom.html" || fail "the page did not render its data (see $T/dom.html)"
}
has() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }

# --- none ---------------------------------------------------------------------
expect_eq "$(ctl status --problems --json | jq -r .total)" 0 "rolloutctl status --problems, all units heard"
wait_until 20 api_problems_are "0 " || fail "/api/status problems: $(api_problems), not 0"
page
grep -q 'id="problems-none"' "$T/dom.html" || fail "the page does not say there are no problems: $(grep -o '<div id="problems".\{0,300\}' "$T/dom.html")"
grep -q 'data-k="problems.total" data-v="0"' "$T/dom.html" || fail "the page's header does not count 0 problems"
grep -q 'data-problem=' "$T/dom.html" && fail "the page lists a problem where there is none"
out=$(ctl watch --once) || fail "watch --once failed"
has "$(grep -m1 '^problems' <<<"$out")" "problems: 0, none"
has "$(grep -m1 'units reporting' <<<"$out")" "· problems 0"
say "no problems: the page, /api/status and watch say none"

# a live watch, from before the gap: it must show the gap when it comes
"$CTL_BIN" --hub "$STATUS" watch --feed "$FEED" --plain --interval 0.2 >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PIDS[watch]=$!
wait_until 10 grep -q "^problems: 0, none" "$T/watch.out" || fail "the live watch does not show no problems: $(tail -5 "$T/watch.err")"

# --- a gap ----------------------------------------------------------------------
grep -q "^ack $stuck 1" <<<"$(probe "$INGEST" report $stuck 5 staff 20180106 10 6)" ||
  fail "seq 5 was not answered with the last ack"
expect_eq "$(ctl status --problems --json | jq -r '[.problems[] | .unit + ":" + .kind] | join(" ")')" \
  "$stuck:gap" "rolloutctl status --problems after the gap"
wait_until 20 api_problems_are "1 $stuck:gap" || fail "/api/status problems: $(api_problems), not the gap"
gap=$(api | jq -c '.problems.list[0]')
jq -e '.text | test("sends seq 5 but the hub.s next is seq 2")' <<<"$gap" >/dev/null || fail "the gap's text: $gap"
jq -e '.what_to_do | test("^nothing if it clears within minutes")' <<<"$gap" >/dev/null || fail "the gap's advice: $gap"
jq -e '.since > 0' <<<"$gap" >/dev/null || fail "the gap has no since: $gap"
page
grep -q "data-problem=\"$stuck:gap\"" "$T/dom.html" || fail "the page does not list $stuck's gap (see $T/dom.html)"
grep -q 'data-k="problems.total" data-v="1"' "$T/dom.html" || fail "the page's header does not count 1 problem"
row=$(grep -o "<tr data-problem=\"$stuck:gap\">.\{0,900\}</tr>" "$T/dom.html" | head -1)
has "$row" "sends seq 5 but the hub's next is seq 2"
has "$row" "nothing if it clears within minutes"
grep -q 'id="problems-none"' "$T/dom.html" && fail "the page says none beside a gap"
out=$(ctl watch --once) || fail "watch --once failed"
has "$(grep -m1 '^problems' <<<"$out")" "problems: 1"
line=$(grep -m1 "^  $stuck" <<<"$out") || fail "watch --once does not list $stuck: $out"
has "$line" "gap"
has "$line" "what to do: nothing if it clears within minutes"
live_shows_gap() { grep -q "^  $stuck *gap *what to do: nothing if it clears" "$T/watch.out"; }
wait_until 20 live_shows_gap || fail "the live watch does not show the gap: $(grep -A2 '^problems' "$T/watch.out" | tail -3)"
say "a gap: the page, /api/status, watch --once and a live watch list it with what to do"

# --- the missing seqs come: the gap leaves the lists --------------------------------
for seq in 2 3 4 5; do
  grep -q "^ack $stuck $seq" <<<"$(probe "$INGEST" report $stuck $seq staff 20180106 10 6)" || fail "seq $seq not stored"
done
wait_until 20 api_problems_are "0 " || fail "/api/status problems once the gap closed: $(api_problems)"
page
grep -q 'id="problems-none"' "$T/dom.html" || fail "the page does not say none once the gap closed"
live_clear() { [ "$(grep '^problems' "$T/watch.out" | tail -1)" == "problems: 0, none" ]; }
wait_until 20 live_clear || fail "the live watch still shows: $(grep '^problems' "$T/watch.out" | tail -1)"
say "the gap closed: gone from the page and from watch"
