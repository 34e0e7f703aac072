/* ro_targets: targets.ini through the shared reader (ro_ini); besides, the
 * sharing out of a sum's goal among units and the one rounding rule for
 * percents. What the numbers mean for a scope is hub_engine's business. */
#include "ro_targets.h"
#include "ro_ini.h"
#include "ro_mem.h"
#include "ro_report.h"
#include "ro_time.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ro_targets {
    size_t count;                                 /* indicators loaded */
    ro_indicator_t indicators[RO_INDICATORS_MAX]; /* in file order */
    ro_review_t review;                           /* [review]; all off without it */
};

/* ---- targets.ini ------------------------------------------------------ */

typedef enum {
    K_LABEL_ZH,
    K_LABEL_EN,
    K_TYPE,
    K_KIND,
    K_SOURCE,
    K_UNIT,
    K_GOAL,
    K_EXCELLENT,
    K_GOOD,
    K_FAIR,
    K_W_PROVINCIAL,
    K_W_MUNICIPAL,
    K_W_TOWNSHIP,
    K_MILESTONE,
    K_COUNT
} tkey_t;

static const char *s_key_names[K_COUNT] = {
    "label_zh",
    "label_en",
    "type",
    "kind",
    "source",
    "unit",
    "goal",
    "excellent",
    "good",
    "fair",
    "weight.provincial",
    "weight.municipal",
    "weight.township",
    "milestone",
};

typedef struct {
    ro_targets_t *targets; /* being filled */
    ro_indicator_t *cur;   /* section being read, NULL before the first */
    int section_line;      /* line of cur's header */
    int key_line[K_COUNT]; /* line of each key in cur; 0 = not given */
    int milestone_line;    /* line of cur's latest milestone */
    int in_review;         /* the section being read is [review] */
    int review_line[5];    /* line of each [review] key (s_review_keys); 0 = not given */
} tparse_t;

static int s_enum(ro_ini_t *ini, const char *key, const char *value, const char *const *names,
                  int n, int *out)
{
    for (int i = 0; i < n; i++) {
        if (!strcmp(value, names[i])) {
            *out = i;
            return 0;
        }
    }
    char list[160] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? i == n - 1 ? " or " : ", " : "",
                 names[i]);
    }
    return ro_ini_fail(ini, 0, "%s = '%s' is not %s", key, value, list);
}

static const char *const s_type_names[] = {"output", "effect"};
static const char *const s_kind_names[] = {"sum", "ratio"};
static const char *const s_source_names[] = {"participants", "hours", "staff", "items", "cases"};
static const char *const s_measure_names[] = {"people", "hours", "percent"};

/* Checks that need the whole section; the lines named are the keys at fault. */
static int s_finish(ro_ini_t *ini, tparse_t *p)
{
    ro_indicator_t *ind = p->cur;
    if (!ind)
        return 0;
    for (int k = K_LABEL_ZH; k <= K_FAIR; k++)
        if (!p->key_line[k])
            return ro_ini_fail(ini, p->section_line, "[indicator %s] lacks '%s'", ind->id,
                               s_key_names[k]);
    bool sum = ind->kind == RO_KIND_SUM;
    bool source_sum = ind->source == RO_SOURCE_PARTICIPANTS || ind->source == RO_SOURCE_HOURS;
    if (sum != source_sum)
        return ro_ini_fail(ini, p->key_line[K_SOURCE], "source '%s' does not fit kind %s (%s)",
                           ro_source_name(ind->source), ro_indicator_kind_name(ind->kind),
                           sum ? "sum: participants or hours" : "ratio: staff, items or cases");
    ro_measure_t want = ind->source == RO_SOURCE_PARTICIPANTS ? RO_MEASURE_PEOPLE
                        : ind->source == RO_SOURCE_HOURS      ? RO_MEASURE_HOURS
                                                              : RO_MEASURE_PERCENT;
    if (ind->measure != want)
        return ro_ini_fail(ini, p->key_line[K_UNIT], "unit of source %s must be %s, not %s",
                           ro_source_name(ind->source), ro_measure_name(want),
                           ro_measure_name(ind->measure));
    double cap = sum ? INFINITY : 100;
    if (ind->goal <= 0 || ind->goal > cap)
        return ro_ini_fail(ini, p->key_line[K_GOAL], "goal %g must be above 0%s", ind->goal,
                           sum ? "" : " and at most 100 (percent)");
    if (ind->excellent > cap)
        return ro_ini_fail(ini, p->key_line[K_EXCELLENT], "excellent %g is above 100 percent",
                           ind->excellent);
    if (!(ind->good < ind->excellent))
        return ro_ini_fail(ini, p->key_line[K_GOOD],
                           "good %g must be below excellent %g: thresholds descend", ind->good,
                           ind->excellent);
    if (!(ind->fair < ind->good))
        return ro_ini_fail(ini, p->key_line[K_FAIR],
                           "fair %g must be below good %g: thresholds descend", ind->fair,
                           ind->good);
    if (ind->fair < 0)
        return ro_ini_fail(ini, p->key_line[K_FAIR], "fair %g is below 0", ind->fair);
    if (sum) {
        for (int k = K_W_PROVINCIAL; k <= K_W_TOWNSHIP; k++)
            if (!p->key_line[k])
                return ro_ini_fail(ini, p->section_line,
                                   "[indicator %s] lacks '%s' (a sum's goal is shared out "
                                   "among units by level weight)",
                                   ind->id, s_key_names[k]);
        if (ind->weight[0] + ind->weight[1] + ind->weight[2] <= 0)
            return ro_ini_fail(ini, p->key_line[K_W_TOWNSHIP],
                               "the weights of [indicator %s] are all 0", ind->id);
    } else {
        for (int k = K_W_PROVINCIAL; k <= K_W_TOWNSHIP; k++)
            if (p->key_line[k])
                return ro_ini_fail(ini, p->key_line[k], "%s: weights apply only to sum indicators",
                                   s_key_names[k]);
        ind->goal /= 100;
        ind->excellent /= 100;
        ind->good /= 100;
        ind->fair /= 100;
    }
    p->targets->count++;
    p->cur = NULL;
    return 0;
}

