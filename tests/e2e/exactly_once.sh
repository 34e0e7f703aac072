#!/usr/bin/env bash
# Every event that agents record arrives at the hub exactly once, and the
# hub's totals equal the sum of what was recorded.
source "$(dirname "$0")/lib.sh"

hub_config; hub_start
units=(460000-001 460100-001 460100-201 469005-012 469030-036 469030-210)
exp_participants=0 exp_hours10=0 exp_staff=0 exp_prof=0 exp_items=0 exp_nv=0 exp_cases=0 exp_cnv=0
total=0
i=0
for u in "${units[@]}"; do
  agent_config "$u"
  i=$((i + 1))
  f=$T/agents/$u/events.txt
  : > "$f"
  for m in 01 02 03 04 05 06; do
    p=$((10 + i + 10#$m)); h=$((i + 10#$m))
    echo "training --date 2018-$m-10 --participants $p --hours $h.5 --course \"第${m}期 全程网办\"" >> "$f"
    exp_participants=$((exp_participants + p)); exp_hours10=$((exp_hours10 + h * 10 + 5))
    echo "items --date 2018-$m-20 --total $((100 + i)) --no-visit $((10 * 10#$m + i))" >> "$f"
    echo "cases --month 2018-$m --total $((1000 * i)) --no-visit $((100 * i * 10#$m))" >> "$f"
    total=$((total + 3))
  done
  agent "$u" record --file "$f" || fail "record --file for $u"
  # one event on the command line; the later staff snapshot is the one that counts
  agent "$u" record staff --date 2018-05-01 --total $((20 + i)) --proficient $((10 + i)) || fail "record staff"
  agent "$u" record staff --date 2018-06-01 --total $((30 + i)) --proficient $((25 + i)) || fail "record staff"
  total=$((total + 2))
  exp_staff=$((exp_staff + 30 + i)); exp_prof=$((exp_prof + 25 + i))
  exp_items=$((exp_items + 100 + i)); exp_nv=$((exp_nv + 60 + i))
  exp_cases=$((exp_cases + 1000 * i)); exp_cnv=$((exp_cnv + 600 * i))
  agent_start "$u"
done
say "recorded $total events over ${#units[@]} agents"

wait_until 30 province_reports_is "$total" || fail "hub has $(province reports) of $total reports"
for u in "${units[@]}"; do
  wait_until 10 outbox_count "$u" outbox 0 \
    || fail "$u outbox not emptied after acks"
done
expect_eq "$(db 'select count(*) from reports')" "$total" "stored rows"
expect_eq "$(province participants)" "$exp_participants" "participants"
expect_eq "$(ctl status --json | jq -r '.scopes[0].hours * 10 | round')" "$exp_hours10" "hours x10"
expect_eq "$(province sessions)" "$(( ${#units[@]} * 6 ))" "sessions"
expect_eq "$(province staff_total)" "$exp_staff" "staff total"
expect_eq "$(province staff_proficient)" "$exp_prof" "staff proficient"
expect_eq "$(province items_total)" "$exp_items" "items total"
expect_eq "$(province items_no_visit)" "$exp_nv" "items no-visit"
expect_eq "$(province cases_total)" "$exp_cases" "cases total"
expect_eq "$(province cases_no_visit)" "$exp_cnv" "cases no-visit"
expect_eq "$(province units_reporting)" "${#units[@]}" "units reporting"
expect_eq "$(province units)" 893 "units in the province"
expect_eq "$(unit_field 469005-012 last_seq)" 20 "last seq of 469005-012"
expect_eq "$(unit_field 469005-012 reports)" 20 "reports of 469005-012"

# a clean stop of every process loses nothing and the hub restarts with the same totals
for u in "${units[@]}"; do agent_stop "$u" || fail "agent $u did not exit 0 on SIGTERM"; done
hub_stop || fail "hub did not exit 0 on SIGTERM"
hub_start
expect_eq "$(province reports)" "$total" "reports after restart"
expect_eq "$(province participants)" "$exp_participants" "participants after restart"
say "$total events, $total stored, 0 lost, 0 duplicated"
