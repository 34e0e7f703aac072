"""PROTOCOL.md 5.3 (held): a report at the unit's next seq dated after the
hub's today + 1 day is not refused (the hub's clock may be the one that is
behind): it is stored, acknowledged, and held, counted nowhere until the
hub's date reaches it. recorded_at ahead of the hub's clock, even by years,
is no reason to refuse at all. Prints the reports it expects stored.
"""
import datetime
import time

import rollout_client as rc

pb = rc.load_proto()
unit = "460100-002"
now = int(time.time())
c = rc.Unit(pb, unit)


def day(offset):
    d = datetime.datetime.fromtimestamp(now + offset * 86400, datetime.timezone.utc)
    return int(d.strftime("%Y%m%d"))


def items(seq, date, at, total, no_visit):
    return pb.Report(version=1, unit=unit, seq=seq, recorded_at=at,
                     items=pb.Items(date=date, total=total, no_visit=no_visit)).SerializeToString()


ahead = day(3)
c.send_acked(items(1, ahead, now, 100, 90), 1, f"seq 1, dated {ahead}: three days ahead")
rc.stored(unit, 1, ahead, 100, 90, "", now)
years = now + 5 * 365 * 86400
c.send_acked(items(2, day(0), years, 100, 40), 2, "seq 2, recorded five years ahead")
rc.stored(unit, 2, day(0), 100, 40, "", years)
# a resend of the held report is a duplicate, acknowledged again
c.send_acked(items(1, ahead, now, 100, 90), 2, "seq 1 again, while held")
