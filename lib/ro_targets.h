/* ro_targets: the performance targets of the rollout (targets.ini): one
 * indicator per section with its goal, grade bands, dated milestones and,
 * for province-wide counts, how the goal is shared out among units (in
 * whole people, ro_targets_allocate); and how values and percents print.
 * It reads and checks the file; evaluating states is hub_engine's job. */
#ifndef RO_TARGETS_H
#define RO_TARGETS_H

#include "ro_ini.h"
#include "ro_registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RO_INDICATORS_MAX 16    /* indicators a targets file may define */
#define RO_MILESTONES_MAX 8     /* milestones per indicator */
#define RO_ID_MAX RO_INI_ID_MAX /* bytes of an id, with its NUL: [a-z0-9_], 1..39 */
#define RO_LABEL_MAX 160        /* bytes of a label, with its NUL */

/* 产出指标 output or 效益指标 effect: the document's two indicator types. */
typedef enum {
    RO_TYPE_OUTPUT = 0,
    RO_TYPE_EFFECT = 1,
} ro_indicator_type_t;

/* sum: a count summed over the units of a scope (training people, hours);
 * ratio: part / total summed over the units of a scope (never a mean of
 * the units' ratios). */
typedef enum {
    RO_KIND_SUM = 0,
    RO_KIND_RATIO = 1,
} ro_indicator_kind_t;

/* Which hub_unit_state_t fields an indicator reads. */
typedef enum {
    RO_SOURCE_PARTICIPANTS = 0, /* sum: participants */
    RO_SOURCE_HOURS = 1,        /* sum: hours_tenths / 10 */
    RO_SOURCE_STAFF = 2,        /* ratio: staff_proficient / staff_total */
    RO_SOURCE_ITEMS = 3,        /* ratio: items_no_visit / items_total */
    RO_SOURCE_CASES = 4,        /* ratio: cases_no_visit / cases_total */
} ro_source_t;

/* The unit an indicator's values are shown in. */
typedef enum {
    RO_MEASURE_PEOPLE = 0,
    RO_MEASURE_HOURS = 1,
    RO_MEASURE_PERCENT = 2, /* stored as a ratio 0..1, shown as percent */
} ro_measure_t;

/* Grade bands, best first, so "worse" compares greater. */
typedef enum {
    RO_GRADE_EXCELLENT = 0, /* 优 */
    RO_GRADE_GOOD = 1,      /* 良 */
    RO_GRADE_FAIR = 2,      /* 中 */
    RO_GRADE_POOR = 3,      /* 差 */
} ro_grade_t;

typedef struct {
    uint32_t date; /* YYYYMMDD: due by the end of this day */
    double share;  /* ratio: the ratio asked (0..1); sum: the fraction of the goal */
} ro_milestone_t;

typedef struct {
    char id[RO_ID_MAX];            /* section name after "indicator " */
    char label_zh[RO_LABEL_MAX];   /* the document's name */
    char label_en[RO_LABEL_MAX];   /* English name */
    ro_indicator_type_t type;      /* output or effect */
    ro_indicator_kind_t kind;      /* sum or ratio */
    ro_source_t source;            /* state fields read */
    ro_measure_t measure;          /* people, hours or percent */
    double goal;                   /* province goal: people, hours, or a ratio 0..1 */
    double excellent;              /* lower bound of 优, same unit as goal */
    double good;                   /* lower bound of 良 */
    double fair;                   /* lower bound of 中; below it is 差 */
    double weight[RO_LEVEL_COUNT]; /* sum only: allocation weight per level */
    size_t milestone_count;        /* milestones in date order */
    ro_milestone_t milestones[RO_MILESTONES_MAX]; /* strictly later dates, shares not falling */
} ro_indicator_t;

typedef struct ro_targets ro_targets_t;

/* The plausibility rules of [review] (issue 16): a report that would count
 * and breaks one is flagged for a reviewer. Each rule is off when its key
 * is absent (0 / false). */
typedef struct {
    bool participants_above_staff; /* a session trains more than the unit's latest staff total */
    double max_session_hours;      /* a session longer than this many hours; 0 = off */
    double max_share_jump;         /* points a snapshot's share moves from the unit's previous
                                      one of its kind (less than 32 days before); 0 = off */
    double max_goal_multiple;      /* a unit's participants or hours above this many times its
                                      goal; 0 = off */
    bool hold;                     /* flagged reports wait for a decision (default); false:
                                      they count and are listed all the same */
    int line;                      /* line of the [review] header; 0 = none */
} ro_review_t;

/* Load and check a targets file. Every section is `[indicator <id>]` with
 * the keys label_zh, label_en, type (output|effect), kind (sum|ratio),
 * source (sum: participants|hours; ratio: staff|items|cases), unit
 * (people for participants, hours for hours, percent for ratios), goal,
 * excellent, good, fair (strictly descending; percent for ratios, at most
 * 100), `milestone = YYYY-MM-DD P` (repeatable, dates strictly increasing,
 * P in (0, 100] not falling: for a ratio the percent asked, for a sum the
 * percent of the goal), and for sums weight.provincial, weight.municipal,
 * weight.township (>= 0, not all 0; refused in ratio sections).
 * Refuses unknown sections and keys, repeated keys, bad numbers and dates,
 * missing keys, indented lines and lines longer than inih's limit, with
 * "path:line: reason" in err (a missing key names its section's line).
 * An optional `[review]` section (once) sets ro_review_t: participants_above_staff
 * = yes|no, max_session_hours (> 0, at most 24 x 31), max_share_jump (points,
 * > 0, at most 100), max_goal_multiple (> 0), hold = yes|no (default yes).
 * Returns NULL on any failure. */
