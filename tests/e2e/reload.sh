#!/usr/bin/env bash
# SIGHUP reloads the registry and the targets: a unit added is admitted and
# counted, the units' states survive (they are reloaded from the store for the
# new registry), a changed goal shows at once, a bad file changes nothing, and
# a unit removed and added back keeps what it had stored. (And the hub's
# threads have their names.)
source "$(dirname "$0")/lib.sh"

awk '!/^#/ && k++ <= 10' "$RO_SOURCE/config/units.csv" > "$T/units.csv" # header + 10 units
cp "$RO_SOURCE/config/targets.ini" "$T/targets.ini"
REGISTRY=$T/units.csv hub_config
sed -i "s|^targets = .*|targets = $T/targets.ini|" "$T/hub.ini"
hub_start
# the threads carry the names rollout-hub(8) lists, for top -H
threads=" $(cat /proc/"$HUB_PID"/task/*/comm | tr '\n' ' ')"
for name in rollout-hub hub-status hub-peers ZMQbg/IO/0 ZMQbg/IO/1; do
  [[ $threads == *" $name "* ]] || fail "no thread named $name:$threads"
done
A=$(sed -n 2p "$T/units.csv" | cut -d, -f1)
B=$(awk -F, '!/^#/ && NR > 40 && $1 ~ /^469005-/ { print $1; exit }' "$RO_SOURCE/config/units.csv")
expect_eq "$(province units)" 10 "units before the reload"

agent_config "$A"
agent "$A" record staff --date 2018-01-05 --total 40 --proficient 31 >/dev/null
agent "$A" record items --date 2018-01-05 --total 100 --no-visit 35 >/dev/null
agent_start "$A"
wait_until 20 province_reports_is 2 || fail "the 2 reports of $A were not stored"

# hup PATTERN: SIGHUP the hub and wait for one more log line matching PATTERN
# (the harness also sends SIGHUP when it lists a new unit key, hence counting).
log_count() { grep -c -- "$1" "$T/hub.log" || true; }
log_count_above() { [ "$(log_count "$1")" -gt "$2" ]; }
hup() {
  local n; n=$(log_count "$1")
  kill -HUP "$HUB_PID"
  wait_until 10 log_count_above "$1" "$n"
}
RELOADED="SIGHUP: reloaded"
KEPT="keeping the registry and targets in use"
goal_of() { ctl status --json | jq -r ".scopes[0].indicators[] | select(.id == \"$1\") | .goal"; }

# a unit added and a goal changed: both take effect on SIGHUP
ctl status --unit "$B" >/dev/null 2>&1 && fail "$B is known before it is in the registry"
grep "^$B," "$RO_SOURCE/config/units.csv" >> "$T/units.csv"
sed -i '/^\[indicator training_participants\]/,/^\[/ s/^goal = 2000$/goal = 2500/' "$T/targets.ini"
expect_eq "$(goal_of training_participants)" 2000 "goal before the reload"
hup "$RELOADED" || fail "no 'SIGHUP: reloaded' line"
grep -q "SIGHUP: reloaded 11 units from .* (1 new, 0 dropped) and 5 indicators" "$T/hub.log" \
  || fail "the reload line does not say 11 units, 1 new"
expect_eq "$(province units)" 11 "units after adding $B"
expect_eq "$(province reports)" 2 "reports kept across the reload"
expect_eq "$(unit_field "$A" staff_proficient)" 31 "$A's state after the reload"
expect_eq "$(goal_of training_participants)" 2500 "goal after the reload"
agent_config "$B"
keys_sync
agent "$B" record training --date 2018-02-01 --participants 12 --hours 2 >/dev/null
agent_start "$B"
wait_until 20 province_reports_is 3 || fail "the new unit $B's report was not stored"
expect_eq "$(unit_field "$B" participants)" 12 "$B's participants"
# a unit's history is read from the store, through the status thread's
# connection, whose map of the units the reload gave it
expect_eq "$(ctl status --history "$B" --indicator training_participants --json |
  jq -r '[.history[] | "\(.date)=\(.value)"] | join(" ")')" "2018-02-01=12" "$B's history"
say "$B added and counted, goal 2000 -> 2500, $A's state kept"

# a bad registry or a bad targets file changes nothing
cp "$T/units.csv" "$T/units.good"
grep "^$A," "$T/units.good" >> "$T/units.csv" # a duplicate id
hup "$KEPT" || fail "a bad registry was not refused"
grep -q "SIGHUP: .*units.csv: unit id '$A' appears twice; keeping the registry" "$T/hub.log" \
  || fail "the refusal does not say why"
cp "$T/units.good" "$T/units.csv"
sed -i 's/^goal = 2500$/goal = lots/' "$T/targets.ini"
hup "$KEPT" || fail "a bad targets file was not refused"
expect_eq "$(province units)" 11 "units after the refused reloads"
expect_eq "$(goal_of training_participants)" 2500 "goal after the refused reloads"
agent "$A" record cases --month 2018-01 --total 500 --no-visit 100 >/dev/null
wait_until 20 province_reports_is 4 || fail "ingest stopped after a refused reload"
sed -i 's/^goal = lots$/goal = 2500/' "$T/targets.ini"
say "a bad registry and a bad targets file were refused; ingest carried on"

# a unit removed is unknown; added back, its stored state returns and it reports on
# (docs/OPERATING.md: remove a unit only once its agent has stopped for good; what an
# agent sends while its unit is out is refused for good and leaves a gap in its seqs)
agent_stop "$A" || fail "agent $A did not exit 0 on SIGTERM"
grep -v "^$A," "$T/units.good" > "$T/units.csv"
hup "$RELOADED" || fail "no reload after removing $A"
expect_eq "$(province units)" 10 "units after removing $A"
expect_eq "$(province reports)" 1 "reports counted without $A (only $B's)"
ctl status --unit "$A" >/dev/null 2>&1 && fail "$A is still known after its removal"
cp "$T/units.good" "$T/units.csv"
hup "$RELOADED" || fail "no reload after adding $A back"
expect_eq "$(unit_field "$A" reports)" 3 "$A's reports after coming back"
expect_eq "$(unit_field "$A" staff_proficient)" 31 "$A's staff after coming back"
agent "$A" record staff --date 2018-03-01 --total 40 --proficient 35 >/dev/null
agent_start "$A"
wait_until 20 province_reports_is 5 || fail "$A's report after coming back was not stored"
expect_eq "$(unit_field "$A" staff_proficient)" 35 "$A's staff after its new report"
ctl verify >/dev/null || fail "verify after the reloads: $(ctl verify)"
say "$A removed (unknown, not counted), added back with its 3 reports, reports on"

for u in "$A" "$B"; do agent_stop "$u" || fail "agent $u did not exit 0 on SIGTERM"; done
hub_stop || fail "hub did not exit 0 on SIGTERM"
