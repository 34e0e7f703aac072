#!/usr/bin/env bash
# Corrections through hub crashes: units record training sessions, then
# their staff amend and cancel many of them (and amend amends) while the hub
# is killed (SIGKILL) again and again. Afterwards every event, corrections
# included, is stored exactly once, every correction is in the trail once,
# the province's participants are those of the sessions left standing with
# their corrected figures, and the recount agrees.
#   KILLS (at least, 6), AGENTS (4), EVENTS per agent (120), CORRECTIONS per agent (40), SEED
source "$(dirname "$0")/fault_lib.sh"
DRILL=corrections-hub-killed
KILLS=${KILLS:-6}
AGENTS=${AGENTS:-4}
EVENTS=${EVENTS:-120}
CORRECTIONS=${CORRECTIONS:-40}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
say "seed $SEED: $KILLS kills, $AGENTS agents x $EVENTS sessions, $CORRECTIONS corrections each"

hub_config; hub_start; hub_pin_ports
mapfile -t US < <(units "$AGENTS")
declare -A VAL # UNIT:SEQ -> participants of a session that counts; absent: it does not
for u in "${US[@]}"; do
  agent_config "$u"
  ini_set "$T/agents/$u/agent.ini" agent retain_days 400
  for ((s = 1; s <= EVENTS; s++)); do
    q=$((1 + RANDOM % 50))
    VAL[$u:$s]=$q
    printf 'training --date 2018-%02d-%02d --participants %d --hours 1.5\n' \
      $((1 + RANDOM % 12)) $((1 + RANDOM % 28)) "$q"
  done > "$T/agents/$u/sessions.txt"
  agent "$u" record --file "$T/agents/$u/sessions.txt" >/dev/null || fail "record at $u"
  agent_start "$u"
done

# corrections, made while the hub dies at random moments, every second or
# so until they are all made (and at least KILLS times)
killer() {
  local k=0
  while [ ! -e "$T/corrected" ] || [ $k -lt "$KILLS" ]; do
    sleep "0.$(printf '%03d' $((300 + RANDOM % 700)))"
    kill -9 "$(cat "$T/hub.pid")" 2>/dev/null || true
    sleep 0.2
    "$HUB_BIN" --config "$T/hub.ini" >>"$T/hub.log" 2>&1 &
    echo $! > "$T/hub.pid"
    k=$((k + 1))
  done
  echo "$k" > "$T/kills"
}
echo "$HUB_PID" > "$T/hub.pid"
killer &
KILLER=$!
# each unit's live seqs (sessions that count), picked from at random and
# removed by swapping in the last one
for i in "${!US[@]}"; do
  declare -a "LIVE_$i"
  declare -n L=LIVE_$i
  for ((s = 1; s <= EVENTS; s++)); do L+=("$s"); done
  unset -n L
done
amends=0 cancels=0
for ((c = 1; c <= CORRECTIONS; c++)); do
  for i in "${!US[@]}"; do
    u=${US[$i]}
    declare -n L=LIVE_$i
    [ ${#L[@]} -gt 0 ] || { unset -n L; continue; }
    k=$((RANDOM % ${#L[@]}))
    t=${L[$k]}
    L[$k]=${L[$((${#L[@]} - 1))]}
    unset "L[$((${#L[@]} - 1))]"
    if [ $((RANDOM % 3)) -eq 0 ]; then
      out=$(agent "$u" cancel "$t" --reason "recorded twice ($c)") || fail "cancel $t at $u: $out"
      cancels=$((cancels + 1))
    else
      q=$((1 + RANDOM % 50))
      out=$(agent "$u" amend "$t" --reason "typed wrong ($c)" training --date 2018-07-01 \
        --participants "$q" --hours 2) || fail "amend $t at $u: $out"
      s=$(sed -n 's/^recorded seq \([0-9]*\):.*/\1/p' <<<"$out")
      [ -n "$s" ] || fail "amend printed no seq: $out"
      VAL[$u:$s]=$q
      L+=("$s")
      amends=$((amends + 1))
    fi
    unset "VAL[$u:$t]"
    unset -n L
  done
done
touch "$T/corrected"
wait "$KILLER"
HUB_PID=$(cat "$T/hub.pid")
KILLS=$(cat "$T/kills")

# every event stored once: rows per unit equal what each outbox handed out
rows_are_recorded() {
  local u
  for u in "${US[@]}"; do
    [ "$(db "select count(*) from reports r join units x on x.uid = r.uid where x.id = '$u'")" \
      == "$(recorded "$u")" ] || return 1
  done
}
wait_until 120 rows_are_recorded || fail "not every event stored"
wait_until 30 outboxes_empty "${US[@]}" || fail "outboxes not emptied"
recorded_all=0
for u in "${US[@]}"; do recorded_all=$((recorded_all + $(recorded "$u"))); done
rows=$(db "select count(*) from reports")
[ "$rows" -eq "$recorded_all" ] || fail "$rows rows for $recorded_all events"
made=$((amends + cancels))
trail=$(db "select count(*) from events")
[ "$trail" -eq "$made" ] || fail "$trail corrections in the trail, $made made"
corrected=$(db "select count(*) from reports where state in (4, 5)")
[ "$corrected" -eq "$made" ] || fail "$corrected reports marked corrected, $made made"
refused=$(db "select count(*) from refusals")
[ "$refused" -eq 0 ] || fail "$refused refusals: $(db 'select reason, text from refusals limit 3')"
expect=0
for key in "${!VAL[@]}"; do expect=$((expect + VAL[$key])); done
check_totals "$expect"
lost=$((recorded_all > rows ? recorded_all - rows : 0)) dup=$((rows > recorded_all ? rows - recorded_all : 0))
finish "$made corrections ($amends amends, $cancels cancels) of $((AGENTS * EVENTS)) sessions at $AGENTS units while the hub was killed $KILLS times: $rows of $recorded_all events stored, $trail of $made corrections in the trail, participants $expect as corrected; $lost lost, $dup duplicated"
