/* ro_codec: protobuf-c <-> rollout structs, with the strictness protobuf-c
 * 1.4.1 lacks. A frame is accepted only when it decodes, carries no unknown
 * field, has valid UTF-8 strings, and re-encodes to exactly its own length:
 * that last check catches a string with an embedded NUL (which protobuf-c
 * would silently truncate) and duplicated or padded fields. */
#include "ro_codec.h"
#include "ro_pb.h"

#include <stdio.h>
#include <string.h>

/* Walk a decoded message: no unknown fields anywhere, every string valid UTF-8. */
static int s_clean(const ProtobufCMessage *m, int depth, ro_decode_mode_t mode)
{
    if (depth > 8 || (m->n_unknown_fields != 0 && mode == RO_DECODE_STRICT))
        return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        size_t count = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)((const char *)m + f->quantifier_offset);
            base = *(const char *const *)base;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
        }
        for (size_t k = 0; k < count; k++) {
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = ((const char *const *)base)[k];
                if (s && !ro_utf8_valid(s, strlen(s)))
                    return 0;
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessage *sub = ((const ProtobufCMessage *const *)base)[k];
                if (sub && !s_clean(sub, depth + 1, mode))
                    return 0;
            }
        }
    }
    return 1;
}

int ro_pb_check(const ProtobufCMessage *m, size_t wire_len, int skip_unknown)
{
    ro_decode_mode_t mode = skip_unknown ? RO_DECODE_SKIP_UNKNOWN : RO_DECODE_STRICT;
    return s_clean(m, 0, mode) && protobuf_c_message_get_packed_size(m) == wire_len;
}

int ro_pb_strict(const ProtobufCMessage *m, size_t wire_len)
{
    return ro_pb_check(m, wire_len, 0);
}

/* ---- reports ------------------------------------------------------------ */

int ro_report_encode(const ro_report_t *r, uint8_t *buf, size_t cap)
{
    Rollout__Report msg = ROLLOUT__REPORT__INIT;
    Rollout__Training tr = ROLLOUT__TRAINING__INIT;
    Rollout__Staff st = ROLLOUT__STAFF__INIT;
    Rollout__Items it = ROLLOUT__ITEMS__INIT;
    Rollout__Cases ca = ROLLOUT__CASES__INIT;
    Rollout__Heartbeat hb = ROLLOUT__HEARTBEAT__INIT;

    msg.version = r->version;
    msg.unit = (char *)r->unit;
    msg.seq = r->seq;
    msg.recorded_at = r->recorded_at;
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
        msg.body_case = ROLLOUT__REPORT__BODY_HEARTBEAT, msg.heartbeat = &hb;
        break;
    default: return -1;
    }
    size_t need = rollout__report__get_packed_size(&msg);
    if (need > cap)
        return -1;
    return (int)rollout__report__pack(&msg, buf);
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
    Rollout__Report *msg = rollout__report__unpack(NULL, len, buf);
    if (!msg) {
        if (err)
            snprintf(err, errlen, "not a protobuf Report");
        return RO_REASON_MALFORMED;
    }
    if (!ro_pb_strict(&msg->base, len))
        DFAIL(RO_REASON_MALFORMED, "unknown field, bad UTF-8, NUL byte or non-canonical encoding");
    if (msg->version != RO_PROTOCOL_VERSION)
        DFAIL(RO_REASON_VERSION, "protocol version %u, this hub speaks %d", msg->version,
              RO_PROTOCOL_VERSION);
    if (s_copy(out->unit, sizeof out->unit, msg->unit))
        DFAIL(RO_REASON_MALFORMED, "unit id longer than %d bytes", RO_UNIT_MAX);
    out->version = msg->version;
    out->seq = msg->seq;
    out->recorded_at = msg->recorded_at;
    const char *text = NULL;
    switch (msg->body_case) {
    case ROLLOUT__REPORT__BODY_TRAINING:
        out->kind = RO_KIND_TRAINING;
        out->date = msg->training->date;
        out->total = msg->training->participants;
        out->part = msg->training->hours_tenths;
        text = msg->training->course;
        break;
    case ROLLOUT__REPORT__BODY_STAFF:
        out->kind = RO_KIND_STAFF;
        out->date = msg->staff->date;
        out->total = msg->staff->total;
        out->part = msg->staff->proficient;
        break;
    case ROLLOUT__REPORT__BODY_ITEMS:
        out->kind = RO_KIND_ITEMS;
        out->date = msg->items->date;
        out->total = msg->items->total;
        out->part = msg->items->no_visit;
        break;
    case ROLLOUT__REPORT__BODY_CASES:
        out->kind = RO_KIND_CASES;
        out->date = msg->cases->month;
        out->total = msg->cases->total;
        out->part = msg->cases->no_visit;
        break;
    case ROLLOUT__REPORT__BODY_HEARTBEAT:
        out->kind = RO_KIND_HEARTBEAT;
        out->depth = msg->heartbeat->outbox_depth;
        text = msg->heartbeat->agent_version;
        break;
    default: DFAIL(RO_REASON_MALFORMED, "report has no body");
    }
    if (s_copy(out->text, sizeof out->text, text))
        DFAIL(RO_REASON_MALFORMED, "text longer than %d bytes", RO_TEXT_MAX);
done:
    rollout__report__free_unpacked(msg, NULL);
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
        msg.kind_case = ROLLOUT__HUB_MESSAGE__KIND_ACK, msg.ack = &ack;
    } else {
        ref.unit = (char *)m->unit;
        ref.seq = m->seq;
        ref.reason = (Rollout__Reason)m->reason;
        ref.text = (char *)m->text;
        msg.kind_case = ROLLOUT__HUB_MESSAGE__KIND_REFUSAL, msg.refusal = &ref;
    }
    if (rollout__hub_message__get_packed_size(&msg) > cap)
        return -1;
    return (int)rollout__hub_message__pack(&msg, buf);
}

int ro_hubmsg_decode(const uint8_t *buf, size_t len, ro_hubmsg_t *out, char *err, size_t errlen)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (len > RO_FRAME_MAX) {
        if (err)
            snprintf(err, errlen, "hub message of %zu bytes is too large", len);
        return -1;
    }
    Rollout__HubMessage *msg = rollout__hub_message__unpack(NULL, len, buf);
    if (!msg) {
        if (err)
            snprintf(err, errlen, "not a protobuf HubMessage");
        return -1;
    }
    if (!ro_pb_strict(&msg->base, len))
        DFAIL(-1, "hub message with unknown fields or bad strings");
    if (msg->kind_case == ROLLOUT__HUB_MESSAGE__KIND_ACK) {
        out->kind = RO_HUBMSG_ACK;
        out->seq = msg->ack->upto;
        if (s_copy(out->unit, sizeof out->unit, msg->ack->unit))
            DFAIL(-1, "ack unit too long");
    } else if (msg->kind_case == ROLLOUT__HUB_MESSAGE__KIND_REFUSAL) {
        out->kind = RO_HUBMSG_REFUSAL;
        out->seq = msg->refusal->seq;
        out->reason = (ro_reason_t)msg->refusal->reason;
        if (s_copy(out->unit, sizeof out->unit, msg->refusal->unit) ||
            s_copy(out->text, sizeof out->text, msg->refusal->text))
            DFAIL(-1, "refusal text too long");
    } else {
        DFAIL(-1, "hub message is neither ack nor refusal");
    }
done:
    rollout__hub_message__free_unpacked(msg, NULL);
    return rc;
}
