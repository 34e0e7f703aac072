/* hub_feed: a commit only stamps the units it changed (a generation per
 * unit, and a list) and marks their rollups; a publication evaluates each
 * listed unit with the engine and the touched rollups in one pass, packs
 * them as the status API does (lib/ro_status: the very bytes a snapshot
 * carries), compares each with what its topic last sent so an
 * unchanged scope is not sent again, and sends [topic][FeedUpdate] with the
 * topic's previous seq chained in. */
#include "feed.h"
#include "auth.h"
#include "ro_clone.h"
#include "ro_log.h"
#include "ro_feed.h"
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
    size_t cap;    /* bytes allocated at last */
} s_topic_t;

/* Room before a packed scope in buf for the FeedUpdate fields ahead of it. */
#define S_HEAD RO_FEED_HEAD_MAX

/* Rollups: T_ indexes their touched marks, S_ROLLUP their topics (after the units). */
#define S_ROLLUPS (RO_DIVISION_COUNT + RO_LEVEL_COUNT + 1)
#define T_DIV(d) ((size_t)(d))
#define T_LEVEL(l) (RO_DIVISION_COUNT + (size_t)(l))
#define T_PROVINCE (S_ROLLUPS - 1)
#define S_ROLLUP(self, t) ((self)->nunits + (t))

struct hub_feed {
    void *sock;                  /* (X)PUB, borrowed */
    hub_committed_t *committed;  /* borrowed: the states and sums read, told seq and epoch */
    const ro_registry_t *reg;    /* borrowed */
    const hub_engine_t *engine;  /* borrowed: evaluates the scopes */
    const ro_targets_t *targets; /* borrowed: the engine's */
    size_t nunits;               /* registry count */
    uint64_t epoch;              /* this incarnation */
    uint64_t seq;                /* latest seq published */
    s_topic_t *topics;           /* units, then divisions, levels, province */
    uint32_t *stamp;             /* per unit: gen when it was last listed */
    uint32_t *due;               /* units listed for the next publication */
    size_t ndue;                 /* how many */
    uint32_t gen;                /* the next publication's generation, never 0 */
    uint8_t touched[S_ROLLUPS];  /* per rollup (T_ above): 1 = due */
    int64_t next_pub_ms;         /* the next publication may go out from then */
    ro_scope_t scope;            /* scratch: one evaluated scope */
    hub_rollup_t *rollup;        /* scratch: every rollup */
    uint8_t *buf;                /* scratch: S_HEAD, then the packed scope */
    size_t bufcap;               /* its bytes */
    int64_t next_hb_ms;          /* when the next heartbeat is due */
    uint32_t today;              /* the date scopes were last evaluated for */
    hub_feed_counters_t c;       /* counters */
    ro_ratelimit_t rl;           /* error log lines */
};

int hub_feed_configure(void *sock, int hwm)
{
    if (hwm <= 0)
        hwm = HUB_FEED_SNDHWM;
    int type = 0, one = 1;
    size_t len = sizeof type;
    if (zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_getsockopt(sock, ZMQ_TYPE, &type, &len) != 0)
        return -1;
    return type == ZMQ_XPUB ? zmq_setsockopt(sock, ZMQ_XPUB_VERBOSE, &one, sizeof one) : 0;
}

