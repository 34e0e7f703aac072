#!/usr/bin/env bash
# One bad line in the allow-list at SIGHUP cuts off no one else (DESIGN.md,
# "Bad input"): a unit connected before the reload keeps reporting on its
# live connection, the operator keeps asking, the unit whose own line went
# bad keeps its last good key, a line that names no one admits no one, and
# each bad line is logged with its number. Revocation still bites: a unit
# whose line is removed while another line is bad is refused.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
a=460100-001 b=460100-002
agent_config $a; agent_config $b
agent $a record staff --date 2018-01-05 --total 10 --proficient 5 >/dev/null || fail "record"
agent_start $a
wait_until 20 outbox_count $a outbox 0 || fail "unit $a's first event not delivered"
cp "$ALLOW" "$T/good.list"

# b's key cut short (a bad key: b keeps its last good one) and a line naming no one
sed "s|^unit $b \(.\{20\}\).*|unit $b \1|" "$T/good.list" > "$ALLOW"
echo "unti $a $(cat "$KEYS/units/$a/agent.pub")" >> "$ALLOW"
line_b=$(grep -n "^unit $b " "$ALLOW" | cut -d: -f1)
line_x=$(wc -l < "$ALLOW")
hub_reload_keys

# unit a, connected before the reload, reports on; the operator still asks
agent $a record staff --date 2018-02-05 --total 10 --proficient 6 >/dev/null || fail "record"
wait_until 20 outbox_count $a outbox 0 || fail "unit $a stopped reporting after a SIGHUP with a bad line for $b"
expect_eq "$(stored_for $a | cut -d' ' -f1-3)" "2 0 2" "unit $a's reports after the reload"
outbox_count $a refused 0 || fail "unit $a's report was refused after the reload"
expect_eq "$(unit_field $a staff_proficient)" 6 "rolloutctl (operator) after the reload"
# b, whose own line is bad, connects afresh on the key it had
agent $b record staff --date 2018-01-05 --total 10 --proficient 4 >/dev/null || fail "record"
agent_start $b
wait_until 20 outbox_count $b outbox 0 || fail "unit $b, on its last good key, was not admitted"
# each bad line logged with its number and what it costs
hub_log_has "error: allow-list $ALLOW:$line_b: '[^']*' is not a 40-character Z85 public key; unit $b keeps its last good key until the line is fixed" \
  "the bad key of $b"
hub_log_has "error: allow-list $ALLOW:$line_x: 'unti' is not 'unit', 'operator' or 'reviewer'; the line names no unit or operator: it admits no one" \
  "the line naming no one"
hub_log_has "warning: allow-list loaded from $ALLOW with 2 bad lines \(logged above\): 2 units, 1 operators, 1 of them on their last good key" \
  "the reload's summary"
expect_eq "$(metric auth_list_bad_lines) $(metric auth_list_kept_keys)" "2 1" "bad lines and kept keys (metrics)"
say "a bad line for $b and one naming no one: $a reports on, the operator asks, $b keeps its key"

# a typo never keeps a key the operator removed: a's line goes, the bad lines stay
grep -v "^unit $a " "$ALLOW" > "$T/next.list"
cat "$T/next.list" > "$ALLOW"
hub_reload_keys
agent $a record staff --date 2018-03-05 --total 10 --proficient 7 >/dev/null || fail "record"
wait_until 20 grep -q "refused $a seq 3: forbidden" "$T/hub.log" \
  || fail "unit $a, removed from the list, was not refused"
outbox_count $a outbox 1 || fail "unit $a's refused event not kept for a key listed again"
expect_eq "$(stored_for $a | cut -d' ' -f1-3)" "2 0 2" "unit $a's reports after its removal"
hub_log_has "allow-list loaded from $ALLOW with 2 bad lines \(logged above\): 1 units, 1 operators" \
  "the reload without $a"
say "$a removed while other lines are bad: refused on its live connection, nothing stored"
