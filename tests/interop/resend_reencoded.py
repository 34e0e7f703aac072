"""Resends judged by their decoded content, not their bytes (PROTOCOL.md,
"the same report"). Seq 1 and 2 are stored; seq 1 with other content (a
count, the course, recorded_at) is a conflict each time; seq 1 and 2 sent
again in another field order, with defaults written out, or both, are
duplicates: acknowledged, never refused; seq 3 is then stored as usual.
Prints the reports it expects stored.
"""
import rollout_client as rc

pb = rc.load_proto()
unit = "469005-012"
AT = 1530000000  # 2018-06-26 08:00 UTC
c = rc.Unit(pb, unit)


def report(seq, at=AT, **body):
    return pb.Report(version=1, unit=unit, seq=seq, recorded_at=at, **body)


one = report(1, training=pb.Training(date=20180105, participants=12, hours_tenths=35, course=""))
two = report(2, staff=pb.Staff(date=20180106, total=40, proficient=0))
c.send_acked(one.SerializeToString(), 1, "seq 1")
c.send_acked(two.SerializeToString(), 2, "seq 2")
rc.stored(unit, 1, 20180105, 12, 35, "", AT)
rc.stored(unit, 2, 20180106, 40, 0, "", AT)

# other content at seq 1: refused as a conflict that names the unit and seq
others = {
    "participants 13": report(1, training=pb.Training(date=20180105, participants=13, hours_tenths=35)),
    "a course named": report(1, training=pb.Training(date=20180105, participants=12, hours_tenths=35,
                                                     course="平台操作培训")),
    "recorded a second later": report(1, at=AT + 1, training=one.training),
}
for what, r in others.items():
    c.send_refused(r.SerializeToString(), 1, pb.REASON_CONFLICT, f"seq 1 again with {what}")
    print(f"# seq 1 again with {what}: refused as a conflict")

# the same content in other bytes: a duplicate
for r in (one, two):
    for what, data in {
        "fields in reverse order": rc.encode(r, explicit=False, reverse=True),
        "defaults written out": rc.encode(r, explicit=True),
        "defaults written out, reverse order": rc.encode(r, explicit=True, reverse=True),
    }.items():
        what = f"seq {r.seq} again, {what}"
        rc.check(data != r.SerializeToString(), f"{what}: the same bytes as the first send")
        rc.expect(pb.Report.FromString(data), r, f"{what}: Google's decoding of the hand-written bytes")
        c.send_acked(data, r.seq, what, most=2)
        print(f"# {what}: acknowledged as a duplicate")

three = report(3, items=pb.Items(date=20180107, total=120, no_visit=30))
c.send_acked(three.SerializeToString(), 3, "seq 3 after the resends")
rc.stored(unit, 3, 20180107, 120, 30, "", AT)
