/* hub_targets: the performance targets of the rollout (targets.ini): one
 * indicator per section with its goal, grade bands, dated milestones and,
 * for province-wide counts, how the goal is shared out among units (in
 * whole people, hub_targets_allocate); and how values and percents print.
 * It reads and checks the file; evaluating states is hub_engine's job. */
#ifndef HUB_TARGETS_H
#define HUB_TARGETS_H

#include "ro_registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_INDICATORS_MAX 16  /* indicators a targets file may define */
#define HUB_MILESTONES_MAX 8   /* milestones per indicator */
#define HUB_ID_MAX 40          /* bytes of an id, with its NUL: [a-z0-9_], 1..39 */
#define HUB_LABEL_MAX 160      /* bytes of a label, with its NUL */

/* 产出指标 output or 效益指标 effect: the document's two indicator types. */
typedef enum {
    HUB_TYPE_OUTPUT = 0,
    HUB_TYPE_EFFECT = 1,
} hub_indicator_type_t;

/* sum: a count summed over the units of a scope (training people, hours);
 * ratio: part / total summed over the units of a scope (never a mean of
 * the units' ratios). */
typedef enum {
    HUB_KIND_SUM = 0,
    HUB_KIND_RATIO = 1,
} hub_indicator_kind_t;

/* Which hub_unit_state_t fields an indicator reads. */
typedef enum {
    HUB_SOURCE_PARTICIPANTS = 0, /* sum: participants */
    HUB_SOURCE_HOURS = 1,        /* sum: hours_tenths / 10 */
    HUB_SOURCE_STAFF = 2,        /* ratio: staff_proficient / staff_total */
    HUB_SOURCE_ITEMS = 3,        /* ratio: items_no_visit / items_total */
    HUB_SOURCE_CASES = 4,        /* ratio: cases_no_visit / cases_total */
} hub_source_t;

/* The unit an indicator's values are shown in. */
typedef enum {
    HUB_MEASURE_PEOPLE = 0,
    HUB_MEASURE_HOURS = 1,
    HUB_MEASURE_PERCENT = 2,     /* stored as a ratio 0..1, shown as percent */
} hub_measure_t;

/* Grade bands, best first, so "worse" compares greater. */
typedef enum {
    HUB_GRADE_EXCELLENT = 0,     /* 优 */
    HUB_GRADE_GOOD = 1,          /* 良 */
    HUB_GRADE_FAIR = 2,          /* 中 */
    HUB_GRADE_POOR = 3,          /* 差 */
} hub_grade_t;

typedef struct {
    uint32_t date;               /* YYYYMMDD: due by the end of this day */
    double share;                /* ratio: the ratio asked (0..1); sum: the fraction of the goal */
} hub_milestone_t;

typedef struct {
    char id[HUB_ID_MAX];               /* section name after "indicator " */
    char label_zh[HUB_LABEL_MAX];      /* the document's name */
    char label_en[HUB_LABEL_MAX];      /* English name */
    hub_indicator_type_t type;         /* output or effect */
    hub_indicator_kind_t kind;         /* sum or ratio */
    hub_source_t source;               /* state fields read */
    hub_measure_t measure;             /* people, hours or percent */
    double goal;                       /* province goal: people, hours, or a ratio 0..1 */
    double excellent;                  /* lower bound of 优, same unit as goal */
    double good;                       /* lower bound of 良 */
    double fair;                       /* lower bound of 中; below it is 差 */
    double weight[RO_LEVEL_COUNT];     /* sum only: allocation weight per level */
    size_t milestone_count;            /* milestones in date order */
    hub_milestone_t milestones[HUB_MILESTONES_MAX]; /* strictly later dates, shares not falling */
} hub_indicator_t;

typedef struct hub_targets hub_targets_t;

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
 * Returns NULL on any failure. */
hub_targets_t *hub_targets_load(const char *path, char *err, size_t errlen);

/* Free the targets; accepts NULL and nulls the caller's pointer. */
void hub_targets_destroy(hub_targets_t **self_p);

/* Indicators in file order; at() returns NULL past the end. */
size_t hub_targets_count(const hub_targets_t *self);
const hub_indicator_t *hub_targets_at(const hub_targets_t *self, size_t index);

/* Index of the indicator with this id, or -1. */
int hub_targets_find(const hub_targets_t *self, const char *id);

/* The headline indicator: the first ratio over service items (the no-visit
 * share), else the first indicator with milestones, else 0. Laggard lists
 * and the time-series chart default to it. */
size_t hub_targets_headline(const hub_targets_t *self);

/* Format a value of ind for display into buf: people as a whole number
 * (two decimals when fractional), hours with one decimal, ratios as a
 * percent with one decimal by hub_pct_format_ratio ("55.0%"). NaN is "—".
 * No thousands separators, no unit word. Returns buf. */
