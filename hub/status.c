/* hub_status: strict decode, a dispatch table by query, replies built per
 * request from the engine's scopes and encoded by lib/ro_status. Past dates read the store's
 * as-of scan (cached until the next stored report); series and history
 * read the store's own one-pass queries, and the trail its events. */
#include "status.h"
#include "problems.h"
#include "auth.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_mem.h"
#include "ro_sock.h"
#include "ro_status.h"
#include "ro_time.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SERIES_MONTHS_MAX 1200 /* monthly points of a series: a century */
#define DROP_IDS 16            /* identities whose dropped replies are counted one by one */

_Static_assert(HUB_STATUS_SCOPES_MAX <= RO_STATUS_SCOPES_MAX, "a reply the codec would refuse");

/* Replies dropped because their connection was not reading (see
 * hub_status_serve), for one identity: METRICS says
 * "status_replies_dropped:<User-Id>", "...:other" past DROP_IDS. */
typedef struct {
    char name[80]; /* the metric's name; "" = a free slot */
    uint64_t n;    /* replies dropped */
} s_drops_t;

struct hub_status {
    const ro_registry_t *reg;         /* borrowed */
    const hub_unit_state_t *states;   /* borrowed, live */
    hub_store_t *store;               /* borrowed: as-of, history, series and verify */
    const hub_committed_t *committed; /* borrowed, may be NULL: sums, counters, feed */
    const hub_engine_t *engine;       /* borrowed, may be NULL: raw sums only */
    const ro_targets_t *targets;      /* borrowed, with the engine */
    char *targets_text;               /* owned: what TARGETS answers, may be NULL */
    int64_t silent_after;             /* seconds */
    hub_status_metrics_fn metrics_fn; /* more METRICS, may be NULL */
    void *metrics_arg;                /* its argument */
    hub_status_gate_fn gate;          /* may this connection still ask? NULL: yes */
    void *gate_arg;                   /* its argument */
    ro_ratelimit_t rl;                /* bad-request log lines */
    /* read by other threads (hub_status_counters): relaxed atomics */
    _Atomic uint64_t bad_requests;   /* requests answered with status 2 (refused) */
    _Atomic uint64_t unknown_fields; /* fields of requests skipped: unknown to this version */
    _Atomic uint64_t dropped;        /* replies dropped: their connection was not reading */
    s_drops_t drops[DROP_IDS + 1];   /* the same per identity, the last one "other" */
    ro_ratelimit_t drop_rl;          /* their log lines */
    hub_unit_state_t *past;          /* owned: states as of past_as_of */
    uint32_t *past_after;            /* owned: per unit, corrections after past_known */
    uint32_t past_as_of;             /* 0 = past holds nothing */
    uint32_t past_known;             /* as known on this day; 0 = now */
    uint64_t past_key;               /* s_change_key when past was computed */
    hub_rollup_t *past_sums;         /* owned: the rollups' sums as of past_sums_as_of */
    uint32_t past_sums_as_of;        /* 0 = past_sums holds nothing */
    uint64_t past_sums_key;          /* s_change_key when they were read */
    hub_status_hook_fn leave, enter; /* around store scans, may be NULL */
    void *hook_arg;                  /* their argument */
    uint64_t generation;             /* registry or targets replaced this many times */
    hub_status_decide_fn decide;     /* QUERY_DECIDE's way to ingest; NULL: none */
    void *decide_arg;                /* its argument */
    int keys;                        /* CURVE is on: only reviewer keys decide */
    char asker[64];                  /* the User-Id of the request being answered, "" none */
    hub_unit_marks_t *marks;         /* owned: what the figures as of marks_as_of rest on */
    uint32_t marks_as_of;            /* 0 = marks holds nothing */
    int64_t marks_known_on;          /* the cutoff they were counted with */
    int64_t marks_key;               /* the trail's newest id then: they hold while it stays */
};

/* A reply under construction. */
typedef struct {
    ro_status_reply_t pb; /* the reply's fields; scopes, metrics and points below */
    ro_scope_t *scopes;   /* grows; made into the wire's scopes at pack time */
    size_t nscopes, scap;
    ro_status_metric_t *metrics;
    size_t nmetrics, mcap;
    ro_status_point_t *points;
    size_t npoints;
    char indicator[RO_ID_MAX];      /* reply's indicator */
    char error[2048];               /* reply error text */
    uint32_t today;                 /* the hub's date */
    uint32_t known_on;              /* as known at the end of this day; 0 = now */
    const uint32_t *after;          /* per unit, corrections after known_on (NULL: none) */
    int64_t now;                    /* the hub's clock */
    const hub_unit_state_t *states; /* the states this reply reads */
    hub_problems_t *problems;       /* PROBLEMS: what pb.problems points into */
    hub_store_event_t *events;      /* TRAIL: what pb.trail's by and reason point into */
    char *hex;                      /* TRAIL, REVIEWS: incarnations in hex */
    hub_store_review_t *rows;       /* REVIEWS: what pb.reviews points into */
} s_reply_t;

typedef int (*s_handler_fn)(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep);

hub_status_t *hub_status_new(const ro_registry_t *reg, const hub_unit_state_t *states,
                             hub_store_t *store, const hub_committed_t *committed)
{
    if (!reg || !states)
        return NULL;
    hub_status_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->reg = reg;
    self->states = states;
    self->store = store;
    self->committed = committed;
    self->silent_after = HUB_STATUS_SILENT_AFTER;
    ro_ratelimit_init(&self->rl, 5, 0.2);
    ro_ratelimit_init(&self->drop_rl, 5, 0.2);
    return self;
}

void hub_status_destroy(hub_status_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->targets_text);
    free((*self_p)->past);
    free((*self_p)->past_sums);
    free((*self_p)->marks);
    free((*self_p)->past_after);
    free(*self_p);
    *self_p = NULL;
}

int hub_status_set_engine(hub_status_t *self, const hub_engine_t *engine,
                          const ro_targets_t *targets, const char *targets_text)
{
    char *text = NULL;
    if (targets_text && !(text = strdup(targets_text)))
        return -1;
    free(self->targets_text);
    self->targets_text = text;
    self->engine = engine;
    self->targets = engine ? targets : NULL;
    self->generation++;
    return 0;
}

void hub_status_set_silent_after(hub_status_t *self, int64_t seconds)
{
    self->silent_after = seconds;
}

void hub_status_set_registry(hub_status_t *self, const ro_registry_t *reg,
                             const hub_unit_state_t *states)
{
    self->reg = reg;
    self->states = states;
    self->generation++;
    free(self->past); /* indexed by the old registry */
    free(self->past_after);
    free(self->past_sums); /* its units counted by it */
    self->past = NULL;
    self->past_after = NULL;
    self->past_sums = NULL;
    self->past_sums_as_of = 0;
    self->past_as_of = 0;
    self->past_key = 0;
    free(self->marks); /* the same */
    self->marks = NULL;
    self->marks_as_of = 0;
}

size_t hub_status_counters(void *arg, hub_metric_t *out, size_t cap)
{
    const hub_status_t *self = arg;
    hub_metric_t all[] = {
        {"status_refused", (double)atomic_load_explicit(&self->bad_requests, memory_order_relaxed)},
        {"status_unknown_fields",
         (double)atomic_load_explicit(&self->unknown_fields, memory_order_relaxed)},
        {"status_replies_dropped",
         (double)atomic_load_explicit(&self->dropped, memory_order_relaxed)},
    };
    size_t n = sizeof all / sizeof all[0] < cap ? sizeof all / sizeof all[0] : cap;
    memcpy(out, all, n * sizeof *out);
    return n;
}

void hub_status_set_metrics(hub_status_t *self, hub_status_metrics_fn fn, void *arg)
{
    self->metrics_fn = fn;
    self->metrics_arg = arg;
}

/* The kept sums, when the reply reads the committed states (not a past date). */
static const hub_rollup_t *s_sums(const hub_status_t *self, const hub_unit_state_t *states)
{
    return self->committed && states == self->states ? hub_committed_sums(self->committed) : NULL;
}

