/* hub_engine: allocation of goals once at creation; then every evaluation
 * is a pass that adds up raw counts and one evaluation per indicator.
 * The rules are in engine.h; this file owns no state beyond the goals, and
 * leaves dates, storage and wire forms to its callers. */
#include "engine.h"

#include "ro_mem.h"
#include "ro_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_engine {
    const ro_registry_t *registry;           /* borrowed */
    const ro_targets_t *targets;             /* borrowed */
    size_t units;                            /* registry units */
    size_t nind;                             /* indicators */
    uint8_t *division;                       /* per unit: its ro_division_index */
    double *goal;                            /* nind x units: unit goal of each indicator */
    double province_goal[RO_INDICATORS_MAX]; /* sum of unit goals */
    double level_goal[RO_LEVEL_COUNT][RO_INDICATORS_MAX];       /* by level */
    double division_goal[RO_DIVISION_COUNT][RO_INDICATORS_MAX]; /* by division index */
};

#define EPS 1e-12

/* x is below t beyond floating-point noise. */
static bool s_below(double x, double t)
{
    double m = fabs(t); /* fmax(1.0, fabs(t)) without a call: laggards ask it of every unit */
    return x < t - EPS * (m > 1.0 ? m : 1.0);
}

static ro_grade_t s_band(double x, double excellent, double good, double fair)
{
    if (!s_below(x, excellent))
        return RO_GRADE_EXCELLENT;
    if (!s_below(x, good))
        return RO_GRADE_GOOD;
    if (!s_below(x, fair))
        return RO_GRADE_FAIR;
    return RO_GRADE_POOR;
}

static int s_allocate(hub_engine_t *self, char *err, size_t errlen)
{
    const ro_registry_t *reg = self->registry;
    int used[RO_GOAL_COLUMNS] = {0};
    for (size_t i = 0; i < self->nind; i++) {
        const ro_indicator_t *ind = ro_targets_at(self->targets, i);
        double *goal = self->goal + i * self->units;
        int col = ro_registry_goal_column(reg, ind->id);
        if (col >= 0)
            used[col] = 1;
        if (ind->kind == RO_KIND_RATIO) {
            for (size_t u = 0; u < self->units; u++) {
                if (col >= 0 && ro_registry_at(reg, u)->goal[col] >= 0) {
                    snprintf(err, errlen,
                             "registry: goal.%s of unit %s: per-unit goals apply only to sum "
                             "indicators",
                             ind->id, ro_registry_at(reg, u)->id);
                    return -1;
                }
                goal[u] = ind->goal;
            }
            continue;
        }
        /* whole people and tenths of an hour, adding up to the goal */
        if (ro_targets_allocate(ind, reg, goal)) {
            snprintf(err, errlen, "out of memory sharing out the goal of %s", ind->id);
            return -1;
        }
    }
    for (int c = 0; c < RO_GOAL_COLUMNS; c++) {
        if (used[c])
            continue;
        for (size_t u = 0; u < self->units; u++) {
            if (ro_registry_at(reg, u)->goal[c] >= 0) {
                snprintf(err, errlen,
                         "registry: goal column %d (set for unit %s) names no indicator of the "
                         "targets",
                         c + 1, ro_registry_at(reg, u)->id);
                return -1;
            }
        }
    }
    for (size_t i = 0; i < self->nind; i++) {
        const double *goal = self->goal + i * self->units;
        const ro_indicator_t *ind = ro_targets_at(self->targets, i);
        if (ind->kind == RO_KIND_RATIO) {
            self->province_goal[i] = ind->goal;
            for (int l = 0; l < RO_LEVEL_COUNT; l++)
                self->level_goal[l][i] = ind->goal;
            for (int d = 0; d < RO_DIVISION_COUNT; d++)
                self->division_goal[d][i] = ind->goal;
            continue;
        }
        for (size_t u = 0; u < self->units; u++) {
            self->province_goal[i] += goal[u];
            self->level_goal[ro_registry_at(reg, u)->level][i] += goal[u];
            self->division_goal[self->division[u]][i] += goal[u];
        }
    }
    return 0;
}

