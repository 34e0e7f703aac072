#!/usr/bin/env bash
# The allow-list fails closed where nothing good is known: a bad line at
# start, an empty, missing or group-writable file (at start or on SIGHUP):
# the hub admits no one (operators included), says why in its log (with
# file:line for each bad line), and stores nothing; --check refuses such a
# list too, naming every bad line. A good list on SIGHUP lets the waiting
# agent deliver everything. (A bad line on SIGHUP, where the list in use is
# known good, is sec_allow_list_typo.sh.)
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start; hub_pin_ports
u=460100-001
agent_config $u
agent $u record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
agent $u record items --date 2018-01-05 --total 10 --no-visit 5 >/dev/null || fail "record"
cp "$ALLOW" "$T/good.list"
hub_stop || fail "hub stop"

# one bad line among good ones at start: no list in use to fall back on, so no one
{ cat "$T/good.list"; echo "unit 460100-009 not-a-key"; } > "$ALLOW"
line=$(wc -l < "$ALLOW")
hub_start
hub_log_has "error: allow-list $ALLOW:$line: 'not-a-key' is not a 40-character Z85 public key$" "the bad line"
hub_log_has "allow-list unusable, admitting no one: $ALLOW:$line: 'not-a-key' is not a 40-character Z85 public key \(1 bad line in all; a bad allow-list at start admits no one" "corrupt list at start"
agent_start $u
sleep 2
nothing_stored $u "corrupt allow-list at start"
hub_log_has "refused a connection to ingest .*the hub's allow-list admits no one" "corrupt list refusal"
rc=0; ctl --timeout 1 status >/dev/null 2>&1 || rc=$?
expect_eq $rc 1 "rolloutctl (operator) against a corrupt list at start"

# --check refuses it too, and names every bad line (a unit listed twice as well)
grep "^unit $u " "$T/good.list" >> "$ALLOW"
rc=0; "$HUB_BIN" --config "$T/hub.ini" --check >/dev/null 2>"$T/check.err" || rc=$?
expect_eq $rc 2 "--check with bad lines"
grep -q "^$ALLOW:$line: 'not-a-key' is not a 40-character Z85 public key$" "$T/check.err" \
  || fail "--check did not name line $line: $(cat "$T/check.err")"
grep -qE "^$ALLOW:$((line + 1)): unit $u is already listed on line [0-9]+$" "$T/check.err" \
  || fail "--check did not name the duplicate: $(cat "$T/check.err")"
grep -q "allow_list: 2 bad lines (above): the hub would admit no one" "$T/check.err" \
  || fail "--check's verdict: $(cat "$T/check.err")"

# empty, missing, and writable by others: no one, on SIGHUP too
printf '# no keys yet\n' > "$ALLOW"
hub_reload_keys
hub_log_has "allow-list $ALLOW lists no keys: admitting no one" "empty list"
rm -f "$ALLOW"
hub_reload_keys
hub_log_has "allow-list unusable, admitting no one: $ALLOW: cannot open" "missing list"
cp "$T/good.list" "$ALLOW"; chmod 666 "$ALLOW"
hub_reload_keys
hub_log_has "allow-list unusable, admitting no one: $ALLOW: writable by group or others" "writable list"
sleep 1.5
nothing_stored $u "empty, missing or writable allow-list"
expect_eq "$(db 'select count(*) from reports') $(db 'select count(*) from refusals')" "0 0" "rows stored"

# the good list again: the agent, still retrying, gets through with everything
chmod 644 "$ALLOW"
hub_reload_keys
wait_until 20 outbox_count $u outbox 0 || fail "agent did not deliver after the list was fixed"
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "2 0 2" "both events stored after the fix"
[ "$(metric auth_refused_no-list)" -ge 1 ] || fail "auth_refused_no-list not counted"
say "bad lines at start, empty, missing, writable lists admit no one and say why; the fix delivers"
