/* hub_engine: the attainment engine. From the registry, the targets and each
 * unit's state as of a date it evaluates units, divisions, levels and the
 * province, and lists laggards and silent units. Pure code: no I/O, no clock;
 * states as of a date are the store's job, wire messages the status API's. */
#ifndef HUB_ENGINE_H
#define HUB_ENGINE_H

#include "ro_registry.h"
#include "ro_scope.h"
#include "state.h"
#include "ro_targets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rules (the tests pin each of them):
 * - Sums (training people, hours) add up over a scope's units; ratios are
 *   ratios of sums (sum of parts / sum of totals), never means of ratios.
 * - Allocation of a sum's province goal: a unit whose registry row carries
 *   goal.<indicator> (>= 0) has that goal. The rest share what is left,
 *   max(0, province goal - sum of the overrides), in proportion to their
 *   level weight: goal(u) = left * w(level u) / sum of w over the rest. With
 *   no override this is goal * w / sum of w over all units. A scope's goal
 *   is the sum of its units' goals (so the province's is the province goal
 *   unless the overrides alone exceed it). A ratio's goal is the same ratio
 *   for every scope.
 * - Grade: a ratio's value against the bands (excellent/good/fair); a sum's
 *   share of its scope's goal against band/province goal (1800 of 2000 is
 *   0.9, so a unit at 0.9 of its own goal is 良). At or above a bound is in
 *   that band (within 1e-12 relative, for floating-point noise). A scope
 *   whose sum goal is 0 (nothing asked of it) has share 1 and grade 优.
 * - No data: a ratio whose total is 0 in the scope (no items, staff or
 *   cases reported) has no value: value and share are NaN, no_data is set,
 *   the grade is 差, and for milestones and gap it counts as 0 (so it is
 *   at-risk or missed, and it is a laggard). A sum is never "no data": no
 *   training is 0 people. A mapper that cannot carry NaN should send 0 and
 *   say no_data.
 * - Milestones, as of a date A (a milestone dated D is due when D <= A):
 *     missed  - a milestone is due and the value is below the latest due one;
 *     at-risk - not missed, and the value is below the next milestone not
 *               yet due;
 *     met     - neither: every due milestone reached, and the next too (a
 *               scope ahead of the next milestone before it is due is met);
 *     none    - the indicator has no milestones.
 *   next_date/next_goal: the next milestone not yet due; after the last one
 *   next_date is 0 and next_goal the last milestone's goal (it stays in
 *   force); without milestones next_date is 0 and next_goal the goal.
 *   gap = max(0, next_goal - value). For a sum, a milestone's goal is its
 *   percent of the scope's goal, in people or hours.
 * - why: bit i is set when indicator i has no data, is graded 中 or 差, or
 *   is at-risk or missed. The scope's grade is its worst indicator grade.
 */

/* Add one unit's raw state to a scope's sums (units, reporting units, counts,
 * latest last_heard); the indicators are the engine's to fill afterwards. */
void hub_scope_add(ro_scope_t *s, const hub_unit_state_t *st);

/* Every rollup, from one pass over the units. */
typedef struct {
    uint32_t as_of;                          /* the date evaluated */
    ro_scope_t province;                     /* all units */
    ro_scope_t levels[RO_LEVEL_COUNT];       /* by ro_level_t */
    ro_scope_t divisions[RO_DIVISION_COUNT]; /* by ro_division_index: [0] = 460000 */
} hub_rollup_t;

/* A unit behind the standing target of an indicator. */
typedef struct {
    size_t unit;                     /* registry index */
    uint32_t division;               /* its division code */
    double value;                    /* its value; NaN if no data */
    double next_goal;                /* the target it is behind */
    uint32_t next_date;              /* when that target is due; 0 if already past */
    double gap;                      /* next_goal - value (> 0) */
    ro_milestone_status_t milestone; /* its milestone status (none: no milestones) */
} hub_laggard_t;

/* A unit not heard from. */
typedef struct {
    size_t unit;        /* registry index */
    uint32_t division;  /* its division code */
    int64_t last_heard; /* 0 = never */
} hub_silent_t;

typedef struct hub_engine hub_engine_t;

/* Prepare an engine: allocates every unit's goal for the sum indicators.
 * Borrows registry and targets, which must outlive it. Refuses (NULL, a
 * reason in err) a registry goal column that names no indicator or a ratio
 * indicator (only sums are shared out), or out of memory. */
hub_engine_t *hub_engine_new(const ro_registry_t *registry, const ro_targets_t *targets, char *err,
                             size_t errlen);

/* Free the engine; accepts NULL and nulls the caller's pointer. */
void hub_engine_destroy(hub_engine_t **self_p);

/* The goal of unit index for indicator: its allocated share of a sum, or
 * the ratio of a ratio indicator. NaN if either index is out of range. */