static int s_section(ro_ini_t *ini, const char *name, int line)
{
    tparse_t *p = ini->user;
    if (s_finish(ini, p))
        return -1;
    ro_targets_t *t = p->targets;
    if (!name) {
        if (t->count == 0)
            return ro_ini_fail(ini, -1, "no [indicator <id>] sections");
        return 0;
    }
    p->in_review = 0;
    if (!strcmp(name, "review")) {
        if (t->review.line)
            return ro_ini_fail(ini, line, "[review] appears twice (first on line %d)",
                               t->review.line);
        t->review.line = line;
        p->in_review = 1;
        return 0;
    }
    if (strncmp(name, "indicator ", 10))
        return ro_ini_fail(
            ini, line, "unknown section [%s]: sections are [indicator <id>] and [review]", name);
    const char *id = name + 10;
    if (!ro_ini_id_valid(id))
        return ro_ini_fail(ini, line, "indicator id '%s' is not 1 to %d of a-z, 0-9 and _", id,
                           RO_ID_MAX - 1);
    if (ro_targets_find(t, id) >= 0)
        return ro_ini_fail(ini, line, "[indicator %s] appears twice", id);
    if (t->count == RO_INDICATORS_MAX)
        return ro_ini_fail(ini, line, "more than %d indicators", RO_INDICATORS_MAX);
    p->cur = &t->indicators[t->count];
    memset(p->cur, 0, sizeof *p->cur);
    strcpy(p->cur->id, id);
    p->section_line = line;
    memset(p->key_line, 0, sizeof p->key_line);
    p->milestone_line = 0;
    return 0;
}

static int s_label(ro_ini_t *ini, const char *key, const char *value, char *dst)
{
    size_t n = strlen(value);
    if (n == 0 || n >= RO_LABEL_MAX || !ro_utf8_valid(value, n))
        return ro_ini_fail(ini, 0, "%s must be 1 to %d bytes of UTF-8", key, RO_LABEL_MAX - 1);
    memcpy(dst, value, n + 1);
    return 0;
}

