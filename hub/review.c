/* hub_review: each rule is a comparison against what ingest holds for the
 * unit; nothing here reads the store. */
#include "review.h"
#include "ro_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_review {
    ro_review_t rules;
    size_t nunits;
    const hub_engine_t *engine; /* the units' goals, as the engine shares them out */
    long people;                /* the first participants indicator; -1: none */
    long hours;                 /* the first hours indicator (goals in hours); -1: none */
};

/* The index of the first sum indicator reading source, or -1. */
static long s_indicator(const ro_targets_t *targets, ro_source_t source)
{
    for (size_t i = 0; i < ro_targets_count(targets); i++) {
        const ro_indicator_t *ind = ro_targets_at(targets, i);
        if (ind->kind == RO_KIND_SUM && ind->source == source)
            return (long)i;
    }
    return -1;
}

hub_review_t *hub_review_new(const ro_registry_t *reg, const ro_targets_t *targets,
                             const hub_engine_t *engine)
{
    hub_review_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->rules = *ro_targets_review(targets);
    self->nunits = ro_registry_count(reg);
    self->engine = engine;
    self->people = s_indicator(targets, RO_SOURCE_PARTICIPANTS);
    self->hours = s_indicator(targets, RO_SOURCE_HOURS);
    return self;
}

void hub_review_destroy(hub_review_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int hub_review_holds(const hub_review_t *self)
{
    return self->rules.hold;
}

/* The share of a snapshot in percent; -1 when its total is 0. */
static double s_share(uint32_t part, uint32_t total)
{
    return total ? 100.0 * part / total : -1;
}

/* max_share_jump: the unit's snapshot of r's kind before r, if dated less
 * than 32 days before r (cases: the month before or the same), against r. */
static int s_jump(const ro_review_t *rv, const hub_unit_state_t *st, const ro_report_t *r,
                  char *text, size_t textlen)
{
    uint32_t before = hub_state_snapshot_date(st, r->kind), total = 0, part = 0;
    if (!before || before >= r->date)
        return 0;
    if (r->kind == RO_KIND_CASES) {
        uint32_t next = before % 100 == 12 ? (before / 100 + 1) * 100 + 1 : before + 1;
        if (r->date != next)
            return 0;
        total = st->cases_total, part = st->cases_no_visit;
    } else {
        if (ro_date_days(r->date) - ro_date_days(before) >= 32)
            return 0;
        total = r->kind == RO_KIND_STAFF ? st->staff_total : st->items_total;
        part = r->kind == RO_KIND_STAFF ? st->staff_proficient : st->items_no_visit;
    }
    double was = s_share(part, total), now = s_share(r->part, r->total);
    if (was < 0 || now < 0 || fabs(now - was) <= rv->max_share_jump)
        return 0;
    snprintf(text, textlen, "%s share %.1f%% on %u after %.1f%% on %u: a jump of %.1f points",
             ro_kind_name(r->kind), now, r->date, was, before, fabs(now - was));
    return 1;
}

/* max_goal_multiple: the unit's sums with r above multiple x its goal. */
static int s_goal(const hub_review_t *self, size_t index, const hub_unit_state_t *st,
                  const ro_report_t *r, char *text, size_t textlen)
{
    double k = self->rules.max_goal_multiple;
    if (index >= self->nunits)
        return 0;
    double goal =
        self->people >= 0 ? hub_engine_unit_goal(self->engine, index, (size_t)self->people) : 0;
    if (goal > 0) {
        double sum = (double)st->participants + r->total;
        if (sum > k * goal) {
            snprintf(text, textlen,
                     "%.0f participants in all with this session, above %g times the unit's "
                     "goal of %g",
                     sum, k, goal);
            return 1;
        }
    }
    goal = self->hours >= 0 ? hub_engine_unit_goal(self->engine, index, (size_t)self->hours) : 0;
    if (goal > 0) {
        double sum = ((double)st->hours_tenths + r->part) / 10;
        if (sum > k * goal) {
            snprintf(text, textlen,
                     "%.1f training hours in all with this session, above %g times the unit's "
                     "goal of %g",
                     sum, k, goal);
            return 1;
        }
    }
    return 0;
}

int hub_review_check(const hub_review_t *self, size_t index, const hub_unit_state_t *st,
                     const ro_report_t *r, char *rule, size_t rulelen, char *text, size_t textlen)
{
    if (!self)
        return 0;
    const ro_review_t *rv = &self->rules;
    const char *name = NULL;
    if (r->kind == RO_KIND_TRAINING) {
        if (rv->participants_above_staff && st->staff_date && r->total > st->staff_total) {
            name = "participants_above_staff";
            snprintf(text, textlen, "%u participants, the unit's staff is %u", r->total,
                     st->staff_total);
        } else if (rv->max_session_hours > 0 && r->part > rv->max_session_hours * 10) {
            name = "max_session_hours";
            snprintf(text, textlen, "a session of %.1f hours, above %g", r->part / 10.0,
                     rv->max_session_hours);
        } else if (rv->max_goal_multiple > 0 && s_goal(self, index, st, r, text, textlen)) {
            name = "max_goal_multiple";
        }
    } else if (r->kind >= RO_KIND_STAFF && r->kind <= RO_KIND_CASES && rv->max_share_jump > 0 &&
               s_jump(rv, st, r, text, textlen)) {
        name = "max_share_jump";
    }
    if (!name)
        return 0;
    snprintf(rule, rulelen, "%s", name);
    return 1;
}
