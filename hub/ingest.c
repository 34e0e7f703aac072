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
#include "ro_log.h"
#include "ro_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef struct {
    hub_ingest_reply_t r; /* what goes out */
    long unit;            /* acks: registry index whose last_seq is sent; else -1 */
} s_reply_t;

typedef struct {
    uint32_t msg;  /* message whose routing id this is */
    uint32_t next; /* next pair of the same unit, or UINT32_MAX */
} s_pair_t;

struct hub_ingest {
    hub_store_t *store;       /* borrowed */
    const hub_auth_t *auth;   /* borrowed; NULL: no per-message key check (plain TCP) */
    hub_peers_t *peers;       /* borrowed, may be NULL: told who delivered a message */
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
    hub_unit_flags_t *flags; /* per unit: what the store does not keep (gaps), published */
    size_t ndirty;

    hub_ingest_counters_t c;    /* counters and store state, as published */
    int64_t next_retry_ms;      /* monotonic time of the next retry */
    uint64_t retries;           /* retries of the held batch */
    hub_committed_t *committed; /* borrowed, may be NULL: where batches are published */
    ro_ratelimit_t rl_refuse;   /* refusal, conflict and held log lines */
    ro_ratelimit_t rl_store;    /* store failure log lines */

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
    self->flags = calloc(nu, sizeof *self->flags);
    if (!self->msgs || !self->refusals || !self->acks || !self->pairs || !self->touch_gen ||
        !self->touch_head || !self->dirty_gen || !self->dirty || !self->flags) {
        hub_ingest_destroy(&self);
        return NULL;
    }
    ro_ratelimit_init(&self->rl_refuse, 10, 1);
    ro_ratelimit_init(&self->rl_store, 1, 1.0 / 30);
    /* failing here, the first batch reads it inside its transaction */
    self->held_known = hub_store_held(store, &self->held_clock, &self->held_due, NULL, 0) == 0;
    self->c.held_clock = self->held_clock;
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
    free(self->flags);
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

void hub_ingest_set_peers(hub_ingest_t *self, hub_peers_t *peers)
{
    self->peers = peers;
}

void hub_ingest_set_committed(hub_ingest_t *self, hub_committed_t *committed)
{
    self->committed = committed;
    s_publish(self, NULL, 0); /* the held reports it counted at start */
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
    hub_unit_flags_t *flags = calloc(nu, sizeof *flags);
    if (!touch_gen || !touch_head || !dirty_gen || !dirty || !flags) {
        free(touch_gen);
        free(touch_head);
        free(dirty_gen);
        free(dirty);
        free(flags);
        return -1;
    }
    free(self->touch_gen);
    free(self->touch_head);
    free(self->dirty_gen);
    free(self->dirty);
    hub_unit_flags_carry(self->reg, self->flags, reg, flags);
    free(self->flags);
    self->touch_gen = touch_gen;
    self->touch_head = touch_head;
    self->dirty_gen = dirty_gen;
    self->dirty = dirty;
    self->flags = flags;
    self->reg = reg;
    self->states = states;
    self->nunits = n;
    self->gen = 0;    /* the fresh stamps are 0: the next batch's 1 differs */
    self->ndirty = 0; /* the last batch's indices were the old registry's */
    self->npairs = 0;
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

static void s_ack(hub_ingest_t *self, size_t mi, size_t unit)
{
    s_reply_t *out = &self->acks[self->nacks++];
    const s_msg_t *m = &self->msgs[mi];
    memset(out, 0, sizeof *out);
    out->unit = (long)unit;
    out->r.rid = self->arena + m->rid_off;
    out->r.rid_len = m->rid_len;
    out->r.msg.kind = RO_HUBMSG_ACK;
    snprintf(out->r.msg.unit, sizeof out->r.msg.unit, "%s", ro_registry_at(self->reg, unit)->id);
}

/* Remember that the peer of message mi should hear this unit's ack once. */
static void s_touch(hub_ingest_t *self, size_t mi, size_t unit)
{
    const s_msg_t *m = &self->msgs[mi];
    if (self->touch_gen[unit] != self->gen) {
        self->touch_gen[unit] = self->gen;
        self->touch_head[unit] = NO_PAIR;
    }
    for (uint32_t p = self->touch_head[unit]; p != NO_PAIR; p = self->pairs[p].next) {
        const s_msg_t *o = &self->msgs[self->pairs[p].msg];
        if (o->rid_len == m->rid_len &&
            memcmp(self->arena + o->rid_off, self->arena + m->rid_off, m->rid_len) == 0)
            return;
    }
    s_pair_t *pair = &self->pairs[self->npairs];
    pair->msg = (uint32_t)mi;
    pair->next = self->touch_head[unit];
    self->touch_head[unit] = (uint32_t)self->npairs++;
    s_ack(self, mi, unit);
}

static void s_dirty(hub_ingest_t *self, size_t unit)
{
    if (self->dirty_gen[unit] != self->gen) {
        self->dirty_gen[unit] = self->gen;
        self->dirty[self->ndirty++] = (uint32_t)unit;
    }
}

/* The unit handled seq, its next one: a gap it had is behind it. */
static void s_moved_on(hub_ingest_t *self, size_t unit, uint64_t seq)
{
    self->states[unit].last_seq = seq;
    self->flags[unit].gap_since = 0;
}

/* A report beyond the unit's next seq: not stored; the ack tells the agent
 * where to resume, and the unit is flagged until it moves on (PROBLEMS). */
static int s_gap(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, size_t unit, uint64_t seq,
                 int64_t now)
{
    d->gaps++;
    hub_unit_flags_t *fl = &self->flags[unit];
    if (!fl->gap_since)
        fl->gap_since = now;
    fl->gap_seq = seq;
    s_touch(self, mi, unit);
    return 0;
}

/* A report at or below last_seq of its incarnation iid: the same body
 * again, or another one. */
static int s_older(hub_ingest_t *self, hub_ingest_counters_t *d, size_t mi, size_t unit,
                   int64_t iid, const ro_report_t *r, uint64_t hash, char *err, size_t errlen)
{
    uint64_t stored = 0;
    ro_reason_t reason = RO_REASON_NONE;
    char text[RO_TEXT_MAX + 1] = "";
    int found = hub_store_find(self->store, unit, iid, r->seq, &stored, &reason, text, sizeof text);
    if (found < 0) {
        snprintf(err, errlen, "cannot look up %s seq %llu", r->unit, (unsigned long long)r->seq);
        return found;
    }
    /* hash 0: a refusal recorded before content hashes (schema 1) matches any */
    if (found && stored != hash && stored != 0) {
        char why[RO_TEXT_MAX + 1];
        snprintf(why, sizeof why, "seq %llu is already %s with a different body",
                 (unsigned long long)r->seq, found == 1 ? "stored" : "refused");
        d->conflicts++;
        s_refuse(self, d, mi, r->unit, r->seq, RO_REASON_CONFLICT, why);
        s_touch(self, mi, unit);
        return 0;
    }
    if (!found && ro_log_allow(&self->rl_refuse))
        ro_log(LOG_WARNING,
               "%s seq %llu is at or below last seq %llu but not in the store;"
               " taken as a duplicate",
               r->unit, (unsigned long long)r->seq,
               (unsigned long long)self->states[unit].last_seq);
    d->duplicates++;
    if (found == 2) {
        /* the agent may have missed the refusal: say it again (not counted twice) */
        s_refusal(self, mi, r->unit, r->seq, reason, text);
    }
    /* a resend means the peer missed an ack: answer each one */
    s_ack(self, mi, unit);
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
    long released = hub_store_release(self->store, latest, self->states, changed, &n, err, errlen);
    for (size_t i = 0; released >= 0 && i < n; i++)
        s_dirty(self, changed[i]);
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
    if (self->auth && s_forbidden(self, m, r.unit, why, sizeof why)) {
        /* before anything is touched, heartbeats included: not even last_heard moves */
        s_refuse(self, d, mi, r.unit, r.seq, RO_REASON_FORBIDDEN, why);
        return 0;
    }
    long found = ro_registry_find(self->reg, r.unit);
    if (found < 0) {
        /* heartbeats hear it too (seq 0), so an idle agent learns its unit is unknown */
        snprintf(why, sizeof why, "unit %s is not in the hub's registry", r.unit);
        s_refuse(self, d, mi, r.unit, r.seq, RO_REASON_UNKNOWN_UNIT, why);
        return 0;
    }
    if (reason == RO_REASON_VERSION) {
        /* not used up, nothing recorded: a hub that speaks it will take it */
        s_refuse(self, d, mi, r.unit, r.seq, reason, why);
        return 0;
    }
    size_t unit = (size_t)found;
    hub_unit_state_t *st = &self->states[unit];
    st->last_heard = now;
    s_dirty(self, unit);

    /* what decoded but broke a limit is refused like an invalid report: by
     * name, and at the next seq it uses that seq up */
    ro_reason_t bad = reason != RO_REASON_NONE ? reason : ro_report_check(&r, why, sizeof why);
    if (r.kind == RO_KIND_HEARTBEAT && bad == RO_REASON_NONE) {
        d->heartbeats++;
        s_touch(self, mi, unit);
        return 0;
    }
    if (r.seq == 0) {
        s_refuse(self, d, mi, r.unit, 0, bad, why);
        return 0;
    }
    /* version 1: the unit's legacy incarnation, whose seq st->last_seq is */
    int64_t iid = hub_store_incarnation(self->store, unit, NULL, now, err, errlen);
    if (iid < 0)
        return (int)iid;
    uint64_t hash = ro_report_hash(&r);
    if (r.seq <= st->last_seq)
        return s_older(self, d, mi, unit, iid, &r, hash, err, errlen);
    if (r.seq > st->last_seq + 1)
        return s_gap(self, d, mi, unit, r.seq, now);
    if (bad != RO_REASON_NONE) {
        int rc = hub_store_put_refusal(self->store, r.unit, iid, r.seq, bad, why, hash, now, err,
                                       errlen);
        if (rc)
            return rc;
        s_moved_on(self, unit, r.seq);
        s_refuse(self, d, mi, r.unit, r.seq, bad, why);
        s_touch(self, mi, unit);
        return 0;
    }
    /* dated after the hub's today (+ the tolerance): stored and acked, but
     * counted only when the hub's date reaches it, since the clock that is
     * wrong may be the hub's own */
    int ahead = ro_report_ahead(&r, now);
    int rc = ahead ? hub_store_hold_report(self->store, unit, iid, &r, hash, now, err, errlen)
                   : hub_store_put_report(self->store, unit, iid, &r, hash, now, err, errlen);
    if (rc == HUB_STORE_EDUP) {
        /* the store is ahead of the state: trust the store and judge it a resend */
        ro_log(LOG_ERR, "%s seq %llu is stored but last seq was %llu; run `rolloutctl verify`",
               r.unit, (unsigned long long)r.seq, (unsigned long long)st->last_seq);
        s_moved_on(self, unit, r.seq);
        return s_older(self, d, mi, unit, iid, &r, hash, err, errlen);
    }
    if (rc)
        return rc;
    if (ahead)
        s_held(self, &r, now);
    else
        hub_state_apply(st, &r);
    s_moved_on(self, unit, r.seq);
    d->reports_stored++;
    s_touch(self, mi, unit);
    return 0;
}

static void s_fail(hub_ingest_t *self, int rc, const char *why)
{
    hub_store_rollback(self->store);
    self->nrefusals = self->nacks = 0;
    self->next_retry_ms = ro_time_mono_ms() + RETRY_MS;
    char err[256];
    if (hub_store_load_states(self->store, self->reg, self->states, err, sizeof err) == 0)
        self->need_reload = 0;
    else
        self->need_reload = 1;
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
    hub_ingest_counters_t d;
    memset(&d, 0, sizeof d);
    int64_t began_us = ro_time_mono_us();
    self->b_released = 0;
    self->b_held = self->b_held_due = 0;
    self->b_release_reports = 0;
    self->b_release_units = 0;
    int rc = hub_store_begin(self->store, err, sizeof err);
    if (rc == 0)
        rc = s_release(self, now, err, sizeof err);
    for (size_t i = 0; rc == 0 && i < self->nmsgs; i++)
        rc = s_apply_one(self, &d, i, now, err, sizeof err);
    for (size_t i = 0; rc == 0 && i < self->ndirty; i++)
        rc = hub_store_put_state(self->store, self->dirty[i], &self->states[self->dirty[i]], err,
                                 sizeof err);
    if (rc == 0)
        rc = hub_store_commit(self->store, err, sizeof err);
    if (rc) {
        s_fail(self, rc, err);
        return rc;
    }
    for (size_t i = 0; i < self->nacks; i++)
        self->acks[i].r.msg.seq = self->states[self->acks[i].unit].last_seq;

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
    s_publish(self, self->dirty, self->ndirty);
    self->done = 1;
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
