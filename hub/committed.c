/* hub_committed: the committed state and its lock (committed.h). */
#include "committed.h"

#include "ro_mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hub_committed {
    pthread_mutex_t mu;         /* plain: see committed.h for who takes it */
    const hub_engine_t *engine; /* borrowed: keeps the sums */
    hub_unit_state_t *states;   /* owned, one per registry unit */
    hub_unit_flags_t *flags;    /* owned, one per registry unit */
    size_t nunits;              /* registry count */
    hub_rollup_t sums;          /* province, level and division sums over states */
    double *values;             /* engine's values of the states (hub_engine_values); NULL:
                                   no engine, or out of memory (laggards read the states) */
    const ro_registry_t *reg;   /* borrowed: each unit's level and division */
    /* the units' marks (flags) summed: the province, each level, each division */
    hub_unit_marks_t msum_province, msum_level[RO_LEVEL_COUNT], msum_div[RO_DIVISION_COUNT];
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

/* values afresh from states for engine (freed; NULL without an engine, or
 * when out of memory: hub_engine_laggards then reads the states). */
static void s_values(hub_committed_t *self)
{
    free(self->values);
    self->values = NULL;
    if (self->engine && (self->values = ro_calloc_big(hub_engine_values_len(self->engine) + 1,
                                                      sizeof *self->values)))
        hub_engine_values(self->engine, self->states, self->values);
}

/* A copy of states for reg's n units, or NULL when out of memory. */
static hub_unit_state_t *s_copy(const hub_unit_state_t *states, size_t n)
{
    hub_unit_state_t *copy = ro_calloc_big(n, sizeof *copy);
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
    self->flags = ro_calloc_big(self->nunits, sizeof *self->flags);
    if (!self->states || !self->flags) {
        free(self->states);
        free(self->flags);
        free(self);
        return NULL;
    }
    self->engine = engine;
    self->reg = reg;
    if (engine)
        hub_engine_sum(engine, self->states, &self->sums);
    s_values(self);
    pthread_mutex_init(&self->mu, NULL);
    return self;
}

/* Add (sign 1) or take away (-1) unit u's marks m to the kept sums. */
static void s_marks_move(hub_committed_t *self, size_t u, const hub_unit_marks_t *m, int sign)
{
    const ro_unit_t *unit = ro_registry_at(self->reg, u);
    int d = ro_division_index(unit->division);
    hub_unit_marks_t *to[3] = {&self->msum_province,
                               (int)unit->level >= 0 && unit->level < RO_LEVEL_COUNT
                                   ? &self->msum_level[unit->level]
                                   : NULL,
                               d >= 0 && d < RO_DIVISION_COUNT ? &self->msum_div[d] : NULL};
    for (int t = 0; t < 3; t++) {
        for (size_t k = 0; to[t] && k < HUB_MARK_KINDS; k++) {
            to[t]->corrected[k] += (uint32_t)sign * m->corrected[k];
            to[t]->held[k] += (uint32_t)sign * m->held[k];
            to[t]->rejected[k] += (uint32_t)sign * m->rejected[k];
        }
    }
}

/* The kept sums afresh from every unit's flags. */
static void s_marks_sum(hub_committed_t *self)
{
    memset(&self->msum_province, 0, sizeof self->msum_province);
    memset(self->msum_level, 0, sizeof self->msum_level);
    memset(self->msum_div, 0, sizeof self->msum_div);
    for (size_t u = 0; u < self->nunits; u++)
        s_marks_move(self, u, &self->flags[u].marks, 1);
}

void hub_committed_destroy(hub_committed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_committed_t *self = *self_p;
    pthread_mutex_destroy(&self->mu);
    free(self->values);
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
        if (self->values)
            hub_engine_values_set(self->engine, self->values, u, &states[u]);
        self->states[u] = states[u];
        if (flags) {
            s_marks_move(self, u, &self->flags[u].marks, -1);
            self->flags[u] = flags[u];
            s_marks_move(self, u, &self->flags[u].marks, 1);
        }
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
    self->reg = reg;
    if (engine)
        hub_engine_sum(engine, self->states, &self->sums);
    s_values(self);
    s_marks_sum(self);
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

const hub_unit_marks_t *hub_committed_marks(const hub_committed_t *self, int level, int division)
{
    if (level >= 0 && level < RO_LEVEL_COUNT)
        return &self->msum_level[level];
    if (division >= 0 && division < RO_DIVISION_COUNT)
        return &self->msum_div[division];
    return &self->msum_province;
}

uint64_t hub_committed_held_review(const hub_committed_t *self)
{
    return hub_marks_held(&self->msum_province);
}

const hub_rollup_t *hub_committed_sums(const hub_committed_t *self)
{
    return self->engine ? &self->sums : NULL;
}

const double *hub_committed_values(const hub_committed_t *self, const hub_engine_t *engine)
{
    return engine && engine == self->engine ? self->values : NULL;
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