char *hub_indicator_format(const hub_indicator_t *ind, double value, char *buf, size_t len);

/* ---- a share shown as a percent with one decimal ----
 * One rounding rule for every percent rolloutctl and the reports print (the
 * dashboard's JavaScript follows it too): round half up on the exact ratio,
 * tenths of a percent = floor(1000 * num / den + 1/2), in integers
 * (2000 * num + den) / (2 * den). 29 of 2000 (exactly 1.45%) is "1.5%",
 * where printf("%.1f") of the double 1.45 gives "1.4". */

/* Tenths of a percent of num / den, rounded half up; den must be above 0.
 * Exact in integers while num < 2^64 / 4000 and den < 2^62 (far beyond
 * any count here); past that, through hub_pct_tenths_of. */
uint64_t hub_pct_tenths(uint64_t num, uint64_t den);

/* The same for a ratio known only as a double (0.0145 for 1.45%): scaled by
 * 1000 and rounded half up with 1e-9 of slack, so that a ratio of counts
 * that is exactly half a tenth (which a double holds a hair below) rounds
 * up as the exact rule does; for denominators below 5e8 this is the exact
 * rule. Negative ratios round half away from zero. ratio must be finite. */
int64_t hub_pct_tenths_of(double ratio);

/* "1.5%" for num / den; "—" when den is 0. Returns buf. */
char *hub_pct_format(uint64_t num, uint64_t den, char *buf, size_t len);

/* "1.5%" for a ratio (0.015); "—" for NaN or an infinity. Returns buf. */
char *hub_pct_format_ratio(double ratio, char *buf, size_t len);

/* ---- how a sum's province goal is shared out among units ----
 * In whole steps of its measure (hub_indicator_goal_steps: 1 person, a
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
unsigned hub_indicator_goal_steps(const hub_indicator_t *ind);

/* Share ind's province goal out among the units of reg as described above:
 * writes goal[u] for every unit u < ro_registry_count(reg). Returns 0, or
 * -1 if ind is not a sum or memory ran out (goal is then untouched). */
int hub_targets_allocate(const hub_indicator_t *ind, const ro_registry_t *reg, double *goal);

/* Names of the enums: "output"/"effect", "sum"/"ratio", "participants"...,
 * "people"/"hours"/"percent"; Chinese type labels "产出指标"/"效益指标";
 * measure labels "人"/"小时"/"%". */
const char *hub_indicator_type_name(hub_indicator_type_t type);
const char *hub_indicator_type_label(hub_indicator_type_t type);
const char *hub_indicator_kind_name(hub_indicator_kind_t kind);
const char *hub_source_name(hub_source_t source);
const char *hub_measure_name(hub_measure_t measure);
const char *hub_measure_label(hub_measure_t measure);

/* "优" "良" "中" "差", and "excellent" "good" "fair" "poor". */
const char *hub_grade_label(hub_grade_t grade);
const char *hub_grade_name(hub_grade_t grade);

/* ---- shared by the engine's INI files (targets, score sheet, scores) ----
 * inih drives the parse; this reader counts lines so that every error, also
 * one found after a section ended, names its line; it refuses indented and
 * over-long lines, and hands each section header to `section` (also an empty
 * section, which inih itself never reports). Callbacks return 0, or -1
 * after hub_ini_fail. */
typedef struct hub_ini hub_ini_t;
typedef int(hub_ini_section_fn)(hub_ini_t *ini, const char *name, int line);
typedef int(hub_ini_key_fn)(hub_ini_t *ini, const char *name, const char *value, int line);

struct hub_ini {
    hub_ini_section_fn *section;  /* a section header was read */
    hub_ini_key_fn *key;          /* a key = value line was read */
    void *user;                   /* the callbacks' own state */
    int line;                     /* line being read, from 1 */
    int fail_line;                /* line the first failure names; -1 = the whole file */
    int fail_at;                  /* line being read when it was found */
    char why[256];                /* reason of the first failure */
    void *file_;                  /* private: the FILE being read */
};

/* Parse path; 0, or -1 with "path:line: reason" (or "path: reason") in err.
 * After a failure the callbacks are not called again. */
int hub_ini_parse(const char *path, hub_ini_t *ini, char *err, size_t errlen);
/* Record the first failure, at line (0 = the line being read). Returns -1. */
int hub_ini_fail(hub_ini_t *ini, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A finite decimal number with nothing after it: 0 and *out, or -1. */
int hub_ini_number(const char *s, double *out);
/* An id: 1..39 bytes of [a-z0-9_]. */
bool hub_ini_id_valid(const char *s);

#endif
