/* ro_feed: plain feed messages <-> protobuf-c, strict as ro_status. The
 * head of a FeedUpdate is written by hand (fields 1-4 as varints, field 5's
 * tag and length) so that the hub sends a scope it packed once; the unit
 * test checks it against protobuf-c's packing of the same message. */
#include "ro_feed.h"
#include "ro_status_pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", what);
}

/* Write v as a protobuf varint at out; returns its bytes (at most 10). */
static size_t s_uvarint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Field number field as a varint, unless v is 0 (proto3 leaves it out). */
static size_t s_field(uint8_t *out, unsigned field, uint64_t v)
{
    if (!v)
        return 0;
    size_t n = s_uvarint(out, (uint64_t)field << 3);
    return n + s_uvarint(out + n, v);
}

size_t ro_feed_update_head(uint8_t *head, const ro_feed_update_t *u, size_t scope_len)
{
    size_t h = s_field(head, 1, u->seq);
    h += s_field(head + h, 2, u->epoch);
    h += s_field(head + h, 3, u->prev_seq);
    h += s_field(head + h, 4, (uint64_t)u->time); /* int64: two's complement */
    h += s_uvarint(head + h, 5 << 3 | 2);         /* field 5, length-delimited */
    h += s_uvarint(head + h, scope_len);
    return h;
}

int ro_feed_update_encode(const ro_feed_update_t *u, uint8_t *buf, size_t cap)
{
    Rollout__FeedUpdate msg = ROLLOUT__FEED_UPDATE__INIT;
    ro_status_pb_scope_t pb;
    msg.seq = u->seq;
    msg.epoch = u->epoch;
    msg.prev_seq = u->prev_seq;
    msg.time = u->time;
    if (u->has_scope) {
        if (ro_status_scope_to_pb(&u->scope, &pb))
            return -1;
        msg.scope = &pb.scope;
    }
    if (rollout__feed_update__get_packed_size(&msg) > cap)
        return -1;
    return (int)rollout__feed_update__pack(&msg, buf);
}

int ro_feed_update_decode(const uint8_t *buf, size_t len, ro_decode_mode_t mode,
                          ro_feed_update_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > RO_FEED_FRAME_MAX) {
        s_err(err, errlen, "feed update over its size limit");
        return -1;
    }
    Rollout__FeedUpdate *m = rollout__feed_update__unpack(NULL, len, buf);
    if (!m) {
        s_err(err, errlen, "not a protobuf FeedUpdate");
        return -1;
    }
    int rc = -1;
    if (!ro_pb_check(&rollout__feed_update__descriptor, buf, len, mode == RO_DECODE_SKIP_UNKNOWN,
                     NULL)) {
        s_err(err, errlen, "feed update with an unknown field, a NUL byte or bad UTF-8");
    } else if (!m->scope || ro_status_scope_from_pb(m->scope, &out->scope, err, errlen) == 0) {
        out->seq = m->seq;
        out->epoch = m->epoch;
        out->prev_seq = m->prev_seq;
        out->time = m->time;
        out->has_scope = m->scope != NULL;
        rc = 0;
    }
    rollout__feed_update__free_unpacked(m, NULL);
    return rc;
}

void ro_feed_update_clear(ro_feed_update_t *u)
{
    if (!u)
        return;
    ro_status_scope_clear(&u->scope);
    memset(u, 0, sizeof *u);
}

int ro_feed_heartbeat_encode(const ro_feed_heartbeat_t *hb, uint8_t *buf, size_t cap)
{
    Rollout__FeedHeartbeat msg = ROLLOUT__FEED_HEARTBEAT__INIT;
    msg.seq = hb->seq;
    msg.epoch = hb->epoch;
    msg.time = hb->time;
    msg.interval_ms = hb->interval_ms;
    msg.as_of = hb->as_of;
    if (rollout__feed_heartbeat__get_packed_size(&msg) > cap)
        return -1;
    return (int)rollout__feed_heartbeat__pack(&msg, buf);
}

int ro_feed_heartbeat_decode(const uint8_t *buf, size_t len, ro_decode_mode_t mode,
                             ro_feed_heartbeat_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > RO_FRAME_MAX) {
        s_err(err, errlen, "feed heartbeat over its size limit");
        return -1;
    }
    Rollout__FeedHeartbeat *m = rollout__feed_heartbeat__unpack(NULL, len, buf);
    if (!m) {
        s_err(err, errlen, "not a protobuf FeedHeartbeat");
        return -1;
    }
    int rc = -1;
    if (!ro_pb_check(&rollout__feed_heartbeat__descriptor, buf, len, mode == RO_DECODE_SKIP_UNKNOWN,
                     NULL)) {
        s_err(err, errlen, "feed heartbeat with an unknown field, a NUL byte or bad UTF-8");
    } else {
        out->seq = m->seq;
        out->epoch = m->epoch;
        out->time = m->time;
        out->interval_ms = m->interval_ms;
        out->as_of = m->as_of;
        rc = 0;
    }
    rollout__feed_heartbeat__free_unpacked(m, NULL);
    return rc;
}
