"""Contract 14: every StatusReply states the hub's version in the new field
hub_version = 16. Until proto/rollout.proto has it, the client speaks a copy
with the field added (the hub's new field is then one it knows, not this
tree's). Asks PROVINCE and a bad request: both answers carry it.
"""
import os

import rollout_client as rc

proto = os.path.join(rc.ENV["RO_SOURCE"], "proto", "rollout.proto")
if "hub_version" not in open(proto, encoding="utf-8").read():
    proto = rc.proto_with({"StatusReply": "uint32 hub_version = 16;"}, "hub_version")
pb = rc.load_proto(proto)
status = rc.Status(pb)
rep = status.ask("PROVINCE", query=pb.QUERY_PROVINCE)
print(f"# PROVINCE: hub_version {rep.hub_version}")
rc.check(rep.hub_version > 0, "PROVINCE: the reply has no hub_version")
bad = status.ask_bytes(pb.StatusRequest(version=1, query=99).SerializeToString(), "an unknown query")
rc.expect((bad.status, bad.hub_version), (2, rep.hub_version), "an unknown query: status and hub_version")
