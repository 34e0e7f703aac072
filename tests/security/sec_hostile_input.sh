#!/usr/bin/env bash
# Hostile input from an admitted key changes nothing: a frame over
# ZMQ_MAXMSGSIZE (the hub drops the connection), a flood of multi-frame
# messages (each refused as malformed), an embedded NUL and bad UTF-8 in the
# unit's string, junk; the status socket likewise. Nothing is stored, every
# refusal names the connection's unit, and the hub keeps serving. A field the
# hub does not know is skipped and counted, not refused (the evolution policy).
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
expect_eq "$(echo "$out" | grep -c "^refusal $u 0 malformed a report is one frame, this message had 100$")" \
  300 "multi-frame messages refused"

# the unit string again (last one wins), with an embedded NUL, then with bad
# UTF-8: the report names no unit, so the refusal names the connection's
out=$(probe_as $u "$INGEST" --append 120b3436303130302d30003031 $report)
<<<"$out" grep -q "^refusal $u 0 malformed" || fail "embedded NUL not refused: $out"
out=$(probe_as $u "$INGEST" --append 120a3436303130302d30fffe $report)
<<<"$out" grep -q "^refusal $u 0 malformed" || fail "bad UTF-8 not refused: $out"
# junk that is not protobuf at all, and an empty frame (a Report with
# nothing set: version 0, which no hub speaks)
out=$(probe_as $u "$INGEST" raw ffffffffffffffffffff0102030405)
<<<"$out" grep -q "^refusal $u 0 malformed" || fail "junk frame not refused: $out"
out=$(probe_as $u "$INGEST" raw "")
<<<"$out" grep -q "^refusal $u 0 version" || fail "empty frame not refused: $out"
nothing_stored $u "hostile input"
expect_eq "$(db 'select count(*) from reports') $(db 'select count(*) from refusals')" "0 0" "rows stored"

# the status socket: oversized and multi-frame requests, then a real question
op=("$KEYS/hub/hub.pub" "$KEYS/operator/operator.pub" "$KEYS/operator/operator.key")
out=$("$PROBE_EXE" "$STATUS" --curve "${op[@]}" --wait 800 big 100000)
[ -z "$out" ] || fail "an oversized status request was answered: $out"
"$PROBE_EXE" "$STATUS" --curve "${op[@]}" --wait 800 flood 50 100 >/dev/null
[ "$(province reports)" = 0 ] || fail "status does not answer after hostile requests"
[ "$(metric status_refused)" -ge 50 ] || fail "status_refused is $(metric status_refused)"

# the hub is unharmed: the same unit's report is stored, with an unknown
# field 99 (varint 1) skipped and counted; the same report again without it
# is a resend of the same report
at=$(date +%s)
out=$(probe_as $u "$INGEST" --recorded-at "$at" --append 980601 $report)
<<<"$out" grep -q "^ack $u 1$" || fail "a report with an unknown field not acked: $out"
out=$(probe_as $u "$INGEST" --recorded-at "$at" $report)
<<<"$out" grep -q "^ack $u 1$" || fail "the same report in other bytes not acked: $out"
expect_eq "$(stored_for $u | cut -d' ' -f1-3)" "1 0 1" "reports, refusals, last seq of $u"
expect_eq "$(metric unknown_fields)" 1 "unknown_fields"
expect_eq "$(metric duplicates)" 1 "duplicates"
[ "$(metric refused_malformed)" -ge 303 ] || fail "refused_malformed is $(metric refused_malformed)"
kill -0 "$HUB_PID" || fail "the hub died"
say "oversized, multi-frame, NUL, bad UTF-8 and junk refused, nothing stored; an unknown field skipped and counted"