void hub_status_set_store_hooks(hub_status_t *self, hub_status_hook_fn leave,
                                hub_status_hook_fn enter, void *arg)
{
    self->leave = leave;
    self->enter = enter;
    self->hook_arg = arg;
}

/* Around a store scan: s_leave before it, which is true when the scan may
 * run (no reload came while the hooks changed locks; *gen is the
 * generation to check), and s_enter after it (0, or status 1 when the
 * registry or targets changed: the reply then carries no scope). */
static int s_leave(hub_status_t *self, uint64_t *gen)
{
    *gen = self->generation;
    if (self->leave)
        self->leave(self->hook_arg);
    return self->generation == *gen;
}

static int s_enter(hub_status_t *self, uint64_t gen, s_reply_t *rep)
{
    if (self->enter)
        self->enter(self->hook_arg);
    if (self->generation == gen)
        return 0;
    rep->nscopes = 0; /* evaluated with what was replaced */
    snprintf(rep->error, sizeof rep->error,
             "the hub reloaded its registry or targets during this query; ask again");
    return 1;
}

/* ---- reply building ---------------------------------------------------- */

static ro_scope_t *s_scope_add(s_reply_t *rep)
{
    if (rep->nscopes == rep->scap) {
        size_t cap = rep->scap ? rep->scap * 2 : 4;
        ro_scope_t *s = realloc(rep->scopes, cap * sizeof *s);
        if (!s)
            return NULL;
        rep->scopes = s;
        rep->scap = cap;
    }
    ro_scope_t *sc = &rep->scopes[rep->nscopes++];
    memset(sc, 0, sizeof *sc);
    return sc;
}

static int s_metric_add(s_reply_t *rep, const char *name, double value)
{
    if (rep->nmetrics == rep->mcap) {
        size_t cap = rep->mcap ? rep->mcap * 2 : 32;
        ro_status_metric_t *m = realloc(rep->metrics, cap * sizeof *m);
        if (!m)
            return -1;
        rep->metrics = m;
        rep->mcap = cap;
    }
    rep->metrics[rep->nmetrics].name = (char *)name;
    rep->metrics[rep->nmetrics++].value = value;
    return 0;
}

/* Room for n history points (the reply owns them). */
static ro_status_point_t *s_points(s_reply_t *rep, size_t n)
{
    rep->points = calloc(n ? n : 1, sizeof *rep->points);
    if (!rep->points)
        return NULL;
    rep->npoints = n;
    return rep->points;
}

/* Sum of the units' stored reports, and of the corrections and decisions
 * applied: grows with every stored report and every change of one, so it
 * tells whether a cached as-of scan still holds (an amend leaves the
 * reports as many; an answer as known on a past day counts it after). */
static uint64_t s_change_key(const hub_status_t *self)
{
    uint64_t key = 0;
    size_t n = ro_registry_count(self->reg);
    for (size_t i = 0; i < n; i++)
        key += self->states[i].reports;
    if (self->committed) {
        const hub_ingest_counters_t *c = hub_committed_counters(self->committed);
        key += (c->corrections + c->decisions) << 40;
    }
    return key;
}

/* The corrections after the known-on day of the reply's units that pass
 * keep (NULL: all), into the reply. */