hub_engine_t *hub_engine_new(const ro_registry_t *registry, const ro_targets_t *targets, char *err,
                             size_t errlen)
{
    hub_engine_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->registry = registry;
    self->targets = targets;
    self->units = ro_registry_count(registry);
    self->nind = ro_targets_count(targets);
    size_t n = self->units ? self->units : 1;
    self->division = malloc(n);
    self->goal = ro_calloc_big(n * self->nind, sizeof *self->goal);
    if (!self->division || !self->goal) {
        snprintf(err, errlen, "out of memory for %zu units", self->units);
        hub_engine_destroy(&self);
        return NULL;
    }
    for (size_t u = 0; u < self->units; u++) {
        int d = ro_division_index(ro_registry_at(registry, u)->division);
        /* the registry only admits known divisions */
        self->division[u] = (uint8_t)(d < 0 ? 0 : d);
    }
    if (s_allocate(self, err, errlen))
        hub_engine_destroy(&self);
    return self;
}

void hub_engine_destroy(hub_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->division);
    free((*self_p)->goal);
    free(*self_p);
    *self_p = NULL;
}

double hub_engine_unit_goal(const hub_engine_t *self, size_t unit, size_t indicator)
{
    if (unit >= self->units || indicator >= self->nind)
        return NAN;
    return self->goal[indicator * self->units + unit];
}

/* The numbers an indicator reads: a sum has part only (total is unused);
 * a ratio part / total. */
/* An indicator's part and total, from a scope (ro_scope_t) or a unit's state
 * (hub_unit_state_t): both carry the aggregates under the same names, so the
 * one rule serves both (a function per type would be two copies of it). */
#define S_COUNTS(ind, s, part, total)                                                              \
    do {                                                                                           \
        switch ((ind)->source) {                                                                   \
        case RO_SOURCE_PARTICIPANTS: *(part) = (s)->participants, *(total) = 0; break;             \
        case RO_SOURCE_HOURS: *(part) = (s)->hours_tenths, *(total) = 0; break;                    \
        case RO_SOURCE_STAFF: *(part) = (s)->staff_proficient, *(total) = (s)->staff_total; break; \
        case RO_SOURCE_ITEMS: *(part) = (s)->items_no_visit, *(total) = (s)->items_total; break;   \
        case RO_SOURCE_CASES: *(part) = (s)->cases_no_visit, *(total) = (s)->cases_total; break;   \
        }                                                                                          \
    } while (0)

/* How many of ind's milestones are due as of as_of: ms[0..next) are,
 * ms[next..n) are not. The same for every unit. */
static size_t s_due(const ro_indicator_t *ind, uint32_t as_of)
{
    size_t next = ind->milestone_count;
    while (next > 0 && ind->milestones[next - 1].date > as_of)
        next--;
    return next;
}

/* The value an indicator reads from part and total; NAN when a ratio has
 * no total (no data). */
static double s_value(const ro_indicator_t *ind, uint64_t part, uint64_t total)
{
    if (ind->kind == RO_KIND_RATIO)
        return total == 0 ? NAN : (double)part / (double)total;
    return ind->source == RO_SOURCE_HOURS ? (double)part / 10.0 : (double)part;
}

/* The next goal with next milestones due (s_due), for a unit or scope whose
 * goal is goal: a sum's milestone is a share of it. */
static double s_next_goal(const ro_indicator_t *ind, size_t next, double goal)
{
    size_t n = ind->milestone_count;
    if (n == 0)
        return goal;
    double scale = ind->kind == RO_KIND_RATIO ? 1.0 : goal;
    return (next < n ? ind->milestones[next].share : ind->milestones[n - 1].share) * scale;
}

/* How far value (NAN: no data, counted as 0) is below next_goal; 0 when it
 * is not. */
