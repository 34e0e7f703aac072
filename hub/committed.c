/* hub_committed: the committed state and its lock (committed.h). */
#include "committed.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hub_committed {
    pthread_mutex_t mu;             /* plain: see committed.h for who takes it */
    const hub_engine_t *engine;     /* borrowed: keeps the sums */
    hub_unit_state_t *states;       /* owned, one per registry unit */
    hub_unit_flags_t *flags;        /* owned, one per registry unit */
    size_t nunits;                  /* registry count */
    hub_rollup_t sums;              /* province, level and division sums over states */
    hub_ingest_counters_t counters; /* ingest's, as of its latest publication */
    uint64_t feed_seq, feed_epoch;  /* the feed's */
};

const char *hub_store_state_name(hub_store_state_t state)
{
    switch (state) {
    case HUB_STORE_STATE_OK: return "ok";
    case HUB_STORE_STATE_FULL: return "full";
    default: return "error";
    }
}

size_t hub_ingest_counters_metrics(const hub_ingest_counters_t *c, hub_metric_t *out, size_t cap)
{
    static const char *refused_names[RO_REASON_COUNT] = {
        "refused_none",         "refused_malformed", "refused_version",
        "refused_unknown-unit", "refused_invalid",   "refused_conflict",
        "refused_forbidden",    "refused_identity",  "refused_target",
    };
    hub_metric_t all[HUB_INGEST_METRICS_MAX];
    size_t n = 0;
#define PUT(nm, v) all[n++] = (hub_metric_t){(nm), (double)(v)}
    PUT("reports_stored", c->reports_stored);
    PUT("duplicates", c->duplicates);
    PUT("conflicts", c->conflicts);
    PUT("gaps", c->gaps);
    PUT("heartbeats", c->heartbeats);
    PUT("corrections", c->corrections);
    PUT("flagged", c->flagged);
    PUT("decisions", c->decisions);
    PUT("heartbeats_refused", c->heartbeats_refused);
    PUT("unknown_fields", c->unknown_fields);
    for (int i = 1; i < RO_REASON_COUNT; i++)
        PUT(refused_names[i], c->refused[i]);
    PUT("batches", c->batches);
    PUT("last_batch_size", c->last_batch_size);
    PUT("commit_failures", c->commit_failures);
    PUT("held_messages", c->held_messages);
    PUT("held_clock", c->held_clock);
    PUT("store_behind_units", c->behind_units);
    PUT("skewed_agents", c->skewed_agents);
    PUT("two_agent_units", c->two_agent_units);
    PUT("store_full", c->store_state == HUB_STORE_STATE_FULL);
    PUT("store_error", c->store_state == HUB_STORE_STATE_ERROR);
    PUT("replies_unroutable", c->replies_unroutable);
#undef PUT
    if (n > cap)
        n = cap;
    memcpy(out, all, n * sizeof *out);
    return n;
}

uint32_t hub_unit_flags_bits(const hub_unit_flags_t *fl, int64_t now)
{
    int refused = fl->refused_at && now - fl->refused_at < (int64_t)HUB_REFUSED_DAYS * 86400;
    return (fl->gap_since ? RO_SCOPE_FLAG_GAP : 0) |
           (fl->behind_since ? RO_SCOPE_FLAG_STORE_BEHIND : 0) |
           (fl->two_since ? RO_SCOPE_FLAG_TWO_AGENTS : 0) |
           (fl->skew_since ? RO_SCOPE_FLAG_CLOCK_SKEW : 0) | (refused ? RO_SCOPE_FLAG_REFUSED : 0);
}

void hub_unit_flags_carry(const ro_registry_t *from, const hub_unit_flags_t *old,
                          const ro_registry_t *to, hub_unit_flags_t *out)
{
    for (size_t i = 0, n = ro_registry_count(to); i < n; i++) {
        long j = ro_registry_find(from, ro_registry_at(to, i)->id);
        out[i] = j >= 0 ? old[j] : (hub_unit_flags_t){0};
    }
}

