/* hub_feed: a scope is the status API's answer in process (the very bytes
 * a snapshot carries), compared with what its topic last sent so an
 * unchanged scope is not sent again, and sent as [topic][FeedUpdate] with
 * the topic's previous seq chained in, the scope's bytes copied as they are. */
#include "feed.h"
#include "ro_clone.h"
#include "ro_log.h"
#include "ro_pb.h"
#include "ro_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* One topic: the chain and what was last sent on it. */
typedef struct {
    uint64_t prev; /* seq of the latest update on this topic, 0 = none */
    uint8_t *last; /* the packed scope last sent (owned), NULL = none */
    size_t len;    /* its bytes */
} s_topic_t;

/* The scopes of one status answer, as bytes inside its packed reply. */
#define S_SCOPES_MAX 32
typedef struct {
    uint8_t *wire;                      /* the packed StatusReply (owned) */
    size_t n;                           /* scopes found */
    const uint8_t *scope[S_SCOPES_MAX]; /* each packed Scope, inside wire */
    size_t len[S_SCOPES_MAX];           /* its bytes */
} s_answer_t;

struct hub_feed {
    void *sock;               /* PUB, borrowed */
    hub_status_t *status;     /* borrowed: answers the scopes */
    const ro_registry_t *reg; /* borrowed */
    size_t nunits;            /* registry count */
    uint64_t epoch;           /* this incarnation */
    uint64_t seq;             /* latest seq published */
    s_topic_t *topics;        /* units, then divisions, levels, province */
    uint8_t *touched;         /* per rollup of this commit: 1 = touched */
    uint8_t *buf;             /* scratch for packing */
    size_t bufcap;            /* its bytes */
    int64_t next_hb_ms;    /* when the next heartbeat is due */
    uint32_t today;        /* the date scopes were last evaluated for */
    hub_feed_counters_t c; /* counters */
    ro_ratelimit_t rl;     /* error log lines */
};

/* Index of rollup topics after the units. */
#define S_DIV(self, d) ((self)->nunits + (size_t)(d))
#define S_LEVEL(self, l) ((self)->nunits + RO_DIVISION_COUNT + (size_t)(l))
#define S_PROVINCE(self) ((self)->nunits + RO_DIVISION_COUNT + RO_LEVEL_COUNT)
#define S_ROLLUPS (RO_DIVISION_COUNT + RO_LEVEL_COUNT + 1)

int hub_feed_configure(void *sock, int hwm)
{
    if (hwm <= 0)
        hwm = HUB_FEED_SNDHWM;
    return zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
}

static uint64_t s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

hub_feed_t *hub_feed_new(void *sock, hub_status_t *status, const ro_registry_t *reg, uint64_t epoch)
{
    if (!sock || !status || !reg)
        return NULL;
    hub_feed_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    self->status = status;
    self->reg = reg;
    self->nunits = ro_registry_count(reg);
    self->topics = calloc(self->nunits + S_ROLLUPS, sizeof *self->topics);
    self->touched = calloc(S_ROLLUPS, 1);
    self->bufcap = 8192;
    self->buf = malloc(self->bufcap);
    if (!self->topics || !self->touched || !self->buf) {
        hub_feed_destroy(&self);
        return NULL;
    }
    self->epoch = epoch ? epoch : s_wall_us();
    self->today = ro_date_of(ro_time_now());
    self->next_hb_ms = ro_time_mono_ms();
    ro_ratelimit_init(&self->rl, 5, 0.1);
    hub_status_set_feed_epoch(status, self->epoch);
    hub_status_set_feed_seq(status, 0);
    return self;
}

static void s_free_topics(s_topic_t *topics, size_t n)
{
    for (size_t i = 0; topics && i < n; i++)
        free(topics[i].last);
    free(topics);
}