static double s_gap(double value, double next_goal)
{
    double v = isnan(value) ? 0.0 : value;
    return s_below(v, next_goal) ? next_goal - v : 0.0;
}

static void s_eval(const ro_indicator_t *ind, uint64_t part, uint64_t total, double goal,
                   uint32_t as_of, ro_result_t *r)
{
    bool ratio = ind->kind == RO_KIND_RATIO;
    r->goal = goal;
    r->value = s_value(ind, part, total);
    r->no_data = isnan(r->value);
    if (r->no_data) {
        r->share = NAN;
        r->grade = RO_GRADE_POOR;
    } else if (ratio) {
        r->share = r->value / goal;
        r->grade = s_band(r->value, ind->excellent, ind->good, ind->fair);
    } else {
        r->share = goal > 0 ? r->value / goal : 1.0;
        r->grade = s_band(r->share, ind->excellent / ind->goal, ind->good / ind->goal,
                          ind->fair / ind->goal);
    }
    double v = r->no_data ? 0.0 : r->value;
    double scale = ratio ? 1.0 : goal; /* a sum's milestone is a share of the scope's goal */
    size_t n = ind->milestone_count;
    const ro_milestone_t *ms = ind->milestones;
    size_t next = s_due(ind, as_of);
    r->due_date = next > 0 ? ms[next - 1].date : 0;
    r->due_goal = next > 0 ? ms[next - 1].share * scale : 0;
    r->next_goal = s_next_goal(ind, next, goal);
    if (n == 0) {
        r->milestone = RO_MILESTONE_NONE;
        r->next_date = 0;
    } else {
        r->next_date = next < n ? ms[next].date : 0;
        if (next > 0 && s_below(v, r->due_goal))
            r->milestone = RO_MILESTONE_MISSED;
        else if (next < n && s_below(v, r->next_goal))
            r->milestone = RO_MILESTONE_AT_RISK;
        else
            r->milestone = RO_MILESTONE_MET;
    }
    r->gap = s_gap(r->value, r->next_goal);
}

/* Evaluate every indicator of a scope whose raw sums are filled in. */
static void s_finish(const hub_engine_t *self, ro_scope_t *s, const double *goals, uint32_t as_of)
{
    s->indicator_count = self->nind;
    s->grade = RO_GRADE_EXCELLENT;
    s->why = 0;
    for (size_t i = 0; i < self->nind; i++) {
        const ro_indicator_t *ind = ro_targets_at(self->targets, i);
        ro_result_t *r = &s->indicators[i];
        uint64_t part = 0, total = 0;
        r->index = i;
        memcpy(r->id, ind->id, sizeof r->id);
        S_COUNTS(ind, s, &part, &total);
        s_eval(ind, part, total, goals[i], as_of, r);
        if (r->grade > s->grade)
            s->grade = r->grade;
        if (r->no_data || r->grade >= RO_GRADE_FAIR || r->milestone == RO_MILESTONE_AT_RISK ||
            r->milestone == RO_MILESTONE_MISSED)
            s->why |= 1u << i;
    }
}

void hub_scope_add(ro_scope_t *s, const hub_unit_state_t *st)
{
    s->units++;
    s->units_reporting += st->reports > 0;
    s->participants += st->participants;
    s->hours_tenths += st->hours_tenths;
    s->sessions += st->sessions;
    s->staff_total += st->staff_total;
    s->staff_proficient += st->staff_proficient;
    s->items_total += st->items_total;
    s->items_no_visit += st->items_no_visit;
    s->cases_total += st->cases_total;
    s->cases_no_visit += st->cases_no_visit;
    s->reports += st->reports;
    if (st->last_heard > s->last_heard)
        s->last_heard = st->last_heard;
}

static void s_head(ro_scope_t *s, ro_scope_kind_t kind, const char *id, const char *name, int level,
                   uint32_t division)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->name, sizeof s->name, "%s", name ? name : "");
    s->level = level;
    s->division = division;
}

