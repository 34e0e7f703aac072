"""Corrections (PROTOCOL.md 5.10) as a client written from the docs sends
them, and the trail the status API answers for them (QUERY_TRAIL, 4.3 and
4.4). One outbox of a unit sends a training session with 200 people typed
for 20 and a staff snapshot in the wrong month, then amends the first and
cancels the second, each with a reason: both acknowledged as reports of
its sequence. A second amend of the session (corrected already) is
refused REASON_TARGET. The trail lists the two corrections newest first,
each with its target as stored, the replacement, who sent it and why.
"""
import rollout_client as rc

pb = rc.load_proto()
unit = "469005-012"
AT = 1530000000  # 2018-06-26 08:00 UTC
A = b"\xaa" * 16
c = rc.Unit(pb, unit)


def report(seq, **body):
    return pb.Report(version=2, unit=unit, seq=seq, recorded_at=AT, incarnation=A, **body)


def training(participants):
    return pb.Training(date=20180105, participants=participants, hours_tenths=35)


def correction(target, reason, **replacement):
    action = pb.Correction.ACTION_AMEND if replacement else pb.Correction.ACTION_CANCEL
    return pb.Correction(target_incarnation=A, target_seq=target, action=action, reason=reason, **replacement)


def acked(seq, what, **body):
    c.send_acked(report(seq, **body).SerializeToString(), seq, what)


acked(1, "seq 1: a session of 200 people", training=training(200))
acked(2, "seq 2: a staff snapshot", staff=pb.Staff(date=20180201, total=12, proficient=6))
acked(3, "seq 3: amend seq 1", correction=correction(1, "200 typed for 20", training=training(20)))
acked(4, "seq 4: cancel seq 2", correction=correction(2, "录错了月份"))
c.send_refused(report(5, correction=correction(1, "again", training=training(21))).SerializeToString(), 5,
               pb.REASON_TARGET, "seq 5: amend seq 1 again")
print("# an amend and a cancel acknowledged; seq 1 corrected twice refused target")

status = rc.Status(pb)
rep = status.ask("TRAIL", query=pb.QUERY_TRAIL, key=unit)
rc.expect((rep.total, len(rep.trail)), (2, 2), "TRAIL: total and events")
hexa = "aa" * 16
cancel, amend = rep.trail
rc.expect((cancel.what, cancel.target_seq, cancel.target_incarnation, cancel.target_kind, cancel.target_date,
           cancel.target_total, cancel.target_part, cancel.seq, cancel.incarnation,
           cancel.new_date, cancel.new_total, cancel.new_part, cancel.by, cancel.reason),
          ("cancel", 2, hexa, "staff", 20180201, 12, 6, 4, hexa, 0, 0, 0, unit, "录错了月份"),
          "TRAIL: the newest, the cancel")
rc.expect((amend.what, amend.target_seq, amend.target_kind, amend.target_date, amend.target_total,
           amend.target_part, amend.seq, amend.new_date, amend.new_total, amend.new_part, amend.by, amend.reason),
          ("amend", 1, "training", 20180105, 200, 35, 3, 20180105, 20, 35, unit, "200 typed for 20"),
          "TRAIL: the amend")
rc.check(amend.at > 0 and cancel.at >= amend.at, f"TRAIL: applied at {amend.at}, then {cancel.at}")
rep = status.ask("TRAIL limit 1", query=pb.QUERY_TRAIL, key=unit, limit=1)
rc.expect((rep.total, [t.seq for t in rep.trail]), (2, [4]), "TRAIL limit 1: total and the newest's seq")
rep = status.ask_bytes(pb.StatusRequest(version=2, query=pb.QUERY_TRAIL, key="469005-999").SerializeToString(),
                       "TRAIL of a unit not in the registry")
rc.expect((rep.status, len(rep.trail)), (2, 0), "TRAIL of a unit not in the registry: status and events")
rc.check("unknown unit" in rep.error, f"TRAIL of a unit not in the registry: error {rep.error!r}")
print("# the trail: the cancel, then the amend, each with its target, replacement, by and reason")
