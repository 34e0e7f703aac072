"""rollout_client: a small Python client of rollout-hub for the interop tests.

Written from the documentation (README.md, docs/FEED.md, docs/OPERATING.md,
proto/rollout.proto and the wire contract), not from the hub's code: it is
what another implementation of the wire would do, with Debian's python3-zmq
and python3-protobuf and code that protoc generates at test time. The one
thing the docs leave out, how a status request is framed, follows rolloutctl
(ctl/client.c): one frame on a DEALER, no envelope.

The test's shell script (interop_lib.sh) gives the hub's endpoints and the
harness's folders in the environment: INGEST, STATUS, FEED, KEYS (hub/,
operator/, units/UNIT/ key pairs, as Z85 text) and T (the test's folder).
A check that fails prints `FAIL: what` on stderr and exits 1.
"""
import importlib
import os
import subprocess
import sys

import zmq
from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor as FD

# How long an answer may take before the test gives up: a bound for a hub
# that never answers, not a measure of speed (nothing here asserts a time).
WAIT_MS = 30000

ENV = os.environ


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


def expect(actual, wanted, what):
    check(actual == wanted, f"{what}: expected {wanted!r}, got {actual!r}")


# ---- code generated from the .proto -----------------------------------------


def proto_with(fields, name):
    """A copy of proto/rollout.proto in $T/NAME/ with a field line added at the
    end of some messages (fields: {"Report": "string vendor_note = 30;"}), so a
    test speaks a newer schema than the hub's. Returns its path."""
    lines = open(os.path.join(ENV["RO_SOURCE"], "proto", "rollout.proto"), encoding="utf-8").read().split("\n")
    for message, field in fields.items():
        start = lines.index(f"message {message} {{")
        depth, end = 0, start
        for end in range(start, len(lines)):  # the brace that closes it (Report holds a oneof)
            depth += lines[end].count("{") - lines[end].count("}")
            if depth == 0:
                break
        lines.insert(end, f"  {field}")
    folder = os.path.join(ENV["T"], name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "rollout.proto")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def load_proto(path=None):
    """protoc --python_out for PATH (default proto/rollout.proto) into the
    test's folder, and the module it makes. One schema per process: both
    copies would declare the same message names."""
    path = path or os.path.join(ENV["RO_SOURCE"], "proto", "rollout.proto")
    out = os.path.join(ENV["T"], "py-" + os.path.basename(os.path.dirname(path)))
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", "-I", os.path.dirname(path), "--python_out", out, path], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("rollout_pb2")


# ---- the wire, by hand ------------------------------------------------------
# protobuf's wire format is a list of (tag, value) pairs; a tag is the field
# number << 3 | the wire type (0 varint, 2 length-delimited). Writing it by
# hand lets a test choose what Google's encoder never does: default values
# written out, another field order, bytes that are not UTF-8.


def varint(n):
    n &= (1 << 64) - 1  # a negative int64 is its two's complement: ten bytes
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def varint_field(number, n):
    return varint(number << 3 | 0) + varint(n)


