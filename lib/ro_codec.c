/* ro_codec: protobuf-c <-> rollout structs. protobuf-c 1.4.1 takes any
 * valid encoding (fields in any order, repeated, written at their default)
 * and so does rollout; what it lets through that rollout refuses is a string
 * with a NUL byte (protobuf-c truncates it silently) or bad UTF-8, which only
 * the wire shows: ro_pb_check walks it beside the decoded message. */
#include "ro_codec.h"
#include "ro_pb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* One field of the wire form at *p (before end): its number and wire type,
 * and for a length-delimited one (wire type 2) its bytes in *value, *vlen.
 * Moves *p past it. Returns 0, or -1 when it is cut short or a group (not
 * proto3). */
typedef struct {
    uint64_t number;
    unsigned type;
    const uint8_t *value;
    size_t vlen;
} s_field_t;

static int s_next(const uint8_t **p, const uint8_t *end, s_field_t *f)
{
    uint64_t tag, v;
    if (s_varint(p, end, &tag))
        return -1;
    f->number = tag >> 3, f->type = (unsigned)(tag & 7), f->value = NULL, f->vlen = 0;
    size_t skip;
    switch (f->type) {
    case 0: return s_varint(p, end, &v);
    case 1: skip = 8; break;
    case 5: skip = 4; break;
    case 2:
        if (s_varint(p, end, &v) || v > (uint64_t)(end - *p))
            return -1;
        f->value = *p, f->vlen = (size_t)v, skip = (size_t)v;
        break;
    default: return -1;
    }
    if (skip > (size_t)(end - *p))
        return -1;
    *p += skip;
    return 0;
}

/* The descriptor of field number n of d, or NULL when d does not know it. */
static const ProtobufCFieldDescriptor *s_known(const ProtobufCMessageDescriptor *d, uint64_t n)
{
    return n <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)n) : NULL;
}

/* Walk the fields of one message of type d in p[0..n): strings clean,
 * sub-messages walked, fields d does not know counted. */
static int s_walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth,
                  unsigned *unknown)
{
    const uint8_t *end = p + n;
    s_field_t fl;
    if (depth > 8)
        return 0;
    while (p < end) {
        if (s_next(&p, end, &fl))
            return 0;
        const ProtobufCFieldDescriptor *f = s_known(d, fl.number);
        if (!f)
            (*unknown)++;
        else if (fl.type == 2 && f->type == PROTOBUF_C_TYPE_STRING &&
                 !ro_utf8_valid((const char *)fl.value, fl.vlen))
            return 0;
        else if (fl.type == 2 && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                 !s_walk(f->descriptor, fl.value, fl.vlen, depth + 1, unknown))
            return 0;
    }
    return 1;
}

/* True when every occurrence of top-level string field `field` in p[0..n)
 * is valid UTF-8 without a NUL byte. */
static int s_string_clean(const uint8_t *p, size_t n, unsigned field)
{
    const uint8_t *end = p + n;
    s_field_t fl;
    while (p < end) {
        if (s_next(&p, end, &fl))
            return 0;
        if (fl.type == 2 && fl.number == field && !ro_utf8_valid((const char *)fl.value, fl.vlen))
            return 0;
    }
    return 1;
}

static void s_put_varint(uint8_t *out, size_t *at, uint64_t v)
{
    for (; v > 0x7f; v >>= 7)
        out[(*at)++] = (uint8_t)(v & 0x7f) | 0x80;
    out[(*at)++] = (uint8_t)v;
}

/* protobuf-c 1.4.1 keeps only the last occurrence of a oneof member sent more
 * than once, where protobuf merges them. A Report's message fields are its
 * body (one oneof): when a body occurs more than once, out gets the frame with
 * one body instead, whose payload is the concatenation (protobuf's merge) of
 * the occurrences protobuf merges: those of the last body kind after the last
 * other kind (an earlier kind is cleared). Returns the new length (at most n;
 * out holds 2 n bytes), or 0 when the frame has at most one body or does not
 * read as protobuf. */
