/* hub_problems: the units that cannot deliver or need a look, each with
 * what is wrong and what to do, for the status API's PROBLEMS. From the
 * committed states (silent units), ingest's flags (gaps, a store behind,
 * two agents, a skewed clock: what the store does not keep) and the store
 * (held reports, refusals). Most urgent first: gap, store-behind, refused,
 * two-agents, clock-skew, held, silent; the oldest first within each kind.
 * The kinds ingest flags are named as Scope.flags' bits (ro_scope_flag_name).
 * Refusals older than HUB_REFUSED_DAYS are no longer listed. */
#ifndef HUB_PROBLEMS_H
#define HUB_PROBLEMS_H

#include "committed.h"
#include "ro_registry.h"
#include "ro_status.h"
#include "state.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hub_problems hub_problems_t;

/* A list for reg's units (borrowed). NULL when out of memory. */
hub_problems_t *hub_problems_new(const ro_registry_t *reg);
void hub_problems_destroy(hub_problems_t **self_p);

/* One of the store's (a hub_store_problems callback; self is the list):
 * units not in the registry are passed over. Returns 0, or -1 when out of
 * memory. */
int hub_problems_store(void *self, const hub_store_problem_t *p);

/* Add the silent units (not heard within silent_after of now, never heard
 * included) from states and the gaps from flags (may be NULL), sort, and
 * render the first limit (0: all) into *out (n of them; total: how many
 * there are). The strings live as long as self. Returns 0, or -1 when out
 * of memory. */
int hub_problems_list(hub_problems_t *self, const hub_unit_state_t *states,
                      const hub_unit_flags_t *flags, int64_t now, int64_t silent_after,
                      size_t limit, ro_status_problem_t **out, size_t *n, size_t *total);

#endif