static void s_after_sum(const hub_status_t *self, s_reply_t *rep,
                        int (*keep)(const ro_unit_t *u, uint32_t arg), uint32_t arg)
{
    uint64_t sum = 0;
    size_t n = ro_registry_count(self->reg);
    for (size_t i = 0; rep->after && i < n; i++)
        if (!keep || keep(ro_registry_at(self->reg, i), arg))
            sum += rep->after[i];
    rep->pb.corrections_after = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* A past state's last seq is today's (the store answers the aggregates). */
static void s_seq_today(hub_status_t *self)
{
    size_t n = ro_registry_count(self->reg);
    for (size_t i = 0; i < n; i++) {
        self->past[i].last_seq = self->states[i].last_seq;
        self->past[i].seq_shown = self->states[i].seq_shown;
    }
}

/* The states the reply reads: live, or recomputed as of a past date. */
static const hub_unit_state_t *s_states(hub_status_t *self, s_reply_t *rep)
{
    if (rep->states)
        return rep->states;
    if (rep->pb.as_of >= rep->today) {
        rep->states = self->states;
        return rep->states;
    }
    uint64_t key = s_change_key(self);
    /* as known on today is as known now: nothing after it is stored yet */
    uint32_t known = rep->known_on < rep->today ? rep->known_on : 0;
    if (self->past && self->past_as_of == rep->pb.as_of && self->past_known == known &&
        self->past_key == key) {
        s_seq_today(self);
        rep->states = self->past;
        rep->after = known ? self->past_after : NULL;
        s_after_sum(self, rep, NULL, 0);
        return rep->states;
    }
    size_t n = ro_registry_count(self->reg);
    if (!self->past)
        self->past = ro_calloc_big(n, sizeof *self->past);
    if (!self->past_after)
        self->past_after = ro_calloc_big(n, sizeof *self->past_after);
    self->past_as_of = 0;
    char err[256];
    if (!self->past || !self->past_after || !self->store) {
        snprintf(rep->error, sizeof rep->error, "cannot compute the state as of %u: %s",
                 rep->pb.as_of, !self->store ? "no store" : "out of memory");
        return NULL;
    }
    uint64_t gen;
    int bad = s_leave(self, &gen) &&
              hub_store_states_known(self->store, self->reg, rep->pb.as_of, known, self->past,
                                     self->past_after, err, sizeof err);
    if (s_enter(self, gen, rep))
        return NULL;
    if (bad) {
        snprintf(rep->error, sizeof rep->error, "cannot compute the state as of %u: %s",
                 rep->pb.as_of, err);
        return NULL;
    }
    self->past_as_of = rep->pb.as_of;
    self->past_known = known;
    self->past_key = key;
    s_seq_today(self);
    rep->states = self->past;
    rep->after = known ? self->past_after : NULL;
    s_after_sum(self, rep, NULL, 0);
    return rep->states;
}

/* The rollups' sums as of the reply's past date (not as known on a day)
 * into *out: the store's scope_days, a row per scope and day, not a state
 * per unit (a province as of any day in milliseconds on 100,000 units);
 * the scopes' heads, units and last_heard today's, as the states as of a
 * date carry today's last_heard. Kept until the store changes or the date
 * does. *out NULL (status 0): the reply folds the units' states instead
 * (today's, as known on a day, no engine or no store). Else status 1
 * with the error. */
static int s_past_sums(hub_status_t *self, s_reply_t *rep, const hub_rollup_t **out)
{
    *out = NULL;
    if (!self->engine || !self->store || rep->pb.as_of >= rep->today ||
        (rep->known_on && rep->known_on < rep->today))
        return 0;
    uint64_t key = s_change_key(self);
    if (self->past_sums && self->past_sums_as_of == rep->pb.as_of && self->past_sums_key == key) {
        *out = self->past_sums;
        return 0;
    }
    if (!self->past_sums && !(self->past_sums = malloc(sizeof *self->past_sums)))
        return 0; /* out of memory: the states are folded */
    hub_rollup_t *r = self->past_sums;
    const hub_rollup_t *live = self->committed ? hub_committed_sums(self->committed) : NULL;
    if (live)
        *r = *live;
    else
        hub_engine_sum(self->engine, self->states, r);
    r->as_of = rep->pb.as_of;
    self->past_sums_as_of = 0;
    char err[256];
    uint64_t gen;
    int bad = s_leave(self, &gen) && hub_store_scope_sums(self->store, rep->pb.as_of, &r->province,
                                                          r->levels, r->divisions, err, sizeof err);
    if (s_enter(self, gen, rep))
        return 1;
    if (bad) {
        snprintf(rep->error, sizeof rep->error, "cannot compute the state as of %u: %s",
                 rep->pb.as_of, err);
        return 1;
    }
    self->past_sums_as_of = rep->pb.as_of;
    self->past_sums_key = key;
    *out = r;
    return 0;
}

/* The engine, or status 1 with a reason when the hub has no targets. */
static int s_need_engine(const hub_status_t *self, s_reply_t *rep)
{
    if (self->engine)
        return 0;
    snprintf(rep->error, sizeof rep->error, "this hub has no targets loaded");
    return 1;
}

/* The indicator a request names (default: the headline one): 0 and *out,
 * or status 2 with a reason. */
static int s_indicator(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep,
                       size_t *out)
{
    if (!req->indicator[0]) {
        *out = ro_targets_headline(self->targets);
    } else {
        int i = ro_targets_find(self->targets, req->indicator);
        if (i < 0) {
            size_t o =
                (size_t)snprintf(rep->error, sizeof rep->error,
                                 "unknown indicator '%.40s'; the hub's are:", req->indicator);
            for (size_t k = 0; k < ro_targets_count(self->targets) && o < sizeof rep->error; k++)
                o += (size_t)snprintf(rep->error + o, sizeof rep->error - o, " %s",
                                      ro_targets_at(self->targets, k)->id);
            return 2;
        }
        *out = (size_t)i;
    }
    snprintf(rep->indicator, sizeof rep->indicator, "%s", ro_targets_at(self->targets, *out)->id);
    return 0;
}

/* Add unit index evaluated (or its raw sums without an engine). */
static int s_add_unit(hub_status_t *self, s_reply_t *rep, const hub_unit_state_t *states,
                      size_t index)
{
    ro_scope_t *sc = s_scope_add(rep);
    if (!sc)
        return -1;
    /* the committed state's units (under its lock) carry what ingest flags now */
    int live = self->committed && states == hub_committed_states(self->committed);
    const hub_unit_flags_t *fl = live ? &hub_committed_flags(self->committed)[index] : NULL;
    uint32_t flags = fl ? hub_unit_flags_bits(fl, rep->now) : 0;
    if (self->engine) {
        int rc = hub_engine_unit(self->engine, states, index, rep->pb.as_of, sc) ? 1 : 0;
        sc->flags = flags;
        sc->held_review = fl ? hub_marks_held(&fl->marks) : 0;
        return rc;
    }
    const ro_unit_t *u = ro_registry_at(self->reg, index);
    sc->kind = RO_SCOPE_UNIT;
    snprintf(sc->id, sizeof sc->id, "%s", u->id);
    snprintf(sc->name, sizeof sc->name, "%s", u->name);
    sc->level = (int)u->level;
    sc->division = u->division;
    hub_scope_add(sc, &states[index]);
    sc->last_seq = states[index].seq_shown;
    sc->flags = flags;
    sc->held_review = fl ? hub_marks_held(&fl->marks) : 0;
    return 0;
}

/* ---- queries ----------------------------------------------------------- */

static long s_find_unit(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    long i = req->key[0] ? ro_registry_find(self->reg, req->key) : -1;
    if (i < 0)
        snprintf(rep->error, sizeof rep->error, "unknown unit '%.40s': not in the hub's registry",
                 req->key);
    return i;
}

static int s_query_unit(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    long i = s_find_unit(self, req, rep);
    if (i < 0)
        return 2;
    const hub_unit_state_t *states = s_states(self, rep);
    if (!states)
        return 1;
    rep->pb.corrections_after = rep->after ? rep->after[i] : 0;
    return s_add_unit(self, rep, states, (size_t)i);
}

static int s_in_division(const ro_unit_t *u, uint32_t code)
{
    return u->division == code;
}

static int s_in_level(const ro_unit_t *u, uint32_t level)
{
    return (uint32_t)u->level == level;
}

static int s_query_province(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    (void)req;
    const hub_rollup_t *sums;
    int rc = s_past_sums(self, rep, &sums);
    const hub_unit_state_t *states = rc || sums ? NULL : s_states(self, rep);
    if (rc || (!sums && !states))
        return 1;
    ro_scope_t *sc = s_scope_add(rep);
    if (!sc)
        return -1;
    if (!sums)
        sums = s_sums(self, states);
    /* held for review: what the committed state knows now (0 as of a past date) */
    uint64_t held = self->committed && states && states == hub_committed_states(self->committed)
                        ? hub_committed_held_review(self->committed)
                        : 0;
    if (self->engine) {
        int rc = sums ? hub_engine_eval(self->engine, &sums->province, rep->pb.as_of, sc)
                      : hub_engine_province(self->engine, states, rep->pb.as_of, sc);
        sc->held_review = held;
        return rc ? 1 : 0;
    }
    sc->kind = RO_SCOPE_PROVINCE;
    snprintf(sc->id, sizeof sc->id, "%u", RO_PROVINCE_CODE);
    snprintf(sc->name, sizeof sc->name, "%s", ro_division_name(RO_PROVINCE_CODE));
    sc->level = -1;
    size_t n = ro_registry_count(self->reg);
    for (size_t i = 0; i < n; i++)
        hub_scope_add(sc, &states[i]);
    sc->held_review = held;
    return 0;
}

static int s_query_division(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    if (rc)
        return rc;
    const char *key = req->key;
    char *end = NULL;
    unsigned long code = strtoul(key, &end, 10);
    if (!key[0] || *end || code > UINT32_MAX || ro_division_index((uint32_t)code) < 0) {
        snprintf(rep->error, sizeof rep->error,
                 "unknown division '%.40s': give a code such as 460100 (460000: the "
                 "provincial units)",
                 key);
        return 2;
    }
    const hub_rollup_t *sums;
    rc = s_past_sums(self, rep, &sums);
    const hub_unit_state_t *states = rc || sums ? NULL : s_states(self, rep);
    if (rc || (!sums && !states))
        return 1;
    ro_scope_t *sc = s_scope_add(rep);
    if (!sc)
        return -1;
    s_after_sum(self, rep, s_in_division, (uint32_t)code);
    if (!sums)
        sums = s_sums(self, states);
    const ro_scope_t *sum = sums ? &sums->divisions[ro_division_index((uint32_t)code)] : NULL;
    if (sum)
        return hub_engine_eval(self->engine, sum, rep->pb.as_of, sc) ? 1 : 0;
    return hub_engine_division(self->engine, states, (uint32_t)code, rep->pb.as_of, sc) ? 1 : 0;
}

static int s_query_level(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    if (rc)
        return rc;
    ro_level_t level = RO_LEVEL_PROVINCIAL;
    int all = !req->key[0];
    if (!all && ro_level_parse(req->key, &level)) {
        snprintf(rep->error, sizeof rep->error,
                 "unknown level '%.40s': provincial, municipal or township", req->key);
        return 2;
    }
    const hub_rollup_t *sums;
    rc = s_past_sums(self, rep, &sums);
    const hub_unit_state_t *states = rc || sums ? NULL : s_states(self, rep);
    if (rc || (!sums && !states))
        return 1;
    if (!sums)
        sums = s_sums(self, states);
    if (!all)
        s_after_sum(self, rep, s_in_level, (uint32_t)level);
    for (int l = 0; l < RO_LEVEL_COUNT; l++) {
        if (!all && l != (int)level)
            continue;
        ro_scope_t *sc = s_scope_add(rep);
        if (!sc)
            return -1;
        if (sums ? hub_engine_eval(self->engine, &sums->levels[l], rep->pb.as_of, sc)
                 : hub_engine_level(self->engine, states, (ro_level_t)l, rep->pb.as_of, sc))
            return 1;
    }
    return 0;
}

static int s_query_divisions(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    (void)req;
    int rc = s_need_engine(self, rep);
    if (rc)
        return rc;
    const hub_rollup_t *sums;
    rc = s_past_sums(self, rep, &sums);
    const hub_unit_state_t *states = rc || sums ? NULL : s_states(self, rep);
    if (rc || (!sums && !states))
        return 1;
    if (!sums)
        sums = s_sums(self, states);
    hub_rollup_t *r = sums ? NULL : malloc(sizeof *r);
    if (!sums && !r)
        return -1;
    rc = r && hub_engine_rollup(self->engine, states, rep->pb.as_of, r) ? 1 : 0;
    for (int d = 0; rc == 0 && d < RO_DIVISION_COUNT; d++) {
        ro_scope_t *sc = s_scope_add(rep);
        if (!sc)
            rc = -1;
        else if (r)
            *sc = r->divisions[d];
        else
            rc = hub_engine_eval(self->engine, &sums->divisions[d], rep->pb.as_of, sc) ? 1 : 0;
    }
    free(r);
    return rc;
}

/* How many of total a reply carries. */
static size_t s_limit(const ro_status_request_t *req, size_t total)
{
    size_t cap =
        req->limit && req->limit < HUB_STATUS_SCOPES_MAX ? req->limit : HUB_STATUS_SCOPES_MAX;
    return total < cap ? total : cap;
}

static int s_query_laggards(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    size_t ind = 0;
    if (rc || (rc = s_indicator(self, req, rep, &ind)))
        return rc;
    const hub_unit_state_t *states = s_states(self, rep);
    if (!states)
        return 1;
    hub_laggard_t *l = NULL;
    size_t n = 0, total = 0;
    /* today's states: their values are kept, 8 bytes a unit to read */
    const double *values = states == self->states && self->committed
                               ? hub_committed_values(self->committed, self->engine)
                               : NULL;
    if (hub_engine_laggards(self->engine, states, values, rep->pb.as_of, ind,
                            s_limit(req, SIZE_MAX), &l, &n, &total))
        return -1;
    rep->pb.total = (uint32_t)total;
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = s_add_unit(self, rep, states, l[k].unit);
    free(l);
    return rc;
}

static int s_query_silent(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    if (rc)
        return rc;
    if (rep->pb.as_of != rep->today) {
        snprintf(rep->error, sizeof rep->error,
                 "silent units are known only as of today (heartbeats are not stored)");
        return 2;
    }
    hub_silent_t *s = NULL;
    size_t n = 0;
    if (hub_engine_silent(self->engine, self->states, rep->now, self->silent_after, 0, &s, &n))
        return -1;
    rep->pb.total = (uint32_t)n;
    size_t shown = s_limit(req, n);
    for (size_t k = 0; rc == 0 && k < shown; k++)
        rc = s_add_unit(self, rep, self->states, s[k].unit);
    free(s);
    if (rc == 0 && s_metric_add(rep, "silent_after", (double)self->silent_after))
        rc = -1;
    return rc;
}

static int s_query_problems(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    if (rep->pb.as_of != rep->today) {
        snprintf(rep->error, sizeof rep->error,
                 "problems are known only as of today (heartbeats and gaps are not stored)");
        return 2;
    }
    hub_problems_t *p = hub_problems_new(self->reg);
    if (!p)
        return -1;
    rep->problems = p; /* freed with the reply */
    char err[256] = "";
    if (self->store) {
        uint64_t gen;
        int64_t since = rep->now - (int64_t)HUB_REFUSED_DAYS * 86400;
        int bad = s_leave(self, &gen) &&
                  hub_store_problems(self->store, since, hub_problems_store, p, err, sizeof err);
        if (s_enter(self, gen, rep))
            return 1;
        if (bad) {
            snprintf(rep->error, sizeof rep->error, "cannot list the problems: %s",
                     err[0] ? err : "out of memory");
            return 1;
        }
    }
    const hub_unit_flags_t *flags = self->committed ? hub_committed_flags(self->committed) : NULL;
    size_t n = 0, total = 0;
    if (hub_problems_list(p, self->states, flags, rep->now, self->silent_after,
                          s_limit(req, SIZE_MAX), &rep->pb.problems, &n, &total))
        return -1;
    rep->pb.n_problems = n;
    rep->pb.total = (uint32_t)total;
    return 0;
}

/* An incarnation in hex into out: "" for the legacy one (16 zero bytes). */
static void s_hex(const uint8_t inc[RO_INCARNATION_LEN], char out[RO_STATUS_HEX_MAX + 1])
{
    static const uint8_t legacy[RO_INCARNATION_LEN];
    out[0] = '\0';
    if (memcmp(inc, legacy, RO_INCARNATION_LEN) != 0)
        for (int i = 0; i < RO_INCARNATION_LEN; i++)
            snprintf(out + 2 * i, 3, "%02x", inc[i]);
}

/* A trail row's what: a correction's action, or a review's step. */
static const char *s_what_name(int what)
{
    switch (what) {
    case HUB_STORE_EVENT_FLAG: return "flag";
    case HUB_STORE_EVENT_ACCEPT: return "accept";
    case HUB_STORE_EVENT_REJECT: return "reject";
    default: return ro_action_name((ro_action_t)what);
    }
}

/* The trail is what the hub knows now: as_of is about the reports' dates,
 * and answering "as known on" a date is another question's (known_on,
 * REVISION-2.md), so another date is refused rather than quietly ignored. */
static int s_query_trail(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    long i = s_find_unit(self, req, rep);
    if (i < 0)
        return 2;
    if (rep->pb.as_of != rep->today) {
        snprintf(rep->error, sizeof rep->error,
                 "the trail is known only as of today: it lists every correction the hub holds");
        return 2;
    }
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "cannot read the trail: no store");
        return 1;
    }
    size_t n = 0;
    uint64_t total = 0;
    char err[256];
    uint64_t gen;
    int bad = s_leave(self, &gen) && hub_store_trail(self->store, (size_t)i, s_limit(req, SIZE_MAX),
                                                     &rep->events, &n, &total, err, sizeof err);
    if (s_enter(self, gen, rep))
        return 1;
    if (bad) {
        snprintf(rep->error, sizeof rep->error, "cannot read the trail: %s", err);
        return 1;
    }
    enum { HEX = RO_STATUS_HEX_MAX + 1 };
    rep->hex = calloc(n ? 2 * n : 1, HEX);
    rep->pb.trail = calloc(n ? n : 1, sizeof *rep->pb.trail);
    if (!rep->hex || !rep->pb.trail)
        return -1;
    for (size_t k = 0; k < n; k++) {
        const hub_store_event_t *e = &rep->events[k];
        ro_status_trail_t *t = &rep->pb.trail[k];
        char *target_hex = rep->hex + 2 * k * HEX, *hex = target_hex + HEX;
        s_hex(e->target_inc, target_hex);
        s_hex(e->inc, hex);
        *t = (ro_status_trail_t){.at = e->at,
                                 .what = (char *)s_what_name((int)e->what),
                                 .target_seq = e->target_seq,
                                 .target_incarnation = target_hex,
                                 .target_kind = (char *)ro_kind_name(e->target_kind),
                                 .target_date = e->target_date,
                                 .target_total = e->target_total,
                                 .target_part = e->target_part,
                                 .seq = e->seq,
                                 .incarnation = hex,
                                 .new_date = e->new_date,
                                 .new_total = e->new_total,
                                 .new_part = e->new_part,
                                 .by = (char *)e->by,
                                 .reason = (char *)e->reason};
    }
    rep->pb.n_trail = n;
    rep->pb.total = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    return 0;
}