static size_t s_merge_body(const uint8_t *in, size_t n, uint8_t *out)
{
    const uint8_t *p = in, *end = in + n;
    const ProtobufCMessageDescriptor *d = &rollout__report__descriptor;
    size_t bodies = 0, from = 0, used = 0, plen = 0;
    uint64_t last = 0;
    s_field_t fl;
    while (p < end) { /* the last body kind, and where its run starts */
        const uint8_t *at = p;
        if (s_next(&p, end, &fl))
            return 0;
        const ProtobufCFieldDescriptor *f = s_known(d, fl.number);
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && fl.type == 2) {
            bodies++;
            if (fl.number != last)
                from = (size_t)(at - in);
            last = fl.number;
        }
    }
    if (bodies < 2)
        return 0;
    uint8_t *payload = out + n; /* the merged payload, beside the copy */
    for (p = in; p < end;) {    /* every other field as it is */
        const uint8_t *at = p;
        s_next(&p, end, &fl);
        const ProtobufCFieldDescriptor *f = s_known(d, fl.number);
        if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || fl.type != 2) {
            memcpy(out + used, at, (size_t)(p - at));
            used += (size_t)(p - at);
        } else if ((size_t)(at - in) >= from && fl.number == last) {
            memcpy(payload + plen, fl.value, fl.vlen);
            plen += fl.vlen;
        }
    }
    uint8_t head[20];
    size_t h = 0;
    s_put_varint(head, &h, last << 3 | 2);
    s_put_varint(head, &h, plen);
    memmove(out + used + h, payload, plen);
    memcpy(out + used, head, h);
    return used + h + plen;
}

/* protobuf-c's allocations for one decode, bumped from a buffer the caller
 * keeps on its stack: a frame unpacks into a few small structs and copies of
 * its strings and bytes, so a malloc and a free of each (a fifth of what a
 * decode cost) are spared. What does not fit is malloc'd, and only then is
 * there anything to free. */
#define ARENA_BYTES 2048
typedef struct {
    ProtobufCAllocator pc; /* what unpack is given; allocator_data is this */
    _Alignas(max_align_t) unsigned char buf[ARENA_BYTES];
    size_t used;
    size_t spilled; /* allocations malloc'd past the buffer */
} s_arena_t;

static void *s_arena_alloc(void *data, size_t size)
{
    s_arena_t *a = data;
    size_t at = (a->used + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
    if (size > 0 && at <= ARENA_BYTES && size <= ARENA_BYTES - at) {
        a->used = at + size;
        return a->buf + at;
    }
    a->spilled++;
    return malloc(size ? size : 1);
}

static void s_arena_free(void *data, void *p)
{
    s_arena_t *a = data;
    uintptr_t x = (uintptr_t)p, from = (uintptr_t)a->buf;
    if (x < from || x >= from + ARENA_BYTES)
        free(p);
}

static void s_arena_init(s_arena_t *a)
{
    a->pc.alloc = s_arena_alloc;
    a->pc.free = s_arena_free;
    a->pc.allocator_data = a;
    a->used = a->spilled = 0;
}

int ro_pb_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                int skip_unknown, unsigned *unknown)
{
    unsigned n = 0;
    int ok = s_walk(d, buf, len, 0, &n);
    if (unknown)
        *unknown = n;
    return ok && (n == 0 || skip_unknown);
}

/* ---- reports ------------------------------------------------------------ */

/* An identity (incarnation, store id) as a bytes field: all zero is not
 * sent, so a version-1 message stays as it was, byte for byte. */
static ProtobufCBinaryData s_id_out(const uint8_t id[RO_INCARNATION_LEN])
{
    static const uint8_t zero[RO_INCARNATION_LEN];
    ProtobufCBinaryData b = {0, NULL};
    if (memcmp(id, zero, RO_INCARNATION_LEN) != 0)
        b.len = RO_INCARNATION_LEN, b.data = (uint8_t *)id;
    return b;
}

/* The inverse: absent is all zero; present must be RO_INCARNATION_LEN
 * bytes. Returns 0, or -1. */
static int s_id_in(ProtobufCBinaryData b, uint8_t id[RO_INCARNATION_LEN])
{
    memset(id, 0, RO_INCARNATION_LEN);
    if (b.len == 0)
        return 0;
    if (b.len != RO_INCARNATION_LEN)
        return -1;
    memcpy(id, b.data, RO_INCARNATION_LEN);
    return 0;
}

