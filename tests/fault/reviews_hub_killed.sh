#!/usr/bin/env bash
# Reviews through hub crashes: units send sessions the shipped [review]
# rules flag (more participants than the unit's staff) beside plausible
# ones; a reviewer then accepts or rejects every flagged one while the hub
# is killed (SIGKILL) again and again, asking again whenever an answer does
# not come. Afterwards each flagged report has exactly one decision in the
# trail, none is pending, every event is stored once, the province's
# participants are the plausible sessions' and the accepted ones', and the
# recount agrees.
#   KILLS (5), AGENTS (3), EVENTS per agent (30), SEED
source "$(dirname "$0")/fault_lib.sh"
DRILL=reviews-hub-killed
KILLS=${KILLS:-5}
AGENTS=${AGENTS:-3}
EVENTS=${EVENTS:-30}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
TARGETS_INI=$RO_SOURCE/config/targets.ini # the shipped rules judge this drill's sessions
say "seed $SEED: $KILLS kills, $AGENTS agents x $EVENTS sessions"

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS")
declare -A FLAGGED=() # UNIT:SEQ -> participants of a flagged session
expect=0
for u in "${US[@]}"; do
  agent_config "$u"
  {
    echo "staff --date 2018-01-02 --total 10 --proficient 5"
    for ((s = 2; s <= EVENTS + 1; s++)); do
      if ((RANDOM % 2)); then
        q=$((11 + RANDOM % 40))
        FLAGGED[$u:$s]=$q
      else
        q=$((1 + RANDOM % 10))
        expect=$((expect + q))
      fi
      printf 'training --date 2018-03-%02d --participants %d --hours 1.5\n' $((1 + RANDOM % 28)) "$q"
    done
  } > "$T/agents/$u/sessions.txt"
  agent "$u" record --file "$T/agents/$u/sessions.txt" >/dev/null || fail "record at $u"
  agent_start "$u"
done
wait_until 60 outboxes_empty "${US[@]}" || fail "outboxes not emptied"
flagged=$(db "select count(*) from events where what = 3")
[ "$flagged" -eq ${#FLAGGED[@]} ] || fail "$flagged flagged, ${#FLAGGED[@]} sent above the staff"

"$CTL_BIN" keys reviewer drill "$KEYS/reviewer" --allow-list "$ALLOW" >/dev/null || fail "keys"
touch "$KEYS/.dirty"; keys_sync
printf '[security]\ncurve = on\nhub_public_key = %s\nsecret_key = %s\npublic_key = %s\n' \
  "$KEYS/hub/hub.pub" "$KEYS/reviewer/reviewer.key" "$KEYS/reviewer/reviewer.pub" > "$KEYS/review.ini"

# decisions, made while the hub dies at random moments
killer() {
  local k
  for ((k = 1; k <= KILLS; k++)); do
    sleep "0.$(printf '%03d' $((200 + RANDOM % 700)))"
    kill -9 "$(cat "$T/hub.pid")" 2>/dev/null || true
    sleep 0.2
    "$HUB_BIN" --config "$T/hub.ini" >>"$T/hub.log" 2>&1 &
    echo $! > "$T/hub.pid"
  done
}
echo "$HUB_PID" > "$T/hub.pid"
killer &
KILLER=$!
accepted=0 retries=0
for key in "${!FLAGGED[@]}"; do
  u=${key%%:*} s=${key#*:} how=reject
  ((s % 2)) || how=accept
  for ((try = 1; ; try++)); do
    rc=0
    out=$("$CTL_BIN" --hub "$STATUS" --config "$KEYS/review.ini" --timeout 1 review "$how" "$u" "$s" \
      --reason "drill $how" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] && break
    [ "$rc" -eq 1 ] || fail "$how $u $s: exit $rc: $out"
    [ "$try" -lt 60 ] || fail "$how $u $s: no answer after $try tries: $out"
    retries=$((retries + 1))
    sleep 0.2
  done
  [ "$how" == reject ] || { accepted=$((accepted + 1)); expect=$((expect + FLAGGED[$key])); }
done
wait "$KILLER"
HUB_PID=$(cat "$T/hub.pid")
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied after the kills"

decided=$(db "select count(*) from (select distinct uid, target_iid, target_seq from events where what in (4, 5))")
decisions=$(db "select count(*) from events where what in (4, 5)")
[ "$decisions" -eq "$flagged" ] || fail "$decisions decisions in the trail for $flagged flagged"
[ "$decided" -eq "$flagged" ] || fail "$decided reports decided of $flagged flagged"
pending=$(db "select count(*) from reports where state = 2")
[ "$pending" -eq 0 ] || fail "$pending reports still held for review"
wrong=$(db "select count(*) from events e join reports r on r.uid = e.uid and r.iid = e.target_iid
  and r.seq = e.target_seq where (e.what = 4 and r.state <> 0) or (e.what = 5 and r.state <> 3)")
[ "$wrong" -eq 0 ] || fail "$wrong reports whose state is not their decision's"
recorded_all=0
for u in "${US[@]}"; do recorded_all=$((recorded_all + $(recorded "$u"))); done
rows=$(db "select count(*) from reports")
check_totals "$expect"
lost=$((recorded_all > rows ? recorded_all - rows : 0)) dup=$((rows > recorded_all ? rows - recorded_all : 0))
finish "$flagged flagged sessions decided ($accepted accepted) at $AGENTS units while the hub was killed $KILLS times ($retries answers asked again): $decisions decisions in the trail, participants $expect; $rows of $recorded_all events stored; $lost lost, $dup duplicated"