static void s_head_division(ro_scope_t *s, uint32_t code)
{
    char id[16];
    snprintf(id, sizeof id, "%06u", (unsigned)code);
    s_head(s, RO_SCOPE_DIVISION, id, ro_scope_division_name(code), -1, code);
}

static void s_head_level(ro_scope_t *s, ro_level_t level)
{
    s_head(s, RO_SCOPE_LEVEL, ro_level_name(level), ro_level_label(level), (int)level, 0);
}

static void s_head_province(ro_scope_t *s)
{
    s_head(s, RO_SCOPE_PROVINCE, "460000", ro_division_name(RO_PROVINCE_CODE), -1, 0);
}

int hub_engine_unit(const hub_engine_t *self, const hub_unit_state_t *states, size_t index,
                    uint32_t as_of, ro_scope_t *out)
{
    if (index >= self->units)
        return -1;
    const ro_unit_t *u = ro_registry_at(self->registry, index);
    const hub_unit_state_t *st = &states[index];
    s_head(out, RO_SCOPE_UNIT, u->id, u->name, (int)u->level, u->division);
    hub_scope_add(out, st);
    out->last_seq = st->seq_shown;
    out->last_heard = st->last_heard;
    double goals[RO_INDICATORS_MAX];
    for (size_t i = 0; i < self->nind; i++)
        goals[i] = self->goal[i * self->units + index];
    s_finish(self, out, goals, as_of);
    return 0;
}

int hub_engine_division(const hub_engine_t *self, const hub_unit_state_t *states, uint32_t code,
                        uint32_t as_of, ro_scope_t *out)
{
    int d = ro_division_index(code);
    if (d < 0)
        return -1;
    s_head_division(out, code);
    for (size_t u = 0; u < self->units; u++)
        if (self->division[u] == d)
            hub_scope_add(out, &states[u]);
    s_finish(self, out, self->division_goal[d], as_of);
    return 0;
}

int hub_engine_level(const hub_engine_t *self, const hub_unit_state_t *states, ro_level_t level,
                     uint32_t as_of, ro_scope_t *out)
{
    if ((unsigned)level >= RO_LEVEL_COUNT)
        return -1;
    s_head_level(out, level);
    for (size_t u = 0; u < self->units; u++)
        if (ro_registry_at(self->registry, u)->level == level)
            hub_scope_add(out, &states[u]);
    s_finish(self, out, self->level_goal[level], as_of);
    return 0;
}

int hub_engine_province(const hub_engine_t *self, const hub_unit_state_t *states, uint32_t as_of,
                        ro_scope_t *out)
{
    s_head_province(out);
    for (size_t u = 0; u < self->units; u++)
        hub_scope_add(out, &states[u]);
    s_finish(self, out, self->province_goal, as_of);
    return 0;
}

void hub_engine_sum(const hub_engine_t *self, const hub_unit_state_t *states, hub_rollup_t *out)
{
    out->as_of = 0;
    s_head_province(&out->province);
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        s_head_level(&out->levels[l], (ro_level_t)l);
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        s_head_division(&out->divisions[d], ro_division_code((size_t)d));
    for (size_t u = 0; u < self->units; u++) {
        const hub_unit_state_t *st = &states[u];
        hub_scope_add(&out->province, st);
        hub_scope_add(&out->levels[ro_registry_at(self->registry, u)->level], st);
        hub_scope_add(&out->divisions[self->division[u]], st);
    }
}

/* Take one unit's raw state out of a scope's sums (last_heard stays). */
static void s_scope_sub(ro_scope_t *s, const hub_unit_state_t *st)
{
    s->units--;
    s->units_reporting -= st->reports > 0;
    s->participants -= st->participants;
    s->hours_tenths -= st->hours_tenths;
    s->sessions -= st->sessions;
    s->staff_total -= st->staff_total;
    s->staff_proficient -= st->staff_proficient;
    s->items_total -= st->items_total;
    s->items_no_visit -= st->items_no_visit;
    s->cases_total -= st->cases_total;
    s->cases_no_visit -= st->cases_no_visit;
    s->reports -= st->reports;
}