int ro_report_encode(const ro_report_t *r, uint8_t *buf, size_t cap)
{
    Rollout__Report msg = ROLLOUT__REPORT__INIT;
    Rollout__Training tr = ROLLOUT__TRAINING__INIT;
    Rollout__Staff st = ROLLOUT__STAFF__INIT;
    Rollout__Items it = ROLLOUT__ITEMS__INIT;
    Rollout__Cases ca = ROLLOUT__CASES__INIT;
    Rollout__Heartbeat hb = ROLLOUT__HEARTBEAT__INIT;
    Rollout__Correction co = ROLLOUT__CORRECTION__INIT;

    msg.version = r->version;
    msg.unit = (char *)r->unit;
    msg.seq = r->seq;
    msg.recorded_at = r->recorded_at;
    msg.incarnation = s_id_out(r->incarnation);
    switch (r->kind) {
    case RO_KIND_TRAINING:
        tr.date = r->date, tr.participants = r->total, tr.hours_tenths = r->part;
        tr.course = (char *)r->text;
        msg.body_case = ROLLOUT__REPORT__BODY_TRAINING, msg.training = &tr;
        break;
    case RO_KIND_STAFF:
        st.date = r->date, st.total = r->total, st.proficient = r->part;
        msg.body_case = ROLLOUT__REPORT__BODY_STAFF, msg.staff = &st;
        break;
    case RO_KIND_ITEMS:
        it.date = r->date, it.total = r->total, it.no_visit = r->part;
        msg.body_case = ROLLOUT__REPORT__BODY_ITEMS, msg.items = &it;
        break;
    case RO_KIND_CASES:
        ca.month = r->date, ca.total = r->total, ca.no_visit = r->part;
        msg.body_case = ROLLOUT__REPORT__BODY_CASES, msg.cases = &ca;
        break;
    case RO_KIND_HEARTBEAT:
        hb.agent_version = (char *)r->text, hb.outbox_depth = r->depth;
        hb.last_ack = r->last_ack, hb.agent_time = r->agent_time;
        hb.retained = r->retained, hb.retained_from = r->retained_from;
        msg.body_case = ROLLOUT__REPORT__BODY_HEARTBEAT, msg.heartbeat = &hb;
        break;
    default:
        if (r->action == RO_ACTION_NONE)
            return -1;
    }
    if (r->action != RO_ACTION_NONE) {
        if (r->kind == RO_KIND_HEARTBEAT)
            return -1;
        /* the body made above is the replacement: the same field numbers */
        co.target_incarnation = s_id_out(r->target_inc);
        co.target_seq = r->target_seq;
        co.action = (Rollout__Correction__Action)r->action;
        co.reason = (char *)r->reason;
        co.replacement_case = (Rollout__Correction__ReplacementCase)msg.body_case;
        switch (msg.body_case) { /* each oneof is a union: move the member set above */
        case ROLLOUT__REPORT__BODY_TRAINING: co.training = &tr; break;
        case ROLLOUT__REPORT__BODY_STAFF: co.staff = &st; break;
        case ROLLOUT__REPORT__BODY_ITEMS: co.items = &it; break;
        case ROLLOUT__REPORT__BODY_CASES: co.cases = &ca; break;
        default: break; /* a cancel: none */
        }
        msg.body_case = ROLLOUT__REPORT__BODY_CORRECTION, msg.correction = &co;
    }
    size_t need = rollout__report__get_packed_size(&msg);
    if (need > cap)
        return -1;
    return (int)rollout__report__pack(&msg, buf);
}

int ro_report_stamp(const uint8_t *body, size_t len, uint64_t seq,
                    const uint8_t incarnation[RO_INCARNATION_LEN], uint8_t *out, size_t cap)
{
    static const uint8_t zero[RO_INCARNATION_LEN];
    int legacy = memcmp(incarnation, zero, sizeof zero) == 0;
    /* version (2 bytes), seq (1 + up to 10), incarnation (2 + 16) */
    uint8_t tail[2 + 11 + 2 + RO_INCARNATION_LEN];
    size_t t = 0;
    s_put_varint(tail, &t, 1 << 3 | 0); /* Report.version, varint */
    s_put_varint(tail, &t, 2);
    s_put_varint(tail, &t, 3 << 3 | 0); /* Report.seq, varint */
    s_put_varint(tail, &t, seq);
    if (!legacy) {
        s_put_varint(tail, &t, 5 << 3 | 2); /* Report.incarnation, bytes */
        s_put_varint(tail, &t, RO_INCARNATION_LEN);
        memcpy(tail + t, incarnation, RO_INCARNATION_LEN);
        t += RO_INCARNATION_LEN;
    }
    if (len + t > cap)
        return -1;
    memmove(out, body, len); /* out may be body itself */
    memcpy(out + len, tail, t);
    return (int)(len + t);
}

