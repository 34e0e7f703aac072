#!/usr/bin/env bash
# Admissions do not flood the hub's log (issue 12): rolloutctl connects once
# per call, so an operator's admission is a debug line, not an info line per
# call; a unit's admission (rare: an agent keeps its connection) stays at
# info. Every admission is still counted (auth_admitted).
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start # log_level info
calls=5
for _ in $(seq $calls); do ctl status >/dev/null || fail "rolloutctl status"; done
expect_eq "$(grep -c "admitted operator:" "$T/hub.log" || true)" 0 \
  "admission lines after $calls rolloutctl calls at log level info"
[ "$(metric auth_admitted)" -gt $calls ] || fail "the operator's admissions were not counted"

u=460100-001
agent_config $u
agent $u record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
agent_start $u
wait_until 20 outbox_count $u outbox 0 || fail "unit $u's event not delivered"
hub_log_has "info: admitted $u from [^ ]+ on ingest" "the unit's admission at info"
agent_stop $u || fail "agent stop"
hub_stop || fail "hub stop"
say "$calls rolloutctl calls, no info line; the unit's admission logged at info"

# at log level debug, each call's admission is there: the lines above were not lost, only lowered
HUB_LOG_LEVEL=debug hub_config; hub_start
admits() { grep -c "debug: admitted operator:e2e from [^ ]* on status" "$T/hub.log" || true; }
before=$(admits)
ctl status >/dev/null || fail "rolloutctl status"
ctl status >/dev/null || fail "rolloutctl status"
expect_eq "$(admits)" $((before + 2)) "debug admission lines after 2 calls at log level debug"
hub_stop || fail "hub stop"
say "at log level debug, one admission line per call"

# at log level notice, admissions past the limiter's burst (20) leave no
# "similar lines suppressed": none of those info lines would have been shown
HUB_LOG_LEVEL=notice hub_config
from=$(($(wc -l <"$T/hub.log") + 1)) # this start's lines on
hub_start
before=$(metric auth_admitted)
n=40
"$PROBE_BIN" "$INGEST" --wait 300 heartbeat $u >/dev/null || fail "heartbeat" # its keys, once
pids=()
for _ in $(seq $n); do
  probe_as $u "$INGEST" --wait 5000 heartbeat $u >/dev/null & # slow under ASan
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a heartbeat failed"; done
# the limiter tells what it dropped when it next lets a line through (a
# token comes back every 0.5 s): one more admission after a pause
sleep 1
"$PROBE_BIN" "$INGEST" --wait 300 heartbeat $u >/dev/null || fail "heartbeat"
[ "$(metric auth_admitted)" -gt $((before + n)) ] || fail "the unit's $n admissions were not counted"
expect_eq "$(tail -n "+$from" "$T/hub.log" | grep -c "similar lines suppressed" || true)" 0 \
  "lines saying admissions were suppressed at log level notice"
hub_stop || fail "hub stop"
say "$n admissions at log level notice: counted, and no line about suppressed ones"
