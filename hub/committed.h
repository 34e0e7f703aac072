/* hub_committed: what the hub has committed, as every module but ingest
 * reads it: the units' states as of the latest COMMIT, the rollups' sums
 * over them, ingest's counters and store state as of then, and the feed's
 * sequence and epoch. It owns them and the lock that guards them.
 *
 * Writers: ingest publishes each committed batch (hub_committed_publish),
 * the feed its sequence after each publication, and a reload swaps the
 * registry. Readers: status, feed, metrics and the dashboard, which are
 * siblings; none of them keeps a copy of another's state.
 *
 * The lock is not recursive. hub_committed_publish takes it itself: ingest
 * calls it with the lock let go (the hub's main thread holds it for the
 * rest of its turn, hub.c). Every other call is made with the lock held
 * (hub_committed_lock), or before any other thread reads. */
#ifndef HUB_COMMITTED_H
#define HUB_COMMITTED_H

#include "engine.h"
#include "ro_report.h"
#include "ro_registry.h"
#include "state.h"

#include <stddef.h>
#include <stdint.h>

/* Why ingest may be paused; shown in status replies as "ok", "full", "error". */
typedef enum {
    HUB_STORE_STATE_OK = 0,
    HUB_STORE_STATE_FULL = 1,
    HUB_STORE_STATE_ERROR = 2,
} hub_store_state_t;

const char *hub_store_state_name(hub_store_state_t state);

/* Ingest's counters since start, and its store's state, as it publishes
 * them; refused[] is indexed by ro_reason_t. */
typedef struct {
    uint64_t reports_stored;           /* new reports committed (held ones too) */
    uint64_t duplicates;               /* resent reports already stored (same body) */
    uint64_t conflicts;                /* same unit and seq, another body */
    uint64_t gaps;                     /* reports ahead of the next seq, ignored */
    uint64_t heartbeats;               /* heartbeats heard */
    uint64_t corrections;              /* corrections applied (amends and cancels) */
    uint64_t flagged;                  /* reports a [review] rule flagged */
    uint64_t decisions;                /* reviewers' decisions applied */
    uint64_t heartbeats_refused;       /* heartbeats of units not in the registry */
    uint64_t unknown_fields;           /* fields skipped: unknown to this version */
    uint64_t refused[RO_REASON_COUNT]; /* reports refused, by reason (heartbeats aside) */
    uint64_t batches;                  /* transactions committed */
    uint64_t last_batch_size;          /* messages in the latest committed batch */
    uint64_t last_commit_us;           /* its transaction, BEGIN to COMMIT, in microseconds */
    uint64_t commit_failures;          /* batches that could not be committed */
    uint64_t held_messages;            /* messages of a batch waiting for the store */
    uint64_t held_clock;               /* reports stored but held until their date */
    uint64_t replies_unroutable;       /* acks and refusals to peers already gone */
    uint64_t behind_units;             /* units whose agent holds acks the store lacks */
    uint64_t skewed_agents;            /* units whose agent's clock is off by > HUB_MAX_SKEW */
    uint64_t two_agent_units;          /* units two incarnations spoke for lately */
    hub_store_state_t store_state;     /* ok, full or error */
    char last_error[256];              /* why the store is not ok; "" when it is */
} hub_ingest_counters_t;

/* One metric: a static name and a value. */
typedef struct {
    const char *name; /* e.g. "reports_stored", "refused_unknown-unit" */
    double value;
} hub_metric_t;

#define HUB_INGEST_METRICS_MAX (32 + RO_REASON_COUNT)

/* c as name/value pairs, at most cap (HUB_INGEST_METRICS_MAX fits all):
 * the names rolloutctl metrics and /metrics show. Returns how many. */
size_t hub_ingest_counters_metrics(const hub_ingest_counters_t *c, hub_metric_t *out, size_t cap);

/* What ingest saw of a unit since the hub started, beyond its stored
 * state: the problems status lists (PROBLEMS) that the store does not
 * keep. */
