"""A report refused as invalid in the middle of a stream uses up its seq:
seq 1 stored; seq 2 (a training of 0 participants) refused REASON_INVALID
naming the unit and seq 2; seq 3 stored, acknowledged up to 3; seq 4 (dated
2016-12-31, before the rollout) refused likewise; a heartbeat then is
acknowledged up to 4, the last seq handled; seq 5 stored. Prints the reports
it expects stored.
"""
import rollout_client as rc

pb = rc.load_proto()
unit = "460100-001"
AT = 1530000000  # 2018-06-26 08:00 UTC
c = rc.Unit(pb, unit)


def report(seq, **body):
    return pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT, **body).SerializeToString()


c.send_acked(report(1, training=pb.Training(date=20180105, participants=12, hours_tenths=35)), 1, "seq 1")
rc.stored(unit, 1, 20180105, 12, 35, "", AT)
c.send_refused(report(2, training=pb.Training(date=20180106, participants=0, hours_tenths=35)), 2,
               pb.REASON_INVALID, "seq 2, a training of 0 participants")
c.send_acked(report(3, staff=pb.Staff(date=20180107, total=40, proficient=31)), 3, "seq 3 after the refusal")
rc.stored(unit, 3, 20180107, 40, 31, "", AT)
c.send_refused(report(4, staff=pb.Staff(date=20161231, total=40, proficient=31)), 4,
               pb.REASON_INVALID, "seq 4, dated 2016-12-31")
c.send_acked(pb.Report(version=1, unit=unit, heartbeat=pb.Heartbeat(agent_version="interop")).SerializeToString(),
             4, "a heartbeat after the refused seq 4")
c.send_acked(report(5, items=pb.Items(date=20180108, total=120, no_visit=30)), 5, "seq 5")
rc.stored(unit, 5, 20180108, 120, 30, "", AT)
print("# seq 2 and 4 refused as invalid, each naming its seq; 1, 3, 5 acknowledged")
