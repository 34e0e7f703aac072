"""Every StatusReply states the protocol version the hub speaks in its
`version` field (PROTOCOL.md, section 7), an answer and a refused request
alike: a client learns what it talks to from any reply.
"""
import rollout_client as rc

pb = rc.load_proto()
status = rc.Status(pb)
rep = status.ask("PROVINCE", query=pb.QUERY_PROVINCE)
print(f"# PROVINCE: version {rep.version}")
rc.expect(rep.version, 2, "PROVINCE: the reply's version")
bad = status.ask_bytes(pb.StatusRequest(version=1, query=99).SerializeToString(), "an unknown query")
rc.expect((bad.status, bad.version), (2, 2), "an unknown query: status and version")
# a version-1 client is answered; a version the hub does not speak is refused
old = status.ask_bytes(pb.StatusRequest(version=1, query=pb.QUERY_PROVINCE).SerializeToString(), "version 1")
rc.expect((old.status, old.version), (0, 2), "a version-1 request: answered")
new = status.ask_bytes(pb.StatusRequest(version=3, query=pb.QUERY_PROVINCE).SerializeToString(), "version 3")
rc.expect((new.status, new.version), (2, 2), "a version-3 request: refused, status 2")
