# demo-timeline.awk: one phase of the demo's synthetic rollout.
# Input: the demo's units.csv. Variables: phase (0..5), D (demo folder).
# Writes $D/agents/<unit>/phase.txt (the events the unit records in this
# phase, in `rollout-agent record --file` form) and $D/expected (the province
# totals the hub must show once everything so far is delivered).
# Deterministic: the same phase gives the same files. About one unit in ten
# lags behind, so the laggard list is not empty.
function rnd(u, salt) { return ((u * 7919 + salt * 104729 + 12345) % 1000) / 1000 }
BEGIN {
  split("2017-10-31 2017-12-31 2018-03-31 2018-06-30 2018-09-30 2018-12-31", day, " ")
  split("2017-10 2017-12 2018-03 2018-06 2018-09 2018-12", mon, " ")
  split("0.12 0.33 0.52 0.72 0.79 0.84", share, " ")     # items no-visit share, on track
  split("0.30 0.50 0.65 0.80 0.92 0.98", staff, " ")     # approval staff able to use the platform
  split("0.10 0.25 0.45 0.65 0.78 0.85", cases, " ")     # case volume no-visit
  # the months each phase reports case volume for
  cm[1] = "2017-10"; cm[2] = "2017-11 2017-12"; cm[3] = "2018-01 2018-02 2018-03"
  cm[4] = "2018-04 2018-05 2018-06"; cm[5] = "2018-07 2018-08 2018-09"; cm[6] = "2018-10 2018-11 2018-12"
  ph = phase + 1
  n = 0
}
/^id,/ { next }
{
  u = ++n
  f = D "/agents/" $1 "/phase.txt"
  lag = rnd(u, 1) < 0.1 ? 0.7 : 1.0
  printf "" > f
  # training: most units send one or two people to a session in some phases
  if (rnd(u, ph * 3) < 0.29) {
    p = 1 + (rnd(u, ph * 5) < 0.3)
    h = 1 + int(rnd(u, ph * 7) * 3)
    printf "training --date %s --participants %d --hours 0.%d --course \"全程网办 第%d期\"\n", day[ph], p, h, ph >> f
    events++; participants += p; hours += h; sessions++
  }
  st = 20 + int(rnd(u, 11) * 60)
  sp = int(st * staff[ph] * lag + 0.5); if (sp > st) sp = st
  printf "staff --date %s --total %d --proficient %d\n", day[ph], st, sp >> f
  it = 30 + int(rnd(u, 13) * 150)
  iv = int(it * share[ph] * lag + rnd(u, ph) * 3); if (iv > it) iv = it
  printf "items --date %s --total %d --no-visit %d\n", day[ph], it, iv >> f
  k = split(cm[ph], months, " ")
  for (i = 1; i <= k; i++) {
    ct = 100 + int(rnd(u, 17 + i) * 900)
    cv = int(ct * cases[ph] * lag); if (cv > ct) cv = ct
    printf "cases --month %s --total %d --no-visit %d\n", months[i], ct, cv >> f
    events++
  }
  events += 2
  fst[u] = st; fsp[u] = sp; fit[u] = it; fiv[u] = iv; fct[u] = ct; fcv[u] = cv
  close(f)
}
END {
  # cumulative: add what earlier phases recorded (kept in $D/expected.sum)
  sf = D "/expected.sum"
  if (phase > 0) {
    while ((getline line < sf) > 0) { split(line, a, " "); prev[a[1]] = a[2] }
    close(sf)
  }
  events += prev["events"]; participants += prev["participants"]; hours += prev["hours"]; sessions += prev["sessions"]
  printf "events %d\nparticipants %d\nhours %d\nsessions %d\n", events, participants, hours, sessions > sf
  close(sf)
  for (u = 1; u <= n; u++) { s1 += fst[u]; s2 += fsp[u]; s3 += fit[u]; s4 += fiv[u]; s5 += fct[u]; s6 += fcv[u] }
  out = D "/expected"
  printf "reports %d\nparticipants %d\nhours_tenths %d\nsessions %d\n", events, participants, hours, sessions > out
  printf "staff_total %d\nstaff_proficient %d\nitems_total %d\nitems_no_visit %d\ncases_total %d\ncases_no_visit %d\nevents %d\n", s1, s2, s3, s4, s5, s6, events > out
  close(out)
}
