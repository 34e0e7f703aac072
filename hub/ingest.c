/* hub_ingest: batch in, one transaction, acks out after COMMIT. A batch
 * whose commit fails is kept whole (it is bounded by batch_max) and replayed
 * from its raw bytes on retry, so the in-memory states never run ahead of
 * the store. A report dated after the hub's today (+ RO_FUTURE_SKEW) is
 * stored held and acknowledged, and released (counted) by the first batch
 * the hub's date reaches it in: nothing that time will fix is refused. Transport security is the
 * caller's socket setup; with an auth set, every message must come from a connection whose User-Id
 * is its unit and whose key is still listed (hub_auth), or it is refused as forbidden. */
#include "ingest.h"
#include "auth.h"
#include "peers.h"
#include "review.h"
#include "ro_log.h"
#include "ro_mem.h"
#include "ro_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

typedef struct {
    size_t rid_off; /* routing id in the arena */
    size_t rid_len;
    size_t body_off; /* first frame after the routing id */
    size_t body_len;
    int frames;      /* frames after the routing id */
    size_t user_off; /* the connection's User-Id in the arena (NUL-terminated) */
    size_t key_off;  /* its key (HUB_AUTH_KEY_PROPERTY), NUL-terminated */
    int has_peer;    /* the two above are set */
} s_msg_t;

/* Where a report's seq counts (REVISION-2.md, 1): its unit's legacy
 * incarnation, whose sequence is states[unit].last_seq, or another one,
 * kept in the incs table below. */
#define INC_LEGACY (-1)  /* the unit's legacy incarnation (every version-1 report) */
#define INC_UNKNOWN (-2) /* one the store has never stored under (heartbeats only) */

/* The highest protocol version ingest takes: all the codec decodes. Only a
 * test build sets it lower (rollout-hub-v1, -DHUB_SPEAKS_MAX=1): a hub that
 * answers as a revision-1 hub did, to upgrade under running agents. */
#ifndef HUB_SPEAKS_MAX
#define HUB_SPEAKS_MAX RO_PROTOCOL_VERSION
#endif

typedef struct {
    size_t unit; /* registry index */
    long inc;    /* index into incs, INC_LEGACY or INC_UNKNOWN */
    int64_t iid; /* the store's id for it; 0 when INC_UNKNOWN */
} s_ident_t;

/* One incarnation other than a unit's legacy one, met since the hub started
 * (or its last reload or failed batch): its sequence, in memory like the
 * legacy ones in states[]. */
typedef struct {
    uint32_t unit;                  /* registry index */
    uint8_t id[RO_INCARNATION_LEN]; /* the incarnation */
    int64_t iid;                    /* the store's id for it */
    uint64_t last_seq;              /* every seq up to it is stored or refused */
    uint64_t hash;                  /* content hash at last_seq; 0 not known yet */
    int contested;                  /* two outboxes were found using it (s_contested) */
} s_inc_t;

typedef struct {
    hub_ingest_reply_t r; /* what goes out */
    long unit;            /* acks: registry index whose last_seq is sent; else -1 */
    long inc;             /* acks: whose sequence (s_ident_t.inc) */
    int v2;               /* to a version-2 message: the version-2 fields go too */
} s_reply_t;

typedef struct {
    uint32_t msg;  /* message whose routing id this is */
    uint32_t next; /* next pair of the same unit, or UINT32_MAX */
    long inc;      /* the sequence it hears of */
    int v2;        /* in version 2 */
} s_pair_t;

/* The report a unit's snapshot of one kind counted now came from: its
 * incarnation's iid (0: not known) and when it was received. */
typedef struct {
    int64_t iid;
    int64_t at;
} s_snap_t;

struct hub_ingest {
    hub_store_t *store;       /* borrowed */
    const hub_auth_t *auth;   /* borrowed; NULL: no per-message key check (plain TCP) */
    hub_peers_t *peers;       /* borrowed, may be NULL: told who delivered a message */
    const hub_review_t *rv;   /* borrowed, may be NULL: the [review] rules */
    const ro_registry_t *reg; /* borrowed */
    hub_unit_state_t *states; /* borrowed, one per registry unit */
    size_t nunits;            /* registry count */
    size_t batch_max;         /* messages per batch */

    s_msg_t *msgs; /* the batch in hand */
    size_t nmsgs;
    uint8_t *arena; /* routing ids and bodies of the batch */
    size_t used, cap;
    int done;        /* replies are out: the next add starts afresh */
    int held;        /* the batch failed to commit; retry it */
    int need_reload; /* states must be reloaded before the next try */
    int marks_due;   /* the units' marks could not be loaded: again at the next batch */
    int marks_late;  /* they were, late: every unit changes with the next batch */

    s_reply_t *refusals; /* replies of the last flush: refusals... */
    size_t nrefusals;
    s_reply_t *acks; /* ...then acks */
    size_t nacks;

    uint32_t gen;         /* batch generation, stamps the per-unit marks */
    uint32_t *touch_gen;  /* per unit: gen of its pair list */
    uint32_t *touch_head; /* per unit: first pair (peers to ack) */
    s_pair_t *pairs;      /* (peer, unit) pairs of this batch */
    size_t npairs;
    uint32_t *dirty_gen;     /* per unit: gen when its row must be written */
    uint32_t *dirty;         /* units to write this batch */
    uint8_t *dirty_busy;     /* each: its unit was written by the batch before too */
    int quiet;               /* no batch before, as far as dirty_busy goes (hub_ingest_quiet) */
    hub_unit_flags_t *flags; /* per unit: what the store does not keep (gaps), published */
    size_t ndirty;

    /* incarnations other than the legacy ones (version 2): a table, an
     * open-addressed index of it by (unit, incarnation), and each unit's
     * legacy content hash at last_seq (0: not known) */
    s_inc_t *incs;
    size_t nincs, capincs;
    uint32_t *slots; /* index + 1 into incs, 0 empty; nslots a power of two */
    size_t nslots;
    uint64_t *lhash;     /* per unit */
    uint8_t *lcontested; /* per unit: its legacy incarnation is contested (s_contested) */
    s_snap_t *snap;      /* per unit and snapshot kind (staff, items, cases): whence the
                            snapshot counted now came (s_snap_t) */
    uint8_t store_id[HUB_STORE_ID_LEN];

    hub_ingest_counters_t c;    /* counters and store state, as published */
    int64_t next_retry_ms;      /* monotonic time of the next retry */
    uint64_t retries;           /* retries of the held batch */
    hub_committed_t *committed; /* borrowed, may be NULL: where batches are published */
    ro_ratelimit_t rl_refuse;   /* refusal, conflict and held log lines */
    ro_ratelimit_t rl_store;    /* store failure log lines */
    ro_ratelimit_t rl_flag;     /* a unit flagged or cleared (store behind, skew, two agents) */

    /* Reports held until their date (clock): the committed count and the
     * earliest day one is due (0: none), known without a query at each
     * batch; and what the batch in hand changes, applied once committed. */
    int held_known;         /* held_clock and held_due were read from the store */
    uint64_t held_clock;    /* reports held now */
    uint32_t held_due;      /* the earliest ro_report_due among them, 0 if none */
    int b_released;         /* this batch ran a release: b_count and b_due replace them */
    uint64_t b_count;       /* held after the release (before this batch's holds) */
    uint32_t b_due;         /* their earliest due day */
    uint64_t b_held;        /* reports this batch held */
    uint64_t b_unheld;      /* held reports this batch's corrections amended or cancelled */
    uint32_t b_held_due;    /* their earliest due day, 0 if none */
    long b_release_reports; /* reports this batch released */
    size_t b_release_units; /* of how many units */
};

#define NO_PAIR UINT32_MAX
#define RETRY_MS 1000
#define BATCH_BYTES_MAX (32u << 20) /* a batch also ends at this many bytes in hand */

/* Readers in other threads see units, counters and the store's state
 * only through committed: publish what changed (units: n registry
 * indices; n = 0, the counters alone). */
static void s_publish(hub_ingest_t *self, const uint32_t *units, size_t n)
{
    self->c.held_clock = self->held_clock;
    self->c.held_messages = self->held ? self->nmsgs : 0;
    if (self->committed)
        hub_committed_publish(self->committed, units, n, self->states, self->flags, &self->c);
}

/* ---- incarnations (version 2) ------------------------------------------ */