typedef struct {
    int64_t gap_since; /* first report ahead of the next seq since the unit last moved on; 0 none */
    uint64_t gap_seq;  /* the latest such report's seq */
    uint64_t gap_next; /* the seq the hub expected instead */
    /* store behind (version 2): an agent's heartbeat holds an ack of
     * behind_ack, the store has only behind_have of that incarnation */
    int64_t behind_since;
    uint64_t behind_ack, behind_have;
    uint64_t behind_inc;  /* the incarnation that is behind (its first 8 bytes): only its
                             own heartbeat clears the flag */
    int64_t behind_heard; /* when a message of behind_inc was last heard */
    int64_t skew_since;   /* the agent's clock is off by skew seconds (its - the hub's) */
    int64_t skew;
    /* the two incarnations an agent said it records in last (the first 8
     * bytes; legacy: 0), and when: both within HUB_TWO_AGENTS_S of each
     * other is two agents */
    uint64_t inc_a, inc_b;
    int64_t heard_a, heard_b;
    int64_t two_since;
    int64_t refused_at;  /* the latest refusal the store recorded (final, or a write-off) */
    int64_t behind_seen; /* the latest heartbeat (any incarnation) that showed the store behind */
    hub_unit_marks_t marks; /* what its figures rest on now (corrected, held for review,
                               rejected), kept by ingest as it corrects, flags and decides */
} hub_unit_flags_t;

#define HUB_MAX_SKEW 600     /* seconds an agent's clock may be off before it is flagged */
#define HUB_TWO_AGENTS_S 600 /* two incarnations heard this close: two agents */
#define HUB_REFUSED_DAYS 7   /* a refusal flags its unit (and is listed) this long */

/* fl as Scope.flags bits (RO_SCOPE_FLAG_*) at time now. */
uint32_t hub_unit_flags_bits(const hub_unit_flags_t *fl, int64_t now);

/* A reload: out (one per unit of to) gets each unit's flags from old (one
 * per unit of from), matched by unit id; new units get none. */
void hub_unit_flags_carry(const ro_registry_t *from, const hub_unit_flags_t *old,
                          const ro_registry_t *to, hub_unit_flags_t *out);

typedef struct hub_committed hub_committed_t;

/* Committed state over reg's units, starting from states (one per unit,
 * copied: loaded from the store), with the rollups' sums kept by engine
 * (built on reg; NULL: no sums kept). reg and engine are borrowed.
 * Returns NULL when out of memory. */
hub_committed_t *hub_committed_new(const ro_registry_t *reg, const hub_engine_t *engine,
                                   const hub_unit_state_t *states);
void hub_committed_destroy(hub_committed_t **self_p);

void hub_committed_lock(hub_committed_t *self);
void hub_committed_unlock(hub_committed_t *self);

/* Ingest, after a COMMIT, with the lock NOT held: the units (n registry
 * indices) now hold states[unit] (the sums move with them) and flags[unit]
 * (flags may be NULL: unchanged), and counters are ingest's now (NULL:
 * unchanged). n = 0 publishes counters alone. */
void hub_committed_publish(hub_committed_t *self, const uint32_t *units, size_t n,
                           const hub_unit_state_t *states, const hub_unit_flags_t *flags,
                           const hub_ingest_counters_t *counters);

/* A reload (lock held): reg's units (engine built on them; both borrowed)
 * now hold states and flags (one per unit each, malloc'ed: taken over),
 * and the sums are made afresh. The old ones are freed. */
void hub_committed_swap(hub_committed_t *self, const ro_registry_t *reg, const hub_engine_t *engine,
                        hub_unit_state_t *states, hub_unit_flags_t *flags);

/* The feed (lock held): its latest sequence published and its epoch. */
void hub_committed_set_feed(hub_committed_t *self, uint64_t seq, uint64_t epoch);

/* Reads (lock held, or from the thread that writes): valid until the lock
 * is let go, and the states and sums until the next swap. */
const hub_unit_state_t *hub_committed_states(const hub_committed_t *self); /* per unit */
size_t hub_committed_count(const hub_committed_t *self);                   /* units */
const hub_unit_flags_t *hub_committed_flags(const hub_committed_t *self);  /* per unit */
/* The units' marks summed, kept as each unit's flags are published (lock
 * held): a level's (0 <= level < RO_LEVEL_COUNT), else a division's (its
 * index, ro_division_index), else the province's (both -1). */
const hub_unit_marks_t *hub_committed_marks(const hub_committed_t *self, int level, int division);
/* The province's reports held for review: its kept marks' held (lock held). */
uint64_t hub_committed_held_review(const hub_committed_t *self);
const hub_rollup_t *hub_committed_sums(const hub_committed_t *self); /* NULL: no engine */
/* The states' values for engine (hub_engine_values), kept as they are
 * published; NULL when engine is not the one they are kept for, or there
 * are none (out of memory): then read the states. */
const double *hub_committed_values(const hub_committed_t *self, const hub_engine_t *engine);
const hub_ingest_counters_t *hub_committed_counters(const hub_committed_t *self);
uint64_t hub_committed_feed_seq(const hub_committed_t *self);
uint64_t hub_committed_feed_epoch(const hub_committed_t *self);

#endif
