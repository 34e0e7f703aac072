"""PROTOCOL.md (refusals): a report that decodes but breaks a limit of its
text (a NUL byte, 201 bytes, bad UTF-8) is refused REASON_MALFORMED naming
its unit and seq, and uses up the seq: the next seq is stored and
acknowledged past it, and a heartbeat is acknowledged up to it. A course of
exactly 200 bytes is stored. Prints the reports it expects stored.
"""
import rollout_client as rc

pb = rc.load_proto()
unit = "460100-002"
AT = 1530000000  # 2018-06-26 08:00 UTC
c = rc.Unit(pb, unit)


def training(seq, course):
    # written by hand, as course may be bytes Python's protobuf would not take
    body = rc.encode(pb.Training(date=20180105, participants=12, hours_tenths=35)) + rc.bytes_field(4, course)
    head = rc.encode(pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT))
    return head + rc.bytes_field(10, body)


def staff(seq):
    return pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT,
                     staff=pb.Staff(date=20180105, total=40, proficient=seq)).SerializeToString()


longest = "培" * 66 + "ab"  # 200 bytes of UTF-8, the most a course may have
rc.expect(len(longest.encode()), 200, "bytes of the longest course")
c.send_acked(training(1, longest.encode()), 1, "seq 1, a course of 200 bytes")
rc.stored(unit, 1, 20180105, 12, 35, longest, AT)

bad = {2: ("a NUL byte in the course", b"basic\x00training"),
       4: ("a course of 201 bytes", ("培" * 67).encode()),
       6: ("a course that is not UTF-8", b"basic \xff\xfe training")}
for seq, (what, course) in bad.items():
    c.send_refused(training(seq, course), seq, pb.REASON_MALFORMED, f"seq {seq}, {what}")
    print(f"# seq {seq}, {what}: refused as malformed, named")
    c.send_acked(staff(seq + 1), seq + 1, f"seq {seq + 1}, after the refused seq {seq}")
    rc.stored(unit, seq + 1, 20180105, 40, seq + 1, "", AT)

# a refused seq as the last one handled: a heartbeat is acknowledged up to it
c.send_refused(training(8, b"\x00"), 8, pb.REASON_MALFORMED, "seq 8, a course of one NUL byte")
c.send_acked(pb.Report(version=1, unit=unit, heartbeat=pb.Heartbeat(agent_version="interop")).SerializeToString(),
             8, "a heartbeat after the refused seq 8")
