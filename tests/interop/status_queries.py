"""Every status query of proto/rollout.proto's Query enum, asked from an
operator key, each answered (status 0, no error) with what the units sent.

  status_queries.py google|explicit

google: each request as Google's protobuf writes proto3 (fields at their
default value left out). explicit: every field written out, those at their
default value too (key "", as_of 0, indicator "", limit 0).

The hub's registry is the test's five units (status_every_query.sh); four
send reports or a heartbeat first, one stays silent.
"""
import os
import sys
import time

import rollout_client as rc

pb = rc.load_proto()
explicit = sys.argv[1] == "explicit"
AT = 1530000000  # 2018-06-26 08:00 UTC

# what each unit sends: seq order; (kind, fields)
SENT = {
    "460000-001": [("items", dict(date=20180620, total=100, no_visit=50)),
                   ("staff", dict(date=20180105, total=40, proficient=31))],
    "460100-001": [("items", dict(date=20180620, total=100, no_visit=75)),
                   ("training", dict(date=20180105, participants=12, hours_tenths=35)),
                   ("training", dict(date=20180301, participants=8, hours_tenths=20))],
    "469005-012": [("items", dict(date=20180620, total=100, no_visit=90)),
                   ("cases", dict(month=201806, total=900, no_visit=600))],
}
HEARD = "460100-201"  # a township unit: a heartbeat, no report
SILENT = "460100-002"  # never heard of
for unit, reports in SENT.items():
    c = rc.Unit(pb, unit)
    for seq, (kind, fields) in enumerate(reports, 1):
        r = pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT, **{kind: getattr(pb, kind.title())(**fields)})
        c.send_acked(r.SerializeToString(), seq, f"{unit} seq {seq}")
rc.Unit(pb, HEARD).send_acked(pb.Report(version=1, unit=HEARD, heartbeat=pb.Heartbeat()).SerializeToString(), 0,
                              f"{HEARD}'s heartbeat")
REPORTS = sum(len(r) for r in SENT.values())

status = rc.Status(pb)
asked = set()


def ask(query, **fields):
    """Ask query; the answer must be ok, of protocol version 2, with the
    feed's epoch, the store ok and (as_of 0) today's date."""
    name = pb.Query.Name(query)
    what = f"{name} {fields or ''} ({sys.argv[1]} encoding)"
    before = int(time.strftime("%Y%m%d", time.gmtime()))
    rep = status.ask(what, explicit, query=query, **fields)
    after = int(time.strftime("%Y%m%d", time.gmtime()))
    rc.expect((rep.version, rep.store_state), (2, "ok"), f"{what}: version and store state")
    rc.check(rep.feed_epoch > 0, f"{what}: no feed epoch")
    rc.check(rep.as_of in (fields.get("as_of") or before, fields.get("as_of") or after),
             f"{what}: answered as of {rep.as_of}")
    asked.add(query)
    print(f"# {what}: answered")
    return rep


def scope_is(scope, what, **want):
    for k, v in want.items():
        rc.expect(getattr(scope, k), v, f"{what}: {k}")


def metrics(rep):
    return {m.name: m.value for m in rep.metrics}


rep = ask(pb.QUERY_UNIT, key="460100-001")
rc.expect(len(rep.scopes), 1, "UNIT: scopes")
u = rep.scopes[0]
scope_is(u, "UNIT 460100-001", kind="unit", id="460100-001", level="municipal", division="460100", reports=3,
         last_seq=3, participants=20, hours_tenths=55, sessions=2, items_total=100, items_no_visit=75)
rc.expect({i.id: i.value for i in u.indicators}.get("items_no_visit"), 0.75, "UNIT: the items_no_visit indicator")

rep = ask(pb.QUERY_PROVINCE)
scope_is(rep.scopes[0], "PROVINCE", kind="province", units=5, units_reporting=3, reports=REPORTS,
         participants=20, hours_tenths=55, sessions=2, staff_total=40, staff_proficient=31,
         items_total=300, items_no_visit=215, cases_total=900, cases_no_visit=600)

rep = ask(pb.QUERY_DIVISION, key="460100")
scope_is(rep.scopes[0], "DIVISION 460100", kind="division", id="460100", units=3, units_reporting=1, reports=3)

rep = ask(pb.QUERY_LEVEL, key="")  # all three levels (docs/FEED.md's snapshot)
rc.expect({s.id: (s.units, s.reports) for s in rep.scopes},
          {"provincial": (1, 2), "municipal": (3, 5), "township": (1, 0)}, "LEVEL '': (units, reports) by level")
rep = ask(pb.QUERY_LEVEL, key="municipal")
rc.expect([(s.id, s.units) for s in rep.scopes], [("municipal", 3)], "LEVEL municipal: (id, units)")

# as of 2018-06-30 the next milestone asks 80% of items no-visit: 50% and 75% fall short, 90% does not
rep = ask(pb.QUERY_LAGGARDS, as_of=20180630, indicator="items_no_visit")
ids = [s.id for s in rep.scopes]
rc.expect((rep.indicator, rep.total), ("items_no_visit", len(ids)), "LAGGARDS: indicator and total")
rc.check("460000-001" in ids and "460100-001" in ids and "469005-012" not in ids, f"LAGGARDS: units {ids}")
rc.check(ids.index("460000-001") < ids.index("460100-001"), f"LAGGARDS: not worst first: {ids}")

