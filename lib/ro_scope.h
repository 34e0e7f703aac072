/* ro_scope: a unit, division, level or the province as plain C data: the
 * engine's results (hub/engine.c fills them), what the status API and the
 * feed carry (ro_status packs and unpacks them), what rolloutctl renders.
 * Besides, the names of its enums and the one-line reason an indicator
 * falls short. Evaluating states is the engine's job. */
#ifndef RO_SCOPE_H
#define RO_SCOPE_H

#include "ro_registry.h"
#include "ro_targets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RO_SCOPE_ID_MAX 40 /* bytes of a scope id, with its NUL */

typedef enum {
    RO_SCOPE_UNIT = 0,
    RO_SCOPE_DIVISION = 1,
    RO_SCOPE_LEVEL = 2,
    RO_SCOPE_PROVINCE = 3,
} ro_scope_kind_t;

typedef enum {
    RO_MILESTONE_NONE = 0,    /* "none": the indicator has no milestones */
    RO_MILESTONE_MET = 1,     /* "met" */
    RO_MILESTONE_AT_RISK = 2, /* "at-risk" */
    RO_MILESTONE_MISSED = 3,  /* "missed" */
} ro_milestone_status_t;

/* One indicator of a scope (protobuf Indicator). */
typedef struct {
    size_t index;                    /* the indicator's index in the targets */
    char id[RO_ID_MAX];              /* the indicator's id */
    double value;                    /* count (people, hours) or ratio 0..1; NaN if no_data */
    double goal;                     /* the scope's goal, same unit as value */
    double share;                    /* value / goal; NaN if no_data */
    ro_grade_t grade;                /* 优 良 中 差 */
    ro_milestone_status_t milestone; /* met, at-risk, missed or none */
    uint32_t next_date;              /* YYYYMMDD of the next milestone, 0 if none left */
    double next_goal;                /* what the next (or last, or only) target asks */
    double gap;                      /* max(0, next_goal - value), value 0 if no_data */
    bool no_data;                    /* a ratio with total 0: nothing to divide */
    uint32_t due_date;               /* YYYYMMDD of the latest milestone due, 0 if none */
    double due_goal;                 /* what that milestone asks (0 if none) */
    /* what the value rests on: of the reports of the kind it is counted
     * from (as the scope's fields below) */
    uint64_t corrected;   /* amended or cancelled */
    uint64_t held_review; /* held for review, pending */
    uint64_t rejected;    /* rejected by a reviewer */
} ro_result_t;

/* A unit, division, level or the province (protobuf Scope). */
/* Scope.flags: what ingest flags a unit for now (status --problems says
 * what to do). */
enum {
    RO_SCOPE_FLAG_GAP = 1,          /* sends beyond its next seq */
    RO_SCOPE_FLAG_STORE_BEHIND = 2, /* its agent holds acks the store lacks */
    RO_SCOPE_FLAG_TWO_AGENTS = 4,   /* two outbox identities speak for it */
    RO_SCOPE_FLAG_CLOCK_SKEW = 8,   /* its agent's clock is off */
    RO_SCOPE_FLAG_REFUSED = 16,     /* a report of it was refused for good lately */
    RO_SCOPE_FLAG_COUNT = 5,        /* bits defined */
};

/* The name of Scope.flags bit i (0 to RO_SCOPE_FLAG_COUNT - 1), as status
 * --problems names the kind ("gap", "store-behind", ...), or "?". */
const char *ro_scope_flag_name(unsigned bit);

typedef struct {
    ro_scope_kind_t kind;       /* unit, division, level or province */
    char id[RO_SCOPE_ID_MAX];   /* unit id, division code, level name, or "460000" */
    char name[RO_NAME_MAX + 1]; /* unit name; division name ("省直属单位" for the
                                   provincial units, 460000); level label; "海南省" */
    int level;                  /* ro_level_t of a unit or level scope; -1 otherwise */
    uint32_t division;          /* code of a unit's or division's division; 0 otherwise */
    uint32_t units;             /* units in the scope */
    uint32_t units_reporting;   /* of which have stored at least one report */
    uint64_t participants;      /* training people */
    uint64_t hours_tenths;      /* training tenths of an hour */
    uint64_t sessions;          /* training sessions */
    uint64_t staff_total;       /* approval staff (latest snapshots) */
    uint64_t staff_proficient;  /* of whom can approve online */
    uint64_t items_total;       /* service items (latest snapshots) */
    uint64_t items_no_visit;    /* of which no-visit */
    uint64_t cases_total;       /* cases (latest months) */
    uint64_t cases_no_visit;    /* of which no-visit */
    uint64_t last_seq;          /* units only: highest seq handled; 0 otherwise */
    int64_t last_heard;         /* unit: last report or heartbeat; rollup: the latest */
    uint64_t reports;           /* reports stored */
    ro_grade_t grade;           /* the worst indicator grade */
    uint32_t why;               /* bit i: indicator i is below 良, behind, or no data */
    uint32_t flags;             /* units only: RO_SCOPE_FLAG_* ingest sets now (problems) */
    /* what the figures rest on: of the scope's reports dated up to the
     * as-of date (status answers; the feed carries held_review only, of
     * units and the province) */
    uint64_t corrected;                        /* amended or cancelled */
    uint64_t held_review;                      /* held for review, pending */
    uint64_t rejected;                         /* rejected by a reviewer */
    size_t indicator_count;                    /* as many as the targets have */
    ro_result_t indicators[RO_INDICATORS_MAX]; /* in targets order */
} ro_scope_t;

/* One line on why indicator i of scope is in its why set, e.g.
 * "Share of service items no-visit 不见面审批事项占比: 55.0%, grade 差
 * (良 from 70.0%); missed 80.0% due 2018-12-31". Writes "" when bit i is
 * clear. Returns buf. */
char *ro_scope_reason(const ro_targets_t *targets, const ro_scope_t *scope, size_t i, char *buf,
                      size_t len);

/* "unit" "division" "level" "province"; "none" "met" "at-risk" "missed". */
const char *ro_scope_kind_name(ro_scope_kind_t kind);
const char *ro_milestone_status_name(ro_milestone_status_t status);
/* The status ro_milestone_status_name calls name, into *out. Returns 0, or
 * -1 for a name it never gives. */
int ro_milestone_status_parse(const char *name, ro_milestone_status_t *out);

/* Display name of a division scope: "省直属单位" for 460000, else the
 * registry's name of the code, or NULL if unknown. */
const char *ro_scope_division_name(uint32_t code);

#endif