double hub_engine_unit_goal(const hub_engine_t *self, size_t unit, size_t indicator);

/* In all the calls below, states holds one hub_unit_state_t per registry
 * unit (state i is unit i) and already reflects the as_of date; as_of
 * (YYYYMMDD) only places the milestones. They write *out and return 0, or
 * return -1 for an index, code or level rollout does not know. */
int hub_engine_unit(const hub_engine_t *self, const hub_unit_state_t *states, size_t index,
                    uint32_t as_of, ro_scope_t *out);
int hub_engine_division(const hub_engine_t *self, const hub_unit_state_t *states, uint32_t code,
                        uint32_t as_of, ro_scope_t *out);
int hub_engine_level(const hub_engine_t *self, const hub_unit_state_t *states, ro_level_t level,
                     uint32_t as_of, ro_scope_t *out);
int hub_engine_province(const hub_engine_t *self, const hub_unit_state_t *states, uint32_t as_of,
                        ro_scope_t *out);

/* Province, levels and divisions in one pass over the units. */
int hub_engine_rollup(const hub_engine_t *self, const hub_unit_state_t *states, uint32_t as_of,
                      hub_rollup_t *out);

/* Rollups kept current instead of recomputed: hub_engine_sum fills out's
 * scopes with the raw sums of every unit's state (nothing evaluated);
 * hub_engine_sum_move moves unit index's contribution from state before to
 * state after (last_heard only grows: a scope keeps its latest); and
 * hub_engine_eval evaluates one such scope of sums (province, level or
 * division) as of as_of into out, as hub_engine_province, _level or
 * _division would over the same states, in time independent of the number
 * of units. hub_engine_eval returns 0, or -1 for a unit or unknown scope. */
void hub_engine_sum(const hub_engine_t *self, const hub_unit_state_t *states, hub_rollup_t *out);
void hub_engine_sum_move(const hub_engine_t *self, hub_rollup_t *sums, size_t index,
                         const hub_unit_state_t *before, const hub_unit_state_t *after);
int hub_engine_eval(const hub_engine_t *self, const ro_scope_t *sums, uint32_t as_of,
                    ro_scope_t *out);

/* What scope s rests on: the marks (one per registry unit, the store's
 * hub_store_marks) of its units (a unit's own; a division's, a level's or
 * the province's units') added up into s->corrected, held_review and
 * rejected (every kind), and into each indicator's, of the kind of reports
 * it is counted from (people and hours: training; a ratio: its source's
 * staff, items or cases). Returns 0, or -1 for a scope the engine does
 * not know (s is then left as it was). */
int hub_engine_marks(const hub_engine_t *self, hub_marks_view_t marks, ro_scope_t *s);

/* Scope s's counts (and each indicator's, of its kind) from sum, the marks
 * of its units already added up (hub_committed_marks' kept sums). */
void hub_engine_marks_set(const hub_engine_t *self, const hub_unit_marks_t *sum, ro_scope_t *s);

/* Units whose gap on indicator (see the rules above) is above 0, biggest
 * gap first, ties in registry order; at most limit of them (0 = all), and
 * *total (if not NULL) how many there are. Only the first limit are ever
 * sorted (a heap of them as the units go by), so the worst 20 of 100,000
 * cost a pass, not a sort of every unit behind. *out is malloc'ed and the
 * caller's to free (NULL when *count is 0). Returns 0, or -1 for an
 * unknown indicator or out of memory. */
int hub_engine_laggards(const hub_engine_t *self, const hub_unit_state_t *states,
                        const double *values, uint32_t as_of, size_t indicator, size_t limit,
                        hub_laggard_t **out, size_t *count, size_t *total);

/* Every unit's value of every indicator (what it reads from the unit's
 * state; NAN for a ratio with no total), values[indicator * units + unit]:
 * hub_engine_values_len doubles. Kept beside the committed states
 * (hub_committed), they let hub_engine_laggards rank the units on 8 bytes
 * each instead of reading each one's whole state; its values argument may
 * be NULL (as of a past date: read from states). hub_engine_values fills
 * them all from states, hub_engine_values_set unit index's from s. */
size_t hub_engine_values_len(const hub_engine_t *self);
void hub_engine_values(const hub_engine_t *self, const hub_unit_state_t *states, double *values);
void hub_engine_values_set(const hub_engine_t *self, double *values, size_t index,
                           const hub_unit_state_t *s);

/* Units never heard from or last heard before now - silent_after (a unit
 * heard exactly silent_after seconds ago is not silent yet): never-heard
 * units first, then the longest silent, ties in registry order; at most
 * limit (0 = all). *out as for laggards. Returns 0, or -1 out of memory. */
int hub_engine_silent(const hub_engine_t *self, const hub_unit_state_t *states, int64_t now,
                      int64_t silent_after, size_t limit, hub_silent_t **out, size_t *count);

#endif