static size_t s_inc_slot(const hub_ingest_t *self, size_t unit, const uint8_t *id)
{
    uint64_t h = 1469598103934665603ull ^ unit;
    for (int i = 0; i < RO_INCARNATION_LEN; i++)
        h = (h ^ id[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (self->nslots - 1);
}

/* incs' index of unit's incarnation id, or -1. */
static long s_inc_find(const hub_ingest_t *self, size_t unit, const uint8_t *id)
{
    if (!self->nslots)
        return -1;
    for (size_t i = s_inc_slot(self, unit, id);; i = (i + 1) & (self->nslots - 1)) {
        uint32_t v = self->slots[i];
        if (!v)
            return -1;
        const s_inc_t *e = &self->incs[v - 1];
        if (e->unit == unit && memcmp(e->id, id, RO_INCARNATION_LEN) == 0)
            return (long)v - 1;
    }
}

/* Index every entry again into a table of nslots slots. */
static int s_inc_rehash(hub_ingest_t *self, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    free(self->slots);
    self->slots = slots;
    self->nslots = nslots;
    for (size_t k = 0; k < self->nincs; k++) {
        size_t i = s_inc_slot(self, self->incs[k].unit, self->incs[k].id);
        while (self->slots[i])
            i = (i + 1) & (nslots - 1);
        self->slots[i] = (uint32_t)k + 1;
    }
    return 0;
}

/* Add a new entry; returns its index, or -1 when out of memory. */
static long s_inc_add(hub_ingest_t *self, size_t unit, const uint8_t *id, int64_t iid,
                      uint64_t last_seq)
{
    if (self->nincs == self->capincs) {
        size_t cap = self->capincs ? 2 * self->capincs : 64;
        s_inc_t *incs = realloc(self->incs, cap * sizeof *incs);
        if (!incs)
            return -1;
        self->incs = incs;
        self->capincs = cap;
    }
    if (2 * (self->nincs + 1) > self->nslots &&
        s_inc_rehash(self, self->nslots ? 2 * self->nslots : 128))
        return -1;
    s_inc_t *e = &self->incs[self->nincs];
    memset(e, 0, sizeof *e);
    e->unit = (uint32_t)unit;
    memcpy(e->id, id, RO_INCARNATION_LEN);
    e->iid = iid;
    e->last_seq = last_seq;
    size_t i = s_inc_slot(self, unit, id);
    while (self->slots[i])
        i = (i + 1) & (self->nslots - 1);
    self->slots[i] = (uint32_t)self->nincs + 1;
    return (long)self->nincs++;
}

/* After a failed batch (the entries may have run ahead of the store) or a
 * reload (they are keyed by registry index): forget them all, and the
 * legacy hashes; they are read again from the store as they are met. */
static void s_incs_forget(hub_ingest_t *self)
{
    self->nincs = 0;
    if (self->slots)
        memset(self->slots, 0, self->nslots * sizeof *self->slots);
    memset(self->lhash, 0, (self->nunits ? self->nunits : 1) * sizeof *self->lhash);
    memset(self->snap, 0, 3 * (self->nunits ? self->nunits : 1) * sizeof *self->snap);
}

static int s_legacy(const uint8_t *id)
{
    static const uint8_t zero[RO_INCARNATION_LEN];
    return !id || memcmp(id, zero, RO_INCARNATION_LEN) == 0;
}

/* Where unit's incarnation id (NULL or zero: legacy) counts. One the store
 * does not know is added to it when create is set (a report), else it is
 * INC_UNKNOWN (a heartbeat: a peer cannot grow the store with those).
 * Returns 0 or a store code. */
static int s_ident(hub_ingest_t *self, size_t unit, const uint8_t *id, int create, int64_t now,
                   s_ident_t *out, char *err, size_t errlen)
{
    out->unit = unit;
    out->inc = INC_LEGACY;
    out->iid = 0;
    if (s_legacy(id)) {
        if (!create)
            return 0;
        out->iid = hub_store_incarnation(self->store, unit, NULL, now, err, errlen);
        return out->iid < 0 ? (int)out->iid : 0;
    }
    long k = s_inc_find(self, unit, id);
    if (k < 0) {
        uint64_t last = 0;
        int64_t iid = hub_store_incarnation_find(self->store, unit, id, &last, err, errlen);
        if (iid == 0 && create)
            iid = hub_store_incarnation(self->store, unit, id, now, err, errlen);
        if (iid < 0)
            return (int)iid;
        if (iid == 0) {
            out->inc = INC_UNKNOWN;
            return 0;
        }
        if ((k = s_inc_add(self, unit, id, iid, last)) < 0) {
            snprintf(err, errlen, "out of memory");
            return HUB_STORE_EFAIL;
        }
    }
    out->inc = k;
    out->iid = self->incs[k].iid;
    return 0;
}

static uint64_t s_last(const hub_ingest_t *self, size_t unit, long inc)
{
    if (inc == INC_LEGACY)
        return self->states[unit].last_seq;
    return inc >= 0 ? self->incs[inc].last_seq : 0;
}

/* The content hash of the report or refusal at last_seq (0 when none): one
 * index seek the first time, then kept until last_seq moves. */
static uint64_t s_last_hash(hub_ingest_t *self, size_t unit, long inc)
{
    if (inc == INC_UNKNOWN)
        return 0;
    uint64_t *hash = inc == INC_LEGACY ? &self->lhash[unit] : &self->incs[inc].hash;
    uint64_t last = s_last(self, unit, inc);
    if (*hash == 0 && last > 0) {
        int64_t iid = inc == INC_LEGACY ? hub_store_incarnation(self->store, unit, NULL, 0, NULL, 0)
                                        : self->incs[inc].iid;
        if (iid > 0 && hub_store_find(self->store, unit, iid, last, hash, NULL, NULL, 0) <= 0)
            *hash = 0;
    }
    return *hash;
}

/* Publish the number of units each flag is set for, counted afresh. */
static void s_flags_count(hub_ingest_t *self)
{
    self->c.behind_units = self->c.skewed_agents = self->c.two_agent_units = 0;
    for (size_t u = 0; u < self->nunits; u++) {
        self->c.behind_units += self->flags[u].behind_since != 0;
        self->c.skewed_agents += self->flags[u].skew_since != 0;
        self->c.two_agent_units += self->flags[u].two_since != 0;
    }
}

/* A hub_store_problems callback: a unit's latest refusal flags it. */
static int s_refused_seed(void *arg, const hub_store_problem_t *p)
{
    hub_ingest_t *self = arg;
    long u = p->held ? -1 : ro_registry_find(self->reg, p->unit);
    if (u >= 0)
        self->flags[u].refused_at = p->at;
    return 0;
}

/* What each unit's figures rest on now (corrected, held for review,
 * rejected per kind), from the store's trail (at start, after a reload, and
 * after a failed batch whose flags and corrections were rolled back); then
 * kept as ingest corrects, flags and decides. Failing (only with the
 * store's trouble), the counts stay as they were and marks_due asks for
 * them again at the next batch. Returns 0 or -1. */
static int s_marks_load(hub_ingest_t *self)
{
    hub_unit_marks_t *m = ro_calloc_big(self->nunits, sizeof *m);
    char err[256] = "";
    if (!m || hub_store_marks(self->store, self->reg, 99991231, 0, m, NULL, err, sizeof err) != 0) {
        if (!self->marks_due)
            ro_log(LOG_WARNING,
                   "cannot count what the units' figures rest on (corrected, held, rejected): %s; "
                   "trying again at the next batch",
                   m ? err : "out of memory");
        free(m);
        self->marks_due = 1;
        return -1;
    }
    for (size_t i = 0; i < self->nunits; i++) /* a page not written stays unmapped */
        if (memcmp(&self->flags[i].marks, &m[i], sizeof m[i]) != 0)
            self->flags[i].marks = m[i];
    free(m);
    self->marks_late |= self->marks_due;
    self->marks_due = 0;
    return 0;
}

/* n less of count, never below 0 (a count loaded while the store failed). */
static void s_less(uint32_t *count)
{
    if (*count)
        (*count)--;
}

hub_ingest_t *hub_ingest_new(hub_store_t *store, const ro_registry_t *reg, hub_unit_state_t *states,
                             int batch_max)
{
    if (!store || !reg || !states || batch_max < 1)
        return NULL;
    hub_ingest_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->reg = reg;
    self->states = states;
    self->nunits = ro_registry_count(reg);
    self->batch_max = (size_t)batch_max;
    size_t nu = self->nunits ? self->nunits : 1;
    self->msgs = calloc(self->batch_max, sizeof *self->msgs);
    self->refusals = calloc(self->batch_max, sizeof *self->refusals);
    self->acks = calloc(self->batch_max, sizeof *self->acks);
    self->pairs = calloc(self->batch_max, sizeof *self->pairs);
    self->touch_gen = calloc(nu, sizeof *self->touch_gen);
    self->touch_head = calloc(nu, sizeof *self->touch_head);
    self->dirty_gen = calloc(nu, sizeof *self->dirty_gen);
    self->dirty = calloc(nu, sizeof *self->dirty);
    self->dirty_busy = calloc(nu, sizeof *self->dirty_busy);
    self->flags = ro_calloc_big(nu, sizeof *self->flags);
    self->lhash = calloc(nu, sizeof *self->lhash);
    self->lcontested = calloc(nu, sizeof *self->lcontested);
    self->snap = ro_calloc_big(3 * nu, sizeof *self->snap);
    if (!self->snap || !self->msgs || !self->refusals || !self->acks || !self->pairs ||
        !self->touch_gen || !self->touch_head || !self->dirty_gen || !self->dirty ||
        !self->dirty_busy || !self->flags || !self->lhash || !self->lcontested) {
        hub_ingest_destroy(&self);
        return NULL;
    }
    ro_ratelimit_init(&self->rl_refuse, 10, 1);
    ro_ratelimit_init(&self->rl_store, 1, 1.0 / 30);
    ro_ratelimit_init(&self->rl_flag, 20, 1.0 / 6);
    hub_store_id(store, self->store_id);
    /* failing here, the first batch reads it inside its transaction */
    self->held_known = hub_store_held(store, &self->held_clock, &self->held_due, NULL, 0) == 0;
    self->c.held_clock = self->held_clock;
    /* the refusals of the last days flag their units, as before the start;
     * failing (only with the store's trouble), the units go unflagged */
    hub_store_problems(store, time(NULL) - (int64_t)HUB_REFUSED_DAYS * 86400, s_refused_seed, self,
                       NULL, 0);
    s_marks_load(self);
    return self;
}

void hub_ingest_destroy(hub_ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_ingest_t *self = *self_p;
    free(self->msgs);
    free(self->arena);
    free(self->refusals);
    free(self->acks);
    free(self->pairs);
    free(self->touch_gen);
    free(self->touch_head);
    free(self->dirty_gen);
    free(self->dirty);
    free(self->dirty_busy);
    free(self->flags);
    free(self->incs);
    free(self->slots);
    free(self->lhash);
    free(self->lcontested);
    free(self->snap);
    free(self);
    *self_p = NULL;
}

static void s_reset_batch(hub_ingest_t *self)
{
    self->nmsgs = 0;
    self->used = 0;
    self->nrefusals = 0;
    self->nacks = 0;
    self->done = 0;
}

static int s_reserve(hub_ingest_t *self, size_t more)
{
    if (self->used + more <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap : 64 * 1024;
    while (cap < self->used + more)
        cap *= 2;
    uint8_t *a = realloc(self->arena, cap);
    if (!a)
        return -1;
    self->arena = a;
    self->cap = cap;
    return 0;
}

void hub_ingest_set_auth(hub_ingest_t *self, const hub_auth_t *auth)
{
    self->auth = auth;
}

void hub_ingest_set_review(hub_ingest_t *self, const hub_review_t *review)
{
    self->rv = review;
}

void hub_ingest_set_peers(hub_ingest_t *self, hub_peers_t *peers)
{
    self->peers = peers;
}

void hub_ingest_set_committed(hub_ingest_t *self, hub_committed_t *committed)
{
    self->committed = committed;
    /* the held reports it counted at start, and the units its refusals flag
     * or whose figures rest on corrected, held or rejected reports */
    static const hub_unit_marks_t none;
    size_t n = 0;
    for (size_t u = 0; u < self->nunits; u++)
        if (self->flags[u].refused_at || memcmp(&self->flags[u].marks, &none, sizeof none) != 0)
            self->dirty[n++] = (uint32_t)u;
    s_publish(self, self->dirty, n);
}

int hub_ingest_set_registry(hub_ingest_t *self, const ro_registry_t *reg, hub_unit_state_t *states)
{
    if (!reg || !states || self->held || hub_ingest_pending(self) > 0)
        return -1;
    size_t n = ro_registry_count(reg), nu = n ? n : 1;
    uint32_t *touch_gen = calloc(nu, sizeof *touch_gen);
    uint32_t *touch_head = calloc(nu, sizeof *touch_head);
    uint32_t *dirty_gen = calloc(nu, sizeof *dirty_gen);
    uint32_t *dirty = calloc(nu, sizeof *dirty);
    uint8_t *dirty_busy = calloc(nu, sizeof *dirty_busy);
    hub_unit_flags_t *flags = ro_calloc_big(nu, sizeof *flags);
    uint64_t *lhash = calloc(nu, sizeof *lhash);
    uint8_t *lcontested = calloc(nu, sizeof *lcontested);
    s_snap_t *snap = ro_calloc_big(3 * nu, sizeof *snap);
    if (!touch_gen || !touch_head || !dirty_gen || !dirty || !dirty_busy || !flags || !lhash ||
        !lcontested || !snap) {
        free(touch_gen);
        free(touch_head);
        free(dirty_gen);
        free(dirty);
        free(dirty_busy);
        free(flags);
        free(lhash);
        free(lcontested);
        free(snap);
        return -1;
    }
    free(self->touch_gen);
    free(self->touch_head);
    free(self->dirty_gen);
    free(self->dirty);
    free(self->dirty_busy);
    hub_unit_flags_carry(self->reg, self->flags, reg, flags);
    free(self->flags);
    free(self->lhash);
    self->lhash = lhash;
    free(self->lcontested);
    self->lcontested = lcontested;
    free(self->snap);
    self->snap = snap;
    self->touch_gen = touch_gen;
    self->touch_head = touch_head;
    self->dirty_gen = dirty_gen;
    self->dirty = dirty;
    self->dirty_busy = dirty_busy;
    self->flags = flags;
    self->reg = reg;
    self->states = states;
    self->nunits = n;
    self->gen = 0;    /* the fresh stamps are 0: the next batch's 1 differs */
    self->ndirty = 0; /* the last batch's indices were the old registry's */
    self->npairs = 0;
    s_incs_forget(self); /* keyed by the old indices: read again from the store */
    s_flags_count(self);
    s_marks_load(self);
    return 0;
}

int hub_ingest_add(hub_ingest_t *self, const void *rid, size_t rid_len, const void *body,
                   size_t body_len, int frames)
{
    return hub_ingest_add_peer(self, rid, rid_len, body, body_len, frames, NULL, NULL);
}

int hub_ingest_add_peer(hub_ingest_t *self, const void *rid, size_t rid_len, const void *body,
                        size_t body_len, int frames, const char *user_id, const char *key)
{
    if (self->held)
        return -1;
    if (self->done)
        s_reset_batch(self);
    if (self->nmsgs >= self->batch_max)
        return -1;
    if (rid_len > HUB_RID_MAX)
        rid_len = HUB_RID_MAX;
    /* one byte past the limit is enough for the decoder to refuse it */
    if (body_len > RO_FRAME_MAX + 1)
        body_len = RO_FRAME_MAX + 1;
    size_t user_len = 0, key_len = 0;
    if (user_id && key) {
        user_len = strnlen(user_id, HUB_AUTH_USER_ID_MAX);
        key_len = strnlen(key, RO_KEY_Z85_LEN);
    }
    if (s_reserve(self, rid_len + body_len + user_len + key_len + 2))
        return -1;
    s_msg_t *m = &self->msgs[self->nmsgs++];
    m->rid_off = self->used;
    m->rid_len = rid_len;
    if (rid_len)
        memcpy(self->arena + self->used, rid, rid_len);
    self->used += rid_len;
    m->body_off = self->used;
    m->body_len = body_len;
    if (body_len)
        memcpy(self->arena + self->used, body, body_len);
    self->used += body_len;
    m->frames = frames;
    m->has_peer = user_id && key;
    m->user_off = self->used;
    memcpy(self->arena + self->used, user_id ? user_id : "", user_len);
    self->arena[self->used + user_len] = '\0';
    self->used += user_len + 1;
    m->key_off = self->used;
    memcpy(self->arena + self->used, key ? key : "", key_len);
    self->arena[self->used + key_len] = '\0';
    self->used += key_len + 1;
    return 0;
}

/* Queue a refusal to the peer of message mi (not counted: s_refuse counts). */
static void s_refusal(hub_ingest_t *self, size_t mi, const char *unit, uint64_t seq,
                      ro_reason_t reason, const char *text)
{
    s_reply_t *out = &self->refusals[self->nrefusals++];
    const s_msg_t *m = &self->msgs[mi];
    memset(out, 0, sizeof *out);
    out->unit = -1;
    out->r.rid = self->arena + m->rid_off;
    out->r.rid_len = m->rid_len;
    out->r.msg.kind = RO_HUBMSG_REFUSAL;
    snprintf(out->r.msg.unit, sizeof out->r.msg.unit, "%s", unit);
    out->r.msg.seq = seq;
    out->r.msg.reason = reason;
    snprintf(out->r.msg.text, sizeof out->r.msg.text, "%s", text);
}

static void s_refuse(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, const char *unit,
                     uint64_t seq, ro_reason_t reason, const char *text)
{
    s_refusal(self, mi, unit, seq, reason, text);
    if (seq == 0 && reason == RO_REASON_UNKNOWN_UNIT)
        d->heartbeats_refused++; /* not a report: kept out of the report refusals */
    else if ((unsigned)reason < RO_REASON_COUNT)
        d->refused[reason]++;
    if (ro_log_allow(&self->rl_refuse))
        ro_log(LOG_WARNING, "refused %s seq %llu: %s: %s", unit[0] ? unit : "(undecodable)",
               (unsigned long long)seq, ro_reason_name(reason), text);
}

/* The refusal just queued answers version-2 report r: it names r's incarnation. */
static void s_refusal_v2(hub_ingest_t *self, const ro_report_t *r)
{
    if (r->version >= 2)
        memcpy(self->refusals[self->nrefusals - 1].r.msg.incarnation, r->incarnation,
               RO_INCARNATION_LEN);
}

/* Queue an ack of id's sequence to the peer of message mi; its upto (and,
 * in version 2, its hash) are filled in once the batch is committed. */
static s_reply_t *s_ack(hub_ingest_t *self, size_t mi, const s_ident_t *id, const ro_report_t *r)
{
    s_reply_t *out = &self->acks[self->nacks++];
    const s_msg_t *m = &self->msgs[mi];
    memset(out, 0, sizeof *out);
    out->unit = (long)id->unit;
    out->inc = id->inc;
    out->v2 = r->version >= 2;
    out->r.rid = self->arena + m->rid_off;
    out->r.rid_len = m->rid_len;
    out->r.msg.kind = RO_HUBMSG_ACK;
    snprintf(out->r.msg.unit, sizeof out->r.msg.unit, "%s",
             ro_registry_at(self->reg, id->unit)->id);
    if (out->v2)
        memcpy(out->r.msg.incarnation, r->incarnation, RO_INCARNATION_LEN);
    return out;
}

/* Remember that the peer of message mi should hear id's ack once. */
static void s_touch(hub_ingest_t *self, size_t mi, const s_ident_t *id, const ro_report_t *r)
{
    const s_msg_t *m = &self->msgs[mi];
    size_t unit = id->unit;
    int v2 = r->version >= 2;
    if (self->touch_gen[unit] != self->gen) {
        self->touch_gen[unit] = self->gen;
        self->touch_head[unit] = NO_PAIR;
    }
    /* heartbeats of incarnations the store never held all have INC_UNKNOWN:
     * each gets its own ack, which names it */
    for (uint32_t p = self->touch_head[unit]; p != NO_PAIR && id->inc != INC_UNKNOWN;
         p = self->pairs[p].next) {
        const s_msg_t *o = &self->msgs[self->pairs[p].msg];
        if (self->pairs[p].inc == id->inc && self->pairs[p].v2 == v2 && o->rid_len == m->rid_len &&
            memcmp(self->arena + o->rid_off, self->arena + m->rid_off, m->rid_len) == 0)
            return;
    }
    s_pair_t *pair = &self->pairs[self->npairs];
    pair->msg = (uint32_t)mi;
    pair->inc = id->inc;
    pair->v2 = v2;
    pair->next = self->touch_head[unit];
    self->touch_head[unit] = (uint32_t)self->npairs++;
    s_ack(self, mi, id, r);
}

static void s_dirty(hub_ingest_t *self, size_t unit)
{
    if (self->dirty_gen[unit] != self->gen) {
        /* 0: never, or not since the stamps were cleared */
        self->dirty_busy[self->ndirty] =
            !self->quiet && self->dirty_gen[unit] && self->dirty_gen[unit] + 1 == self->gen;
        self->dirty_gen[unit] = self->gen;
        self->dirty[self->ndirty++] = (uint32_t)unit;
    }
}

/* id handled seq, its next one, whose content hash is hash (0: not known):
 * a gap its unit had is behind it. Nothing to write: the report or refusal
 * stored under seq is what the store's last_seq is read from
 * (INC_LAST_SEQ). */
static void s_moved_on(hub_ingest_t *self, const s_ident_t *id, uint64_t seq, uint64_t hash)
{
    self->flags[id->unit].gap_since = 0;
    if (id->inc == INC_LEGACY) {
        self->states[id->unit].last_seq = seq;
        self->lhash[id->unit] = hash;
        return;
    }
    s_inc_t *e = &self->incs[id->inc];
    e->last_seq = seq;
    e->hash = hash;
}

/* Another outbox was found using id (another report under one of its
 * seqs). From then on no version-2 report beyond its last_seq is taken
 * under it: each outbox that sends one draws a new incarnation, so no
 * report of either is stored under an identity they share, where a report
 * the other one then sends again under its new identity would count twice.
 * Kept in memory: an outbox that heard the refusal has moved on already. */
static void s_contest(hub_ingest_t *self, const s_ident_t *id)
{
    if (id->inc == INC_LEGACY)
        self->lcontested[id->unit] = 1;
    else if (id->inc >= 0)
        self->incs[id->inc].contested = 1;
}

static int s_contested(const hub_ingest_t *self, const s_ident_t *id)
{
    if (id->inc == INC_LEGACY)
        return self->lcontested[id->unit];
    return id->inc >= 0 && self->incs[id->inc].contested;
}

/* A report beyond its sequence's next seq: not stored; the ack tells the
 * agent where to resume, and the unit is flagged until it moves on (PROBLEMS). */
static int s_gap(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, const s_ident_t *id,
                 const ro_report_t *r, int64_t now)
{
    d->gaps++;
    hub_unit_flags_t *fl = &self->flags[id->unit];
    if (!fl->gap_since)
        fl->gap_since = now;
    fl->gap_seq = r->seq;
    fl->gap_next = s_last(self, id->unit, id->inc) + 1;
    s_touch(self, mi, id, r);
    return 0;
}

/* A report at or below its sequence's last seq: the same report again, or
 * another one under the same identity (version 1: a conflict, final;
 * version 2: another outbox holds this identity, and the agent answers by
 * drawing a new one). */
static int s_older(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, const s_ident_t *id,
                   const ro_report_t *r, uint64_t hash, char *err, size_t errlen)
{
    uint64_t stored = 0;
    ro_reason_t reason = RO_REASON_NONE;
    char text[RO_TEXT_MAX + 1] = "";
    int found =
        hub_store_find(self->store, id->unit, id->iid, r->seq, &stored, &reason, text, sizeof text);
    if (found < 0) {
        snprintf(err, errlen, "cannot look up %s seq %llu", r->unit, (unsigned long long)r->seq);
        return found;
    }
    /* hash 0: a refusal recorded before content hashes (schema 1) matches any */
    if (found && stored != hash && stored != 0) {
        char why[RO_TEXT_MAX + 1];
        d->conflicts++;
        if (r->version >= 2) {
            snprintf(why, sizeof why,
                     "seq %llu of this incarnation is already %s with another report: another "
                     "outbox speaks under the same identity; draw a new one",
                     (unsigned long long)r->seq, found == 1 ? "stored" : "refused");
            s_refuse(self, d, mi, r->unit, r->seq, RO_REASON_IDENTITY, why);
            s_refusal_v2(self, r);
            s_contest(self, id);
        } else {
            snprintf(why, sizeof why, "seq %llu is already %s with a different body",
                     (unsigned long long)r->seq, found == 1 ? "stored" : "refused");
            s_refuse(self, d, mi, r->unit, r->seq, RO_REASON_CONFLICT, why);
        }
        s_touch(self, mi, id, r);
        return 0;
    }
    if (!found && ro_log_allow(&self->rl_refuse))
        ro_log(LOG_WARNING,
               "%s seq %llu is at or below last seq %llu but not in the store;"
               " taken as a duplicate",
               r->unit, (unsigned long long)r->seq,
               (unsigned long long)s_last(self, id->unit, id->inc));
    d->duplicates++;
    if (found == 2) {
        /* the agent may have missed the refusal: say it again (not counted twice) */
        s_refusal(self, mi, r->unit, r->seq, reason, text);
        s_refusal_v2(self, r);
    }
    /* a resend means the peer missed an ack: answer each one, and in
     * version 2 say which report it was, so an agent whose ack was lost
     * with its copy knows this one is in */
    s_reply_t *ack = s_ack(self, mi, id, r);
    if (ack->v2 && found == 1)
        ack->r.msg.seen = r->seq;
    return 0;
}

/* True (with why) unless message m came over a connection whose User-Id is
 * unit and whose key the allow-list still binds to it. Checked per message,
 * because ZAP only runs at handshake: a key revoked by a reload must stop
 * working on connections it already has. */
static int s_forbidden(const hub_ingest_t *self, const s_msg_t *m, const char *unit, char *why,
                       size_t whylen)
{
    const char *user = (const char *)self->arena + m->user_off;
    const char *key = (const char *)self->arena + m->key_off;
    if (!m->has_peer || !user[0]) {
        snprintf(why, whylen, "connection without an authenticated unit");
        return 1;
    }
    if (strcmp(user, unit) != 0) {
        snprintf(why, whylen, "this connection's key speaks for %.48s, not %s", user, unit);
        return 1;
    }
    if (!hub_auth_admits(self->auth, HUB_AUTH_UNIT, user, key)) {
        snprintf(why, whylen, "the key of %s is no longer on the hub's allow-list", unit);
        return 1;
    }
    return 0;
}

/* True when message m comes with the User-Id and key of a message that
 * this batch already admitted for unit (a registry index, or -1): the
 * unit's latest pair. The verdict is the allow-list's on those two strings,
 * so it is spared a lookup in a list of every unit's key; a batch tried
 * again (after a reload) starts with no pairs. */
static int s_admitted(const hub_ingest_t *self, const s_msg_t *m, long unit)
{
    if (unit < 0 || self->touch_gen[unit] != self->gen || self->touch_head[unit] == NO_PAIR)
        return 0;
    const s_msg_t *o = &self->msgs[self->pairs[self->touch_head[unit]].msg];
    const char *a = (const char *)self->arena;
    return m->has_peer && o->has_peer && strcmp(a + m->user_off, a + o->user_off) == 0 &&
           strcmp(a + m->key_off, a + o->key_off) == 0;
}

/* "2019-01-04", or "2019-02" for a month. */
static void s_day_text(uint32_t date, int month, char *out, size_t len)
{
    if (month)
        snprintf(out, len, "%04u-%02u", date / 100, date % 100);
    else
        snprintf(out, len, "%04u-%02u-%02u", date / 10000, date / 100 % 100, date % 100);
}

/* Report r was just stored held: count it for this batch, and say so. */
static void s_held(hub_ingest_t *self, const ro_report_t *r, int64_t now)
{
    uint32_t due = ro_report_due(r);
    self->b_held++;
    if (self->b_held_due == 0 || due < self->b_held_due)
        self->b_held_due = due;
    if (!ro_log_allow(&self->rl_refuse))
        return;
    char date[16], today[16];
    s_day_text(r->date, r->kind == RO_KIND_CASES, date, sizeof date);
    s_day_text(ro_date_of(now), 0, today, sizeof today);
    ro_log(LOG_WARNING,
           "held %s seq %llu: dated %s, after the hub's today %s + 1 day; stored and acknowledged, "
           "counted when the hub's date reaches it; the hub's clock may be behind",
           r->unit, (unsigned long long)r->seq, date, today);
}

/* At the start of a batch's transaction: release the held reports whose
 * date the hub's has reached (the same tolerance that held them), re-derive
 * their units' aggregates from the counted reports, and mark those units
 * to be written and published. Cheap when nothing is due: no query. */
static int s_release(hub_ingest_t *self, int64_t now, char *err, size_t errlen)
{
    if (!self->held_known) {
        int rc = hub_store_held(self->store, &self->b_count, &self->b_due, err, errlen);
        if (rc)
            return rc;
        self->b_released = 1; /* applied at commit, like a release */
    }
    uint32_t due = self->b_released ? self->b_due : self->held_due;
    uint32_t latest = ro_date_of(now + RO_FUTURE_SKEW);
    if (due == 0 || due > latest)
        return 0;
    uint32_t *changed = malloc((self->nunits ? self->nunits : 1) * sizeof *changed);
    if (!changed) {
        snprintf(err, errlen, "out of memory");
        return HUB_STORE_EFAIL;
    }
    size_t n = 0;
    long released =
        hub_store_release(self->store, latest, now, self->states, changed, &n, err, errlen);
    for (size_t i = 0; released >= 0 && i < n; i++) {
        s_dirty(self, changed[i]);
        memset(&self->snap[3 * changed[i]], 0, 3 * sizeof *self->snap); /* refolded */
    }
    free(changed);
    if (released < 0)
        return (int)released;
    self->b_released = 1;
    self->b_release_reports = released;
    self->b_release_units = n;
    return hub_store_held(self->store, &self->b_count, &self->b_due, err, errlen);
}

/* Once committed: what the batch held and released becomes the state. */
static void s_held_commit(hub_ingest_t *self)
{
    if (self->b_released) {
        self->held_clock = self->b_count;
        self->held_due = self->b_due;
        self->held_known = 1;
    }
    self->held_clock += self->b_held;
    self->held_clock -= self->b_unheld < self->held_clock ? self->b_unheld : self->held_clock;
    if (self->b_held_due && (self->held_due == 0 || self->b_held_due < self->held_due))
        self->held_due = self->b_held_due;
    if (self->b_release_reports > 0)
        ro_log(LOG_NOTICE,
               "released %ld held report%s of %zu unit%s: the hub's date reached theirs; "
               "%llu still held",
               self->b_release_reports, self->b_release_reports == 1 ? "" : "s",
               self->b_release_units, self->b_release_units == 1 ? "" : "s",
               (unsigned long long)self->held_clock);
}

/* How a message makes its incarnation heard (two agents, PROTOCOL.md 5.9). */
enum {
    S_HEARD_NOT = 0,   /* an earlier incarnation's heartbeat: no agent records in it */
    S_HEARD_KEEP = 1,  /* a report: keeps an incarnation heard, adds none */
    S_HEARD_AGENT = 2, /* a heartbeat of the incarnation its agent records in */
};

/* How r makes its incarnation heard: a heartbeat without the agent's
 * clock (version 2) is an earlier incarnation's. */
static int s_heard_how(const ro_report_t *r)
{
    if (r->kind != RO_KIND_HEARTBEAT)
        return S_HEARD_KEEP;
    return r->version < 2 || r->agent_time ? S_HEARD_AGENT : S_HEARD_NOT;
}

/* A message of incarnation id (NULL: legacy), heard as `how` says: two
 * incarnations their agents said they record in (a heartbeat with the
 * agent's clock), heard within HUB_TWO_AGENTS_S of each other, flag the
 * unit (two agents). A report keeps its incarnation heard but adds none,
 * and an earlier incarnation's heartbeat (no clock) is not heard at all:
 * an agent refilling what it keeps of an incarnation it left is one agent.
 * Any message of the incarnation the store is behind keeps that one heard
 * (s_gone). */
static void s_heard(hub_ingest_t *self, size_t unit, const uint8_t *id, int how, int64_t now)
{
    hub_unit_flags_t *fl = &self->flags[unit];
    uint64_t key = 0;
    if (!s_legacy(id))
        memcpy(&key, id, sizeof key);
    if (fl->behind_since && key == fl->behind_inc)
        fl->behind_heard = now;
    if (how == S_HEARD_NOT)
        return;
    if (fl->heard_a && key == fl->inc_a)
        fl->heard_a = now;
    else if (fl->heard_b && key == fl->inc_b)
        fl->heard_b = now;
    else if (how != S_HEARD_AGENT)
        return;
    else if (fl->heard_a <= fl->heard_b)
        fl->inc_a = key, fl->heard_a = now;
    else
        fl->inc_b = key, fl->heard_b = now;
    int64_t apart = fl->heard_a - fl->heard_b;
    int two = fl->heard_a && fl->heard_b && apart <= HUB_TWO_AGENTS_S && -apart <= HUB_TWO_AGENTS_S;
    if (two == (fl->two_since != 0))
        return;
    const char *id_s = ro_registry_at(self->reg, unit)->id;
    if (two) {
        fl->two_since = now;
        self->c.two_agent_units++;
        if (ro_log_allow(&self->rl_flag))
            ro_log(LOG_WARNING,
                   "two agents speak for unit %s (incarnations %016llx and %016llx within %d "
                   "min): a copied agent folder or cloned PC? both are counted, nothing is "
                   "lost; stop the one that should not run",
                   id_s, (unsigned long long)fl->inc_a, (unsigned long long)fl->inc_b,
                   HUB_TWO_AGENTS_S / 60);
    } else {
        fl->two_since = 0;
        self->c.two_agent_units--;
        ro_log(LOG_NOTICE, "unit %s: one agent speaks for it again", id_s);
    }
}

/* True when the incarnation the store is behind has not been heard for
 * HUB_TWO_AGENTS_S (its agent drew a new one past what it lost, or stopped). */
static int s_gone(const hub_unit_flags_t *fl, int64_t now)
{
    return now - fl->behind_heard > HUB_TWO_AGENTS_S;
}

/* The store is behind what a version-2 heartbeat's agent holds
 * acknowledged, and the agent no longer keeps the next seqs (beyond its
 * retention, or a heartbeat without retained events): they are lost. Use
 * them up with one record at the last of them, so the unit is never wedged
 * behind them, and say how many. Returns 0 or a store code. */
static int s_lost(hub_ingest_t *self, s_ident_t *id, const ro_report_t *r, int64_t now, char *err,
                  size_t errlen)
{
    uint64_t have = s_last(self, id->unit, id->inc);
    uint64_t upto = r->retained && r->retained_from > 0 ? r->retained_from - 1 : r->last_ack;
    /* an agent's current incarnation (its heartbeat has its clock) that the
     * store never held: nothing to write off under it (the agent sends again
     * what it keeps, and draws a new one past what it lost). An earlier one
     * never draws again: without the write-off, what its agent still keeps
     * beyond the lost seqs would wait for them for ever, so the store learns
     * the incarnation here */
    if (upto <= have || upto > r->last_ack || (id->inc == INC_UNKNOWN && r->agent_time))
        return 0;
    if (id->iid == 0 || id->inc == INC_UNKNOWN) { /* met by a heartbeat only: its iid */
        int rc = s_ident(self, id->unit, s_legacy(r->incarnation) ? NULL : r->incarnation, 1, now,
                         id, err, errlen);
        if (rc)
            return rc;
    }
    char text[RO_TEXT_MAX + 1];
    snprintf(text, sizeof text,
             "lost: seq %llu to %llu were acknowledged, then lost with the store, and the agent "
             "no longer keeps them; a backup of the store newer than them has them",
             (unsigned long long)have + 1, (unsigned long long)upto);
    int rc = hub_store_put_refusal(self->store, id->unit, id->iid, upto, RO_REASON_NONE, text, 0,
                                   now, err, errlen);
    if (rc)
        return rc;
    self->flags[id->unit].refused_at = now;
    if (ro_log_allow(&self->rl_flag))
        ro_log(LOG_ERR, "unit %s: %llu acknowledged report%s lost for good: %s", r->unit,
               (unsigned long long)(upto - have), upto - have == 1 ? "" : "s", text);
    s_moved_on(self, id, upto, 0);
    return 0;
}

/* A version-2 heartbeat of id: is the store behind what the agent holds
 * acknowledged (restored from a backup, its WAL lost)? is the agent's
 * clock off? Each is flagged (PROBLEMS, metrics) and logged when it
 * starts and ends. Returns 0 or a store code. */
static int s_witness(hub_ingest_t *self, s_ident_t *id, const ro_report_t *r, int64_t now,
                     char *err, size_t errlen)
{
    hub_unit_flags_t *fl = &self->flags[id->unit];
    const char *unit = r->unit;
    uint64_t have = s_last(self, id->unit, id->inc);
    /* no sequence comes near 2^62; a witness claiming one is not believed */
    if (r->last_ack > (UINT64_C(1) << 62) || r->retained > r->last_ack)
        return 0;
    uint64_t inc8 = 0;
    memcpy(&inc8, r->incarnation, sizeof inc8);
    if (r->last_ack > have) {
        fl->behind_seen = now;
        if (!fl->behind_since) {
            fl->behind_since = now;
            self->c.behind_units++;
            if (ro_log_allow(&self->rl_flag))
                ro_log(
                    LOG_ERR,
                    "the store is behind unit %s's agent: it holds an ack of seq %llu, the store "
                    "has up to seq %llu of that incarnation (restored from a backup? WAL lost?); "
                    "the agent sends again what it still keeps",
                    unit, (unsigned long long)r->last_ack, (unsigned long long)have);
        }
        fl->behind_ack = r->last_ack;
        fl->behind_have = have;
        fl->behind_inc = inc8;
        fl->behind_heard = now;
        int rc = s_lost(self, id, r, now, err, errlen);
        if (rc)
            return rc;
    } else if (fl->behind_since && (fl->behind_inc == inc8 || s_gone(fl, now))) {
        fl->behind_since = 0;
        self->c.behind_units--;
        ro_log(LOG_NOTICE, "unit %s: the store has again everything its agent holds acknowledged",
               unit);
    }
    if (!r->agent_time)
        return 0;
    int64_t skew = r->agent_time - now;
    int off = skew > HUB_MAX_SKEW || skew < -HUB_MAX_SKEW;
    if (off && !fl->skew_since) {
        fl->skew_since = now;
        self->c.skewed_agents++;
        if (ro_log_allow(&self->rl_flag))
            ro_log(LOG_WARNING,
                   "unit %s's agent clock is %lld s %s the hub's: nothing is refused for it, but "
                   "its recorded times are off; set that PC's clock",
                   unit, (long long)(skew < 0 ? -skew : skew), skew < 0 ? "behind" : "ahead of");
    } else if (!off && fl->skew_since) {
        fl->skew_since = 0;
        self->c.skewed_agents--;
        ro_log(LOG_NOTICE, "unit %s's agent clock agrees with the hub's again", unit);
    }
    fl->skew = skew;
    return 0;
}

/* Count stored report r (of incarnation iid, received now) in its unit's
 * aggregates. A snapshot dated as the one counted now ties: the last
 * received counts (then the higher iid, then seq). Within one incarnation
 * that is the new one, unless the hub's clock stepped back since the one
 * counted was received; when the counted one came from another incarnation
 * (or it is not known which, after a start), in the same second it may
 * outrank the new one: in those cases the store, ordered as the recount
 * orders, decides. Returns 0 or a store code. */
static int s_count(hub_ingest_t *self, size_t unit, int64_t iid, const ro_report_t *r, int64_t now)
{
    hub_unit_state_t *st = &self->states[unit];
    uint32_t before = hub_state_snapshot_date(st, r->kind);
    hub_state_apply(st, r);
    if (r->kind < RO_KIND_STAFF || r->kind > RO_KIND_CASES || r->date < before)
        return 0;
    s_snap_t *from = &self->snap[3 * unit + (size_t)(r->kind - RO_KIND_STAFF)];
    if (r->date > before || (from->iid == iid && from->at <= now)) {
        from->iid = iid, from->at = now;
        return 0;
    }
    uint32_t date = r->date, total = 0, part = 0;
    int rc =
        hub_store_snapshot(self->store, unit, r->kind, &date, &total, &part, &from->iid, &from->at);
    if (rc == 1)
        hub_state_put_snapshot(st, r->kind, r->date, total, part);
    return rc < 0 ? rc : 0;
}

/* Counted report was (corrected now by r) out of its unit's aggregates.
 * A snapshot that may be the one counted gives way to the one that counts
 * now (the store says), unless r is an amend counted in its place, dated
 * as it or later: then r, counted next (s_count), replaces it in any case.
 * Returns 0 or a store code. */
static int s_withdraw(hub_ingest_t *self, size_t unit, const ro_report_t *r,
                      const hub_store_target_t *was, int64_t now)
{
    ro_report_t t;
    memset(&t, 0, sizeof t);
    t.kind = was->kind, t.date = was->date, t.total = was->total, t.part = was->part;
    hub_unit_state_t *st = &self->states[unit];
    if (!hub_state_withdraw(st, &t) ||
        (r->action == RO_ACTION_AMEND && r->date >= was->date && !ro_report_ahead(r, now)))
        return 0;
    uint32_t date = 0, total = 0, part = 0;
    s_snap_t *from = &self->snap[3 * unit + (size_t)(was->kind - RO_KIND_STAFF)];
    int rc = hub_store_snapshot(self->store, unit, was->kind, &date, &total, &part, &from->iid,
                                &from->at);
    if (rc < 0)
        return rc;
    if (rc == 0)
        from->iid = from->at = 0;
    hub_state_put_snapshot(st, was->kind, date, total, part);
    return 0;
}

#define S_TARGET_WAIT 1 /* s_correct: the target may still come; take nothing now */

/* Correction r (the next of id's sequence, stored under no identity yet)
 * applied to its target in the store (hub_store_correct), by the User-Id
 * `by`. A target the store does not hold yet, while its unit's store is
 * behind (or was, lately: HUB_TWO_AGENTS_S), may still come with the
 * agents' refill (an earlier identity's events come in a lane of their
 * own, maybe after the correction): S_TARGET_WAIT, nothing used up, and the
 * agent sends it again. Returns 0 (*was: the target as it was),
 * S_TARGET_WAIT, HUB_STORE_ETARGET with why, or a store code. */
static int s_correct(hub_ingest_t *self, const s_ident_t *id, const ro_report_t *r, const char *by,
                     int64_t now, hub_store_target_t *was, char *why, size_t whylen, char *err,
                     size_t errlen)
{
    int legacy = s_legacy(r->target_inc);
    uint64_t tlast = 0;
    int64_t tiid = legacy ? hub_store_incarnation(self->store, id->unit, NULL, now, err, errlen)
                          : hub_store_incarnation_find(self->store, id->unit, r->target_inc, &tlast,
                                                       err, errlen);
    if (tiid < 0)
        return (int)tiid;
    /* what the store holds of it, this batch included (memory is ahead of
     * the file until the batch's reports are flushed) */
    long known = legacy ? -1 : s_inc_find(self, id->unit, r->target_inc);
    if (legacy)
        tlast = s_last(self, id->unit, INC_LEGACY);
    else if (known >= 0)
        tlast = s_last(self, id->unit, known);
    const hub_unit_flags_t *fl = &self->flags[id->unit];
    int behind = fl->behind_since || (fl->behind_seen && now - fl->behind_seen < HUB_TWO_AGENTS_S);
    if ((tiid == 0 || r->target_seq > tlast) && behind)
        return S_TARGET_WAIT;
    if (tiid == 0) {
        snprintf(why, whylen, "cannot %s seq %llu: the unit has no outbox with that incarnation",
                 ro_action_name(r->action), (unsigned long long)r->target_seq);
        return HUB_STORE_ETARGET;
    }
    uint64_t held_hash;
    if (hub_store_find(self->store, id->unit, id->iid, r->seq, &held_hash, NULL, NULL, 0) > 0) {
        snprintf(err, errlen,
                 "%s seq %llu is stored but last seq was %llu; run `rolloutctl verify`", r->unit,
                 (unsigned long long)r->seq, (unsigned long long)s_last(self, id->unit, id->inc));
        return HUB_STORE_EFAIL; /* the store is ahead of the state: nothing corrected twice */
    }
    int rc = hub_store_correct(self->store, id->unit, id->iid, r, tiid, by, now, was, why, whylen);
    if (rc == 0 && was->state == HUB_STORE_COUNTED)
        rc = s_withdraw(self, id->unit, r, was, now);
    if (rc == 0 && was->state == HUB_STORE_HELD_CLOCK)
        self->b_unheld++;
    if (rc == 0 && was->kind >= RO_KIND_TRAINING && was->kind <= RO_KIND_CASES) {
        hub_unit_marks_t *m = &self->flags[id->unit].marks;
        m->corrected[was->kind - 1]++;
        if (was->state == HUB_STORE_HELD_REVIEW)
            s_less(&m->held[was->kind - 1]); /* its review goes with it */
    }
    return rc;
}

/* Store correction r's own row (was: its target as it was, out of the
 * aggregates already) and count an amend. Returns 0 or a store code. */
static int s_corrected(hub_ingest_t *self, const s_ident_t *id, const ro_report_t *r,
                       const hub_store_target_t *was, uint64_t hash, int64_t now, char *err,
                       size_t errlen)
{
    int ahead = r->action == RO_ACTION_AMEND && ro_report_ahead(r, now);
    int rc =
        r->action == RO_ACTION_CANCEL
            ? hub_store_put_cancel(self->store, id->unit, id->iid, r, was, hash, now, err, errlen)
        : ahead ? hub_store_hold_report(self->store, id->unit, id->iid, r, hash, now, err, errlen)
                : hub_store_put_report(self->store, id->unit, id->iid, r, hash, now, err, errlen);
    if (rc)
        return rc;
    if (ahead)
        s_held(self, r, now);
    else if (r->action == RO_ACTION_AMEND && (rc = s_count(self, id->unit, id->iid, r, now)))
        return rc;
    self->c.corrections++;
    ro_log(LOG_NOTICE, "%s seq %llu %s seq %llu%s: %s", r->unit, (unsigned long long)r->seq,
           r->action == RO_ACTION_AMEND ? "amends" : "cancels", (unsigned long long)r->target_seq,
           ahead ? " (held until its date)" : "", r->reason);
    return 0;
}

/* Report r, about to be stored, against the [review] rules: 1 when one
 * fires (rule and text say which and what it saw; *hold: it is to be held
 * for review, stored so and not counted), else 0. Nothing is changed. */
static int s_review(const hub_ingest_t *self, const s_ident_t *id, const ro_report_t *r,
                    char rule[40], char text[256], int *hold)
{
    *hold = 0;
    if (!hub_review_check(self->rv, id->unit, &self->states[id->unit], r, rule, 40, text, 256))
        return 0;
    *hold = hub_review_holds(self->rv) != 0;
    return 1;
}

/* Report r, just stored as s_review said (held when hold), flagged: its
 * trail row, the unit's count of held reports, the log. Returns 0 or a
 * store code. */
static int s_flag(hub_ingest_t *self, const s_ident_t *id, const ro_report_t *r, int64_t now,
                  const char *rule, const char *text, int hold, char *err, size_t errlen)
{
    int rc =
        hub_store_flag(self->store, id->unit, id->iid, r->seq, hold, rule, text, now, err, errlen);
    if (rc)
        return rc;
    if (hold && r->kind >= RO_KIND_TRAINING && r->kind <= RO_KIND_CASES)
        self->flags[id->unit].marks.held[r->kind - 1]++;
    self->c.flagged++;
    if (ro_log_allow(&self->rl_refuse))
        ro_log(LOG_NOTICE, "%s seq %llu flagged for review (%s): %s%s", r->unit,
               (unsigned long long)r->seq, rule, text,
               hold ? "; held until a reviewer decides" : "");
    return 0;
}

/* Store report r (its seq the next of id's sequence, its check result bad):
 * refused for good, held until its date, or counted; a correction applied. */
static int s_next(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, const s_ident_t *id,
                  const ro_report_t *r, uint64_t hash, ro_reason_t bad, const char *why,
                  int64_t now, char *err, size_t errlen)
{
    hub_store_target_t was = {0};
    char twhy[256];
    if (bad == RO_REASON_NONE && r->action != RO_ACTION_NONE) {
        int rc = s_correct(self, id, r, (const char *)self->arena + self->msgs[mi].user_off, now,
                           &was, twhy, sizeof twhy, err, errlen);
        if (rc == S_TARGET_WAIT) {
            if (ro_log_allow(&self->rl_refuse))
                ro_log(LOG_NOTICE,
                       "%s seq %llu corrects seq %llu, which the store does not hold yet (it is "
                       "behind its agents): not taken now; the agent sends it again",
                       r->unit, (unsigned long long)r->seq, (unsigned long long)r->target_seq);
            s_touch(self, mi, id, r); /* answered with the last ack: nothing used up */
            return 0;
        }
        if (rc == HUB_STORE_ETARGET)
            bad = RO_REASON_TARGET, why = twhy;
        else if (rc)
            return rc;
    }
    if (bad != RO_REASON_NONE) {
        int rc = hub_store_put_refusal(self->store, id->unit, id->iid, r->seq, bad, why, hash, now,
                                       err, errlen);
        if (rc)
            return rc;
        self->flags[id->unit].refused_at = now;
        s_refuse(self, d, mi, r->unit, r->seq, bad, why);
        s_refusal_v2(self, r);
    } else if (r->action != RO_ACTION_NONE) {
        int rc = s_corrected(self, id, r, &was, hash, now, err, errlen);
        if (rc)
            return rc;
        d->reports_stored++;
    } else {
        /* dated after the hub's today (+ the tolerance): stored and acked, but
         * counted only when the hub's date reaches it, since the clock that is
         * wrong may be the hub's own */
        int ahead = ro_report_ahead(r, now), hold = 0;
        char rule[40], text[256];
        int flagged = !ahead && s_review(self, id, r, rule, text, &hold);
        int rc =
            ahead ? hub_store_hold_report(self->store, id->unit, id->iid, r, hash, now, err, errlen)
            : hold
                ? hub_store_hold_review(self->store, id->unit, id->iid, r, hash, now, err, errlen)
                : hub_store_put_report(self->store, id->unit, id->iid, r, hash, now, err, errlen);
        if (rc == HUB_STORE_EDUP) {
            /* the store is ahead of the state: trust the store and judge it a resend */
            ro_log(LOG_ERR, "%s seq %llu is stored but last seq was %llu; run `rolloutctl verify`",
                   r->unit, (unsigned long long)r->seq,
                   (unsigned long long)s_last(self, id->unit, id->inc));
            s_moved_on(self, id, r->seq, 0);
            return s_older(self, d, mi, id, r, hash, err, errlen);
        }
        if (rc)
            return rc;
        if (ahead)
            s_held(self, r, now);
        else if (flagged && (rc = s_flag(self, id, r, now, rule, text, hold, err, errlen)))
            return rc;
        else if (!hold && (rc = s_count(self, id->unit, id->iid, r, now)))
            return rc;
        d->reports_stored++;
    }
    s_moved_on(self, id, r->seq, hash);
    s_touch(self, mi, id, r);
    return 0;
}

/* Apply message mi to the open transaction. Returns 0 or a store code. */
static int s_apply_one(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, int64_t now,
                       char *err, size_t errlen)
{
    const s_msg_t *m = &self->msgs[mi];
    const uint8_t *body = self->arena + m->body_off;
    char why[256];
    if (m->frames != 1) {
        snprintf(why, sizeof why, "a report is one frame, this message had %d", m->frames);
        s_refuse(self, d, mi, (const char *)self->arena + m->user_off, 0, RO_REASON_MALFORMED, why);
        return 0;
    }
    ro_report_t r;
    ro_reason_t reason = ro_report_decode(body, m->body_len, &r, why, sizeof why);
    d->unknown_fields += r.unknown;
    if (reason != RO_REASON_NONE && !r.unit[0]) {
        /* nothing names a report: the connection's unit hears it, seq 0, and
         * its sequence stays where it is */
        s_refuse(self, d, mi, (const char *)self->arena + m->user_off, 0, reason, why);
        return 0;
    }
    long found = ro_registry_find(self->reg, r.unit);
    if (self->auth && !s_admitted(self, m, found) &&
        s_forbidden(self, m, r.unit, why, sizeof why)) {
        /* before anything is touched, heartbeats included: not even last_heard moves */
        s_refuse(self, d, mi, r.unit, r.seq, RO_REASON_FORBIDDEN, why);
        s_refusal_v2(self, &r);
        return 0;
    }
    if (found < 0) {
        /* heartbeats hear it too (seq 0), so an idle agent learns its unit is unknown */
        snprintf(why, sizeof why, "unit %s is not in the hub's registry", r.unit);
        s_refuse(self, d, mi, r.unit, r.seq, RO_REASON_UNKNOWN_UNIT, why);
        s_refusal_v2(self, &r);
        return 0;
    }
    if (reason == RO_REASON_VERSION) {
        /* not used up, nothing recorded: a hub that speaks it will take it */
        s_refuse(self, d, mi, r.unit, r.seq, reason, why);
        s_refusal_v2(self, &r);
        return 0;
    }
#if HUB_SPEAKS_MAX < RO_PROTOCOL_VERSION
    if (r.version > HUB_SPEAKS_MAX) {
        /* as an older hub refused it, which knew none of the newer fields */
        snprintf(why, sizeof why, "protocol version %u, this hub speaks %d to %d", r.version,
                 RO_PROTOCOL_V1, HUB_SPEAKS_MAX);
        s_refuse(self, d, mi, r.unit, r.seq, RO_REASON_VERSION, why);
        return 0;
    }
#endif
    size_t unit = (size_t)found;
    self->states[unit].last_heard = now;
    s_dirty(self, unit);
    /* version 1 speaks for the unit's legacy incarnation, whatever it sends */
    const uint8_t *inc = r.version >= 2 ? r.incarnation : NULL;
    s_heard(self, unit, inc, s_heard_how(&r), now);

    /* what decoded but broke a limit is refused like an invalid report: by
     * name, and at the next seq it uses that seq up */
    ro_reason_t bad = reason != RO_REASON_NONE ? reason : ro_report_check(&r, why, sizeof why);
    s_ident_t id;
    int rc;
    if (r.kind == RO_KIND_HEARTBEAT && bad == RO_REASON_NONE) {
        d->heartbeats++;
        rc = s_ident(self, unit, inc, 0, now, &id, err, errlen);
        if (rc)
            return rc;
        if (r.version >= 2 && (rc = s_witness(self, &id, &r, now, err, errlen)))
            return rc;
        s_touch(self, mi, &id, &r);
        return 0;
    }
    if (r.seq == 0) {
        s_refuse(self, d, mi, r.unit, 0, bad, why);
        s_refusal_v2(self, &r);
        return 0;
    }
    rc = s_ident(self, unit, inc, 1, now, &id, err, errlen);
    if (rc)
        return rc;
    uint64_t hash = ro_report_hash(&r);
    uint64_t last = s_last(self, unit, id.inc);
    if (r.seq <= last)
        return s_older(self, d, mi, &id, &r, hash, err, errlen);
    if (r.version >= 2 && s_contested(self, &id)) {
        snprintf(why, sizeof why,
                 "two outboxes were found using this incarnation: nothing more is taken under "
                 "it; draw a new one");
        s_refuse(self, d, mi, r.unit, r.seq, RO_REASON_IDENTITY, why);
        s_refusal_v2(self, &r);
        s_touch(self, mi, &id, &r);
        return 0;
    }
    if (r.seq > last + 1)
        return s_gap(self, d, mi, &id, &r, now);
    return s_next(self, d, mi, &id, &r, hash, bad, why, now, err, errlen);
}

static void s_fail(hub_ingest_t *self, int rc, const char *why)
{
    hub_store_rollback(self->store);
    self->nrefusals = self->nacks = 0;
    s_incs_forget(self); /* they may have moved with the batch: read them again */
    self->next_retry_ms = ro_time_mono_ms() + RETRY_MS;
    char err[256];
    if (hub_store_load_states(self->store, self->reg, self->states, err, sizeof err) == 0)
        self->need_reload = 0;
    else
        self->need_reload = 1;
    s_marks_load(self); /* the batch's flags were rolled back */
    hub_store_state_t state = rc == HUB_STORE_EFULL ? HUB_STORE_STATE_FULL : HUB_STORE_STATE_ERROR;
    if (state != self->c.store_state || ro_log_allow(&self->rl_store))
        ro_log(LOG_ERR, "store %s: %s; holding %zu messages unacknowledged, retrying every second",
               state == HUB_STORE_STATE_FULL ? "full" : "failing", why, self->nmsgs);
    self->held = 1;
    self->c.commit_failures++;
    snprintf(self->c.last_error, sizeof self->c.last_error, "%s", why);
    self->c.store_state = state;
    s_publish(self, NULL, 0);
}

/* Once committed: an ack says where its sequence is now, and in version 2
 * whose, with the content hash there and the hub's version and store. */
static void s_ack_fill(hub_ingest_t *self, s_reply_t *a)
{
    a->r.msg.seq = s_last(self, (size_t)a->unit, a->inc);
    self->states[a->unit].seq_shown = a->r.msg.seq;
    if (!a->v2)
        return;
    a->r.msg.upto_hash = s_last_hash(self, (size_t)a->unit, a->inc);
    a->r.msg.hub_version = RO_PROTOCOL_VERSION;
    memcpy(a->r.msg.store_id, self->store_id, sizeof a->r.msg.store_id);
    /* the unit's staff see that a report waits for a person (principle 4) */
    a->r.msg.held = hub_marks_held(&self->flags[a->unit].marks);
}

int hub_ingest_flush(hub_ingest_t *self, int64_t now)
{
    char err[256] = "";
    if (self->done || self->nmsgs == 0) {
        self->done = 1;
        self->nrefusals = self->nacks = 0;
        return 0;
    }
    self->nrefusals = self->nacks = 0;
    self->npairs = self->ndirty = 0;
    if (++self->gen == 0) {
        /* after 2^32 batches the stamps could collide: clear them */
        memset(self->touch_gen, 0, self->nunits * sizeof *self->touch_gen);
        memset(self->dirty_gen, 0, self->nunits * sizeof *self->dirty_gen);
        self->gen = 1;
    }
    if (self->need_reload) {
        int rc = hub_store_load_states(self->store, self->reg, self->states, err, sizeof err);
        if (rc) {
            s_fail(self, rc, err);
            return rc;
        }
        self->need_reload = 0;
    }
    if (self->marks_due)
        s_marks_load(self);
    hub_ingest_counters_t d;
    memset(&d, 0, sizeof d);
    int64_t began_us = ro_time_mono_us();
    self->b_released = 0;
    self->b_held = self->b_held_due = self->b_unheld = 0;
    self->b_release_reports = 0;
    self->b_release_units = 0;
    int rc = hub_store_begin(self->store, err, sizeof err);
    if (rc == 0)
        rc = s_release(self, now, err, sizeof err);
    for (size_t i = 0; rc == 0 && i < self->nmsgs; i++)
        rc = s_apply_one(self, &d, i, now, err, sizeof err);
    /* a unit in batch after batch (a backlog, a busy province) leaves its
     * day rows for the quiet after: rewritten at each batch, they would be
     * most of the batch's writes (docs/PERFORMANCE.md) */
    for (size_t i = 0; rc == 0 && i < self->ndirty; i++)
        rc = hub_store_put_state(self->store, self->dirty[i], &self->states[self->dirty[i]],
                                 self->dirty_busy[i] ? HUB_STORE_DAYS_LATER : HUB_STORE_DAYS_NOW,
                                 err, sizeof err);
    if (rc == 0)
        rc = hub_store_commit(self->store, err, sizeof err);
    if (rc) {
        s_fail(self, rc, err);
        return rc;
    }
    for (size_t i = 0; i < self->nacks; i++)
        s_ack_fill(self, &self->acks[i]);

    /* committed: now readers may see it */
    self->c.reports_stored += d.reports_stored;
    self->c.duplicates += d.duplicates;
    self->c.conflicts += d.conflicts;
    self->c.gaps += d.gaps;
    self->c.heartbeats += d.heartbeats;
    self->c.heartbeats_refused += d.heartbeats_refused;
    self->c.unknown_fields += d.unknown_fields;
    for (int i = 0; i < RO_REASON_COUNT; i++)
        self->c.refused[i] += d.refused[i];
    s_held_commit(self);
    self->c.batches++;
    self->c.last_batch_size = self->nmsgs;
    self->c.last_commit_us = (uint64_t)(ro_time_mono_us() - began_us);
    if (self->held)
        ro_log(LOG_NOTICE,
               "store writable again: committed the held batch of %zu messages after "
               "%llu retries",
               self->nmsgs, (unsigned long long)self->retries);
    self->held = 0;
    self->retries = 0;
    self->c.store_state = HUB_STORE_STATE_OK;
    self->c.last_error[0] = '\0';
    if (self->marks_late) { /* marks loaded late: every unit changed (hub_ingest_changed) */
        for (size_t i = 0; i < self->nunits; i++)
            self->dirty[i] = (uint32_t)i;
        self->ndirty = self->nunits;
        self->marks_late = 0;
    }
    s_publish(self, self->dirty, self->ndirty);
    self->done = 1;
    self->quiet = 0;
    return 0;
}

void hub_ingest_quiet(hub_ingest_t *self)
{
    self->quiet = 1;
}

int hub_ingest_decide(hub_ingest_t *self, const hub_decision_t *d, int64_t now, char *why,
                      size_t whylen)
{
    if (self->held || self->need_reload || hub_ingest_pending(self) > 0) {
        snprintf(why, whylen, "the store is not writable now (%s): ask again later",
                 self->c.last_error[0] ? self->c.last_error : "a batch waits");
        return HUB_STORE_EFAIL;
    }
    long found = ro_registry_find(self->reg, d->unit);
    if (found < 0) {
        snprintf(why, whylen, "unit %s is not in the hub's registry", d->unit);
        return HUB_STORE_ETARGET;
    }
    size_t unit = (size_t)found;
    hub_unit_state_t before = self->states[unit];
    int changed = 0, was_held = 0, kind = 0;
    int rc = hub_store_begin(self->store, why, whylen);
    if (rc == 0)
        rc = hub_store_decide(self->store, unit, d->has_inc ? d->inc : NULL, d->seq, d->accept,
                              d->by, d->reason, now, &changed, &was_held, &kind, why, whylen);
    if (rc == 0 && changed)
        rc = hub_store_refold(self->store, unit, &self->states[unit], why, whylen);
    if (rc == 0)
        rc = hub_store_commit(self->store, why, whylen);
    if (rc) { /* decided before (1) or not at all: nothing to keep */
        hub_store_rollback(self->store);
        self->states[unit] = before;
        return rc;
    }
    if (changed)
        memset(&self->snap[3 * unit], 0, 3 * sizeof *self->snap); /* refolded */
    if (kind >= RO_KIND_TRAINING && kind <= RO_KIND_CASES) {
        hub_unit_marks_t *m = &self->flags[unit].marks;
        if (was_held)
            s_less(&m->held[kind - 1]);
        if (!d->accept)
            m->rejected[kind - 1]++;
    }
    self->c.decisions++;
    ro_log(LOG_NOTICE, "%s seq %llu %s by %s: %s", d->unit, (unsigned long long)d->seq,
           d->accept ? "accepted" : "rejected", d->by[0] ? d->by : "(no key)", d->reason);
    self->dirty[0] = (uint32_t)unit;
    self->ndirty = 1;
    self->done = 1;
    s_publish(self, self->dirty, 1);
    return 0;
}

size_t hub_ingest_pending(const hub_ingest_t *self)
{
    return self->done ? 0 : self->nmsgs;
}

int hub_ingest_held(const hub_ingest_t *self)
{
    return self->held;
}

size_t hub_ingest_reply_count(const hub_ingest_t *self)
{
    return self->nrefusals + self->nacks;
}

const uint32_t *hub_ingest_changed(const hub_ingest_t *self, size_t *count)
{
    *count = self->done && !self->held ? self->ndirty : 0;
    return self->dirty;
}

const hub_ingest_reply_t *hub_ingest_reply_at(const hub_ingest_t *self, size_t i)
{
    if (i < self->nrefusals)
        return &self->refusals[i].r;
    i -= self->nrefusals;
    return i < self->nacks ? &self->acks[i].r : NULL;
}

const hub_unit_marks_t *hub_ingest_marks(const hub_ingest_t *self, size_t unit)
{
    return &self->flags[unit].marks;
}

const hub_ingest_counters_t *hub_ingest_counters(const hub_ingest_t *self)
{
    return &self->c;
}

hub_store_state_t hub_ingest_store_state(const hub_ingest_t *self)
{
    return self->c.store_state;
}

void hub_ingest_fail_store(hub_ingest_t *self, const char *why)
{
    self->c.store_state = HUB_STORE_STATE_ERROR;
    snprintf(self->c.last_error, sizeof self->c.last_error, "%s", why);
    s_publish(self, NULL, 0);
}

/* ---- sockets ------------------------------------------------------------ */

static void s_send_replies(hub_ingest_t *self, void *sock)
{
    uint8_t buf[RO_FRAME_MAX];
    uint64_t unroutable = 0;
    size_t n = hub_ingest_reply_count(self);
    for (size_t i = 0; i < n; i++) {
        const hub_ingest_reply_t *rp = hub_ingest_reply_at(self, i);
        int len = ro_hubmsg_encode(&rp->msg, buf, sizeof buf);
        if (len < 0)
            continue;
        /* a peer gone (EHOSTUNREACH) or stalled (EAGAIN) resends: never block for it */
        if (zmq_send(sock, rp->rid, rp->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(sock, buf, (size_t)len, ZMQ_DONTWAIT) < 0)
            unroutable++;
    }
    if (unroutable) {
        self->c.replies_unroutable += unroutable;
        s_publish(self, NULL, 0);
    }
}

int hub_ingest_drain(hub_ingest_t *self, void *sock, int64_t now)
{
    if (self->held)
        return 0;
    zmq_msg_t rid, body, part;
    int last_fd = -1; /* a connection usually sends runs: one mark per run */
    for (size_t n = 0; n < self->batch_max && (self->done ? 0 : self->used) < BATCH_BYTES_MAX;
         n++) {
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&rid);
            if (e != EAGAIN && e != EINTR)
                ro_log(LOG_ERR, "ingest receive: %s", zmq_strerror(e));
            break;
        }
        int frames = 0;
        zmq_msg_init(&body);
        int more = zmq_msg_more(&rid);
        while (more) {
            /* the rest of a multipart message is already here; drain it all */
            zmq_msg_t *dst = frames == 0 ? &body : &part;
            if (frames > 0)
                zmq_msg_init(&part);
            if (zmq_msg_recv(dst, sock, ZMQ_DONTWAIT) < 0) {
                if (frames > 0)
                    zmq_msg_close(&part);
                break;
            }
            more = zmq_msg_more(dst);
            if (frames > 0)
                zmq_msg_close(&part);
            frames++;
        }
        /* ZAP's verdict rides on every frame of the connection, and so does
         * its fd (not on the routing id, which the ROUTER made) */
        zmq_msg_t *peer = frames > 0 ? &body : &rid;
        const char *user = zmq_msg_gets(peer, "User-Id");
        const char *key = zmq_msg_gets(peer, HUB_AUTH_KEY_PROPERTY);
        if (self->peers && frames > 0) {
            int fd = zmq_msg_get(&body, ZMQ_SRCFD);
            if (fd != last_fd)
                hub_peers_mark(self->peers, HUB_PEERS_INGEST, fd, user, key, zmq_msg_size(&body));
            last_fd = fd;
        }
        hub_ingest_add_peer(self, zmq_msg_data(&rid), zmq_msg_size(&rid), zmq_msg_data(&body),
                            zmq_msg_size(&body), frames, user, key);
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
    }
    if (hub_ingest_pending(self) == 0)
        return 0;
    int rc = hub_ingest_flush(self, now);
    if (rc == 0)
        s_send_replies(self, sock);
    return rc;
}

int hub_ingest_retry(hub_ingest_t *self, void *sock, int64_t now, int64_t mono_ms, int force)
{
    if (!self->held)
        return 0;
    if (!force && mono_ms < self->next_retry_ms)
        return -1;
    self->retries++;
    if (hub_ingest_flush(self, now) == 0) {
        if (sock)
            s_send_replies(self, sock);
        return 0;
    }
    self->next_retry_ms = mono_ms + RETRY_MS;
    return -1;
}

long hub_ingest_retry_in(const hub_ingest_t *self, int64_t mono_ms)
{
    if (!self->held)
        return -1;
    int64_t left = self->next_retry_ms - mono_ms;
    return left > 0 ? (long)left : 0;
}
