"""Follow one unit on the feed as docs/FEED.md's Clone recipe says: subscribe
to `unit/<id>` and `heartbeat`, take the unit's snapshot from the status
socket (its feed_seq S and feed_epoch E), then apply the updates of epoch E
past S, checking the topic's chain (prev_seq). Each report the unit sends
shows in the next update on its topic, with the report counted.
"""
import zmq

import rollout_client as rc

pb = rc.load_proto()
unit = "469005-012"
topic = f"unit/{unit}"
AT = 1530000000  # 2018-06-26 08:00 UTC

sub = rc.subscriber([topic, "heartbeat"])
# a heartbeat comes every second: once one is here, the subscription is live
while rc.feed_next(sub, "the first heartbeat")[0] != "heartbeat":
    pass
# Sync: what the SUB socket holds predates the snapshot
while sub.poll(0):
    sub.recv_multipart(zmq.NOBLOCK)
snap = rc.Status(pb).ask("the unit's snapshot", query=pb.QUERY_UNIT, key=unit)
S, E = snap.feed_seq, snap.feed_epoch
rc.expect((snap.scopes[0].id, snap.scopes[0].reports), (unit, 0), "the snapshot's unit and reports")
print(f"# snapshot at feed seq {S}, epoch {E}")


def next_update(what):
    """The next update on the unit's topic past the snapshot; heartbeats on
    the way must be of epoch E."""
    while True:
        t, body = rc.feed_next(sub, what)
        if t == "heartbeat":
            hb = pb.FeedHeartbeat.FromString(body)
            rc.expect(hb.epoch, E, f"{what}: a heartbeat's epoch")
            rc.check(hb.interval_ms > 0, f"{what}: a heartbeat's interval_ms is 0")
            continue
        rc.expect(t, topic, f"{what}: the topic")
        up = pb.FeedUpdate.FromString(body)
        rc.expect(up.epoch, E, f"{what}: the update's epoch")
        if up.seq > S:
            return up


last = None  # the seq of the last update applied on the topic
c = rc.Unit(pb, unit)
for seq, (total, no_visit) in enumerate([(100, 90), (120, 96)], 1):
    r = pb.Report(version=1, unit=unit, seq=seq, recorded_at=AT,
                  items=pb.Items(date=20180620 + seq, total=total, no_visit=no_visit))
    c.send_acked(r.SerializeToString(), seq, f"seq {seq}")
    up = next_update(f"the update after seq {seq}")
    # the chain: the first update past the snapshot follows at most S, the next the last applied
    if last is None:
        rc.check(up.prev_seq <= S, f"seq {seq}: prev_seq {up.prev_seq} beyond the snapshot's {S}: missed one")
    else:
        rc.expect(up.prev_seq, last, f"seq {seq}: the update's prev_seq")
    sc = up.scope
    rc.expect((sc.kind, sc.id, sc.reports, sc.last_seq, sc.items_total, sc.items_no_visit),
              ("unit", unit, seq, seq, total, no_visit),
              f"the update after seq {seq}: kind, id, reports, last seq, items")
    last = up.seq
    print(f"# seq {seq} seen on the feed: update {up.seq} (prev {up.prev_seq})")

# a status answer reflects at least what the feed has published
rep = rc.Status(pb).ask("the unit after the updates", query=pb.QUERY_UNIT, key=unit)
rc.check(rep.feed_seq >= last and rep.feed_epoch == E, f"status at feed seq {rep.feed_seq}/{rep.feed_epoch}, "
         f"behind the update {last}/{E}")
rc.expect(rep.scopes[0].reports, 2, "the unit's reports after the updates")