static const char *const s_review_states[] = {"pending", "accepted", "rejected", "corrected"};

/* REVIEWS: key a unit, or "" for every unit; what the store holds now. */
static int s_query_reviews(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    long i = req->key[0] ? s_find_unit(self, req, rep) : -1;
    if (req->key[0] && i < 0)
        return 2;
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "cannot read the reviews: no store");
        return 1;
    }
    size_t n = 0;
    uint64_t total = 0;
    char err[256];
    uint64_t gen;
    int bad =
        s_leave(self, &gen) && hub_store_reviews(self->store, i, s_limit(req, SIZE_MAX), &rep->rows,
                                                 &n, &total, NULL, err, sizeof err);
    if (s_enter(self, gen, rep))
        return 1;
    if (bad) {
        snprintf(rep->error, sizeof rep->error, "cannot read the reviews: %s", err);
        return 1;
    }
    enum { HEX = RO_STATUS_HEX_MAX + 1 };
    rep->hex = calloc(n ? n : 1, HEX);
    rep->pb.reviews = calloc(n ? n : 1, sizeof *rep->pb.reviews);
    if (!rep->hex || !rep->pb.reviews)
        return -1;
    for (size_t k = 0; k < n; k++) {
        hub_store_review_t *v = &rep->rows[k];
        char *hex = rep->hex + k * HEX;
        s_hex(v->inc, hex);
        rep->pb.reviews[k] = (ro_status_review_t){.unit = v->unit,
                                                  .seq = v->seq,
                                                  .incarnation = hex,
                                                  .kind = (char *)ro_kind_name(v->kind),
                                                  .date = v->date,
                                                  .total = v->total,
                                                  .part = v->part,
                                                  .rule = v->rule,
                                                  .text = v->text,
                                                  .flagged_at = v->flagged_at,
                                                  .state = (char *)s_review_states[v->state & 3],
                                                  .by = v->by,
                                                  .at = v->at,
                                                  .reason = v->reason};
    }
    rep->pb.n_reviews = n;
    rep->pb.total = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    return 0;
}

