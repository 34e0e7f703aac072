/* hub_feed: scopes come from the status API in process (the same answer a
 * snapshot gets), are hashed so an unchanged scope is not sent again, and
 * go out as [topic][FeedUpdate] with the topic's previous seq chained in.
 * The store and the engine are never touched here directly. */
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
    uint64_t hash; /* FNV-1a of the scope last sent, 0 = none */
} s_topic_t;

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
    size_t bufcap;
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

void hub_feed_destroy(hub_feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_feed_t *self = *self_p;
    free(self->topics);
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
    free(self->topics);
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

static uint64_t s_fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ? h : 1;
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

/* A scope answer; a query the status API does not answer (yet) is not published. */
static Rollout__StatusReply *s_ask(hub_feed_t *self, Rollout__Query query, const char *key,
                                   int64_t now)
{
    return hub_feed_ask(self->status, query, key, NULL, now);
}

/* Send scope on topic ti (a topic table index) if it changed. Returns 1 if
 * sent, 0 if unchanged, -1 on failure. */
static int s_publish(hub_feed_t *self, size_t ti, const Rollout__Scope *scope, int64_t now)
{
    char topic[RO_FEED_TOPIC_MAX];
    if (ro_feed_topic(scope->kind, scope->id, topic, sizeof topic)) {
        s_error(self, "topic", scope->id);
        return -1;
    }
    size_t slen = rollout__scope__get_packed_size(scope);
    if (s_reserve(self, slen + 64)) {
        s_error(self, "pack", "out of memory");
        return -1;
    }
    rollout__scope__pack(scope, self->buf);
    uint64_t h = s_fnv(self->buf, slen);
    s_topic_t *t = &self->topics[ti];
    if (t->hash == h) {
        self->c.unchanged++;
        return 0;
    }
    Rollout__FeedUpdate u = ROLLOUT__FEED_UPDATE__INIT;
    u.seq = self->seq + 1;
    u.epoch = self->epoch;
    u.prev_seq = t->prev;
    u.time = now;
    u.scope = (Rollout__Scope *)scope;
    size_t len = rollout__feed_update__get_packed_size(&u);
    if (s_reserve(self, len)) {
        s_error(self, "pack", "out of memory");
        return -1;
    }
    rollout__feed_update__pack(&u, self->buf);
    /* PUB never blocks: a subscriber whose queue is full loses the message,
     * sees the hole in the seqs and resyncs */
    if (zmq_send(self->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, self->buf, len, ZMQ_DONTWAIT) < 0) {
        s_error(self, "send", zmq_strerror(zmq_errno()));
        return -1;
    }
    self->seq = u.seq;
    t->prev = u.seq;
    t->hash = h;
    self->c.updates++;
    self->c.bytes += len;
    return 1;
}

/* Publish the first scope of a reply (or each of its scopes for DIVISIONS). */
static int s_publish_reply(hub_feed_t *self, Rollout__StatusReply *r, size_t ti, int64_t now,
                           int *sent)
{
    if (!r)
        return 0;
    int rc = 0;
    if (r->n_scopes >= 1) {
        int k = s_publish(self, ti, r->scopes[0], now);
        if (k < 0)
            rc = -1;
        else
            *sent += k;
    }
    rollout__status_reply__free_unpacked(r, NULL);
    return rc;
}

static int s_unit(hub_feed_t *self, size_t i, int64_t now, int *sent)
{
    const ro_unit_t *u = ro_registry_at(self->reg, i);
    return s_publish_reply(self, s_ask(self, ROLLOUT__QUERY__QUERY_UNIT, u->id, now), i, now, sent);
}

/* The touched divisions: one DIVISIONS answer when it is there, else one
 * DIVISION answer each. */
static int s_divisions(hub_feed_t *self, int64_t now, int *sent)
{
    int rc = 0, many = 0;
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        many += self->touched[d];
    if (many == 0)
        return 0;
    Rollout__StatusReply *all =
        many > 1 ? s_ask(self, ROLLOUT__QUERY__QUERY_DIVISIONS, NULL, now) : NULL;
    if (all) {
        for (size_t k = 0; k < all->n_scopes; k++) {
            const Rollout__Scope *s = all->scopes[k];
            int d = ro_division_index((uint32_t)strtoul(s->id, NULL, 10));
            if (d < 0 || !self->touched[d])
                continue;
            int n = s_publish(self, S_DIV(self, d), s, now);
            if (n < 0)
                rc = -1;
            else
                *sent += n;
            self->touched[d] = 0;
        }
        rollout__status_reply__free_unpacked(all, NULL);
    }
    for (int d = 0; d < RO_DIVISION_COUNT; d++) {
        if (!self->touched[d])
            continue;
        char key[16];
        snprintf(key, sizeof key, "%06u", (unsigned)ro_division_code((size_t)d));
        if (s_publish_reply(self, s_ask(self, ROLLOUT__QUERY__QUERY_DIVISION, key, now),
                            S_DIV(self, d), now, sent))
            rc = -1;
    }
    return rc;
}

/* Publish the touched rollups, then forget the marks. */
static int s_rollups(hub_feed_t *self, int64_t now, int *sent)
{
    int rc = s_divisions(self, now, sent);
    for (int l = 0; l < RO_LEVEL_COUNT; l++) {
        if (!self->touched[RO_DIVISION_COUNT + l])
            continue;
        if (s_publish_reply(
                self, s_ask(self, ROLLOUT__QUERY__QUERY_LEVEL, ro_level_name((ro_level_t)l), now),
                S_LEVEL(self, l), now, sent))
            rc = -1;
    }
    if (self->touched[S_ROLLUPS - 1] &&
        s_publish_reply(self, s_ask(self, ROLLOUT__QUERY__QUERY_PROVINCE, NULL, now),
                        S_PROVINCE(self), now, sent))
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