static int s_milestone(ro_ini_t *ini, tparse_t *p, const char *value)
{
    ro_indicator_t *ind = p->cur;
    char date[16];
    const char *sp = strpbrk(value, " \t");
    size_t dn = sp ? (size_t)(sp - value) : strlen(value);
    uint32_t d;
    double pct;
    if (!sp || dn >= sizeof date)
        return ro_ini_fail(ini, 0, "milestone = '%s' is not 'YYYY-MM-DD PERCENT'", value);
    memcpy(date, value, dn);
    date[dn] = '\0';
    while (*sp == ' ' || *sp == '\t')
        sp++;
    if (ro_date_parse(date, &d))
        return ro_ini_fail(ini, 0, "milestone date '%s' is not a real YYYY-MM-DD date", date);
    if (ro_ini_number(sp, &pct) || pct <= 0 || pct > 100)
        return ro_ini_fail(ini, 0, "milestone percent '%s' is not a number above 0 and at most 100",
                           sp);
    if (ind->milestone_count == RO_MILESTONES_MAX)
        return ro_ini_fail(ini, 0, "more than %d milestones", RO_MILESTONES_MAX);
    if (ind->milestone_count) {
        const ro_milestone_t *prev = &ind->milestones[ind->milestone_count - 1];
        char pd[16];
        ro_date_format(prev->date, pd);
        if (d <= prev->date)
            return ro_ini_fail(ini, 0,
                               "milestone %s is not after %s (line %d): milestones go in date "
                               "order",
                               date, pd, p->milestone_line);
        if (pct / 100 < prev->share)
            return ro_ini_fail(ini, 0, "milestone %s asks %g%%, less than %g%% by %s", date, pct,
                               prev->share * 100, pd);
    }
    ind->milestones[ind->milestone_count].date = d;
    ind->milestones[ind->milestone_count].share = pct / 100;
    ind->milestone_count++;
    p->milestone_line = ini->line;
    return 0;
}

static const char *const s_review_keys[] = {"participants_above_staff", "max_session_hours",
                                            "max_share_jump", "max_goal_multiple", "hold"};
static const char *const s_yes_no[] = {"no", "yes"};

/* A key of [review]: each at most once, numbers above 0 within their bound. */
static int s_review_key(ro_ini_t *ini, tparse_t *p, const char *name, const char *value, int line)
{
    ro_review_t *rv = &p->targets->review;
    int k = 0;
    while (k < 5 && strcmp(s_review_keys[k], name))
        k++;
    if (k == 5)
        return ro_ini_fail(ini, line,
                           "unknown key '%s' in [review]: keys are participants_above_staff, "
                           "max_session_hours, max_share_jump, max_goal_multiple, hold",
                           name);
    if (p->review_line[k])
        return ro_ini_fail(ini, line, "'%s' given twice in [review] (first on line %d)", name,
                           p->review_line[k]);
    p->review_line[k] = line;
    int e = 0;
    if (k == 0 || k == 4) {
        if (s_enum(ini, name, value, s_yes_no, 2, &e))
            return -1;
        *(k == 0 ? &rv->participants_above_staff : &rv->hold) = e == 1;
        return 0;
    }
    static const double max[] = {0, 24 * 31, 100, 1e9};
    double v = 0;
    if (ro_ini_number(value, &v) || v <= 0 || v > max[k])
        return ro_ini_fail(ini, line, "%s = '%s' is not a number above 0 and at most %g", name,
                           value, max[k]);
    *(k == 1 ? &rv->max_session_hours : k == 2 ? &rv->max_share_jump : &rv->max_goal_multiple) = v;
    return 0;
}

static int s_key(ro_ini_t *ini, const char *name, const char *value, int line)
{
    tparse_t *p = ini->user;
    if (p->in_review)
        return s_review_key(ini, p, name, value, line);
    ro_indicator_t *ind = p->cur;
    if (!ind)
        return ro_ini_fail(ini, line, "key '%s' outside any [indicator <id>] section", name);
    int k = 0;
    while (k < K_COUNT && strcmp(s_key_names[k], name))
        k++;
    if (k == K_COUNT)
        return ro_ini_fail(ini, line, "unknown key '%s' in [indicator %s]", name, ind->id);
    if (k != K_MILESTONE && p->key_line[k])
        return ro_ini_fail(ini, line, "'%s' given twice in [indicator %s] (first on line %d)", name,
                           ind->id, p->key_line[k]);
    p->key_line[k] = line;
    int e = 0;
    double v = 0;
    switch ((tkey_t)k) {
    case K_LABEL_ZH: return s_label(ini, name, value, ind->label_zh);
    case K_LABEL_EN: return s_label(ini, name, value, ind->label_en);
    case K_TYPE:
        if (s_enum(ini, name, value, s_type_names, 2, &e))
            return -1;
        ind->type = (ro_indicator_type_t)e;
        return 0;
    case K_KIND:
        if (s_enum(ini, name, value, s_kind_names, 2, &e))
            return -1;
        ind->kind = (ro_indicator_kind_t)e;
        return 0;
    case K_SOURCE:
        if (s_enum(ini, name, value, s_source_names, 5, &e))
            return -1;
        ind->source = (ro_source_t)e;
        return 0;
    case K_UNIT:
        if (s_enum(ini, name, value, s_measure_names, 3, &e))
            return -1;
        ind->measure = (ro_measure_t)e;
        return 0;
    case K_MILESTONE: return s_milestone(ini, p, value);
    default: break;
    }
    if (ro_ini_number(value, &v) || v < 0)
        return ro_ini_fail(ini, line, "%s = '%s' is not a number from 0", name, value);
    switch ((tkey_t)k) {
    case K_GOAL: ind->goal = v; break;
    case K_EXCELLENT: ind->excellent = v; break;
    case K_GOOD: ind->good = v; break;
    case K_FAIR: ind->fair = v; break;
    case K_W_PROVINCIAL: ind->weight[RO_LEVEL_PROVINCIAL] = v; break;
    case K_W_MUNICIPAL: ind->weight[RO_LEVEL_MUNICIPAL] = v; break;
    case K_W_TOWNSHIP: ind->weight[RO_LEVEL_TOWNSHIP] = v; break;
    default: break;
    }
    return 0;
}