#define DFAIL(code, ...)                                                                           \
    do {                                                                                           \
        if (err)                                                                                   \
            snprintf(err, errlen, __VA_ARGS__);                                                    \
        rc = code;                                                                                 \
        goto done;                                                                                 \
    } while (0)

static int s_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return -1;
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

/* A report's body, or a correction's replacement (the same field numbers:
 * their cases are equal), into out's kind and fields; returns its text
 * (the course; NULL for the others). */
static const char *s_fields_in(int body_case, const Rollout__Training *tr, const Rollout__Staff *st,
                               const Rollout__Items *it, const Rollout__Cases *ca, ro_report_t *out)
{
    switch (body_case) {
    case ROLLOUT__REPORT__BODY_TRAINING:
        out->kind = RO_KIND_TRAINING;
        out->date = tr->date, out->total = tr->participants, out->part = tr->hours_tenths;
        return tr->course;
    case ROLLOUT__REPORT__BODY_STAFF:
        out->kind = RO_KIND_STAFF;
        out->date = st->date, out->total = st->total, out->part = st->proficient;
        break;
    case ROLLOUT__REPORT__BODY_ITEMS:
        out->kind = RO_KIND_ITEMS;
        out->date = it->date, out->total = it->total, out->part = it->no_visit;
        break;
    case ROLLOUT__REPORT__BODY_CASES:
        out->kind = RO_KIND_CASES;
        out->date = ca->month, out->total = ca->total, out->part = ca->no_visit;
        break;
    default: break;
    }
    return NULL;
}

/* A decoded Correction into out (its replacement as the body); returns
 * the replacement's text. *bad is set when the target's incarnation is not
 * RO_INCARNATION_LEN bytes, *reason_long when the reason is. */
static const char *s_correction_in(const Rollout__Correction *co, ro_report_t *out, int *bad,
                                   int *reason_long)
{
    out->action = (ro_action_t)co->action;
    out->target_seq = co->target_seq;
    *bad = s_id_in(co->target_incarnation, out->target_inc) != 0;
    *reason_long = s_copy(out->reason, sizeof out->reason, co->reason) != 0;
    return s_fields_in((int)co->replacement_case, co->training, co->staff, co->items, co->cases,
                       out);
}

/* The body of a decoded Report into out's kind and fields; returns its
 * text (course or agent version; NULL for the others). */
static const char *s_body_in(const Rollout__Report *msg, ro_report_t *out, int *target_bad,
                             int *reason_long)
{
    const char *text = NULL;
    switch (msg->body_case) {
    case ROLLOUT__REPORT__BODY_TRAINING:
    case ROLLOUT__REPORT__BODY_STAFF:
    case ROLLOUT__REPORT__BODY_ITEMS:
    case ROLLOUT__REPORT__BODY_CASES:
        text = s_fields_in((int)msg->body_case, msg->training, msg->staff, msg->items, msg->cases,
                           out);
        break;
    case ROLLOUT__REPORT__BODY_CORRECTION:
        text = s_correction_in(msg->correction, out, target_bad, reason_long);
        break;
    case ROLLOUT__REPORT__BODY_HEARTBEAT:
        out->kind = RO_KIND_HEARTBEAT;
        out->depth = msg->heartbeat->outbox_depth;
        out->last_ack = msg->heartbeat->last_ack;
        out->agent_time = msg->heartbeat->agent_time;
        out->retained = msg->heartbeat->retained;
        out->retained_from = msg->heartbeat->retained_from;
        text = msg->heartbeat->agent_version;
        break;
    default: break;
    }
    return text;
}

