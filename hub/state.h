/* hub_unit_state: what the hub knows of one unit, the input of the
 * attainment engine and the row of the store's aggregates. Plain data,
 * indexed like the registry (unit i of ro_registry_at is state i). */
#ifndef HUB_STATE_H
#define HUB_STATE_H

#include "ro_report.h"

#include <stdint.h>

typedef struct {
    uint64_t last_seq;         /* highest seq handled (stored or refused), contiguous from 1,
                                  in the unit's legacy incarnation (the store keeps it in
                                  incarnations.last_seq; every report is of that one until
                                  protocol version 2) */
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

/* Fold one stored report into a unit's aggregates (the rule the recount
 * mirrors): sums for training, a snapshot dated on or after the held one
 * replaces it. Does not touch last_seq or last_heard. */
void hub_state_apply(hub_unit_state_t *st, const ro_report_t *r);

#endif