/* A decision as the status thread checks it: a reviewer's (with keys), a
 * unit of the registry, an incarnation in hex or "", a reason. Returns 0
 * with d filled, or 2 with why in rep. */
static int s_decision(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep,
                      hub_decision_t *d)
{
    const ro_status_decision_t *q = &req->decision;
    memset(d, 0, sizeof *d);
    if (self->keys && strncmp(self->asker, "reviewer:", 9)) {
        snprintf(rep->error, sizeof rep->error, "forbidden: only a reviewer key decides");
        return 2;
    }
    if (!req->has_decision || !q->unit[0] || q->seq == 0) {
        snprintf(rep->error, sizeof rep->error, "DECIDE needs a decision: unit, seq, reason");
        return 2;
    }
    if (ro_registry_find(self->reg, q->unit) < 0) {
        snprintf(rep->error, sizeof rep->error, "unknown unit '%.40s': not in the hub's registry",
                 q->unit);
        return 2;
    }
    if (!q->reason[0]) {
        snprintf(rep->error, sizeof rep->error, "a decision needs a reason");
        return 2;
    }
    size_t hl = strlen(q->incarnation);
    if (hl && (hl != 2 * RO_INCARNATION_LEN || strspn(q->incarnation, "0123456789abcdef") != hl)) {
        snprintf(rep->error, sizeof rep->error,
                 "incarnation '%.40s' is not 32 lower-case hex digits (or empty)", q->incarnation);
        return 2;
    }
    for (size_t k = 0; hl && k < RO_INCARNATION_LEN; k++) {
        unsigned b = 0;
        sscanf(q->incarnation + 2 * k, "%2x", &b);
        d->inc[k] = (uint8_t)b;
    }
    d->has_inc = hl > 0;
    snprintf(d->unit, sizeof d->unit, "%s", q->unit);
    d->seq = q->seq;
    d->accept = q->accept;
    snprintf(d->by, sizeof d->by, "%s", self->asker);
    snprintf(d->reason, sizeof d->reason, "%s", q->reason);
    return 0;
}

/* DECIDE: checked here, applied by ingest's thread (the status thread never
 * writes the store), answered once committed. */
static int s_query_decide(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    hub_decision_t d;
    int bad = s_decision(self, req, rep, &d);
    if (bad)
        return bad;
    if (!self->decide) {
        snprintf(rep->error, sizeof rep->error, "this hub takes no decisions");
        return 1;
    }
    char why[512] = "";
    uint64_t gen;
    s_leave(self, &gen); /* ingest's thread needs committed's lock to publish */
    int rc = self->decide(self->decide_arg, &d, why, sizeof why);
    if (self->enter)
        self->enter(self->hook_arg);
    if (rc == 0)
        snprintf(rep->error, sizeof rep->error, "%s seq %llu %s", d.unit, (unsigned long long)d.seq,
                 d.accept ? "accepted" : "rejected");
    else
        snprintf(rep->error, sizeof rep->error, "%s", why);
    return rc == 0 || rc == 1 ? 0 : rc == HUB_STORE_ETARGET ? 2 : 1;
}

/* The report kind an indicator reads. */
static ro_kind_t s_kind_of(const ro_indicator_t *ind)
{
    switch (ind->source) {
    case RO_SOURCE_STAFF: return RO_KIND_STAFF;
    case RO_SOURCE_ITEMS: return RO_KIND_ITEMS;
    case RO_SOURCE_CASES: return RO_KIND_CASES;
    default: return RO_KIND_TRAINING;
    }
}

/* An indicator's value from a report's (or a sum of reports') total and
 * part: a ratio part / total (no data when total is 0), participants the
 * total, hours the part in tenths. */
static void s_point_value(const ro_indicator_t *ind, uint64_t total, uint64_t part,
                          ro_status_point_t *p)
{
    p->total = total;
    p->part = part;
    if (ind->kind == RO_KIND_RATIO) {
        p->no_data = total == 0;
        p->value = total ? (double)part / (double)total : 0.0;
    } else {
        p->value = ind->source == RO_SOURCE_HOURS ? (double)part / 10.0 : (double)total;
    }
}

static int s_query_history(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    size_t ind = 0;
    if (rc || (rc = s_indicator(self, req, rep, &ind)))
        return rc;
    long i = s_find_unit(self, req, rep);
    if (i < 0)
        return 2;
    const hub_unit_state_t *states = s_states(self, rep);
    if (!states)
        return 1;
    if ((rc = s_add_unit(self, rep, states, (size_t)i)))
        return rc;
    hub_store_point_t *pts = NULL;
    size_t n = 0;
    char err[256];
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "cannot read the history: no store");
        return 1;
    }
    ro_kind_t kind = s_kind_of(ro_targets_at(self->targets, ind));
    uint64_t gen;
    int bad = s_leave(self, &gen) && hub_store_history(self->store, (size_t)i, kind, rep->pb.as_of,
                                                       &pts, &n, err, sizeof err);
    if (s_enter(self, gen, rep)) {
        free(pts);
        return 1;
    }
    if (bad) {
        snprintf(rep->error, sizeof rep->error, "cannot read the history: %s", err);
        return 1;
    }
    const ro_indicator_t *in = ro_targets_at(self->targets, ind);
    size_t first = req->limit && n > req->limit ? n - req->limit : 0;
    ro_status_point_t *out = s_points(rep, n - first);
    if (!out) {
        free(pts);
        return -1;
    }
    uint64_t total = 0, part = 0;
    for (size_t k = 0; k < n; k++) {
        /* a sum's value is the running sum; a snapshot's is its own */
        total = in->kind == RO_KIND_SUM ? total + pts[k].total : pts[k].total;
        part = in->kind == RO_KIND_SUM ? part + pts[k].part : pts[k].part;
        if (k < first)
            continue;
        ro_status_point_t *p = &out[k - first];
        p->date = pts[k].date;
        p->seq = pts[k].seq;
        s_point_value(in, total, part, p);
        if (in->kind == RO_KIND_SUM) {
            p->total = pts[k].total; /* the session's own numbers */
            p->part = pts[k].part;
        }
    }
    free(pts);
    return 0;
}