void hub_feed_destroy(hub_feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_feed_t *self = *self_p;
    s_free_topics(self->topics, self->nunits + S_ROLLUPS);
    free(self->touched);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

/* True when reg lists the same units in the same order as the feed's. */
static int s_same_units(const hub_feed_t *self, const ro_registry_t *reg)
{
    if (ro_registry_count(reg) != self->nunits)
        return 0;
    for (size_t i = 0; i < self->nunits; i++)
        if (strcmp(ro_registry_at(reg, i)->id, ro_registry_at(self->reg, i)->id) != 0)
            return 0;
    return 1;
}

int hub_feed_set_registry(hub_feed_t *self, const ro_registry_t *reg)
{
    if (s_same_units(self, reg)) {
        /* names or goals may differ: the next commit publishes what changed */
        self->reg = reg;
        return 0;
    }
    size_t n = ro_registry_count(reg);
    s_topic_t *topics = calloc(n + S_ROLLUPS, sizeof *topics);
    if (!topics)
        return -1;
    s_free_topics(self->topics, self->nunits + S_ROLLUPS);
    self->topics = topics;
    self->reg = reg;
    self->nunits = n;
    memset(self->touched, 0, S_ROLLUPS);
    uint64_t epoch = s_wall_us();
    self->epoch = epoch > self->epoch ? epoch : self->epoch + 1;
    self->seq = 0;
    hub_status_set_feed_epoch(self->status, self->epoch);
    hub_status_set_feed_seq(self->status, 0);
    ro_log(LOG_INFO, "feed: new epoch %llu for the reloaded registry",
           (unsigned long long)self->epoch);
    return 0;
}

static int s_reserve(hub_feed_t *self, size_t need)
{
    if (need <= self->bufcap)
        return 0;
    size_t cap = self->bufcap;
    while (cap < need)
        cap *= 2;
    uint8_t *b = realloc(self->buf, cap);
    if (!b)
        return -1;
    self->buf = b;
    self->bufcap = cap;
    return 0;
}

static void s_error(hub_feed_t *self, const char *what, const char *why)
{
    self->c.errors++;
    if (ro_log_allow(&self->rl))
        ro_log(LOG_WARNING, "feed: %s: %s", what, why);
}

Rollout__StatusReply *hub_feed_ask(hub_status_t *status, Rollout__Query query, const char *key,
                                   const char *indicator, int64_t now)
{
    Rollout__StatusRequest req = ROLLOUT__STATUS_REQUEST__INIT;
    req.version = RO_PROTOCOL_VERSION;
    req.query = query;
    req.key = (char *)(key ? key : "");
    req.indicator = (char *)(indicator ? indicator : "");
    uint8_t rb[512];
    if (rollout__status_request__get_packed_size(&req) > sizeof rb)
        return NULL;
    size_t rlen = rollout__status_request__pack(&req, rb);
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (hub_status_answer(status, rb, rlen, now, &out, &out_len) != 0 || !out) {
        free(out);
        return NULL;
    }
    Rollout__StatusReply *r = rollout__status_reply__unpack(NULL, out_len, out);
    free(out);
    if (r && r->status != 0) {
        rollout__status_reply__free_unpacked(r, NULL);
        return NULL;
    }
    return r;
}

/* ---- protobuf wire, just enough to find the scopes in a reply ---------- */

static int s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field of a message at *p: its number, and for a varint its
 * value, for a length-delimited field its bytes. Returns 1, 0 at the end,
 * -1 if malformed. */
static int s_field(const uint8_t **p, const uint8_t *end, uint32_t *field, uint64_t *value,
                   const uint8_t **bytes, size_t *len)
{
    uint64_t tag;
    if (*p >= end)
        return 0;
    if (s_varint(p, end, &tag))
        return -1;
    *field = (uint32_t)(tag >> 3);
    *bytes = NULL;
    *len = 0;
    switch (tag & 7) {
    case 0: return s_varint(p, end, value) ? -1 : 1;
    case 1:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 1;
    case 5:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 1;
    case 2:
        if (s_varint(p, end, value) || *value > (uint64_t)(end - *p))
            return -1;
        *bytes = *p;
        *len = (size_t)*value;
        *p += *len;
        return 1;
    default: return -1;
    }
}

/* A string field of a packed scope (kind = 1, id = 2) into buf. */
static void s_scope_str(const uint8_t *s, size_t n, uint32_t want, char *buf, size_t cap)
{
    const uint8_t *p = s, *b;
    uint32_t f;
    uint64_t v;
    size_t len;
    buf[0] = '\0';
    while (s_field(&p, s + n, &f, &v, &b, &len) == 1)
        if (f == want && b) {
            snprintf(buf, cap, "%.*s", (int)len, (const char *)b);
            return;
        }
}

/* Ask status in process and find the scopes (StatusReply field 6) of an ok
 * answer (field 2 is 0). Returns 0, or -1: not answered, not ok (a query
 * the status API does not answer yet is not published), out of memory. */
static int s_ask(hub_feed_t *self, Rollout__Query query, const char *key, int64_t now,
                 s_answer_t *a)
{
    Rollout__StatusRequest req = ROLLOUT__STATUS_REQUEST__INIT;
    req.version = RO_PROTOCOL_VERSION;
    req.query = query;
    req.key = (char *)(key ? key : "");
    uint8_t rb[256];
    if (rollout__status_request__get_packed_size(&req) > sizeof rb)
        return -1;
    size_t rlen = rollout__status_request__pack(&req, rb), wlen = 0;
    memset(a, 0, sizeof *a);
    if (hub_status_answer(self->status, rb, rlen, now, &a->wire, &wlen) != 0 || !a->wire) {
        s_error(self, "status answer", "out of memory");
        free(a->wire);
        a->wire = NULL;
        return -1;
    }
    const uint8_t *p = a->wire, *b;
    uint32_t f;
    uint64_t v;
    size_t len;
    int rc;
    while ((rc = s_field(&p, a->wire + wlen, &f, &v, &b, &len)) == 1) {
        if (f == 2 && v != 0)
            break; /* status not ok */
        if (f == 6 && b && a->n < S_SCOPES_MAX) {
            a->scope[a->n] = b;
            a->len[a->n++] = len;
        }
    }
    if (rc != 0) {
        free(a->wire);
        a->wire = NULL;
        return -1;
    }
    return 0;
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

/* Send the packed scope (n bytes) on topic ti (a topic table index) if it
 * differs from what the topic last sent. Returns 1 if sent, 0 if
 * unchanged, -1 on failure. */
static int s_publish(hub_feed_t *self, size_t ti, const uint8_t *scope, size_t n, int64_t now)
{
    s_topic_t *t = &self->topics[ti];
    if (t->last && t->len == n && memcmp(t->last, scope, n) == 0) {
        self->c.unchanged++;
        return 0;
    }
    char kind[16], id[RO_FEED_TOPIC_MAX], topic[RO_FEED_TOPIC_MAX];
    s_scope_str(scope, n, 1, kind, sizeof kind);
    s_scope_str(scope, n, 2, id, sizeof id);
    uint8_t *copy = malloc(n ? n : 1);
    if (ro_feed_topic(kind, id, topic, sizeof topic) || !copy || s_reserve(self, n + 64)) {
        free(copy);
        s_error(self, "publish", copy ? id : "out of memory");
        return -1;
    }
    /* FeedUpdate in field order: seq, epoch, prev_seq, time, then the scope as it is */
    uint64_t seq = self->seq + 1;
    uint8_t *o = self->buf;
    size_t len = s_uvarint(o, 1 << 3); /* field 1, varint */
    len += s_uvarint(o + len, seq);
    len += s_uvarint(o + len, 2 << 3);
    len += s_uvarint(o + len, self->epoch);
    if (t->prev) {
        len += s_uvarint(o + len, 3 << 3);
        len += s_uvarint(o + len, t->prev);
    }
    if (now) {
        len += s_uvarint(o + len, 4 << 3);
        len += s_uvarint(o + len, (uint64_t)now); /* int64: two's complement */
    }
    len += s_uvarint(o + len, 5 << 3 | 2); /* field 5, length-delimited */
    len += s_uvarint(o + len, n);
    memcpy(o + len, scope, n);
    len += n;
    /* PUB never blocks: a subscriber whose queue is full loses the message,
     * sees the hole in the seqs and resyncs */
    if (zmq_send(self->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, self->buf, len, ZMQ_DONTWAIT) < 0) {
        free(copy);
        s_error(self, "send", zmq_strerror(zmq_errno()));
        return -1;
    }
    memcpy(copy, scope, n);
    free(t->last);
    t->last = copy;
    t->len = n;
    self->seq = seq;
    t->prev = seq;
    self->c.updates++;
    self->c.bytes += len;
    return 1;
}

/* Publish the first scope of an answer on topic ti, then free the answer. */
static int s_publish_first(hub_feed_t *self, s_answer_t *a, size_t ti, int64_t now, int *sent)
{
    int k = a->n ? s_publish(self, ti, a->scope[0], a->len[0], now) : 0;
    free(a->wire);
    a->wire = NULL;
    if (k > 0)
        *sent += k;
    return k < 0 ? -1 : 0;
}

static int s_unit(hub_feed_t *self, size_t i, int64_t now, int *sent)
{
    s_answer_t a;
    if (s_ask(self, ROLLOUT__QUERY__QUERY_UNIT, ro_registry_at(self->reg, i)->id, now, &a))
        return 0;
    return s_publish_first(self, &a, i, now, sent);
}

/* The touched divisions: one DIVISIONS answer when more than one is, else
 * (or when that is not answered) one DIVISION answer each. */
static int s_divisions(hub_feed_t *self, int64_t now, int *sent)
{
    int rc = 0, many = 0;
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        many += self->touched[d];
    s_answer_t a;
    if (many > 1 && s_ask(self, ROLLOUT__QUERY__QUERY_DIVISIONS, NULL, now, &a) == 0) {
        for (size_t k = 0; k < a.n; k++) {
            char id[16];
            s_scope_str(a.scope[k], a.len[k], 2, id, sizeof id);
            int d = ro_division_index((uint32_t)strtoul(id, NULL, 10));
            if (d < 0 || !self->touched[d])
                continue;
            int n = s_publish(self, S_DIV(self, d), a.scope[k], a.len[k], now);
            if (n < 0)
                rc = -1;
            else
                *sent += n;
            self->touched[d] = 0;
        }
        free(a.wire);
    }
    for (int d = 0; d < RO_DIVISION_COUNT; d++) {
        if (!self->touched[d])
            continue;
        char key[16];
        snprintf(key, sizeof key, "%06u", (unsigned)ro_division_code((size_t)d));
        if (s_ask(self, ROLLOUT__QUERY__QUERY_DIVISION, key, now, &a) == 0 &&
            s_publish_first(self, &a, S_DIV(self, d), now, sent))
            rc = -1;
    }
    return rc;
}

/* Publish the touched rollups, then forget the marks. */
static int s_rollups(hub_feed_t *self, int64_t now, int *sent)
{
    int rc = s_divisions(self, now, sent);
    s_answer_t a;
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        if (self->touched[RO_DIVISION_COUNT + l] &&
            s_ask(self, ROLLOUT__QUERY__QUERY_LEVEL, ro_level_name((ro_level_t)l), now, &a) == 0 &&
            s_publish_first(self, &a, S_LEVEL(self, l), now, sent))
            rc = -1;
    if (self->touched[S_ROLLUPS - 1] &&
        s_ask(self, ROLLOUT__QUERY__QUERY_PROVINCE, NULL, now, &a) == 0 &&
        s_publish_first(self, &a, S_PROVINCE(self), now, sent))
        rc = -1;
    memset(self->touched, 0, S_ROLLUPS);
    return rc;
}

static int s_done(hub_feed_t *self, int rc, int sent)
{
    if (sent > 0)
        hub_status_set_feed_seq(self->status, self->seq);
    return rc < 0 ? -1 : sent;
}

int hub_feed_commit(hub_feed_t *self, const uint32_t *units, size_t n, int64_t now)
{
    int rc = 0, sent = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = units[k];
        if (i >= self->nunits)
            continue;
        const ro_unit_t *u = ro_registry_at(self->reg, i);
        int d = ro_division_index(u->division);
        if (d >= 0)
            self->touched[d] = 1;
        if ((unsigned)u->level < RO_LEVEL_COUNT)
            self->touched[RO_DIVISION_COUNT + u->level] = 1;
        self->touched[S_ROLLUPS - 1] = 1;
        if (s_unit(self, i, now, &sent))
            rc = -1;
    }
    if (s_rollups(self, now, &sent))
        rc = -1;
    return s_done(self, rc, sent);
}

int hub_feed_all(hub_feed_t *self, int64_t now)
{
    int rc = 0, sent = 0;
    for (size_t i = 0; i < self->nunits; i++)
        if (s_unit(self, i, now, &sent))
            rc = -1;
    memset(self->touched, 1, S_ROLLUPS);
    if (s_rollups(self, now, &sent))
        rc = -1;
    return s_done(self, rc, sent);
}

long hub_feed_tick(hub_feed_t *self, int64_t now, int64_t mono_ms)
{
    uint32_t today = ro_date_of(now);
    if (today != self->today) {
        /* milestones fall due at midnight: statuses change without a commit */
        self->today = today;
        hub_feed_all(self, now);
    }
    if (mono_ms >= self->next_hb_ms) {
        Rollout__FeedHeartbeat hb = ROLLOUT__FEED_HEARTBEAT__INIT;
        hb.seq = self->seq;
        hb.epoch = self->epoch;
        hb.time = now;
        hb.interval_ms = HUB_FEED_HEARTBEAT_MS;
        hb.as_of = today;
        uint8_t buf[128];
        size_t len = rollout__feed_heartbeat__pack(&hb, buf);
        if (zmq_send(self->sock, RO_FEED_HEARTBEAT, strlen(RO_FEED_HEARTBEAT),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) < 0) {
            s_error(self, "heartbeat", zmq_strerror(zmq_errno()));
        } else {
            self->c.heartbeats++;
            self->c.bytes += len;
        }
        self->next_hb_ms = mono_ms + HUB_FEED_HEARTBEAT_MS;
    }
    int64_t left = self->next_hb_ms - mono_ms;
    return left > 0 ? (long)left : 0;
}

uint64_t hub_feed_seq(const hub_feed_t *self)
{
    return self->seq;
}

uint64_t hub_feed_epoch(const hub_feed_t *self)
{
    return self->epoch;
}

const hub_feed_counters_t *hub_feed_counters(const hub_feed_t *self)
{
    return &self->c;
}