def bytes_field(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


VARINT_TYPES = {FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_ENUM, FD.TYPE_BOOL}


def encode(msg, explicit=False, reverse=False):
    """msg's wire bytes written field by field: with explicit, every field of
    the message and of its sub-messages, those at their default value (0, "")
    too, as protobuf writes an `optional` field it was given; with reverse, in
    descending field order. Only the set member of a oneof, and only a
    sub-message that was given, is written."""
    parts = []
    for f in msg.DESCRIPTOR.fields:
        if f.containing_oneof and msg.WhichOneof(f.containing_oneof.name) != f.name:
            continue
        check(f.label != f.LABEL_REPEATED, f"encode: {f.full_name} is repeated; not written by hand here")
        value = getattr(msg, f.name)
        if f.type == f.TYPE_MESSAGE:
            if msg.HasField(f.name):  # a sub-message not given is absent, not empty
                parts.append(bytes_field(f.number, encode(value, explicit, reverse)))
        elif not explicit and value == f.default_value:
            continue
        elif f.type == f.TYPE_STRING:
            parts.append(bytes_field(f.number, value.encode("utf-8")))
        elif f.type == f.TYPE_BYTES:
            parts.append(bytes_field(f.number, value))
        elif f.type in VARINT_TYPES:
            parts.append(varint_field(f.number, int(value)))
        else:
            fail(f"encode: {f.full_name} is of protobuf type {f.type}; not written by hand here")
    if reverse:
        parts.reverse()
    return b"".join(parts)


# ---- connections ------------------------------------------------------------


def _key(*path):
    # a .pub or .key file is the key's 40 characters of Z85 and a newline;
    # pyzmq takes the Z85 text as bytes
    with open(os.path.join(ENV["KEYS"], *path), "rb") as f:
        return f.read().strip()


def connect(kind, endpoint, pub, sec):
    """A socket of kind with the CURVE key pair (pub, sec: paths under KEYS),
    connected to endpoint with the hub's public key."""
    sock = zmq.Context.instance().socket(kind)
    sock.linger = 0
    sock.curve_serverkey = _key("hub", "hub.pub")
    sock.curve_publickey = _key(*pub)
    sock.curve_secretkey = _key(*sec)
    sock.connect(endpoint)
    return sock


def describe(msgs):
    return "; ".join(text_format.MessageToString(m, as_one_line=True) for m in msgs) or "nothing"


class Unit:
    """A unit's DEALER connections to the ingest socket, with the unit's own
    key pair (the hub admits a unit's key for that unit's reports only). A
    report is one frame; each answer is a HubMessage (Ack or Refusal), one
    frame. Each exchange has a connection of its own unless given one: an
    answer the hub adds after the awaited one (an Ack after a Refusal) must
    not be taken for the next exchange's, and the answers of one connection
    are all the answers to what it sent."""

    def __init__(self, pb, unit):
        self.pb, self.unit = pb, unit

    def connection(self):
        keys = ("units", self.unit)
        return connect(zmq.DEALER, ENV["INGEST"], keys + ("agent.pub",), keys + ("agent.key",))

    def exchange(self, frame, done, what, sock=None):
        """Send frame and read answers until done(answers so far) holds; fail
        if the hub stops answering first."""
        own = sock is None
        sock = sock or self.connection()
        sock.send(frame)
        got = []
        while not done(got):
            if not sock.poll(WAIT_MS):
                fail(f"{what}: no such answer within {WAIT_MS // 1000} s; the hub said: {describe(got)}")
            got.append(self.pb.HubMessage.FromString(sock.recv()))
        if own:
            sock.close()
        return got

    @staticmethod
    def acks(got):
        return [m.ack for m in got if m.WhichOneof("kind") == "ack"]

    @staticmethod
    def refusals(got):
        return [m.refusal for m in got if m.WhichOneof("kind") == "refusal"]

    def send_acked(self, frame, upto, what, most=None, sock=None):
        """Send frame; the hub must acknowledge it, with no refusal: an Ack of
        this unit up to upto (a resend of an older seq: from upto to most)."""
        got = self.exchange(frame, lambda g: self.refusals(g) or any(a.upto >= upto for a in self.acks(g)),
                            what, sock)
        check(not self.refusals(got), f"{what}: refused: {describe(got)}")
        ack = self.acks(got)[-1]
        expect(ack.unit, self.unit, f"{what}: the ack's unit")
        check(upto <= ack.upto <= (most or upto), f"{what}: ack up to {ack.upto}, expected {upto}"
              + (f" to {most}" if most else ""))
        return ack

    def send_refused(self, frame, seq, reason, what, unit=None, sock=None):
        """Send frame; the hub must refuse it with reason, naming unit (default
        this one) and seq. Returns the refusal."""
        got = self.exchange(frame, self.refusals, what, sock)
        r = self.refusals(got)[0]
        name = self.pb.Reason.Name
        expect((r.unit, r.seq, name(r.reason)), (self.unit if unit is None else unit, seq, name(reason)),
               f"{what}: the refusal's unit, seq and reason (text: {r.text!r})")
        return r


class Status:
    """An operator's DEALER on the status socket. A request is one frame
    StatusRequest, the answer one frame StatusReply (as rolloutctl asks: no
    envelope; an empty delimiter frame before the answer is skipped)."""

    def __init__(self, pb):
        self.pb = pb
        self.sock = connect(zmq.DEALER, ENV["STATUS"], ("operator", "operator.pub"), ("operator", "operator.key"))

    def ask_bytes(self, frame, what):
        self.sock.send(frame)
        while True:
            if not self.sock.poll(WAIT_MS):
                fail(f"{what}: no answer within {WAIT_MS // 1000} s")
            body = self.sock.recv()
            if body or not self.sock.rcvmore:
                return self.pb.StatusReply.FromString(body)

    def ask(self, what, explicit=False, **fields):
        """Ask the question fields describe (version 1 unless given); with
        explicit, every field of the request is written out, defaults too.
        The answer must be status 0."""
        req = self.pb.StatusRequest(version=1, **fields)
        frame = req.SerializeToString()
        if explicit:
            frame = encode(req, explicit=True)
            expect(self.pb.StatusRequest.FromString(frame), req, f"{what}: Google's decoding of the hand-written bytes")
            check(len(frame) > len(req.SerializeToString()), f"{what}: no default value written out")
        rep = self.ask_bytes(frame, what)
        expect((rep.status, rep.error), (0, ""), f"{what}: the answer's status and error")
        return rep


def subscriber(topics):
    """An operator's SUB on the feed, subscribed to each topic prefix."""
    sock = connect(zmq.SUB, ENV["FEED"], ("operator", "operator.pub"), ("operator", "operator.key"))
    for t in topics:
        sock.setsockopt(zmq.SUBSCRIBE, t.encode())
    return sock


def feed_next(sock, what):
    """The next feed message: (topic, body), two frames."""
    if not sock.poll(WAIT_MS):
        fail(f"{what}: nothing on the feed within {WAIT_MS // 1000} s")
    frames = sock.recv_multipart()
    expect(len(frames), 2, f"{what}: frames of a feed message")
    return frames[0].decode(), frames[1]


def stored(unit, seq, date, total, part, text="", recorded_at=0):
    """Print what the store must hold for a report (total and part as the
    proto's HistoryPoint names them), for the shell to compare with the store."""
    print(f"stored {unit}|{seq}|{date}|{total}|{part}|{text}|{recorded_at}")
