"""Protocol version 2 (PROTOCOL.md 5.9) as a client written from the docs
speaks it: each incarnation of a unit has a sequence of its own from seq 1;
answers to version-2 messages carry the incarnation, the content hash at
upto, hub_version 2 and the store's identity, and answers to version 1 carry
none of them; a resend is acknowledged with `seen`; another report under the
same identity is refused REASON_IDENTITY; a heartbeat of an incarnation the
hub never stored under is answered upto 0.
"""
import rollout_client as rc

pb = rc.load_proto()
unit = "469005-012"
AT = 1530000000  # 2018-06-26 08:00 UTC
c = rc.Unit(pb, unit)
A, B, C = b"\xaa" * 16, b"\xbb" * 16, b"\xcc" * 16
# the unit's feed topic, to see its flags there at the end
sub = rc.subscriber([f"unit/{unit}", "heartbeat"])
while rc.feed_next(sub, "the first heartbeat")[0] != "heartbeat":
    pass


def report(seq, inc, participants, version=2):
    return pb.Report(version=version, unit=unit, seq=seq, recorded_at=AT, incarnation=inc,
                     training=pb.Training(date=20180105, participants=participants, hours_tenths=35))


def heartbeat(inc, **fields):
    return pb.Report(version=2, unit=unit, incarnation=inc,
                     heartbeat=pb.Heartbeat(agent_version="interop", **fields))


def v2_ack(ack, inc, upto, what):
    rc.expect((ack.upto, ack.incarnation, ack.hub_version), (upto, inc, 2),
              f"{what}: upto, incarnation and hub_version")
    rc.expect(len(ack.store_id), 16, f"{what}: the store's identity")
    return ack


a1 = v2_ack(c.send_acked(report(1, A, 11).SerializeToString(), 1, "A seq 1"), A, 1, "A seq 1")
rc.check(a1.upto_hash != 0, "A seq 1: the content hash at upto")
b1 = v2_ack(c.send_acked(report(1, B, 12).SerializeToString(), 1, "B seq 1"), B, 1, "B seq 1")
rc.check(b1.upto_hash not in (0, a1.upto_hash), "B seq 1: its own content hash")
rc.expect(b1.store_id, a1.store_id, "one store, one identity")
legacy = c.send_acked(report(1, b"", 13, version=1).SerializeToString(), 1, "version 1, seq 1")
rc.expect((legacy.incarnation, legacy.upto_hash, legacy.hub_version, legacy.store_id, legacy.seen),
          (b"", 0, 0, b"", 0), "an answer to version 1: no version-2 field")
print("# three sequences of one unit, each from seq 1: stored")

again = v2_ack(c.send_acked(report(1, A, 11).SerializeToString(), 1, "A seq 1 again"), A, 1, "A seq 1 again")
rc.expect((again.seen, again.upto_hash), (1, a1.upto_hash), "a resend: seen, and the same hash")
r = c.send_refused(report(1, A, 99).SerializeToString(), 1, pb.REASON_IDENTITY, "A seq 1, other content")
rc.expect(r.incarnation, A, "the identity refusal names the incarnation")
print("# a resend acknowledged with seen; other content under A's seq 1 refused identity")

hb = v2_ack(c.send_acked(heartbeat(A, last_ack=1, agent_time=AT).SerializeToString(), 1, "A's heartbeat"),
            A, 1, "A's heartbeat")
rc.expect(hb.upto_hash, a1.upto_hash, "A's heartbeat: the hash at upto")
# another agent, recording under C (a heartbeat with its clock: one without
# speaks for an earlier incarnation, which no agent records in): two agents
got = c.exchange(heartbeat(C, agent_time=AT).SerializeToString(), lambda g: c.acks(g) or c.refusals(g),
                 "C's heartbeat")
rc.check(not c.refusals(got), f"C's heartbeat refused: {rc.describe(got)}")
hc = c.acks(got)[-1]
rc.expect((hc.upto, hc.upto_hash, hc.incarnation, hc.hub_version), (0, 0, C, 2),
          "a heartbeat of an incarnation never stored under")
c.send_refused(report(2, A, 1, version=3).SerializeToString(), 2, pb.REASON_VERSION, "version 3")
# an identity that is not one names no seq: nothing of any sequence is used up
c.send_refused(report(2, b"\xaa" * 8, 1).SerializeToString(), 0, pb.REASON_MALFORMED, "an incarnation of 8 bytes")
print("# heartbeats answered per incarnation; version 3 and a short incarnation refused")

# the feed's last update of the unit carries what ingest flags it for
flags = None
while flags != 4 | 8:
    t, body = rc.feed_next(sub, "the unit's update with its flags")
    if t != "heartbeat":
        flags = pb.FeedUpdate.FromString(body).scope.flags
print(f"# the feed says: flags {flags} (two agents, clock skew)")
