"""Every report kind and a heartbeat from one unit, each acknowledged.

  report_kinds.py google|explicit

google: each message as Google's protobuf writes proto3 (a field at its
default value is left out). explicit: every field written out, those at
their default value too (course "", proficient 0, no_visit 0, a heartbeat's
seq 0, agent_version "" and outbox_depth 0), which is how protobuf writes a
field declared `optional`: the same schema, another valid encoding. Prints
the reports it expects stored.
"""
import sys

import rollout_client as rc

pb = rc.load_proto()
explicit = sys.argv[1] == "explicit"
unit = "460100-001"
AT = 1530000000  # 2018-06-26 08:00 UTC, when the unit's staff recorded them


def frame(report, what):
    if not explicit:
        return report.SerializeToString()
    data = rc.encode(report, explicit=True)
    # the bytes are this report to Google's decoder too, and longer than its
    # own encoding: defaults really were written out
    rc.expect(pb.Report.FromString(data), report, f"{what}: Google's decoding of the hand-written bytes")
    rc.check(len(data) > len(report.SerializeToString()), f"{what}: no default value written out")
    return data


def report(seq, **body):
    return pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT, **body)


kinds = [
    ("training", report(1, training=pb.Training(date=20180105, participants=12, hours_tenths=35, course="")),
     (20180105, 12, 35)),
    ("staff", report(2, staff=pb.Staff(date=20180106, total=40, proficient=0)), (20180106, 40, 0)),
    ("items", report(3, items=pb.Items(date=20180107, total=120, no_visit=0)), (20180107, 120, 0)),
    ("cases", report(4, cases=pb.Cases(month=201801, total=900, no_visit=0)), (201801, 900, 0)),
]
c = rc.Unit(pb, unit)
for kind, r, (date, total, part) in kinds:
    what = f"{kind} report seq {r.seq} ({sys.argv[1]} encoding)"
    c.send_acked(frame(r, what), r.seq, what)
    rc.stored(unit, r.seq, date, total, part, "", AT)
    print(f"# {what}: acknowledged")

# a heartbeat: seq 0, never stored, answered with an Ack of the last seq
hb = pb.Report(version=1, unit=unit, seq=0, recorded_at=0, heartbeat=pb.Heartbeat(agent_version="", outbox_depth=0))
what = f"heartbeat ({sys.argv[1]} encoding)"
c.send_acked(frame(hb, what), 4, what)
print(f"# {what}: acknowledged up to 4")