int hub_feed_read(void *sock, int max, hub_feed_peer_fn on, void *arg)
{
    int n = 0;
    for (; n < max; n++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        if (on)
            on(arg, zmq_msg_get(&m, ZMQ_SRCFD), zmq_msg_gets(&m, "User-Id"),
               zmq_msg_gets(&m, HUB_AUTH_KEY_PROPERTY), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    return n;
}

static uint64_t s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void s_free_topics(s_topic_t *topics, size_t n)
{
    for (size_t i = 0; topics && i < n; i++)
        free(topics[i].last);
    free(topics);
}

/* The per-unit tables for n units; all or nothing. */
static int s_tables(size_t n, s_topic_t **topics, uint32_t **stamp, uint32_t **due)
{
    *topics = calloc(n + S_ROLLUPS, sizeof **topics);
    *stamp = calloc(n ? n : 1, sizeof **stamp);
    *due = malloc((n ? n : 1) * sizeof **due);
    if (*topics && *stamp && *due)
        return 0;
    free(*topics);
    free(*stamp);
    free(*due);
    return -1;
}

hub_feed_t *hub_feed_new(void *sock, hub_committed_t *committed, const ro_registry_t *reg,
                         const hub_engine_t *engine, const ro_targets_t *targets, uint64_t epoch)
{
    if (!sock || !committed || !hub_committed_sums(committed) || !reg || !engine || !targets)
        return NULL;
    hub_feed_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    self->committed = committed;
    self->reg = reg;
    self->engine = engine;
    self->targets = targets;
    self->nunits = ro_registry_count(reg);
    self->gen = 1;
    self->bufcap = 16384;
    self->buf = malloc(self->bufcap);
    self->rollup = malloc(sizeof *self->rollup);
    if (!self->buf || !self->rollup ||
        s_tables(self->nunits, &self->topics, &self->stamp, &self->due)) {
        hub_feed_destroy(&self);
        return NULL;
    }
    self->epoch = epoch ? epoch : s_wall_us();
    self->today = ro_date_of(ro_time_now());
    self->next_hb_ms = ro_time_mono_ms();
    ro_ratelimit_init(&self->rl, 5, 0.1);
    hub_committed_set_feed(committed, 0, self->epoch);
    return self;
}

void hub_feed_destroy(hub_feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_feed_t *self = *self_p;
    s_free_topics(self->topics, self->nunits + S_ROLLUPS);
    free(self->stamp);
    free(self->due);
    free(self->rollup);
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

int hub_feed_set_registry(hub_feed_t *self, const ro_registry_t *reg, const hub_engine_t *engine,
                          const ro_targets_t *targets)
{
    if (!reg || !engine || !targets)
        return -1;
    int same = s_same_units(self, reg);
    if (!same) {
        size_t n = ro_registry_count(reg);
        s_topic_t *topics;
        uint32_t *stamp, *due;
        if (s_tables(n, &topics, &stamp, &due))
            return -1;
        s_free_topics(self->topics, self->nunits + S_ROLLUPS);
        free(self->stamp);
        free(self->due);
        self->topics = topics;
        self->stamp = stamp;
        self->due = due;
        self->ndue = 0;
        memset(self->touched, 0, sizeof self->touched);
        self->gen = 1;
        self->nunits = n;
        uint64_t epoch = s_wall_us();
        self->epoch = epoch > self->epoch ? epoch : self->epoch + 1;
        self->seq = 0;
        hub_committed_set_feed(self->committed, 0, self->epoch);
        ro_log(LOG_INFO, "feed: new epoch %llu for the reloaded registry",
               (unsigned long long)self->epoch);
    }
    self->reg = reg;
    self->engine = engine;
    self->targets = targets;
    if (same) /* names or goals may differ: what changed goes out with the next publication */
        hub_feed_all(self, 0);
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

ro_status_reply_t *hub_feed_ask(hub_status_t *status, ro_query_t query, const char *key,
                                const char *indicator, int64_t now)
{
    ro_status_request_t req = ro_status_request(query);
    if (snprintf(req.key, sizeof req.key, "%s", key ? key : "") >= (int)sizeof req.key ||
        snprintf(req.indicator, sizeof req.indicator, "%s", indicator ? indicator : "") >=
            (int)sizeof req.indicator)
        return NULL;
    uint8_t rb[RO_STATUS_REQUEST_MAX];
    int rlen = ro_status_request_encode(&req, rb, sizeof rb);
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (rlen < 0 || hub_status_answer(status, rb, (size_t)rlen, now, &out, &out_len) != 0 || !out) {
        free(out);
        return NULL;
    }
    ro_status_reply_t *r = ro_status_reply_decode(out, out_len, RO_DECODE_STRICT, NULL, 0);
    free(out);
    if (r && r->status != 0)
        ro_status_reply_free(&r);
    return r;
}

/* Pack scope s at buf + S_HEAD; returns its bytes, 0 on failure. */
static size_t s_pack(hub_feed_t *self, const ro_scope_t *s)
{
    ro_status_scope_t w;
    if (ro_status_scope_make(self->targets, s, &w))
        return 0;
    size_t room = self->bufcap - S_HEAD;
    size_t n = ro_status_scope_encode(&w, self->buf + S_HEAD, room);
    if (n > room && s_reserve(self, S_HEAD + n) == 0) {
        room = self->bufcap - S_HEAD;
        n = ro_status_scope_encode(&w, self->buf + S_HEAD, room);
    }
    ro_status_scope_clear(&w);
    return n <= room ? n : 0;
}

/* Send scope s on topic ti (a topic table index) if its packed form
 * differs from what the topic last sent. Returns 1 if sent, 0 if
 * unchanged, -1 on failure. */
static int s_publish(hub_feed_t *self, size_t ti, const ro_scope_t *s, int64_t now)
{
    size_t n = s_pack(self, s);
    if (!n) {
        s_error(self, "pack", s->id);
        return -1;
    }
    const uint8_t *scope = self->buf + S_HEAD;
    s_topic_t *t = &self->topics[ti];
    if (t->last && t->len == n && memcmp(t->last, scope, n) == 0) {
        self->c.unchanged++;
        return 0;
    }
    char topic[RO_FEED_TOPIC_MAX];
    if (ro_feed_topic(ro_scope_kind_name(s->kind), s->id, topic, sizeof topic)) {
        s_error(self, "publish", s->id);
        return -1;
    }
    if (t->cap < n) {
        uint8_t *last = realloc(t->last, n);
        if (!last) {
            s_error(self, "publish", "out of memory");
            return -1;
        }
        t->last = last;
        t->cap = n;
    }
    /* the FeedUpdate's fields, then the scope as packed, right behind them in buf */
    uint64_t seq = self->seq + 1;
    ro_feed_update_t u = {.seq = seq, .epoch = self->epoch, .prev_seq = t->prev, .time = now};
    uint8_t head[S_HEAD];
    size_t h = ro_feed_update_head(head, &u, n);
    uint8_t *msg = self->buf + S_HEAD - h;
    memcpy(msg, head, h);
    /* PUB never blocks: a subscriber whose queue is full loses the message,
     * sees the hole in the seqs and resyncs */
    if (zmq_send(self->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, msg, h + n, ZMQ_DONTWAIT) < 0) {
        s_error(self, "send", zmq_strerror(zmq_errno()));
        return -1;
    }
    memcpy(t->last, scope, n);
    t->len = n;
    self->seq = seq;
    t->prev = seq;
    self->c.updates++;
    self->c.bytes += h + n;
    return 1;
}

static void s_count(int k, int *rc, int *sent)
{
    if (k < 0)
        *rc = -1;
    else
        *sent += k;
}

/* Evaluate the due rollups into self->rollup from the sums committed
 * keeps, in time independent of the number of units. */
static int s_evaluate_rollups(hub_feed_t *self, uint32_t as_of)
{
    hub_rollup_t *r = self->rollup;
    const hub_rollup_t *sums = hub_committed_sums(self->committed);
    int rc = 0;
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        if (self->touched[T_DIV(d)] &&
            hub_engine_eval(self->engine, &sums->divisions[d], as_of, &r->divisions[d]))
            rc = -1;
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        if (self->touched[T_LEVEL(l)] &&
            hub_engine_eval(self->engine, &sums->levels[l], as_of, &r->levels[l]))
            rc = -1;
    if (self->touched[T_PROVINCE] &&
        hub_engine_eval(self->engine, &sums->province, as_of, &r->province))
        rc = -1;
    if (self->touched[T_PROVINCE])
        r->province.held_review = hub_committed_held_review(self->committed);
    return rc;
}

/* Publish the due rollups: divisions, levels, the province; then forget
 * the marks. */
static void s_rollups(hub_feed_t *self, uint32_t as_of, int64_t now, int *rc, int *sent)
{
    const hub_rollup_t *r = self->rollup;
    if (s_evaluate_rollups(self, as_of)) {
        s_error(self, "rollup", "not evaluated");
        *rc = -1;
    } else {
        for (int d = 0; d < RO_DIVISION_COUNT; d++)
            if (self->touched[T_DIV(d)])
                s_count(s_publish(self, S_ROLLUP(self, T_DIV(d)), &r->divisions[d], now), rc, sent);
        for (int l = 0; l < RO_LEVEL_COUNT; l++)
            if (self->touched[T_LEVEL(l)])
                s_count(s_publish(self, S_ROLLUP(self, T_LEVEL(l)), &r->levels[l], now), rc, sent);
        if (self->touched[T_PROVINCE])
            s_count(s_publish(self, S_ROLLUP(self, T_PROVINCE), &r->province, now), rc, sent);
    }
    memset(self->touched, 0, sizeof self->touched);
}

static int s_pending(const hub_feed_t *self)
{
    return self->ndue > 0 || self->touched[T_PROVINCE];
}

/* One publication: each due unit, then the due rollups. Returns the
 * updates sent, or -1 if one failed. */
static int s_publish_due(hub_feed_t *self, int64_t now)
{
    int rc = 0, sent = 0;
    uint32_t as_of = ro_date_of(now);
    for (size_t k = 0; k < self->ndue; k++) {
        size_t i = self->due[k];
        if (hub_engine_unit(self->engine, hub_committed_states(self->committed), i, as_of,
                            &self->scope) == 0) {
            const hub_unit_flags_t *fl = &hub_committed_flags(self->committed)[i];
            self->scope.flags = hub_unit_flags_bits(fl, now);
            self->scope.held_review = hub_marks_held(&fl->marks);
            s_count(s_publish(self, i, &self->scope, now), &rc, &sent);
        }
    }
    self->ndue = 0;
    if (++self->gen == 0) { /* wrapped: no stamp may look current */
        memset(self->stamp, 0, self->nunits * sizeof *self->stamp);
        self->gen = 1;
    }
    if (s_pending(self))
        s_rollups(self, as_of, now, &rc, &sent);
    if (sent > 0)
        hub_committed_set_feed(self->committed, self->seq, self->epoch);
    return rc < 0 ? -1 : sent;
}

int hub_feed_commit(hub_feed_t *self, const uint32_t *units, size_t n, int64_t now)
{
    (void)now; /* the publication's clock is the one that counts */
    int listed = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = units[k];
        if (i >= self->nunits || self->stamp[i] == self->gen)
            continue;
        self->stamp[i] = self->gen;
        self->due[self->ndue++] = (uint32_t)i;
        listed++;
        const ro_unit_t *u = ro_registry_at(self->reg, i);
        int d = ro_division_index(u->division);
        if (d >= 0)
            self->touched[T_DIV(d)] = 1;
        if ((unsigned)u->level < RO_LEVEL_COUNT)
            self->touched[T_LEVEL(u->level)] = 1;
        self->touched[T_PROVINCE] = 1;
    }
    return listed;
}

int hub_feed_all(hub_feed_t *self, int64_t now)
{
    (void)now;
    self->ndue = 0;
    for (size_t i = 0; i < self->nunits; i++) {
        self->stamp[i] = self->gen;
        self->due[self->ndue++] = (uint32_t)i;
    }
    memset(self->touched, 1, sizeof self->touched);
    return 0;
}

long hub_feed_tick(hub_feed_t *self, int64_t now, int64_t mono_ms)
{
    uint32_t today = ro_date_of(now);
    if (today != self->today) {
        /* milestones fall due at midnight: statuses change without a commit */
        self->today = today;
        hub_feed_all(self, now);
    }
    if (s_pending(self) && mono_ms >= self->next_pub_ms) {
        /* after a quiet period at once; under load, one publication per interval */
        s_publish_due(self, now);
        self->next_pub_ms = mono_ms + HUB_FEED_INTERVAL_MS;
    }
    if (mono_ms >= self->next_hb_ms) {
        ro_feed_heartbeat_t hb = {.seq = self->seq,
                                  .epoch = self->epoch,
                                  .time = now,
                                  .interval_ms = HUB_FEED_HEARTBEAT_MS,
                                  .as_of = today};
        uint8_t buf[128];
        int len = ro_feed_heartbeat_encode(&hb, buf, sizeof buf);
        if (len < 0 ||
            zmq_send(self->sock, RO_FEED_HEARTBEAT, strlen(RO_FEED_HEARTBEAT),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(self->sock, buf, (size_t)len, ZMQ_DONTWAIT) < 0) {
            s_error(self, "heartbeat", zmq_strerror(zmq_errno()));
        } else {
            self->c.heartbeats++;
            self->c.bytes += (uint64_t)len;
        }
        self->next_hb_ms = mono_ms + HUB_FEED_HEARTBEAT_MS;
    }
    int64_t left = self->next_hb_ms - mono_ms;
    if (s_pending(self) && self->next_pub_ms - mono_ms < left)
        left = self->next_pub_ms - mono_ms;
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
