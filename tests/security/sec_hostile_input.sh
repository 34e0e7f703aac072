#!/usr/bin/env bash
# Hostile input from an admitted key changes nothing: a frame over
# ZMQ_MAXMSGSIZE (the hub drops the connection), a flood of multi-frame
# messages (each refused as malformed), unknown protobuf fields, an embedded
# NUL and bad UTF-8 in a string; the status socket likewise. Nothing is
# stored, every decodable refusal is answered, and the hub keeps serving.
source "$(dirname "$0")/sec_lib.sh"

hub_config; hub_start
u=460100-001
report="report $u 1 staff 20180105 10 5"

# oversized frames: no answer (the connection is cut), nothing stored
for n in 4097 100000 4000000; do
  out=$(probe_as $u "$INGEST" --wait 800 big $n)
  [ -z "$out" ] || fail "a $n-byte frame was answered: $out"
done

# a flood of multi-frame messages: 300 messages of 100 frames, each refused
out=$(probe_as $u "$INGEST" --wait 3000 flood 300 100)
expect_eq "$(echo "$out" | grep -c "^refusal  0 malformed a report is one frame, this message had 100$")" \
  300 "multi-frame messages refused"

# unknown field 99 (varint 1) after a valid report
out=$(probe_as $u "$INGEST" --append 980601 $report)
echo "$out" | grep -q "^refusal  0 malformed unknown field" || fail "unknown field not refused: $out"
# the unit string again (last one wins), with an embedded NUL, then with bad UTF-8
out=$(probe_as $u "$INGEST" --append 120b3436303130302d30003031 $report)
echo "$out" | grep -q "^refusal  0 malformed" || fail "embedded NUL not refused: $out"
out=$(probe_as $u "$INGEST" --append 120a3436303130302d30fffe $report)
echo "$out" | grep -q "^refusal  0 malformed" || fail "bad UTF-8 not refused: $out"
# junk that is not protobuf at all, and an empty frame
out=$(probe_as $u "$INGEST" raw ffffffffffffffffffff0102030405)
echo "$out" | grep -q "^refusal  0 malformed" || fail "junk frame not refused: $out"
out=$(probe_as $u "$INGEST" raw "")
echo "$out" | grep -q "^refusal  0 " || fail "empty frame not refused: $out"
nothing_stored $u "hostile input"
expect_eq "$(db 'select count(*) from reports') $(db 'select count(*) from refusals')" "0 0" "rows stored"

# the status socket: oversized and multi-frame requests, then a real question
op=("$KEYS/hub/hub.pub" "$KEYS/operator/operator.pub" "$KEYS/operator/operator.key")
out=$("$PROBE_EXE" "$STATUS" --curve "${op[@]}" --wait 800 big 100000)
[ -z "$out" ] || fail "an oversized status request was answered: $out"
"$PROBE_EXE" "$STATUS" --curve "${op[@]}" --wait 800 flood 50 100 >/dev/null
[ "$(province reports)" = 0 ] || fail "status does not answer after hostile requests"
[ "$(metric status_refused)" -ge 50 ] || fail "status_refused is $(metric status_refused)"

# the hub is unharmed: the same unit's real report is stored
out=$(probe_as $u "$INGEST" $report)
echo "$out" | grep -q "^ack $u 1$" || fail "a good report after the junk not acked: $out"
[ "$(metric refused_malformed)" -ge 304 ] || fail "refused_malformed is $(metric refused_malformed)"
kill -0 "$HUB_PID" || fail "the hub died"
say "oversized, multi-frame, unknown-field, NUL, bad UTF-8 and junk refused; nothing stored"
