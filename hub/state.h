/* hub_unit_state: what the hub knows of one unit, the input of the
 * attainment engine and the row of the store's aggregates. Plain data,
 * indexed like the registry (unit i of ro_registry_at is state i). */
#ifndef HUB_STATE_H
#define HUB_STATE_H

#include "ro_report.h"

#include <stdint.h>

typedef struct {
    uint64_t last_seq;         /* highest seq handled (stored or refused), contiguous from 1,
                                  in the unit's legacy incarnation (the store reads it from
                                  the reports and refusals stored under it, INC_LAST_SEQ;
                                  every report is of that one until protocol version 2) */
    uint64_t seq_shown;        /* what status shows as the unit's last seq: the last upto
                                  acknowledged to it, in the sequence its agent speaks in
                                  (version 2: its own incarnation's); not stored: loaded as
                                  the last_seq of the unit's newest incarnation holding any */
    int64_t last_heard;        /* Unix time of the last report or heartbeat; 0 = never */
    uint64_t reports;          /* reports stored */
    uint64_t participants;     /* training: people, summed over sessions */
    uint64_t hours_tenths;     /* training: tenths of an hour, summed over sessions */
    uint64_t sessions;         /* training sessions stored */
    uint32_t staff_date;       /* latest staff snapshot (by date): YYYYMMDD, 0 = none */
    uint32_t staff_total;      /* approval staff */
    uint32_t staff_proficient; /* of whom can approve online */
    uint32_t items_date;       /* latest items snapshot: YYYYMMDD, 0 = none */
    uint32_t items_total;      /* service items */
    uint32_t items_no_visit;   /* of which no-visit */
    uint32_t cases_month;      /* latest case-volume month: YYYYMM, 0 = none */
    uint32_t cases_total;      /* cases in that month */
    uint32_t cases_no_visit;   /* of which no-visit */
} hub_unit_state_t;

/* What a unit's figures rest on, as of a date: of its reports dated on or
 * before it (cases: months up to its month), per kind (index kind - 1:
 * training, staff, items, cases), how many were corrected (amended or
 * cancelled), are held for review (flagged, not decided yet) and were
 * rejected by a reviewer. The store counts them from the trail
 * (hub_store_marks); the engine adds them up per scope (hub_engine_marks). */
#define HUB_MARK_KINDS 4
typedef struct {
    uint32_t corrected[HUB_MARK_KINDS]; /* amended or cancelled */
    uint32_t held[HUB_MARK_KINDS];      /* held for review, pending */
    uint32_t rejected[HUB_MARK_KINDS];  /* rejected by a reviewer */
} hub_unit_marks_t;

/* Each unit's marks, at base + unit * stride bytes: an array of them
 * (stride sizeof (hub_unit_marks_t)), or a field of each unit's larger
 * record (the committed flags), read in place. */
typedef struct {
    const unsigned char *base;
    size_t stride;
} hub_marks_view_t;

static inline const hub_unit_marks_t *hub_marks_at(hub_marks_view_t v, size_t unit)
{
    return (const hub_unit_marks_t *)(const void *)(v.base + unit * v.stride);
}

/* A unit's reports held for review, every kind (Scope.held_review). */
static inline uint32_t hub_marks_held(const hub_unit_marks_t *m)
{
    return m->held[0] + m->held[1] + m->held[2] + m->held[3];
}

/* Fold one stored report into a unit's aggregates (the rule the recount
 * mirrors): sums for training, a snapshot dated on or after the held one
 * replaces it. Of snapshots of one date the last received counts (then the
 * higher incarnation id, then seq): folded in that order, the last one
 * applied wins. Does not touch last_seq or last_heard. */
void hub_state_apply(hub_unit_state_t *st, const ro_report_t *r);

/* The date of st's snapshot of kind (staff, items: YYYYMMDD; cases:
 * YYYYMM), 0 for none or another kind. */
uint32_t hub_state_snapshot_date(const hub_unit_state_t *st, ro_kind_t kind);

/* st's snapshot of kind: its date (0: none, or not a snapshot kind), and
 * its figures in *total and *part. */
uint32_t hub_state_snapshot(const hub_unit_state_t *st, ro_kind_t kind, uint32_t *total,
                            uint32_t *part);

/* Set st's snapshot of kind to the one dated date (0: none) with total and
 * part. */
void hub_state_put_snapshot(hub_unit_state_t *st, ro_kind_t kind, uint32_t date, uint32_t total,
                            uint32_t part);

/* Take counted report r (amended or cancelled now) out of a unit's
 * aggregates, as if it had never been folded in: a training session's
 * figures leave the sums; a snapshot leaves the count of reports, and its
 * figures stay. Returns 1 when r is a snapshot dated as the one st counts,
 * so that it may be that one: the caller sets which counts now (the store
 * knows); else 0. */
int hub_state_withdraw(hub_unit_state_t *st, const ro_report_t *r);

#endif
