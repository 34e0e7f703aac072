"""Frames that are no Report at all (junk bytes, a report cut short) are
refused REASON_MALFORMED with seq 0, and the unit's sequence does not move:
its next seq is stored on the same connection. PROTOCOL.md also names the
unit of the connection's key in such a Refusal: checked last. Prints the
reports it expects stored.
"""
from google.protobuf.message import DecodeError

import rollout_client as rc

pb = rc.load_proto()
unit = "469005-012"
AT = 1530000000  # 2018-06-26 08:00 UTC
c = rc.Unit(pb, unit)
sock = c.connection()  # one connection throughout: the hub keeps serving it


def staff(seq):
    return pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT,
                     staff=pb.Staff(date=20180105, total=40, proficient=seq)).SerializeToString()


junk = {"junk bytes": b"\xff" * 10 + b"\x01\x02\x03", "seq 2 cut short": staff(2)[:-1]}
c.send_acked(staff(1), 1, "seq 1", sock=sock)
rc.stored(unit, 1, 20180105, 40, 1, "", AT)
named = []
for what, data in junk.items():
    try:
        pb.Report.FromString(data)
        rc.fail(f"{what}: Google's protobuf decodes it; not junk")
    except DecodeError:
        pass
    got = c.exchange(data, c.refusals, what, sock)
    r = c.refusals(got)[0]
    rc.expect((r.seq, pb.Reason.Name(r.reason)), (0, "REASON_MALFORMED"), f"{what}: the refusal's seq and reason")
    named.append((what, r.unit))
    print(f"# {what}: refused as malformed, seq 0 ({r.text})")

# the sequence did not move: seq 2 is next, on the same connection
c.send_acked(staff(2), 2, "seq 2 after the junk", sock=sock)
rc.stored(unit, 2, 20180105, 40, 2, "", AT)
for what, named_unit in named:
    rc.expect(named_unit, unit, f"{what}: the refusal's unit (the connection key's)")
