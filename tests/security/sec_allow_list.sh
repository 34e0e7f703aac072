#!/usr/bin/env bash
# The allow-list fails closed: empty, corrupt, missing or writable by others,
# the hub admits no one (operators included), says why in its log (with
# file:line for a bad line) and stores nothing; a good list on SIGHUP lets
# the waiting agent deliver everything.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start; hub_pin_ports
u=460100-001
agent_config $u
agent $u record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
agent $u record items --date 2018-01-05 --total 10 --no-visit 5 >/dev/null || fail "record"
cp "$ALLOW" "$T/good.list"
hub_stop || fail "hub stop"

# empty: the hub starts, admits no one and says so
printf '# no keys yet\n' > "$ALLOW"
hub_start
hub_log_has "allow-list $ALLOW lists no keys: admitting no one" "empty list"
agent_start $u
sleep 2
nothing_stored $u "empty allow-list"
hub_log_has "refused a connection to ingest .*the hub's allow-list admits no one" "empty list refusal"
rc=0; ctl --timeout 1 status >/dev/null 2>&1 || rc=$?
expect_eq $rc 1 "rolloutctl (operator) against an empty list"

# corrupt: one bad line among good ones refuses the whole file, with file:line
{ cat "$T/good.list"; echo "unit 460100-009 not-a-key"; } > "$ALLOW"
line=$(wc -l < "$ALLOW")
hub_reload_keys
hub_log_has "allow-list unusable, admitting no one: $ALLOW:$line: 'not-a-key' is not a 40-character Z85 public key" "corrupt list"
sleep 1.5
nothing_stored $u "corrupt allow-list"

# a unit listed twice
{ cat "$T/good.list"; grep "^unit $u " "$T/good.list"; } > "$ALLOW"
hub_reload_keys
hub_log_has "allow-list unusable, admitting no one: $ALLOW:[0-9]+: unit $u is already listed on line [0-9]+" "duplicate unit"

# missing, and writable by others
rm -f "$ALLOW"
hub_reload_keys
hub_log_has "allow-list unusable, admitting no one: $ALLOW: cannot open" "missing list"
cp "$T/good.list" "$ALLOW"; chmod 666 "$ALLOW"
hub_reload_keys
hub_log_has "allow-list unusable, admitting no one: $ALLOW: writable by group or others" "writable list"
sleep 1.5
nothing_stored $u "missing or writable allow-list"
expect_eq "$(db 'select count(*) from reports') $(db 'select count(*) from refusals')" "0 0" "rows stored"

# the good list again: the agent, still retrying, gets through with everything
chmod 644 "$ALLOW"
hub_reload_keys
wait_until 20 outbox_count $u outbox 0 || fail "agent did not deliver after the list was fixed"
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "2 0 2" "both events stored after the fix"
[ "$(metric auth_refused_no-list)" -ge 1 ] || fail "auth_refused_no-list not counted"
say "empty, corrupt, duplicate, missing, writable lists admit no one and say why; the fix delivers"