ro_reason_t ro_report_decode(const uint8_t *buf, size_t len, ro_report_t *out, char *err,
                             size_t errlen)
{
    ro_reason_t rc = RO_REASON_NONE;
    memset(out, 0, sizeof *out);
    if (len > RO_FRAME_MAX) {
        if (err)
            snprintf(err, errlen, "frame of %zu bytes is above the %d-byte limit", len,
                     RO_FRAME_MAX);
        return RO_REASON_MALFORMED;
    }
    uint8_t merged[2 * RO_FRAME_MAX]; /* the frame, then scratch for s_merge_body */
    size_t mlen = s_merge_body(buf, len, merged);
    if (mlen)
        buf = merged, len = mlen;
    s_arena_t arena;
    s_arena_init(&arena);
    Rollout__Report *msg = rollout__report__unpack(&arena.pc, len, buf);
    if (!msg) {
        if (err)
            snprintf(err, errlen, "not a protobuf Report");
        return RO_REASON_MALFORMED;
    }
    unsigned unknown = 0;
    int clean = ro_pb_check(&rollout__report__descriptor, buf, len, 1, &unknown);
    out->unknown = unknown;
    /* everything that decodes is filled in, so that a refusal can name the
     * report (unit and seq) and a resend of it compares by content */
    /* a unit that is not clean text names nothing (a refusal echoes it) */
    int unit_bad = s_copy(out->unit, sizeof out->unit, msg->unit) != 0 ||
                   (!clean && !s_string_clean(buf, len, 2));
    for (const char *c = out->unit; *c && !unit_bad; c++)
        unit_bad = (unsigned char)*c < 0x20 || *c == 0x7f; /* logged: no line breaks, no ESC */
    out->version = msg->version;
    out->seq = msg->seq;
    out->recorded_at = msg->recorded_at;
    int id_bad = s_id_in(msg->incarnation, out->incarnation);
    int target_bad = 0, reason_long = 0;
    const char *text = s_body_in(msg, out, &target_bad, &reason_long);
    size_t tlen = text ? strlen(text) : 0;
    int text_long = tlen > RO_TEXT_MAX;
    if (text_long)
        tlen = RO_TEXT_MAX; /* cut, as the refusal's log shows it */
    memcpy(out->text, text ? text : "", tlen);
    out->text[tlen] = '\0';
    if (unit_bad) {
        out->unit[0] = '\0';
        DFAIL(RO_REASON_MALFORMED, "unit id longer than %d bytes, or not clean text", RO_UNIT_MAX);
    }
    /* the version first: what a newer version means is not this hub's to judge */
    if (msg->version < RO_PROTOCOL_V1 || msg->version > RO_PROTOCOL_VERSION)
        DFAIL(RO_REASON_VERSION, "protocol version %u, this hub speaks %d to %d", msg->version,
              RO_PROTOCOL_V1, RO_PROTOCOL_VERSION);
    if (out->kind == RO_KIND_NONE && unknown > 0)
        DFAIL(RO_REASON_VERSION,
              "a report body this hub does not know (it speaks protocol version %d): a newer "
              "client's, for a newer hub",
              RO_PROTOCOL_VERSION);
    if (!clean)
        DFAIL(RO_REASON_MALFORMED, "a string with a NUL byte or not valid UTF-8");
    if (out->kind == RO_KIND_NONE && out->action == RO_ACTION_NONE)
        DFAIL(RO_REASON_MALFORMED, "report has no body");
    if (text_long)
        DFAIL(RO_REASON_MALFORMED, "text longer than %d bytes", RO_TEXT_MAX);
    if (msg->body_case == ROLLOUT__REPORT__BODY_CORRECTION) {
        if (msg->version < 2)
            DFAIL(RO_REASON_MALFORMED,
                  "a correction in a version-%u report: corrections are "
                  "version 2's",
                  msg->version);
        if (reason_long)
            DFAIL(RO_REASON_MALFORMED, "correction reason longer than %d bytes", RO_TEXT_MAX);
        if (target_bad)
            DFAIL(RO_REASON_MALFORMED, "a correction's target incarnation of %zu bytes, not %d",
                  msg->correction->target_incarnation.len, RO_INCARNATION_LEN);
    }
    if (id_bad) {
        out->seq = 0; /* no identity, so no seq of one: nothing is used up */
        DFAIL(RO_REASON_MALFORMED, "an incarnation of %zu bytes, not %d", msg->incarnation.len,
              RO_INCARNATION_LEN);
    }
done:
    if (arena.spilled)
        rollout__report__free_unpacked(msg, &arena.pc);
    return rc;
}