ro_targets_t *ro_targets_load(const char *path, char *err, size_t errlen)
{
    ro_targets_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    self->review.hold = true; /* a flag holds unless the file says otherwise */
    tparse_t p = {.targets = self};
    ro_ini_t ini = {.section = s_section, .key = s_key, .user = &p};
    if (ro_ini_parse(path, &ini, err, errlen)) {
        free(self);
        return NULL;
    }
    return self;
}

void ro_targets_destroy(ro_targets_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t ro_targets_count(const ro_targets_t *self)
{
    return self->count;
}

const ro_indicator_t *ro_targets_at(const ro_targets_t *self, size_t index)
{
    return index < self->count ? &self->indicators[index] : NULL;
}

const ro_review_t *ro_targets_review(const ro_targets_t *self)
{
    return &self->review;
}

int ro_targets_find(const ro_targets_t *self, const char *id)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp(self->indicators[i].id, id))
            return (int)i;
    return -1;
}

size_t ro_targets_headline(const ro_targets_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->indicators[i].kind == RO_KIND_RATIO &&
            self->indicators[i].source == RO_SOURCE_ITEMS)
            return i;
    for (size_t i = 0; i < self->count; i++)
        if (self->indicators[i].milestone_count)
            return i;
    return 0;
}

char *ro_indicator_format(const ro_indicator_t *ind, double value, char *buf, size_t len)
{
    if (isnan(value))
        snprintf(buf, len, "—");
    else if (ind->measure == RO_MEASURE_PERCENT)
        ro_pct_format_ratio(value, buf, len);
    else if (ind->measure == RO_MEASURE_HOURS)
        snprintf(buf, len, "%.1f", value + 0.0);
    else if (fabs(value - round(value)) < 1e-6)
        /* sums of per-unit goal shares land a hair off the whole number */
        snprintf(buf, len, "%.0f", round(value) + 0.0);
    else
        snprintf(buf, len, "%.2f", value);
    return buf;
}

/* ---- percent with one decimal ------------------------------------------ */

int64_t ro_pct_tenths_of(double ratio)
{
    /* 1e-9 of a tenth: far above a double's error for a ratio of counts
     * (about 1e-13 at 100%), far below the 1 / (2 den) by which a ratio that
     * is not exactly half a tenth misses one */
    if (ratio < 0)
        return -(int64_t)floor(-ratio * 1000 + 0.5 + 1e-9);
    return (int64_t)floor(ratio * 1000 + 0.5 + 1e-9);
}

uint64_t ro_pct_tenths(uint64_t num, uint64_t den)
{
    assert(den > 0);
    if (num < UINT64_MAX / 4000 && den < UINT64_MAX / 4)
        return (2000 * num + den) / (2 * den);
    return (uint64_t)ro_pct_tenths_of((double)num / (double)den);
}

static char *s_tenths_pct(int64_t t, char *buf, size_t len)
{
    uint64_t a = t < 0 ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
    snprintf(buf, len, "%s%llu.%u%%", t < 0 ? "-" : "", (unsigned long long)(a / 10),
             (unsigned)(a % 10));
    return buf;
}

char *ro_pct_format(uint64_t num, uint64_t den, char *buf, size_t len)
{
    if (den == 0) {
        snprintf(buf, len, "—");
        return buf;
    }
    uint64_t t = ro_pct_tenths(num, den);
    return s_tenths_pct(t > INT64_MAX ? INT64_MAX : (int64_t)t, buf, len);
}

char *ro_pct_format_ratio(double ratio, char *buf, size_t len)
{
    /* past 9e12 (a ratio no count gives) the tenths would not fit */
    if (!isfinite(ratio) || fabs(ratio) > 9e12) {
        snprintf(buf, len, "—");
        return buf;
    }
    return s_tenths_pct(ro_pct_tenths_of(ratio), buf, len);
}