static int s_query_series(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    size_t ind = 0;
    if (rc || (rc = s_indicator(self, req, rep, &ind)))
        return rc;
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "no store to read a series from");
        return 1;
    }
    /* the province as of the last point, for context (and the indicator's measure) */
    if ((rc = s_query_province(self, req, rep)))
        return rc;
    const ro_indicator_t *in = ro_targets_at(self->targets, ind);
    /* month ends from the rollout's first month (at most a century back), then as_of */
    uint32_t as_of = rep->pb.as_of, last = as_of / 100;
    uint32_t first = RO_DATE_MIN / 100;
    uint32_t months = (last / 100 - first / 100) * 12 + last % 100 - first % 100;
    if (as_of < RO_DATE_MIN)
        months = 0;
    if (months > SERIES_MONTHS_MAX)
        months = SERIES_MONTHS_MAX;
    uint32_t *dates = malloc((months + 1) * sizeof *dates);
    uint64_t *total = malloc((months + 1) * sizeof *total);
    uint64_t *part = malloc((months + 1) * sizeof *part);
    if (!dates || !total || !part) {
        free(dates);
        free(total);
        free(part);
        return -1;
    }
    size_t n = 0;
    for (uint32_t k = months; k > 0; k--) {
        uint32_t idx = (last / 100) * 12 + last % 100 - 1 - k; /* months since year 0 */
        dates[n++] = ro_month_end((idx / 12) * 100 + idx % 12 + 1);
    }
    dates[n++] = as_of;
    char err[256];
    uint64_t gen;
    int bad = s_leave(self, &gen) &&
              hub_store_series_known(self->store, s_kind_of(in), dates, n,
                                     rep->known_on < rep->today ? rep->known_on : 0, total, part,
                                     err, sizeof err);
    if ((rc = s_enter(self, gen, rep)) == 0 && bad) {
        snprintf(rep->error, sizeof rep->error, "cannot compute the series: %s", err);
        rc = 1;
    }
    if (rc == 0)
        in = ro_targets_at(self->targets, ind); /* the same targets: the generation held */
    size_t from = 0;                            /* leave out the months before any data */
    while (rc == 0 && from + 1 < n &&
           (in->kind == RO_KIND_RATIO ? total[from] == 0
                                      : (in->source == RO_SOURCE_HOURS ? part : total)[from] == 0))
        from++;
    if (rc == 0 && req->limit && n - from > req->limit)
        from = n - req->limit;
    ro_status_point_t *out = rc == 0 ? s_points(rep, n - from) : NULL;
    if (rc == 0 && !out)
        rc = -1;
    for (size_t k = from; rc == 0 && k < n; k++) {
        out[k - from].date = dates[k];
        s_point_value(in, total[k], part[k], &out[k - from]);
    }
    free(dates);
    free(total);
    free(part);
    return rc;
}

static int s_query_targets(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    (void)req;
    if (!self->targets_text) {
        snprintf(rep->error, sizeof rep->error, "this hub has no targets file loaded");
        return 1;
    }
    rep->pb.targets_ini = self->targets_text;
    return 0;
}

static int s_query_metrics(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    (void)req;
    if (self->committed) {
        const hub_ingest_counters_t *c = hub_committed_counters(self->committed);
        hub_metric_t m[HUB_INGEST_METRICS_MAX];
        size_t n = hub_ingest_counters_metrics(c, m, HUB_INGEST_METRICS_MAX);
        for (size_t i = 0; i < n; i++)
            if (s_metric_add(rep, m[i].name, m[i].value))
                return -1;
        if (c->last_error[0])
            snprintf(rep->error, sizeof rep->error, "store: %s", c->last_error);
    }
    size_t n = ro_registry_count(self->reg), reporting = 0;
    for (size_t i = 0; i < n; i++)
        reporting += self->states[i].reports > 0;
    if (s_metric_add(rep, "units", (double)n) ||
        s_metric_add(rep, "units_reporting", (double)reporting))
        return -1;
    hub_metric_t own[3];
    for (size_t i = 0, k = hub_status_counters(self, own, 3); i < k; i++)
        if (s_metric_add(rep, own[i].name, own[i].value))
            return -1;
    for (size_t i = 0; i <= DROP_IDS && self->drops[i].name[0]; i++)
        if (s_metric_add(rep, self->drops[i].name, (double)self->drops[i].n))
            return -1;
    hub_metric_t more[128];
    size_t k = self->metrics_fn ? self->metrics_fn(self->metrics_arg, more, 128) : 0;
    for (size_t i = 0; i < k; i++)
        if (s_metric_add(rep, more[i].name, more[i].value))
            return -1;
    return 0;
}

static int s_query_verify(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    (void)req;
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "no store to verify");
        return 1;
    }
    enum { SHOWN = 20 };
    hub_store_diff_t diffs[SHOWN];
    uint64_t units = 0, reports = 0;
    char err[256];
    uint64_t gen;
    long n = s_leave(self, &gen)
                 ? hub_store_recount(self->store, diffs, SHOWN, &units, &reports, err, sizeof err)
                 : 0;
    if (s_enter(self, gen, rep))
        return 1;
    if (n < 0) {
        snprintf(rep->error, sizeof rep->error, "verify failed: %s", err);
        return 1;
    }
    if (s_metric_add(rep, "differences", (double)n) ||
        s_metric_add(rep, "units_checked", (double)units) ||
        s_metric_add(rep, "reports_checked", (double)reports))
        return -1;
    if (n > 0) {
        size_t used = 0;
        int k = snprintf(rep->error, sizeof rep->error,
                         "%ld stored aggregate%s differ%s from the recount of the raw reports:", n,
                         n == 1 ? "" : "s", n == 1 ? "s" : "");
        used = k > 0 ? (size_t)k : 0;
        for (long i = 0; i < n && i < SHOWN && used < sizeof rep->error; i++) {
            k = snprintf(rep->error + used, sizeof rep->error - used,
                         "\n  %s %s: stored %lld, recount %lld", diffs[i].unit, diffs[i].field,
                         (long long)diffs[i].stored, (long long)diffs[i].recount);
            used += k > 0 ? (size_t)k : 0;
        }
        if (n > SHOWN && used < sizeof rep->error)
            snprintf(rep->error + used, sizeof rep->error - used, "\n  ... and %ld more",
                     n - SHOWN);
    }
    return 0;
}

/* What the figures of the reply rest on, per unit. Today's (as of today
 * or later, no known-on date): ingest's, kept as it corrects, flags and
 * decides, read in place from the committed flags (the lock is held).
 * Another date's: the store's count from the trail (hub_store_marks), kept
 * until the trail grows or the question changes. base NULL with status in
 * *rc (the error says why) when it cannot be read. */
static hub_marks_view_t s_marks(hub_status_t *self, s_reply_t *rep, int *rc)
{
    hub_marks_view_t none = {NULL, 0};
    /* known on today is now; else the trail up to the end of that day (UTC) */
    int64_t cutoff =
        rep->known_on && rep->known_on < rep->today ? (int64_t)ro_date_end(rep->known_on) : 0;
    if (self->committed && rep->pb.as_of >= rep->today && cutoff == 0)
        return (hub_marks_view_t){
            (const unsigned char *)&hub_committed_flags(self->committed)->marks,
            sizeof(hub_unit_flags_t)};
    uint32_t as_of = rep->pb.as_of < rep->today ? rep->pb.as_of : rep->today;
    size_t n = ro_registry_count(self->reg);
    if (!self->marks && !(self->marks = ro_calloc_big(n, sizeof *self->marks))) {
        *rc = -1;
        return none;
    }
    char err[256] = "";
    uint64_t gen;
    int bad = 0;
    if (s_leave(self, &gen)) {
        int64_t key = hub_store_trail_key(self->store);
        if (key < 0 || key != self->marks_key || as_of != self->marks_as_of ||
            cutoff != self->marks_known_on) {
            self->marks_as_of = 0;
            bad = hub_store_marks(self->store, self->reg, as_of, cutoff, self->marks,
                                  &self->marks_key, err, sizeof err);
            if (!bad)
                self->marks_as_of = as_of, self->marks_known_on = cutoff;
        }
    }
    if ((*rc = s_enter(self, gen, rep)))
        return none;
    if (bad) {
        snprintf(rep->error, sizeof rep->error, "cannot count what the figures rest on: %s", err);
        *rc = 1;
        return none;
    }
    return (hub_marks_view_t){(const unsigned char *)self->marks, sizeof *self->marks};
}