/* A copy of states for reg's n units, or NULL when out of memory. */
static hub_unit_state_t *s_copy(const hub_unit_state_t *states, size_t n)
{
    hub_unit_state_t *copy = calloc(n ? n : 1, sizeof *copy);
    if (copy && n)
        memcpy(copy, states, n * sizeof *copy);
    return copy;
}

hub_committed_t *hub_committed_new(const ro_registry_t *reg, const hub_engine_t *engine,
                                   const hub_unit_state_t *states)
{
    if (!reg || !states)
        return NULL;
    hub_committed_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nunits = ro_registry_count(reg);
    self->states = s_copy(states, self->nunits);
    self->flags = calloc(self->nunits ? self->nunits : 1, sizeof *self->flags);
    if (!self->states || !self->flags) {
        free(self->states);
        free(self->flags);
        free(self);
        return NULL;
    }
    self->engine = engine;
    if (engine)
        hub_engine_sum(engine, self->states, &self->sums);
    pthread_mutex_init(&self->mu, NULL);
    return self;
}

void hub_committed_destroy(hub_committed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_committed_t *self = *self_p;
    pthread_mutex_destroy(&self->mu);
    free(self->states);
    free(self->flags);
    free(self);
    *self_p = NULL;
}

void hub_committed_lock(hub_committed_t *self)
{
    pthread_mutex_lock(&self->mu);
}

void hub_committed_unlock(hub_committed_t *self)
{
    pthread_mutex_unlock(&self->mu);
}

void hub_committed_publish(hub_committed_t *self, const uint32_t *units, size_t n,
                           const hub_unit_state_t *states, const hub_unit_flags_t *flags,
                           const hub_ingest_counters_t *counters)
{
    pthread_mutex_lock(&self->mu);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = units[i];
        if (u >= self->nunits)
            continue;
        if (self->engine)
            hub_engine_sum_move(self->engine, &self->sums, u, &self->states[u], &states[u]);
        self->states[u] = states[u];
        if (flags)
            self->flags[u] = flags[u];
    }
    if (counters)
        self->counters = *counters;
    pthread_mutex_unlock(&self->mu);
}

void hub_committed_swap(hub_committed_t *self, const ro_registry_t *reg, const hub_engine_t *engine,
                        hub_unit_state_t *states, hub_unit_flags_t *flags)
{
    free(self->states);
    free(self->flags);
    self->states = states;
    self->flags = flags;
    self->nunits = ro_registry_count(reg);
    self->engine = engine;
    if (engine)
        hub_engine_sum(engine, self->states, &self->sums);
}

void hub_committed_set_feed(hub_committed_t *self, uint64_t seq, uint64_t epoch)
{
    self->feed_seq = seq;
    self->feed_epoch = epoch;
}

const hub_unit_state_t *hub_committed_states(const hub_committed_t *self)
{
    return self->states;
}

size_t hub_committed_count(const hub_committed_t *self)
{
    return self->nunits;
}

const hub_unit_flags_t *hub_committed_flags(const hub_committed_t *self)
{
    return self->flags;
}

uint64_t hub_committed_held_review(const hub_committed_t *self)
{
    uint64_t n = 0;
    for (size_t i = 0; i < self->nunits; i++)
        n += hub_marks_held(&self->flags[i].marks);
    return n;
}

const hub_rollup_t *hub_committed_sums(const hub_committed_t *self)
{
    return self->engine ? &self->sums : NULL;
}

const hub_ingest_counters_t *hub_committed_counters(const hub_committed_t *self)
{
    return &self->counters;
}

uint64_t hub_committed_feed_seq(const hub_committed_t *self)
{
    return self->feed_seq;
}

uint64_t hub_committed_feed_epoch(const hub_committed_t *self)
{
    return self->feed_epoch;
}