/* ---- sharing a sum's goal out among units -------------------------------- */

unsigned ro_indicator_goal_steps(const ro_indicator_t *ind)
{
    if (ind->kind != RO_KIND_SUM)
        return 0;
    return ind->measure == RO_MEASURE_HOURS ? 10 : 1;
}

typedef struct {
    double rem;  /* the quota's fraction of a step */
    size_t unit; /* registry index */
} s_share_t;

/* Largest remainder first; a tie to the unit earlier in the registry. */
static int s_share_cmp(const void *a, const void *b)
{
    const s_share_t *x = a, *y = b;
    if (x->rem != y->rem)
        return x->rem > y->rem ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

int ro_targets_allocate(const ro_indicator_t *ind, const ro_registry_t *reg, double *goal)
{
    unsigned steps = ro_indicator_goal_steps(ind);
    if (!steps)
        return -1;
    size_t n = ro_registry_count(reg);
    int col = ro_registry_goal_column(reg, ind->id);
    s_share_t *share = ro_calloc_big(n, sizeof *share);
    int64_t *whole = ro_calloc_big(n, sizeof *whole);
    if (!share || !whole) {
        free(share);
        free(whole);
        return -1;
    }
    double fixed = 0, wsum = 0;
    for (size_t u = 0; u < n; u++) {
        const ro_unit_t *unit = ro_registry_at(reg, u);
        if (col >= 0 && unit->goal[col] >= 0)
            fixed += unit->goal[col];
        else
            wsum += ind->weight[unit->level];
    }
    /* what is left for the weighted units, in whole steps */
    int64_t left = wsum > 0 ? (int64_t)llround(fmax(0.0, ind->goal - fixed) * steps) : 0;
    int64_t given = 0;
    size_t m = 0; /* weighted units, in share[] */
    for (size_t u = 0; u < n; u++) {
        const ro_unit_t *unit = ro_registry_at(reg, u);
        whole[u] = 0;
        if ((col >= 0 && unit->goal[col] >= 0) || !(ind->weight[unit->level] > 0))
            continue; /* an override, or a level asked nothing */
        double quota = wsum > 0 ? (double)left * ind->weight[unit->level] / wsum : 0;
        whole[u] = (int64_t)floor(quota);
        given += whole[u];
        share[m++] = (s_share_t){.rem = quota - floor(quota), .unit = u};
    }
    qsort(share, m, sizeof *share, s_share_cmp);
    /* left - given is below m, bar rounding of the quotas: go round again
     * if need be, and take back from the smallest remainders if over */
    for (size_t k = 0; m && given < left; k = (k + 1) % m, given++)
        whole[share[k].unit]++;
    for (size_t k = m; m && given > left; k = k > 1 ? k - 1 : m) {
        if (whole[share[k - 1].unit] > 0) {
            whole[share[k - 1].unit]--;
            given--;
        }
    }
    for (size_t u = 0; u < n; u++) {
        const ro_unit_t *unit = ro_registry_at(reg, u);
        goal[u] = col >= 0 && unit->goal[col] >= 0 ? unit->goal[col] : (double)whole[u] / steps;
    }
    free(share);
    free(whole);
    return 0;
}

const char *ro_indicator_type_label(ro_indicator_type_t type)
{
    static const char *labels[] = {"产出指标", "效益指标"};
    return (unsigned)type < 2 ? labels[type] : "?";
}

const char *ro_indicator_kind_name(ro_indicator_kind_t kind)
{
    return (unsigned)kind < 2 ? s_kind_names[kind] : "?";
}

const char *ro_source_name(ro_source_t source)
{
    return (unsigned)source < 5 ? s_source_names[source] : "?";
}

const char *ro_measure_name(ro_measure_t measure)
{
    return (unsigned)measure < 3 ? s_measure_names[measure] : "?";
}

const char *ro_measure_label(ro_measure_t measure)
{
    static const char *labels[] = {"人", "小时", "%"};
    return (unsigned)measure < 3 ? labels[measure] : "?";
}

const char *ro_grade_label(ro_grade_t grade)
{
    static const char *labels[] = {"优", "良", "中", "差"};
    return (unsigned)grade < 4 ? labels[grade] : "?";
}

const char *ro_grade_name(ro_grade_t grade)
{
    static const char *names[] = {"excellent", "good", "fair", "poor"};
    return (unsigned)grade < 4 ? names[grade] : "?";
}