/* Every scope of the reply with what its figures rest on (corrected, held
 * for review, rejected), when the hub evaluates and has a store. */
static int s_add_marks(hub_status_t *self, s_reply_t *rep)
{
    if (!rep->nscopes || !self->engine || !self->store)
        return 0;
    int rc = 0;
    hub_marks_view_t marks = s_marks(self, rep, &rc);
    /* today's: a wider scope's from the committed sums, kept as units move
     * (a pass over 100,000 units per answer was most of a province's) */
    int live = self->committed && marks.base &&
               marks.base == (const unsigned char *)&hub_committed_flags(self->committed)->marks;
    for (size_t i = 0; marks.base && i < rep->nscopes; i++) {
        ro_scope_t *s = &rep->scopes[i];
        if (live && s->kind != RO_SCOPE_UNIT)
            hub_engine_marks_set(
                self->engine,
                hub_committed_marks(self->committed, s->kind == RO_SCOPE_LEVEL ? s->level : -1,
                                    s->kind == RO_SCOPE_DIVISION ? ro_division_index(s->division)
                                                                 : -1),
                s);
        else
            hub_engine_marks(self->engine, marks, s);
    }
    return rc;
}

/* A unit with marks, for MARKED's order. */
typedef struct {
    size_t unit; /* registry index */
    uint64_t n;  /* corrected, held and rejected reports behind its figures */
} s_marked_t;

static int s_marked_cmp(const void *a, const void *b)
{
    const s_marked_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* MARKED: the units whose figures as of as_of rest on corrected, held or
 * rejected reports, the most such reports first (ties in registry order);
 * total: how many there are. */
static int s_query_marked(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    int rc = s_need_engine(self, rep);
    if (rc)
        return rc;
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "cannot count the marks: no store");
        return 1;
    }
    const hub_unit_state_t *states = s_states(self, rep);
    hub_marks_view_t m = {NULL, 0};
    if (states)
        m = s_marks(self, rep, &rc);
    if (!m.base)
        return states ? rc : 1;
    size_t n = ro_registry_count(self->reg), count = 0;
    s_marked_t *list = malloc((n ? n : 1) * sizeof *list);
    if (!list)
        return -1;
    for (size_t u = 0; u < n; u++) {
        uint64_t k = 0;
        const hub_unit_marks_t *um = hub_marks_at(m, u);
        for (size_t i = 0; i < HUB_MARK_KINDS; i++)
            k += (uint64_t)um->corrected[i] + um->held[i] + um->rejected[i];
        if (k)
            list[count++] = (s_marked_t){u, k};
    }
    qsort(list, count, sizeof *list, s_marked_cmp);
    rep->pb.total = (uint32_t)count;
    size_t shown = s_limit(req, count);
    for (size_t k = 0; rc == 0 && k < shown; k++)
        rc = s_add_unit(self, rep, states, list[k].unit);
    free(list);
    return rc;
}

static const struct {
    ro_query_t query;
    const char *name;
    s_handler_fn fn;
} s_queries[] = {
    {RO_QUERY_UNIT, "unit", s_query_unit},
    {RO_QUERY_PROVINCE, "province", s_query_province},
    {RO_QUERY_DIVISION, "division", s_query_division},
    {RO_QUERY_LEVEL, "level", s_query_level},
    {RO_QUERY_LAGGARDS, "laggards", s_query_laggards},
    {RO_QUERY_SILENT, "silent", s_query_silent},
    {RO_QUERY_HISTORY, "history", s_query_history},
    {RO_QUERY_DIVISIONS, "divisions", s_query_divisions},
    {RO_QUERY_METRICS, "metrics", s_query_metrics},
    {RO_QUERY_VERIFY, "verify", s_query_verify},
    {RO_QUERY_SERIES, "series", s_query_series},
    {RO_QUERY_TARGETS, "targets", s_query_targets},
    {RO_QUERY_PROBLEMS, "problems", s_query_problems},
    {RO_QUERY_REVIEWS, "reviews", s_query_reviews},
    {RO_QUERY_DECIDE, "decide", s_query_decide},
    {RO_QUERY_TRAIL, "trail", s_query_trail},
    {RO_QUERY_MARKED, "marked", s_query_marked},
};

/* The queries that answer "as known on" a day: the figures (one row per
 * unit, REVISION-2.md section 3) and the series. */
static const ro_query_t s_known_queries[] = {
    RO_QUERY_UNIT,      RO_QUERY_PROVINCE, RO_QUERY_DIVISION, RO_QUERY_LEVEL,
    RO_QUERY_DIVISIONS, RO_QUERY_LAGGARDS, RO_QUERY_SERIES,
};

/* Check req's known_on: a real date, not after today, of a query that
 * takes it (else 2 with why). An as-of date after it is answered as of it:
 * nothing dated later had counted then. */
static int s_known_on(hub_status_t *self, const ro_status_request_t *req, s_reply_t *rep)
{
    (void)self;
    char day[11], today[11];
    size_t k = 0, n = sizeof s_known_queries / sizeof s_known_queries[0];
    while (k < n && s_known_queries[k] != req->query)
        k++;
    if (k == n) {
        snprintf(rep->error, sizeof rep->error,
                 "known_on is taken by the unit, province, division, level, divisions, laggards "
                 "and series queries only");
        return 2;
    }
    if (!ro_date_valid(req->known_on)) {
        snprintf(rep->error, sizeof rep->error, "known_on %u is not a date YYYYMMDD",
                 req->known_on);
        return 2;
    }
    if (req->known_on > rep->today) {
        ro_date_format(req->known_on, day);
        ro_date_format(rep->today, today);
        snprintf(rep->error, sizeof rep->error,
                 "known_on %s is after the hub's today %s: nothing is known of it yet", day, today);
        return 2;
    }
    rep->known_on = rep->pb.known_on = req->known_on;
    if (rep->pb.as_of > req->known_on)
        rep->pb.as_of = req->known_on;
    return 0;
}

static int s_dispatch(hub_status_t *self, const uint8_t *buf, size_t len, s_reply_t *rep)
{
    if (len == 0 || len > HUB_STATUS_FRAME_MAX) {
        snprintf(rep->error, sizeof rep->error, "a request is 1 to %d bytes, not %zu",
                 HUB_STATUS_FRAME_MAX, len);
        return 2;
    }
    ro_status_request_t req;
    if (ro_status_request_decode(buf, len, &req, rep->error, sizeof rep->error))
        return 2;
    self->unknown_fields += req.unknown;
    if (req.version < RO_PROTOCOL_V1 || req.version > RO_PROTOCOL_VERSION) {
        snprintf(rep->error, sizeof rep->error, "protocol version %u, this hub speaks %d to %d",
                 req.version, RO_PROTOCOL_V1, RO_PROTOCOL_VERSION);
        return 2;
    }
    if (req.as_of != 0 && !ro_date_valid(req.as_of)) {
        snprintf(rep->error, sizeof rep->error, "as_of %u is not a date YYYYMMDD", req.as_of);
        return 2;
    }
    if (req.as_of)
        rep->pb.as_of = req.as_of;
    if (req.known_on) {
        int bad = s_known_on(self, &req, rep);
        if (bad)
            return bad;
    }
    for (size_t i = 0; i < sizeof s_queries / sizeof s_queries[0]; i++) {
        if (s_queries[i].query != req.query)
            continue;
        int rc = s_queries[i].fn(self, &req, rep);
        return rc ? rc : s_add_marks(self, rep);
    }
    snprintf(rep->error, sizeof rep->error, "unknown query %d", (int)req.query);
    return 2;
}

