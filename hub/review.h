/* hub_review: the plausibility rules of targets.ini [review] (issue 16),
 * judged by ingest on a report about to count, against its unit's state in
 * memory (the latest staff snapshot, the previous snapshot of the kind, the
 * unit's training sums) and the unit's goals as the engine shares them out.
 * It decides only whether a rule fires and says what it saw; storing the
 * flag is ingest's and the store's. */
#ifndef HUB_REVIEW_H
#define HUB_REVIEW_H

#include "engine.h"
#include "ro_registry.h"
#include "ro_report.h"
#include "ro_targets.h"
#include "state.h"

#include <stddef.h>

typedef struct hub_review hub_review_t;

/* The rules of targets (copied) over reg's units, with each unit's goal of
 * the first participants and the first hours indicator as engine (made of
 * the same reg and targets, and outliving the review) shares them out.
 * NULL when out of memory. */
hub_review_t *hub_review_new(const ro_registry_t *reg, const ro_targets_t *targets,
                             const hub_engine_t *engine);
void hub_review_destroy(hub_review_t **self_p);

/* Whether flagged reports are held (targets.ini hold; default yes). */
int hub_review_holds(const hub_review_t *self);

/* Does report r of unit index (st: the unit's state before r counts) break
 * a rule? Returns 1 with the rule's name into rule and what it saw into
 * text ("200 participants, the unit's staff is 40"), else 0. Only the
 * first rule that fires is named. */
int hub_review_check(const hub_review_t *self, size_t index, const hub_unit_state_t *st,
                     const ro_report_t *r, char *rule, size_t rulelen, char *text, size_t textlen);

#endif