rep = ask(pb.QUERY_SILENT)
rc.expect((rep.total, [s.id for s in rep.scopes]), (1, [SILENT]), "SILENT: total and units")

rep = ask(pb.QUERY_HISTORY, key="460100-001", indicator="training_participants")
rc.expect((rep.indicator, rep.scopes[0].id), ("training_participants", "460100-001"), "HISTORY: indicator, unit")
rc.expect([(p.date, p.seq, p.total, p.value) for p in rep.history],
          [(20180105, 2, 12, 12.0), (20180301, 3, 8, 20.0)], "HISTORY: (date, seq, total, running sum)")

rep = ask(pb.QUERY_DIVISIONS)
div = {s.id: s for s in rep.scopes}
rc.expect(len(div), 19, "DIVISIONS: one scope per division")
rc.expect(sum(s.reports for s in rep.scopes), REPORTS, "DIVISIONS: reports over all divisions")
scope_is(div["460100"], "DIVISIONS 460100", units=3, reports=3, items_no_visit=75)

rep = ask(pb.QUERY_METRICS)
m = metrics(rep)
rc.expect((m.get("reports_stored"), m.get("heartbeats"), m.get("units"), m.get("units_reporting")),
          (REPORTS, 1, 5, 3), "METRICS: reports_stored, heartbeats, units, units_reporting")

rep = ask(pb.QUERY_VERIFY)
m = metrics(rep)
rc.expect((m.get("differences"), m.get("reports_checked")), (0, REPORTS), "VERIFY: differences, reports checked")

rep = ask(pb.QUERY_SERIES, indicator="")  # the headline indicator
rc.check(rep.indicator and rep.history, f"SERIES '': indicator {rep.indicator!r}, {len(rep.history)} points")
rc.expect(rep.history[-1].date, rep.as_of, "SERIES '': the last point's date")
rep = ask(pb.QUERY_SERIES, indicator="items_no_visit")
last = rep.history[-1]
rc.expect((rep.indicator, last.date, last.total, last.part, last.value),
          ("items_no_visit", rep.as_of, 300, 215, 215 / 300), "SERIES items_no_visit: the last point")

rep = ask(pb.QUERY_TARGETS)
with open(os.path.join(rc.ENV["RO_SOURCE"], "config", "targets.ini"), encoding="utf-8") as f:
    rc.expect(rep.targets_ini, f.read(), "TARGETS: the hub's targets file")

rep = ask(pb.QUERY_PROBLEMS)
rc.expect((rep.total, [(p.unit, p.kind, p.since, p.text) for p in rep.problems]),
          (1, [(SILENT, "silent", 0, "never heard from")]), "PROBLEMS: total and problems")
rc.check(rep.problems[0].what_to_do, "PROBLEMS: no what to do")

rep = ask(pb.QUERY_TRAIL, key="460100-001")  # version-1 reports: nothing corrected
rc.expect((rep.total, list(rep.trail)), (0, []), "TRAIL: total and events")

rep = ask(pb.QUERY_REVIEWS, key="")  # nothing implausible was sent: nothing to review
rc.expect((rep.total, list(rep.reviews)), (0, []), "REVIEWS: total and reviews")

rep = ask(pb.QUERY_MARKED)  # nothing corrected, held or rejected: no unit, and every scope 0
rc.expect((rep.total, list(rep.scopes)), (0, []), "MARKED: total and scopes")
p = ask(pb.QUERY_PROVINCE).scopes[0]
rc.expect((p.corrected, p.held_review, p.rejected, [(i.corrected, i.held_review, i.rejected)
                                                    for i in p.indicators if i.corrected or
                                                    i.held_review or i.rejected]),
          (0, 0, 0, []), "PROVINCE: what the figures rest on")

# DECIDE: this operator key may not decide, and seq 2 of 460100-001 is not flagged:
# status 2 either way (docs/PROTOCOL.md 5.11), the Decision decoded all the same
req = pb.StatusRequest(version=1, query=pb.QUERY_DECIDE,
                       decision=pb.Decision(unit="460100-001", seq=2, accept=True, reason="checked"))
rep = status.ask_bytes(rc.encode(req, explicit=True) if explicit else req.SerializeToString(), "QUERY_DECIDE")
rc.expect(rep.status, 2, f"DECIDE by an operator key: {rep.error}")
rc.check(rep.error in ("forbidden: only a reviewer key decides",
                       "460100-001 seq 2 is not a report flagged for review"), f"DECIDE: {rep.error}")
asked.add(pb.QUERY_DECIDE)
print(f"# QUERY_DECIDE ({sys.argv[1]} encoding): refused, {rep.error}")

missing = set(pb.Query.values()) - {pb.QUERY_NONE} - asked
rc.check(not missing, f"queries never asked: {[pb.Query.Name(q) for q in missing]}")
