/* ro_clone: snapshot + numbered updates + resync, over an open-addressing
 * table of topics. Every update carries a whole scope, so applying one is a
 * replace; the sequence checks exist to notice a lost last word. */
#include "ro_clone.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char topic[RO_FEED_TOPIC_MAX]; /* "" = free slot */
    uint64_t base;                 /* feed seq of the snapshot reply that gave it; 0 if none */
    uint64_t known;                /* seq of the last update applied, or base */
    int updated;                   /* an update was applied (known is a seq heard) */
    ro_status_scope_t *scope;      /* owned copy; NULL if only the chain is known */
} s_entry_t;

typedef enum { S_SYNCING = 0, S_LIVE = 1, S_BROKEN = 2 } s_state_t;

struct ro_clone {
    int full;                                 /* subscribed to every topic */
    s_state_t state;                          /* syncing, live, or waiting for a reset */
    s_entry_t *slots;                         /* the topic table */
    size_t cap, used;                         /* slots, and how many hold a topic */
    uint64_t epoch;                           /* the hub incarnation; 0 until a snapshot */
    int have_epoch;                           /* a snapshot reply set epoch */
    uint64_t snap_min;                        /* lowest feed_seq of this snapshot's replies */
    uint64_t last_seq;                        /* highest feed seq seen since start */
    int64_t last_hb_ms;                       /* when the last heartbeat (or start) was */
    int64_t timeout_ms;                       /* heartbeat timeout */
    uint32_t as_of;                           /* evaluation date of the held scopes */
    uint64_t syncs;                           /* resets */
    uint64_t applied;                         /* updates applied */
    uint64_t bad;                             /* undecodable bodies */
    char why[160];                            /* reason of the latest resync */
    ro_clone_event_t events[RO_CLONE_EVENTS]; /* ring of unit updates */
    size_t nevents, head;                     /* events held; next slot to write */
};