/* Encode rep into a malloc'ed buffer: 0, or -1 out of memory. */
static int s_pack(const hub_status_t *self, s_reply_t *rep, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    ro_status_scope_t *scopes = calloc(rep->nscopes ? rep->nscopes : 1, sizeof *scopes);
    size_t made = 0;
    int rc = scopes ? 0 : -1;
    for (; rc == 0 && made < rep->nscopes; made++)
        rc = ro_status_scope_make(self->targets, &rep->scopes[made], &scopes[made]);
    if (rc == 0) {
        rep->pb.scopes = scopes;
        rep->pb.n_scopes = rep->nscopes;
        rep->pb.metrics = rep->metrics;
        rep->pb.n_metrics = rep->nmetrics;
        rep->pb.history = rep->points;
        rep->pb.n_history = rep->npoints;
        rep->pb.indicator = rep->indicator;
        rc = ro_status_reply_encode(&rep->pb, out, out_len);
    }
    for (size_t k = 0; scopes && k < made; k++)
        ro_status_scope_clear(&scopes[k]);
    free(scopes);
    rep->pb.scopes = NULL;
    return rc;
}

/* Answer a request, or (when refusal is not NULL) refuse it with that reason. */
static int s_answer(hub_status_t *self, const uint8_t *req, size_t len, const char *refusal,
                    int64_t now, uint8_t **out, size_t *out_len)
{
    s_reply_t rep;
    memset(&rep, 0, sizeof rep);
    rep.now = now;
    rep.today = ro_date_of(now);
    rep.pb.version = RO_PROTOCOL_VERSION;
    rep.pb.as_of = rep.today;
    const hub_committed_t *c = self->committed;
    rep.pb.feed_seq = c ? hub_committed_feed_seq(c) : 0;
    rep.pb.feed_epoch = c ? hub_committed_feed_epoch(c) : 0;
    rep.pb.store_state = (char *)hub_store_state_name(c ? hub_committed_counters(c)->store_state
                                                        : HUB_STORE_STATE_OK);

    int rc = 0;
    int status = 2;
    if (refusal)
        snprintf(rep.error, sizeof rep.error, "%s", refusal);
    else
        status = s_dispatch(self, req, len, &rep);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (status < 0) {
            rc = -1;
            status = 1;
            rep.nscopes = rep.nmetrics = rep.npoints = 0;
            rep.pb.targets_ini = NULL;
            rep.pb.n_problems = rep.pb.n_trail = rep.pb.n_reviews = 0;
            snprintf(rep.error, sizeof rep.error, "out of memory");
        }
        if (status == 2 && attempt == 0)
            self->bad_requests++;
        if (status == 2 && attempt == 0 && ro_log_shown(LOG_INFO) && ro_log_allow(&self->rl))
            ro_log(LOG_INFO, "status: bad request: %s", rep.error);
        rep.pb.status = status;
        rep.pb.error = rep.error;
        if (s_pack(self, &rep, out, out_len) == 0)
            break;
        status = -1; /* a reply too big for memory: say so in a small one */
    }
    if (!*out)
        rc = -1;
    free(rep.scopes);
    free(rep.metrics);
    free(rep.points);
    hub_problems_destroy(&rep.problems);
    free(rep.events);
    free(rep.hex);
    free(rep.pb.trail);
    free(rep.rows);
    free(rep.pb.reviews);
    return rc;
}

int hub_status_answer(hub_status_t *self, const uint8_t *req, size_t len, int64_t now,
                      uint8_t **out, size_t *out_len)
{
    return s_answer(self, req, len, NULL, now, out, out_len);
}

/* ---- socket -------------------------------------------------------------- */

void hub_status_set_decide(hub_status_t *self, hub_status_decide_fn fn, void *arg, int keys)
{
    self->decide = fn;
    self->decide_arg = arg;
    self->keys = keys;
}

void hub_status_set_gate(hub_status_t *self, hub_status_gate_fn gate, void *arg)
{
    self->gate = gate;
    self->gate_arg = arg;
}

/* A reply to request (a frame with the connection's properties) was
 * dropped: its connection already holds as many unread replies as the
 * socket's SNDHWM lets it (rollout-hub sets 1: hub/main.c), so its client
 * sends requests without reading the answers. Count it under the
 * connection's identity and log who it is, with the key to revoke. */
static void s_dropped(hub_status_t *self, zmq_msg_t *request)
{
    const char *user = zmq_msg_gets(request, "User-Id");
    const char *key = zmq_msg_gets(request, HUB_AUTH_KEY_PROPERTY);
    if (!user || !user[0])
        user = "unauthenticated";
    char name[sizeof self->drops[0].name];
    snprintf(name, sizeof name, "status_replies_dropped:%s", user);
    size_t i = 0;
    while (i < DROP_IDS && self->drops[i].name[0] && strcmp(self->drops[i].name, name))
        i++;
    if (i == DROP_IDS && strcmp(self->drops[i].name, name))
        snprintf(name, sizeof name, "status_replies_dropped:other");
    if (!self->drops[i].name[0])
        memcpy(self->drops[i].name, name, sizeof name);
    self->drops[i].n++;
    self->dropped++;
    if (ro_log_allow(&self->drop_rl))
        ro_log(LOG_WARNING,
               "status: %s (key %s) does not read its replies: its connection holds all it may "
               "of them unread, so this one was dropped (%llu dropped in all for it)",
               user, key && key[0] ? key : "?", (unsigned long long)self->drops[i].n);
}

/* Send the routing id, the first frame of a reply. With a high-water mark
 * of one reply (STATUS_SNDHWM), a client that has read its last reply may
 * still look full: libzmq learns that a queued reply left from a command
 * to the socket, and a socket that finds a request waiting reads it
 * without processing its commands first. So on EAGAIN the commands are
 * processed (ZMQ_EVENTS does) and the send tried once more; only a client
 * that really did not read its reply is still full then. */
static int s_send_first(void *sock, zmq_msg_t *id)
{
    if (zmq_send(sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        return 1;
    if (zmq_errno() != EAGAIN)
        return 0;
    int events = 0;
    size_t len = sizeof events;
    zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len);
    return zmq_send(sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
}

int hub_status_serve(hub_status_t *self, void *sock, int64_t now)
{
    zmq_msg_t f[3];
    int kept;
    int total = ro_sock_recv_frames(sock, f, 3, &kept);
    if (total <= 0) {
        if (total < 0)
            ro_log(LOG_ERR, "status receive: %s", zmq_strerror(zmq_errno()));
        return total;
    }
    /* envelope: the routing id, and an empty delimiter if the peer is REQ-like */
    int env = 1;
    if (total >= 3 && zmq_msg_size(&f[1]) == 0)
        env = 2;
    uint8_t *out = NULL;
    size_t out_len = 0;
    const char *user = total == env + 1 ? zmq_msg_gets(&f[env], "User-Id") : NULL;
    snprintf(self->asker, sizeof self->asker, "%s", user ? user : "");
    if (total == env + 1 && self->gate && !self->gate(self->gate_arg, &f[env])) {
        s_answer(self, NULL, 0, "forbidden: this key is no longer on the hub's allow-list", now,
                 &out, &out_len);
    } else if (total == env + 1) {
        s_answer(self, zmq_msg_data(&f[env]), zmq_msg_size(&f[env]), NULL, now, &out, &out_len);
    } else {
        char why[128];
        snprintf(why, sizeof why,
                 "a request is one frame after an optional empty delimiter; got %d frames",
                 total - 1);
        s_answer(self, NULL, 0, why, now, &out, &out_len);
    }
    int rc = 1;
    if (out) {
        int ok = s_send_first(sock, &f[0]);
        for (int i = 1; i < env && ok; i++)
            ok = zmq_send(sock, zmq_msg_data(&f[i]), zmq_msg_size(&f[i]),
                          ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        if (ok)
            ok = zmq_send(sock, out, out_len, ZMQ_DONTWAIT) >= 0;
        /* EHOSTUNREACH: the asker left; EAGAIN: it stopped reading. Either way, drop. */
        if (!ok && zmq_errno() == EAGAIN)
            s_dropped(self, &f[kept - 1]);
        else if (!ok && zmq_errno() != EHOSTUNREACH)
            ro_log(LOG_WARNING, "status send: %s", zmq_strerror(zmq_errno()));
    }
    free(out);
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&f[i]);
    return rc;
}
