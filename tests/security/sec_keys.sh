#!/usr/bin/env bash
# rolloutctl keys: secret keys mode 600, public keys 644; a key file is never
# overwritten; a unit id is listed once, even with many writers at once;
# revoke comments the entry out and the list stays valid; bad ids are usage
# errors (exit 2); the batch form covers a registry in one go.
source "$(dirname "$0")/sec_lib.sh"

k() { "$CTL_BIN" keys "$@"; }
K=$T/k
L=$K/allow.list
k hub "$K/hub" >/dev/null || fail "keys hub"
expect_eq "$(stat -c %a "$K/hub/hub.key") $(stat -c %a "$K/hub/hub.pub")" "600 644" "hub key modes"
rc=0; k hub "$K/hub" 2>/dev/null || rc=$?
expect_eq $rc 1 "keys hub over an existing pair"
rc=0; k unit not-a-unit "$K/x" 2>/dev/null || rc=$?
expect_eq $rc 2 "keys unit with a bad id"
rc=0; k operator "bad name" "$K/x" 2>/dev/null || rc=$?
expect_eq $rc 2 "keys operator with a bad name"

k unit 460100-001 "$K/u1" --allow-list "$L" >/dev/null || fail "keys unit"
expect_eq "$(stat -c %a "$K/u1/agent.key") $(stat -c %a "$L")" "600 644" "unit key and list modes"
grep -qxF "unit 460100-001 $(cat "$K/u1/agent.pub")" "$L" || fail "unit line not in the list"
rc=0; k unit 460100-001 "$K/u1b" --allow-list "$L" 2>/dev/null || rc=$?
expect_eq $rc 2 "the same unit again"
[ ! -e "$K/u1b/agent.key" ] || fail "a refused unit left a key behind"

# twenty writers at once: every unit listed exactly once, the list still valid
for i in $(seq 10 29); do k unit "460200-0$i" "$K/p$i" --allow-list "$L" >/dev/null & done
wait
expect_eq "$(grep -c '^unit 460200-0' "$L")" 20 "units added by parallel writers"
k list --allow-list "$L" >/dev/null 2>&1 || fail "list after parallel writers"

k operator alice "$K/alice" --allow-list "$L" >/dev/null || fail "keys operator"
k revoke operator:alice --allow-list "$L" >/dev/null || fail "revoke operator:alice"
grep -q "^# revoked .*: operator alice " "$L" || fail "revoked line not commented out"
k revoke 460200-015 --allow-list "$L" >/dev/null || fail "revoke a unit"
k revoke "$(cat "$K/p16/agent.pub")" --allow-list "$L" >/dev/null || fail "revoke by key"
# one Z85 key in 85 begins with '-': still a key, never an option
dash=-$(printf '0%.0s' $(seq 39))
echo "unit 460200-030 $dash" >> "$L"
k revoke "$dash" --allow-list "$L" >/dev/null || fail "revoke by a key that begins with '-'"
grep -q "^# revoked .*: unit 460200-030 " "$L" || fail "the key beginning with '-' was not revoked"
rc=0; k revoke 460200-015 --allow-list "$L" 2>/dev/null || rc=$?
expect_eq $rc 2 "revoking twice"
expect_eq "$(k list --allow-list "$L" 2>/dev/null | wc -l)" 19 "entries left"
# a revoked unit can get a new key
k unit 460200-015 "$K/p15b" --allow-list "$L" >/dev/null || fail "re-adding a revoked unit"

# a broken list is never added to
echo "unit 460300-001 broken" >> "$L"
rc=0; k unit 460100-002 "$K/u2" --allow-list "$L" 2>/dev/null || rc=$?
expect_eq $rc 2 "adding to a broken list"
rc=0; k list --allow-list "$L" 2>/dev/null || rc=$?
expect_eq $rc 2 "listing a broken list"

# the batch form over a registry
printf 'id,level,division,name\n460000-001,provincial,460000,a\n460100-201,township,460100,b\n' > "$T/units.csv"
k units --registry "$T/units.csv" "$K/batch" --allow-list "$K/batch.list" >/dev/null || fail "keys units"
expect_eq "$(k list --allow-list "$K/batch.list" 2>/dev/null | wc -l)" 2 "batch entries"
[ -f "$K/batch/460100-201/agent.key" ] || fail "batch key file"
rc=0; k units --registry "$T/units.csv" "$K/batch2" --allow-list "$K/batch.list" 2>/dev/null || rc=$?
expect_eq $rc 2 "batch over listed units"
[ ! -e "$K/batch2/460000-001/agent.key" ] || fail "a refused batch left keys behind"
say "modes, no overwrite, one entry per unit under 20 writers, revoke, broken list, batch"