void hub_engine_sum_move(const hub_engine_t *self, hub_rollup_t *sums, size_t index,
                         const hub_unit_state_t *before, const hub_unit_state_t *after)
{
    if (index >= self->units)
        return;
    ro_scope_t *in[3] = {&sums->province,
                         &sums->levels[ro_registry_at(self->registry, index)->level],
                         &sums->divisions[self->division[index]]};
    for (int k = 0; k < 3; k++) {
        s_scope_sub(in[k], before);
        hub_scope_add(in[k], after);
    }
}

int hub_engine_eval(const hub_engine_t *self, const ro_scope_t *sums, uint32_t as_of,
                    ro_scope_t *out)
{
    const double *goals;
    int d = ro_division_index(sums->division);
    if (sums->kind == RO_SCOPE_PROVINCE)
        goals = self->province_goal;
    else if (sums->kind == RO_SCOPE_LEVEL && sums->level >= 0 && sums->level < RO_LEVEL_COUNT)
        goals = self->level_goal[sums->level];
    else if (sums->kind == RO_SCOPE_DIVISION && d >= 0)
        goals = self->division_goal[d];
    else
        return -1;
    *out = *sums;
    s_finish(self, out, goals, as_of);
    return 0;
}

int hub_engine_rollup(const hub_engine_t *self, const hub_unit_state_t *states, uint32_t as_of,
                      hub_rollup_t *out)
{
    hub_engine_sum(self, states, out);
    out->as_of = as_of;
    s_finish(self, &out->province, self->province_goal, as_of);
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        s_finish(self, &out->levels[l], self->level_goal[l], as_of);
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        s_finish(self, &out->divisions[d], self->division_goal[d], as_of);
    return 0;
}

/* The kind of reports an indicator is counted from (hub_unit_marks_t's
 * index: kind - 1). */
static size_t s_source_kind(ro_source_t source)
{
    switch (source) {
    case RO_SOURCE_STAFF: return RO_KIND_STAFF - 1;
    case RO_SOURCE_ITEMS: return RO_KIND_ITEMS - 1;
    case RO_SOURCE_CASES: return RO_KIND_CASES - 1;
    default: return RO_KIND_TRAINING - 1; /* participants, hours */
    }
}

/* Unit u is in scope s (whose division index is d). */
static bool s_in_scope(const hub_engine_t *self, const ro_scope_t *s, int d, size_t u)
{
    switch (s->kind) {
    case RO_SCOPE_PROVINCE: return true;
    case RO_SCOPE_DIVISION: return self->division[u] == d;
    case RO_SCOPE_LEVEL: return (int)ro_registry_at(self->registry, u)->level == s->level;
    default: return false;
    }
}

int hub_engine_marks(const hub_engine_t *self, hub_marks_view_t marks, ro_scope_t *s)
{
    hub_unit_marks_t sum = {0};
    int d = ro_division_index(s->division);
    long unit = s->kind == RO_SCOPE_UNIT ? ro_registry_find(self->registry, s->id) : -1;
    if ((s->kind == RO_SCOPE_UNIT && unit < 0) || (s->kind == RO_SCOPE_DIVISION && d < 0) ||
        (s->kind == RO_SCOPE_LEVEL && (s->level < 0 || s->level >= RO_LEVEL_COUNT)))
        return -1;
    /* a unit's own; a wider scope's, a pass over the units */
    for (size_t u = unit >= 0 ? (size_t)unit : 0; u < self->units; u++) {
        if ((long)u != unit && !s_in_scope(self, s, d, u))
            continue;
        const hub_unit_marks_t *m = hub_marks_at(marks, u);
        for (size_t k = 0; k < HUB_MARK_KINDS; k++) {
            sum.corrected[k] += m->corrected[k];
            sum.held[k] += m->held[k];
            sum.rejected[k] += m->rejected[k];
        }
        if (unit >= 0)
            break;
    }
    hub_engine_marks_set(self, &sum, s);
    return 0;
}