ro_targets_t *ro_targets_load(const char *path, char *err, size_t errlen);

/* Free the targets; accepts NULL and nulls the caller's pointer. */
void ro_targets_destroy(ro_targets_t **self_p);

/* Indicators in file order; at() returns NULL past the end. */
size_t ro_targets_count(const ro_targets_t *self);
const ro_indicator_t *ro_targets_at(const ro_targets_t *self, size_t index);

/* The [review] rules (all off when the file has no [review] section). */
const ro_review_t *ro_targets_review(const ro_targets_t *self);

/* Index of the indicator with this id, or -1. */
int ro_targets_find(const ro_targets_t *self, const char *id);

/* The headline indicator: the first ratio over service items (the no-visit
 * share), else the first indicator with milestones, else 0. Laggard lists
 * and the time-series chart default to it. */
size_t ro_targets_headline(const ro_targets_t *self);

/* Format a value of ind for display into buf: people as a whole number
 * (two decimals when fractional), hours with one decimal, ratios as a
 * percent with one decimal by ro_pct_format_ratio ("55.0%"). NaN is "—".
 * No thousands separators, no unit word. Returns buf. */
char *ro_indicator_format(const ro_indicator_t *ind, double value, char *buf, size_t len);

/* ---- a share shown as a percent with one decimal ----
 * One rounding rule for every percent rolloutctl and the reports print (the
 * dashboard's JavaScript follows it too): round half up on the exact ratio,
 * tenths of a percent = floor(1000 * num / den + 1/2), in integers
 * (2000 * num + den) / (2 * den). 29 of 2000 (exactly 1.45%) is "1.5%",
 * where printf("%.1f") of the double 1.45 gives "1.4". */

/* Tenths of a percent of num / den, rounded half up; den must be above 0.
 * Exact in integers while num < 2^64 / 4000 and den < 2^62 (far beyond
 * any count here); past that, through ro_pct_tenths_of. */
uint64_t ro_pct_tenths(uint64_t num, uint64_t den);

/* The same for a ratio known only as a double (0.0145 for 1.45%): scaled by
 * 1000 and rounded half up with 1e-9 of slack, so that a ratio of counts
 * that is exactly half a tenth (which a double holds a hair below) rounds
 * up as the exact rule does; for denominators below 5e8 this is the exact
 * rule. Negative ratios round half away from zero. ratio must be finite. */
int64_t ro_pct_tenths_of(double ratio);

/* "1.5%" for num / den; "—" when den is 0. Returns buf. */
char *ro_pct_format(uint64_t num, uint64_t den, char *buf, size_t len);

/* "1.5%" for a ratio (0.015); "—" for NaN or an infinity. Returns buf. */
char *ro_pct_format_ratio(double ratio, char *buf, size_t len);

/* ---- how a sum's province goal is shared out among units ----
 * In whole steps of its measure (ro_indicator_goal_steps: 1 person, a
 * tenth of an hour), so that no unit is asked for a fraction of a person
 * and the units' goals add up to the province goal exactly. A unit whose
 * registry row carries goal.<indicator> (>= 0) keeps that goal. The other
 * units share left = max(0, goal - sum of those overrides), rounded to
 * whole steps, by the largest-remainder method: each gets the whole steps
 * of its quota left * w(its level) / (sum of w over them), and the steps
 * still unallocated go one each to the largest remainders of the quotas,
 * a tie to the unit earlier in the registry. With no weight among them
 * they get 0. */

/* Steps per unit of measure a sum's goal is shared out in: 1 for people,
 * 10 for hours (tenths, as reports carry them); 0 for a ratio. */
unsigned ro_indicator_goal_steps(const ro_indicator_t *ind);

/* Share ind's province goal out among the units of reg as described above:
 * writes goal[u] for every unit u < ro_registry_count(reg). Returns 0, or
 * -1 if ind is not a sum or memory ran out (goal is then untouched). */
int ro_targets_allocate(const ro_indicator_t *ind, const ro_registry_t *reg, double *goal);

/* Names of the enums: Chinese type labels "产出指标"/"效益指标", "sum"/
 * "ratio", "participants"..., "people"/"hours"/"percent". */
const char *ro_indicator_type_label(ro_indicator_type_t type);
const char *ro_indicator_kind_name(ro_indicator_kind_t kind);
const char *ro_source_name(ro_source_t source);
const char *ro_measure_name(ro_measure_t measure);
const char *ro_measure_label(ro_measure_t measure);

/* "优" "良" "中" "差", and "excellent" "good" "fair" "poor". */
const char *ro_grade_label(ro_grade_t grade);
const char *ro_grade_name(ro_grade_t grade);

#endif