int ro_feed_topic(const char *kind, const char *id, char *buf, size_t len)
{
    int n;
    if (!kind || !id)
        return -1;
    if (!strcmp(kind, "province"))
        n = snprintf(buf, len, "province");
    else if (!strcmp(kind, "level") || !strcmp(kind, "division") || !strcmp(kind, "unit"))
        n = snprintf(buf, len, "%s/%s", kind, id);
    else
        return -1;
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

ro_clone_t *ro_clone_new(int full)
{
    ro_clone_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 64;
    self->slots = calloc(self->cap, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->full = full;
    self->timeout_ms = RO_CLONE_TIMEOUT_MS;
    return self;
}

static void s_clear(ro_clone_t *self)
{
    for (size_t i = 0; i < self->cap; i++) {
        ro_status_scope_clear(self->slots[i].scope);
        free(self->slots[i].scope);
        memset(&self->slots[i], 0, sizeof self->slots[i]);
    }
    self->used = 0;
}

void ro_clone_destroy(ro_clone_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ro_clone_t *self = *self_p;
    s_clear(self);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

/* FNV-1a of a topic, for the table. */
static size_t s_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static s_entry_t *s_find(const ro_clone_t *self, const char *topic)
{
    size_t mask = self->cap - 1;
    for (size_t i = s_hash(topic) & mask;; i = (i + 1) & mask) {
        s_entry_t *e = &self->slots[i];
        if (!e->topic[0])
            return NULL;
        if (!strcmp(e->topic, topic))
            return e;
    }
}

static int s_grow(ro_clone_t *self)
{
    size_t cap = self->cap * 2;
    s_entry_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->cap; i++) {
        s_entry_t *e = &self->slots[i];
        if (!e->topic[0])
            continue;
        size_t j = s_hash(e->topic) & (cap - 1);
        while (slots[j].topic[0])
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    free(self->slots);
    self->slots = slots;
    self->cap = cap;
    return 0;
}

/* The entry of topic, made if missing. NULL if the topic is too long or out of memory. */
static s_entry_t *s_entry(ro_clone_t *self, const char *topic)
{
    if (strlen(topic) >= RO_FEED_TOPIC_MAX)
        return NULL;
    s_entry_t *e = s_find(self, topic);
    if (e)
        return e;
    if ((self->used + 1) * 10 > self->cap * 7 && s_grow(self))
        return NULL;
    size_t mask = self->cap - 1;
    size_t i = s_hash(topic) & mask;
    while (self->slots[i].topic[0])
        i = (i + 1) & mask;
    e = &self->slots[i];
    memset(e, 0, sizeof *e);
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    self->used++;
    return e;
}

static int s_hold(s_entry_t *e, const ro_status_scope_t *s)
{
    ro_status_scope_t *copy = malloc(sizeof *copy);
    if (!copy || ro_status_scope_copy(copy, s)) {
        free(copy);
        return -1;
    }
    ro_status_scope_clear(e->scope);
    free(e->scope);
    e->scope = copy;
    return 0;
}

static ro_clone_result_t s_broken(ro_clone_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stop applying until a reset; keep the first reason. */
static ro_clone_result_t s_broken(ro_clone_t *self, const char *fmt, ...)
{
    if (self->state != S_BROKEN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(self->why, sizeof self->why, fmt, ap);
        va_end(ap);
        self->state = S_BROKEN;
    }
    return RO_CLONE_RESYNC;
}

void ro_clone_reset(ro_clone_t *self)
{
    s_clear(self);
    self->state = S_SYNCING;
    self->epoch = 0;
    self->have_epoch = 0;
    self->snap_min = 0;
    self->last_seq = 0;
    self->syncs++;
}

int ro_clone_snapshot(ro_clone_t *self, const ro_status_reply_t *reply)
{
    if (!reply || reply->status != 0 || self->state != S_SYNCING)
        return -1;
    if (self->have_epoch && reply->feed_epoch != self->epoch)
        return -1;
    if (!self->have_epoch || reply->feed_seq < self->snap_min)
        self->snap_min = reply->feed_seq;
    self->epoch = reply->feed_epoch;
    self->have_epoch = 1;
    self->as_of = reply->as_of;
    for (size_t i = 0; i < reply->n_scopes; i++) {
        const ro_status_scope_t *s = &reply->scopes[i];
        char topic[RO_FEED_TOPIC_MAX];
        if (ro_feed_topic(s->kind, s->id, topic, sizeof topic))
            continue;
        s_entry_t *e = s_entry(self, topic);
        if (!e || s_hold(e, s))
            return -1;
        e->base = e->known = reply->feed_seq;
        e->updated = 0;
    }
    return 0;
}

int ro_clone_start(ro_clone_t *self, int64_t now_ms)
{
    if (self->state != S_SYNCING || !self->have_epoch)
        return -1;
    self->last_seq = self->snap_min;
    self->last_hb_ms = now_ms;
    self->state = S_LIVE;
    self->why[0] = '\0';
    return 0;
}

static void s_event(ro_clone_t *self, const ro_feed_update_t *u)
{
    const ro_status_scope_t *s = &u->scope;
    ro_clone_event_t *ev = &self->events[self->head];
    memset(ev, 0, sizeof *ev);
    snprintf(ev->unit, sizeof ev->unit, "%s", s->id);
    /* cut a long name on a UTF-8 boundary */
    size_t n = strlen(s->name);
    if (n >= sizeof ev->name) {
        n = sizeof ev->name - 1;
        while (n > 0 && ((unsigned char)s->name[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(ev->name, s->name, n);
    ev->name[n] = '\0';
    ev->seq = u->seq;
    ev->time = u->time;
    ev->reports = s->reports;
    ev->last_seq = s->last_seq;
    snprintf(ev->grade, sizeof ev->grade, "%s", s->grade ? s->grade : "");
    self->head = (self->head + 1) % RO_CLONE_EVENTS;
    if (self->nevents < RO_CLONE_EVENTS)
        self->nevents++;
}

ro_clone_result_t ro_clone_update(ro_clone_t *self, const char *topic, const ro_feed_update_t *u,
                                  int64_t now_ms)
{
    (void)now_ms;
    if (self->state == S_BROKEN)
        return RO_CLONE_RESYNC;
    if (self->state != S_LIVE || !u || !u->has_scope)
        return RO_CLONE_SKIPPED;
    if (u->epoch < self->epoch)
        return RO_CLONE_SKIPPED; /* queued from before the hub restarted */
    if (u->epoch > self->epoch)
        return s_broken(self,
                        "new feed epoch %llu (synced to %llu): the hub restarted or reloaded "
                        "its registry",
                        (unsigned long long)u->epoch, (unsigned long long)self->epoch);
    if (u->seq <= self->snap_min)
        return RO_CLONE_SKIPPED; /* published before every snapshot reply */
    if (self->full) {
        if (u->seq <= self->last_seq)
            return RO_CLONE_SKIPPED;
        if (u->seq != self->last_seq + 1)
            return s_broken(self, "feed gap: expected seq %llu, got %llu",
                            (unsigned long long)self->last_seq + 1, (unsigned long long)u->seq);
    }
    if (u->seq > self->last_seq)
        self->last_seq = u->seq;
    s_entry_t *e = s_find(self, topic);
    uint64_t base = e ? e->known : self->snap_min;
    if (e && u->seq <= e->base)
        return RO_CLONE_SKIPPED; /* the snapshot of this topic already has it */
    if ((e && e->updated) ? u->prev_seq != base : u->prev_seq > base)
        return s_broken(self,
                        "feed gap on a topic: the update before seq %llu was %llu, never seen",
                        (unsigned long long)u->seq, (unsigned long long)u->prev_seq);
    if (!e)
        e = s_entry(self, topic);
    if (!e || s_hold(e, &u->scope))
        return s_broken(self, "out of memory at seq %llu", (unsigned long long)u->seq);
    e->known = u->seq;
    e->updated = 1;
    self->applied++;
    if (u->scope.kind && !strcmp(u->scope.kind, "unit"))
        s_event(self, u);
    return RO_CLONE_APPLIED;
}

ro_clone_result_t ro_clone_heartbeat(ro_clone_t *self, const ro_feed_heartbeat_t *hb,
                                     int64_t now_ms)
{
    if (self->state == S_BROKEN)
        return RO_CLONE_RESYNC;
    if (self->state != S_LIVE || !hb || hb->epoch < self->epoch)
        return RO_CLONE_SKIPPED;
    if (hb->epoch > self->epoch)
        return s_broken(self,
                        "new feed epoch %llu (synced to %llu): the hub restarted or reloaded "
                        "its registry",
                        (unsigned long long)hb->epoch, (unsigned long long)self->epoch);
    self->last_hb_ms = now_ms;
    int64_t t = 3 * (int64_t)hb->interval_ms;
    self->timeout_ms = t > RO_CLONE_TIMEOUT_MS ? t : RO_CLONE_TIMEOUT_MS;
    if (hb->as_of)
        self->as_of = hb->as_of;
    if (self->full && hb->seq > self->last_seq)
        return s_broken(self, "feed gap: the heartbeat says seq %llu, the last seen is %llu",
                        (unsigned long long)hb->seq, (unsigned long long)self->last_seq);
    return RO_CLONE_SKIPPED;
}

ro_clone_result_t ro_clone_tick(ro_clone_t *self, int64_t now_ms)
{
    if (self->state == S_BROKEN)
        return RO_CLONE_RESYNC;
    if (self->state != S_LIVE)
        return RO_CLONE_SKIPPED;
    if (now_ms - self->last_hb_ms > self->timeout_ms)
        return s_broken(self, "no heartbeat from the hub for %llu ms (timeout %llu ms)",
                        (unsigned long long)(now_ms - self->last_hb_ms),
                        (unsigned long long)self->timeout_ms);
    return RO_CLONE_SKIPPED;
}

ro_clone_result_t ro_clone_message(ro_clone_t *self, const void *topic, size_t topic_len,
                                   const void *body, size_t body_len, int64_t now_ms)
{
    char t[RO_FEED_TOPIC_MAX];
    if (topic_len >= sizeof t || memchr(topic, '\0', topic_len)) {
        self->bad++;
        return self->state == S_BROKEN ? RO_CLONE_RESYNC : RO_CLONE_SKIPPED;
    }
    memcpy(t, topic, topic_len);
    t[topic_len] = '\0';
    ro_clone_result_t rc;
    if (!strcmp(t, RO_FEED_HEARTBEAT)) {
        ro_feed_heartbeat_t hb;
        if (ro_feed_heartbeat_decode(body, body_len, RO_DECODE_SKIP_UNKNOWN, &hb, NULL, 0)) {
            self->bad++;
            return self->state == S_BROKEN ? RO_CLONE_RESYNC : RO_CLONE_SKIPPED;
        }
        return ro_clone_heartbeat(self, &hb, now_ms);
    }
    ro_feed_update_t u;
    if (ro_feed_update_decode(body, body_len, RO_DECODE_SKIP_UNKNOWN, &u, NULL, 0) ||
        !u.has_scope) {
        self->bad++;
        ro_feed_update_clear(&u);
        return self->state == S_BROKEN ? RO_CLONE_RESYNC : RO_CLONE_SKIPPED;
    }
    rc = ro_clone_update(self, t, &u, now_ms);
    ro_feed_update_clear(&u);
    return rc;
}

int ro_clone_synced(const ro_clone_t *self)
{
    return self->state == S_LIVE;
}

const char *ro_clone_why(const ro_clone_t *self)
{
    return self->why;
}

const ro_status_scope_t *ro_clone_scope(const ro_clone_t *self, const char *topic)
{
    const s_entry_t *e = s_find(self, topic);
    return e ? e->scope : NULL;
}

uint64_t ro_clone_epoch(const ro_clone_t *self)
{
    return self->epoch;
}

uint64_t ro_clone_seq(const ro_clone_t *self)
{
    return self->last_seq;
}

uint64_t ro_clone_syncs(const ro_clone_t *self)
{
    return self->syncs;
}

uint64_t ro_clone_applied(const ro_clone_t *self)
{
    return self->applied;
}

uint64_t ro_clone_bad(const ro_clone_t *self)
{
    return self->bad;
}

uint32_t ro_clone_as_of(const ro_clone_t *self)
{
    return self->as_of;
}

size_t ro_clone_event_count(const ro_clone_t *self)
{
    return self->nevents;
}

const ro_clone_event_t *ro_clone_event_at(const ro_clone_t *self, size_t i)
{
    if (i >= self->nevents)
        return NULL;
    return &self->events[(self->head + RO_CLONE_EVENTS - 1 - i) % RO_CLONE_EVENTS];
}