/* ---- hub messages ------------------------------------------------------- */

int ro_hubmsg_encode(const ro_hubmsg_t *m, uint8_t *buf, size_t cap)
{
    Rollout__HubMessage msg = ROLLOUT__HUB_MESSAGE__INIT;
    Rollout__Ack ack = ROLLOUT__ACK__INIT;
    Rollout__Refusal ref = ROLLOUT__REFUSAL__INIT;
    if (m->kind == RO_HUBMSG_ACK) {
        ack.unit = (char *)m->unit;
        ack.upto = m->seq;
        ack.incarnation = s_id_out(m->incarnation);
        ack.upto_hash = m->upto_hash;
        ack.hub_version = m->hub_version;
        ack.store_id = s_id_out(m->store_id);
        ack.held = m->held;
        ack.seen = m->seen;
        msg.kind_case = ROLLOUT__HUB_MESSAGE__KIND_ACK, msg.ack = &ack;
    } else {
        ref.unit = (char *)m->unit;
        ref.seq = m->seq;
        ref.reason = (Rollout__Reason)m->reason;
        ref.text = (char *)m->text;
        ref.incarnation = s_id_out(m->incarnation);
        msg.kind_case = ROLLOUT__HUB_MESSAGE__KIND_REFUSAL, msg.refusal = &ref;
    }
    if (rollout__hub_message__get_packed_size(&msg) > cap)
        return -1;
    return (int)rollout__hub_message__pack(&msg, buf);
}

int ro_hubmsg_decode(const uint8_t *buf, size_t len, ro_hubmsg_t *out, char *err, size_t errlen)
{
    /* fields a newer hub adds are skipped: the evolution policy */
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (len > RO_FRAME_MAX) {
        if (err)
            snprintf(err, errlen, "hub message of %zu bytes is too large", len);
        return -1;
    }
    s_arena_t arena;
    s_arena_init(&arena);
    Rollout__HubMessage *msg = rollout__hub_message__unpack(&arena.pc, len, buf);
    if (!msg) {
        if (err)
            snprintf(err, errlen, "not a protobuf HubMessage");
        return -1;
    }
    if (!ro_pb_check(&rollout__hub_message__descriptor, buf, len, 1, NULL))
        DFAIL(-1, "hub message with a NUL byte or bad UTF-8 in a string");
    if (msg->kind_case == ROLLOUT__HUB_MESSAGE__KIND_ACK) {
        out->kind = RO_HUBMSG_ACK;
        out->seq = msg->ack->upto;
        out->upto_hash = msg->ack->upto_hash;
        out->hub_version = msg->ack->hub_version;
        out->held = msg->ack->held;
        out->seen = msg->ack->seen;
        if (s_copy(out->unit, sizeof out->unit, msg->ack->unit))
            DFAIL(-1, "ack unit too long");
        if (s_id_in(msg->ack->incarnation, out->incarnation) ||
            s_id_in(msg->ack->store_id, out->store_id))
            DFAIL(-1, "ack with an incarnation or store id not of %d bytes", RO_INCARNATION_LEN);
    } else if (msg->kind_case == ROLLOUT__HUB_MESSAGE__KIND_REFUSAL) {
        out->kind = RO_HUBMSG_REFUSAL;
        out->seq = msg->refusal->seq;
        out->reason = (ro_reason_t)msg->refusal->reason;
        if (s_copy(out->unit, sizeof out->unit, msg->refusal->unit) ||
            s_copy(out->text, sizeof out->text, msg->refusal->text))
            DFAIL(-1, "refusal text too long");
        if (s_id_in(msg->refusal->incarnation, out->incarnation))
            DFAIL(-1, "refusal with an incarnation not of %d bytes", RO_INCARNATION_LEN);
    } else {
        DFAIL(-1, "hub message is neither ack nor refusal");
    }
done:
    if (arena.spilled)
        rollout__hub_message__free_unpacked(msg, &arena.pc);
    return rc;
}