void hub_engine_marks_set(const hub_engine_t *self, const hub_unit_marks_t *m, ro_scope_t *s)
{
    hub_unit_marks_t sum = *m;
    s->corrected = s->held_review = s->rejected = 0;
    for (size_t k = 0; k < HUB_MARK_KINDS; k++) {
        s->corrected += sum.corrected[k];
        s->held_review += sum.held[k];
        s->rejected += sum.rejected[k];
    }
    for (size_t i = 0; i < s->indicator_count && i < self->nind; i++) {
        size_t k = s_source_kind(ro_targets_at(self->targets, i)->source);
        s->indicators[i].corrected = sum.corrected[k];
        s->indicators[i].held_review = sum.held[k];
        s->indicators[i].rejected = sum.rejected[k];
    }
}

static int s_laggard_cmp(const void *a, const void *b)
{
    const hub_laggard_t *x = a, *y = b;
    if (x->gap != y->gap)
        return x->gap > y->gap ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* Make room for one more element after n in a list that doubles as it
 * grows. Returns 0, or -1 with the list left as it was. */
static int s_room(void **list, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 256;
    void *grown = realloc(*list, ncap * size);
    if (!grown)
        return -1;
    *list = grown;
    *cap = ncap;
    return 0;
}

/* Sift element at of heap h (n of them) down: the heap's root is the one
 * that ranks last (s_laggard_cmp), the first to leave when a worse comes. */
static void s_sift_down(hub_laggard_t *h, size_t n, size_t at)
{
    for (;;) {
        size_t c = 2 * at + 1, last = at;
        if (c < n && s_laggard_cmp(&h[c], &h[last]) > 0)
            last = c;
        if (c + 1 < n && s_laggard_cmp(&h[c + 1], &h[last]) > 0)
            last = c + 1;
        if (last == at)
            return;
        hub_laggard_t t = h[at];
        h[at] = h[last], h[last] = t;
        at = last;
    }
}

static void s_sift_up(hub_laggard_t *h, size_t at)
{
    while (at > 0 && s_laggard_cmp(&h[at], &h[(at - 1) / 2]) > 0) {
        hub_laggard_t t = h[at];
        h[at] = h[(at - 1) / 2], h[(at - 1) / 2] = t;
        at = (at - 1) / 2;
    }
}

size_t hub_engine_values_len(const hub_engine_t *self)
{
    return self->units * self->nind;
}

/* What ind reads from a unit's state s (s_value of its counts). */
static double s_unit_value(const ro_indicator_t *ind, const hub_unit_state_t *s)
{
    uint64_t part = 0, total = 0;
    S_COUNTS(ind, s, &part, &total);
    return s_value(ind, part, total);
}

void hub_engine_values_set(const hub_engine_t *self, double *values, size_t index,
                           const hub_unit_state_t *s)
{
    if (index >= self->units)
        return;
    for (size_t i = 0; i < self->nind; i++)
        values[i * self->units + index] = s_unit_value(ro_targets_at(self->targets, i), s);
}

void hub_engine_values(const hub_engine_t *self, const hub_unit_state_t *states, double *values)
{
    for (size_t u = 0; u < self->units; u++)
        hub_engine_values_set(self, values, u, &states[u]);
}

/* The laggards kept so far: a heap of at most limit of them (0: a list of
 * all), and the gap a unit must be above to join: 0 until a limited heap is
 * full, then the gap of its last (a tie ranks after it: the units go by in
 * registry order). */
typedef struct {
    hub_laggard_t *list;
    size_t n, cap, limit;
    double floor;
} s_kept_t;

/* Unit u, behind on ind by more than k->floor: evaluated whole and kept,
 * replacing the last of a full heap. Returns 0, or -1 when out of memory. */
static int s_keep(const hub_engine_t *self, const ro_indicator_t *ind, const hub_unit_state_t *s,
                  size_t u, double goal, uint32_t as_of, s_kept_t *k)
{
    uint64_t part = 0, total = 0;
    S_COUNTS(ind, s, &part, &total);
    ro_result_t r;
    s_eval(ind, part, total, goal, as_of, &r);
    hub_laggard_t e = {.unit = u,
                       .division = ro_registry_at(self->registry, u)->division,
                       .value = r.value,
                       .next_goal = r.next_goal,
                       .next_date = r.next_date,
                       .gap = r.gap,
                       .milestone = r.milestone};
    if (k->limit && k->n == k->limit) {
        k->list[0] = e;
        s_sift_down(k->list, k->n, 0);
    } else {
        if (s_room((void **)&k->list, &k->cap, k->n, sizeof *k->list))
            return -1;
        k->list[k->n++] = e;
        if (k->limit)
            s_sift_up(k->list, k->n - 1);
    }
    if (k->limit && k->n == k->limit)
        k->floor = k->list[0].gap;
    return 0;
}

int hub_engine_laggards(const hub_engine_t *self, const hub_unit_state_t *states,
                        const double *values, uint32_t as_of, size_t indicator, size_t limit,
                        hub_laggard_t **out, size_t *count, size_t *total)
{
    *out = NULL;
    *count = 0;
    if (total)
        *total = 0;
    if (indicator >= self->nind)
        return -1;
    const ro_indicator_t *ind = ro_targets_at(self->targets, indicator);
    const double *goal = self->goal + indicator * self->units;
    const double *value = values ? values + indicator * self->units : NULL;
    /* a unit's gap alone first (s_eval's rule, with what is the same for
     * every unit worked out once, and its value kept when values are given):
     * the whole evaluation only for those above the floor */
    size_t due = s_due(ind, as_of), all = 0;
    s_kept_t k = {.limit = limit};
    double floor = 0.0;
    for (size_t u = 0; u < self->units; u++) {
        double v = value ? value[u] : s_unit_value(ind, &states[u]);
        double gap = s_gap(v, s_next_goal(ind, due, goal[u]));
        all += gap > 0;
        if (gap > floor) {
            if (s_keep(self, ind, &states[u], u, goal[u], as_of, &k)) {
                free(k.list);
                return -1;
            }
            floor = k.floor;
        }
    }
    hub_laggard_t *list = k.list;
    size_t n = k.n;
    if (total)
        *total = all;
    if (n == 0) {
        free(list);
        return 0;
    }
    qsort(list, n, sizeof *list, s_laggard_cmp);
    *out = list;
    *count = n;
    return 0;
}

static int s_silent_cmp(const void *a, const void *b)
{
    const hub_silent_t *x = a, *y = b;
    if (x->last_heard != y->last_heard)
        return x->last_heard < y->last_heard ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

int hub_engine_silent(const hub_engine_t *self, const hub_unit_state_t *states, int64_t now,
                      int64_t silent_after, size_t limit, hub_silent_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    hub_silent_t *list = NULL;
    size_t n = 0, cap = 0;
    for (size_t u = 0; u < self->units; u++) {
        int64_t heard = states[u].last_heard;
        if (heard > 0 && heard >= now - silent_after)
            continue;
        if (s_room((void **)&list, &cap, n, sizeof *list)) {
            free(list);
            return -1;
        }
        list[n++] = (hub_silent_t){.unit = u,
                                   .division = ro_registry_at(self->registry, u)->division,
                                   .last_heard = heard > 0 ? heard : 0};
    }
    if (n == 0) {
        free(list);
        return 0;
    }
    qsort(list, n, sizeof *list, s_silent_cmp);
    if (limit && n > limit)
        n = limit;
    *out = list;
    *count = n;
    return 0;
}
