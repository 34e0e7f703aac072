"""A newer peer's fields: a copy of proto/rollout.proto with a field added to
Report (vendor_note = 30) and to Training (trainer = 9), as a later revision
of the schema might add them. PROTOCOL.md: the hub skips fields it does not
know, acknowledges and stores the report without them. Sends one report with
each new field set and one with neither; prints the reports it expects stored.
"""
import rollout_client as rc

pb = rc.load_proto(rc.proto_with({"Report": "string vendor_note = 30;", "Training": "string trainer = 9;"},
                                 "evolved"))
unit = "460100-001"
AT = 1530000000  # 2018-06-26 08:00 UTC
c = rc.Unit(pb, unit)
sent = [
    ("vendor_note on the Report", rc.bytes_field(30, b"from vendor X"),
     pb.Report(version=1, unit=unit, seq=1, recorded_at=AT, vendor_note="from vendor X",
               staff=pb.Staff(date=20180105, total=40, proficient=31)), (20180105, 40, 31, "")),
    ("trainer on the Training", rc.bytes_field(9, "王老师".encode()),
     pb.Report(version=1, unit=unit, seq=2, recorded_at=AT,
               training=pb.Training(date=20180106, participants=12, hours_tenths=35, course="平台操作",
                                    trainer="王老师")),
     (20180106, 12, 35, "平台操作")),
    ("no new field", None,
     pb.Report(version=1, unit=unit, seq=3, recorded_at=AT, items=pb.Items(date=20180107, total=120, no_visit=30)),
     (20180107, 120, 30, "")),
]
for what, field, r, (date, total, part, text) in sent:
    data = r.SerializeToString()
    rc.check(field is None or field in data, f"{what}: the new field is not in the frame")
    c.send_acked(data, r.seq, f"seq {r.seq}, {what}")
    rc.stored(unit, r.seq, date, total, part, text, AT)
    print(f"# seq {r.seq}, {what}: acknowledged")
