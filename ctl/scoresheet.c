/* ctl_scoresheet: scoresheet.ini and scores-<year>.ini through the shared
 * line-counting INI driver, and the arithmetic of the 100-point sheet.
 * The formulas are documented in scoresheet.h; drawing the sheet is left to
 * hub_report. */
#include "scoresheet.h"

#include "ro_report.h"
#include "ro_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctl_scoresheet {
    size_t count;                                /* nodes */
    ctl_score_node_t nodes[CTL_SCORE_NODES_MAX]; /* in document order */
};

static const char *const s_method_names[] = {"judgment", "funds_in_place", "funds_use", "execution",
                                             "output_attainment"};
#define METHOD_COUNT 5

static double s_round2(double x)
{
    return round(x * 100 + 1e-9) / 100;
}

/* ---- scoresheet.ini --------------------------------------------------- */

enum { SK_LABEL_ZH, SK_LABEL_EN, SK_POINTS, SK_PARENT, SK_METHOD, SK_COUNT };
static const char *s_sheet_keys[SK_COUNT] = {"label_zh", "label_en", "points", "parent", "method"};

typedef struct {
    ctl_scoresheet_t *sheet;       /* nodes in file order while parsing */
    int line[CTL_SCORE_NODES_MAX]; /* section line of each node */
    ctl_score_node_t *cur;         /* node being read */
    int key_line[SK_COUNT];        /* lines of cur's keys */
} sparse_t;

static int s_sheet_finish(ro_ini_t *ini, sparse_t *p)
{
    ctl_score_node_t *n = p->cur;
    if (!n)
        return 0;
    int at = p->line[p->sheet->count];
    for (int k = SK_LABEL_ZH; k <= SK_POINTS; k++)
        if (!p->key_line[k])
            return ro_ini_fail(ini, at, "[level%d %s] lacks '%s'", n->depth, n->id,
                               s_sheet_keys[k]);
    if (n->depth > 1 && !p->key_line[SK_PARENT])
        return ro_ini_fail(ini, at, "[level%d %s] lacks 'parent'", n->depth, n->id);
    if (n->depth == 1 && p->key_line[SK_PARENT])
        return ro_ini_fail(ini, p->key_line[SK_PARENT], "a level-1 item has no parent");
    if (n->depth == 3 && !p->key_line[SK_METHOD])
        return ro_ini_fail(ini, at, "[level3 %s] lacks 'method'", n->id);
    if (n->depth < 3 && p->key_line[SK_METHOD])
        return ro_ini_fail(ini, p->key_line[SK_METHOD],
                           "only level-3 items have a method; a level-%d item adds up its "
                           "children",
                           n->depth);
    p->sheet->count++;
    p->cur = NULL;
    return 0;
}

/* At the end: points add up, and the nodes are put in document order. */
static int s_sheet_check(ro_ini_t *ini, sparse_t *p)
{
    ctl_scoresheet_t *t = p->sheet;
    if (t->count == 0)
        return ro_ini_fail(ini, -1, "no [level1 <id>] sections");
    double top = 0;
    for (size_t i = 0; i < t->count; i++) {
        const ctl_score_node_t *n = &t->nodes[i];
        if (n->depth == 1)
            top += n->points;
        if (n->depth == 3)
            continue;
        double sum = 0;
        int children = 0;
        for (size_t j = 0; j < t->count; j++) {
            if (t->nodes[j].parent == (int)i) {
                sum += t->nodes[j].points;
                children++;
            }
        }
        if (!children)
            return ro_ini_fail(ini, p->line[i], "[level%d %s] has no items under it", n->depth,
                               n->id);
        if (fabs(sum - n->points) > 1e-9)
            return ro_ini_fail(ini, p->line[i],
                               "[level%d %s] has %g points but its items add up to %g", n->depth,
                               n->id, n->points, sum);
    }
    if (fabs(top - 100) > 1e-9)
        return ro_ini_fail(ini, -1, "the level-1 items add up to %g points, not 100", top);
    /* document order: each node followed by its subtree, siblings in file order */
    ctl_score_node_t sorted[CTL_SCORE_NODES_MAX];
    int newidx[CTL_SCORE_NODES_MAX];
    size_t n = 0;
    for (size_t a = 0; a < t->count; a++) {
        if (t->nodes[a].depth != 1)
            continue;
        newidx[a] = (int)n;
        sorted[n++] = t->nodes[a];
        for (size_t b = 0; b < t->count; b++) {
            if (t->nodes[b].parent != (int)a)
                continue;
            newidx[b] = (int)n;
            sorted[n++] = t->nodes[b];
            for (size_t c = 0; c < t->count; c++) {
                if (t->nodes[c].parent != (int)b)
                    continue;
                newidx[c] = (int)n;
                sorted[n++] = t->nodes[c];
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (sorted[i].parent >= 0)
            sorted[i].parent = newidx[sorted[i].parent];
    memcpy(t->nodes, sorted, n * sizeof sorted[0]);
    return 0;
}

static int s_sheet_section(ro_ini_t *ini, const char *name, int line)
{
    sparse_t *p = ini->user;
    if (s_sheet_finish(ini, p))
        return -1;
    if (!name)
        return s_sheet_check(ini, p);
    int depth = 0;
    if (!strncmp(name, "level1 ", 7))
        depth = 1;
    else if (!strncmp(name, "level2 ", 7))
        depth = 2;
    else if (!strncmp(name, "level3 ", 7))
        depth = 3;
    if (!depth)
        return ro_ini_fail(ini, line,
                           "unknown section [%s]: sections are [level1 <id>], [level2 <id>] "
                           "and [level3 <id>]",
                           name);
    const char *id = name + 7;
    if (!ro_ini_id_valid(id))
        return ro_ini_fail(ini, line, "item id '%s' is not 1 to %d of a-z, 0-9 and _", id,
                           RO_ID_MAX - 1);
    if (ctl_scoresheet_find(p->sheet, id) >= 0)
        return ro_ini_fail(ini, line, "item '%s' appears twice", id);
    if (p->sheet->count == CTL_SCORE_NODES_MAX)
        return ro_ini_fail(ini, line, "more than %d items", CTL_SCORE_NODES_MAX);
    p->cur = &p->sheet->nodes[p->sheet->count];
    memset(p->cur, 0, sizeof *p->cur);
    strcpy(p->cur->id, id);
    p->cur->depth = depth;
    p->cur->parent = -1;
    p->line[p->sheet->count] = line;
    memset(p->key_line, 0, sizeof p->key_line);
    return 0;
}

static int s_sheet_key(ro_ini_t *ini, const char *name, const char *value, int line)
{
    sparse_t *p = ini->user;
    ctl_score_node_t *n = p->cur;
    if (!n)
        return ro_ini_fail(ini, line, "key '%s' outside any [levelN <id>] section", name);
    int k = 0;
    while (k < SK_COUNT && strcmp(s_sheet_keys[k], name))
        k++;
    if (k == SK_COUNT)
        return ro_ini_fail(ini, line, "unknown key '%s' in [level%d %s]", name, n->depth, n->id);
    if (p->key_line[k])
        return ro_ini_fail(ini, line, "'%s' given twice in [level%d %s] (first on line %d)", name,
                           n->depth, n->id, p->key_line[k]);
    p->key_line[k] = line;
    size_t len = strlen(value);
    switch (k) {
    case SK_LABEL_ZH:
    case SK_LABEL_EN: {
        char *dst = k == SK_LABEL_ZH ? n->label_zh : n->label_en;
        if (len == 0 || len >= RO_LABEL_MAX || !ro_utf8_valid(value, len))
            return ro_ini_fail(ini, line, "%s must be 1 to %d bytes of UTF-8", name,
                               RO_LABEL_MAX - 1);
        memcpy(dst, value, len + 1);
        return 0;
    }
    case SK_POINTS:
        if (ro_ini_number(value, &n->points) || n->points <= 0 || n->points > 100)
            return ro_ini_fail(ini, line, "points = '%s' is not a number above 0, at most 100",
                               value);
        return 0;
    case SK_PARENT: {
        int parent = ctl_scoresheet_find(p->sheet, value);
        if (parent < 0)
            return ro_ini_fail(ini, line, "parent '%s' is not an item defined above", value);
        if (p->sheet->nodes[parent].depth != n->depth - 1)
            return ro_ini_fail(ini, line,
                               "parent '%s' is a level-%d item; a level-%d item's "
                               "parent is one level up",
                               value, p->sheet->nodes[parent].depth, n->depth);
        n->parent = parent;
        return 0;
    }
    case SK_METHOD:
        for (int m = 0; m < METHOD_COUNT; m++) {
            if (!strcmp(value, s_method_names[m])) {
                n->method = (ctl_score_method_t)m;
                return 0;
            }
        }
        return ro_ini_fail(ini, line,
                           "method = '%s' is not judgment, funds_in_place, funds_use, "
                           "execution or output_attainment",
                           value);
    }
    return 0;
}

ctl_scoresheet_t *ctl_scoresheet_load(const char *path, char *err, size_t errlen)
{
    ctl_scoresheet_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    sparse_t p = {.sheet = self};
    ro_ini_t ini = {.section = s_sheet_section, .key = s_sheet_key, .user = &p};
    if (ro_ini_parse(path, &ini, err, errlen)) {
        free(self);
        return NULL;
    }
    return self;
}

void ctl_scoresheet_destroy(ctl_scoresheet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t ctl_scoresheet_count(const ctl_scoresheet_t *self)
{
    return self->count;
}

const ctl_score_node_t *ctl_scoresheet_at(const ctl_scoresheet_t *self, size_t index)
{
    return index < self->count ? &self->nodes[index] : NULL;
}

int ctl_scoresheet_find(const ctl_scoresheet_t *self, const char *id)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp(self->nodes[i].id, id))
            return (int)i;
    return -1;
}

/* ---- scores-<year>.ini ------------------------------------------------- */

typedef enum { SEC_NONE, SEC_EVALUATION, SEC_FUNDS, SEC_SCORES } ssec_t;

typedef struct {
    const ctl_scoresheet_t *sheet;       /* the sheet scored */
    ctl_scores_t *scores;                /* being filled */
    ssec_t sec;                          /* section being read */
    int sec_line[4];                     /* line of each section header; 0 = not seen */
    int planned_line;                    /* line of planned; 0 = not given */
    int year_line, date_line;            /* lines of [evaluation] keys */
    int score_line[CTL_SCORE_NODES_MAX]; /* line of each score given */
    int alloc_line[CTL_FUND_YEARS_MAX];  /* line of allocated.<year> */
    int spent_line[CTL_FUND_YEARS_MAX];  /* line of spent.<year> */
} rparse_t;

static int s_scores_section(ro_ini_t *ini, const char *name, int line)
{
    rparse_t *p = ini->user;
    if (!name) {
        if (!p->planned_line)
            return ro_ini_fail(ini, p->sec_line[SEC_FUNDS] ? p->sec_line[SEC_FUNDS] : -1,
                               "[funds] lacks 'planned' (the planned investment, 万元)");
        for (size_t i = 0; i < p->sheet->count; i++) {
            const ctl_score_node_t *n = &p->sheet->nodes[i];
            if (n->depth == 3 && n->method == CTL_METHOD_JUDGMENT && !p->score_line[i])
                return ro_ini_fail(ini, p->sec_line[SEC_SCORES] ? p->sec_line[SEC_SCORES] : -1,
                                   "[scores] lacks %s (%s, %g points): the evaluator's score",
                                   n->id, n->label_zh, n->points);
        }
        return 0;
    }
    ssec_t sec = !strcmp(name, "evaluation") ? SEC_EVALUATION
                 : !strcmp(name, "funds")    ? SEC_FUNDS
                 : !strcmp(name, "scores")   ? SEC_SCORES
                                             : SEC_NONE;
    if (sec == SEC_NONE)
        return ro_ini_fail(
            ini, line, "unknown section [%s]: sections are [evaluation], [funds], [scores]", name);
    if (p->sec_line[sec])
        return ro_ini_fail(ini, line, "[%s] appears twice (first on line %d)", name,
                           p->sec_line[sec]);
    p->sec_line[sec] = line;
    p->sec = sec;
    return 0;
}

static int s_twice(ro_ini_t *ini, int *slot, const char *name, int line)
{
    if (*slot)
        return ro_ini_fail(ini, line, "'%s' given twice (first on line %d)", name, *slot);
    *slot = line;
    return 0;
}

static int s_fund_key(ro_ini_t *ini, rparse_t *p, const char *name, const char *value, int line)
{
    ctl_scores_t *s = p->scores;
    double v;
    if (!strcmp(name, "planned")) {
        if (s_twice(ini, &p->planned_line, name, line))
            return -1;
        if (ro_ini_number(value, &v) || v <= 0)
            return ro_ini_fail(ini, line, "planned = '%s' is not a number above 0", value);
        s->planned = v;
        return 0;
    }
    bool alloc = !strncmp(name, "allocated.", 10);
    bool spent = !strncmp(name, "spent.", 6);
    if (!alloc && !spent)
        return ro_ini_fail(ini, line,
                           "unknown key '%s' in [funds]: planned, allocated.<year>, "
                           "spent.<year>",
                           name);
    const char *ys = name + (alloc ? 10 : 6);
    char *end;
    unsigned long year = strtoul(ys, &end, 10);
    if (end == ys || *end || year < 1990 || year > 2999)
        return ro_ini_fail(ini, line, "'%s': the year must be YYYY", name);
    if (ro_ini_number(value, &v) || v < 0)
        return ro_ini_fail(ini, line, "%s = '%s' is not a number from 0", name, value);
    size_t i = 0;
    while (i < s->year_count && s->funds[i].year < year)
        i++;
    if (i == s->year_count || s->funds[i].year != year) {
        if (s->year_count == CTL_FUND_YEARS_MAX)
            return ro_ini_fail(ini, line, "more than %d years of funds", CTL_FUND_YEARS_MAX);
        size_t tail = s->year_count - i;
        memmove(&s->funds[i + 1], &s->funds[i], tail * sizeof s->funds[0]);
        memmove(&p->alloc_line[i + 1], &p->alloc_line[i], tail * sizeof p->alloc_line[0]);
        memmove(&p->spent_line[i + 1], &p->spent_line[i], tail * sizeof p->spent_line[0]);
        s->funds[i] = (ctl_fund_year_t){.year = (uint32_t)year};
        p->alloc_line[i] = p->spent_line[i] = 0;
        s->year_count++;
    }
    if (s_twice(ini, alloc ? &p->alloc_line[i] : &p->spent_line[i], name, line))
        return -1;
    if (alloc)
        s->funds[i].allocated = v;
    else
        s->funds[i].spent = v;
    return 0;
}

static int s_scores_key(ro_ini_t *ini, const char *name, const char *value, int line)
{
    rparse_t *p = ini->user;
    ctl_scores_t *s = p->scores;
    switch (p->sec) {
    case SEC_NONE: return ro_ini_fail(ini, line, "key '%s' outside any section", name);
    case SEC_EVALUATION:
        if (!strcmp(name, "year")) {
            char *end;
            unsigned long y = strtoul(value, &end, 10);
            if (s_twice(ini, &p->year_line, name, line))
                return -1;
            if (end == value || *end || y < 1990 || y > 2999)
                return ro_ini_fail(ini, line, "year = '%s' is not YYYY", value);
            s->year = (uint32_t)y;
            return 0;
        }
        if (!strcmp(name, "date")) {
            if (s_twice(ini, &p->date_line, name, line))
                return -1;
            if (ro_date_parse(value, &s->date))
                return ro_ini_fail(ini, line, "date = '%s' is not a real YYYY-MM-DD date", value);
            return 0;
        }
        return ro_ini_fail(ini, line, "unknown key '%s' in [evaluation]: year, date", name);
    case SEC_FUNDS: return s_fund_key(ini, p, name, value, line);
    case SEC_SCORES: {
        int i = ctl_scoresheet_find(p->sheet, name);
        if (i < 0)
            return ro_ini_fail(ini, line, "'%s' is not an item of the score sheet", name);
        const ctl_score_node_t *n = &p->sheet->nodes[i];
        if (n->depth != 3)
            return ro_ini_fail(ini, line, "%s (%s) adds up its items; score those instead", name,
                               n->label_zh);
        if (n->method != CTL_METHOD_JUDGMENT)
            return ro_ini_fail(ini, line, "%s (%s) is computed (%s), it takes no score", name,
                               n->label_zh, s_method_names[n->method]);
        if (s_twice(ini, &p->score_line[i], name, line))
            return -1;
        double v;
        if (ro_ini_number(value, &v) || v < 0 || v > n->points)
            return ro_ini_fail(ini, line, "%s = '%s' is not a score from 0 to %g", name, value,
                               n->points);
        s->score[i] = v;
        return 0;
    }
    }
    return 0;
}

void ctl_scores_init(ctl_scores_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < CTL_SCORE_NODES_MAX; i++)
        out->score[i] = NAN;
}

int ctl_scores_load(const char *path, const ctl_scoresheet_t *sheet, ctl_scores_t *out, char *err,
                    size_t errlen)
{
    ctl_scores_init(out);
    rparse_t p = {.sheet = sheet, .scores = out};
    ro_ini_t ini = {.section = s_scores_section, .key = s_scores_key, .user = &p};
    return ro_ini_parse(path, &ini, err, errlen);
}

/* ---- computing -------------------------------------------------------- */

ro_grade_t ctl_scoresheet_grade(double total)
{
    if (total >= 90 - 1e-9)
        return RO_GRADE_EXCELLENT;
    if (total >= 80 - 1e-9)
        return RO_GRADE_GOOD;
    if (total >= 60 - 1e-9)
        return RO_GRADE_FAIR;
    return RO_GRADE_POOR;
}

int ctl_scoresheet_compute(const ctl_scoresheet_t *sheet, const ctl_scores_t *scores,
                           double output_attainment, ctl_score_result_t *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->count = sheet->count;
    out->planned = scores->planned;
    for (size_t y = 0; y < scores->year_count; y++) {
        out->allocated += scores->funds[y].allocated;
        out->spent += scores->funds[y].spent;
    }
    if (!(scores->planned > 0)) {
        snprintf(err, errlen, "the planned investment must be above 0");
        return -1;
    }
    for (size_t i = 0; i < sheet->count; i++) {
        const ctl_score_node_t *n = &sheet->nodes[i];
        out->ratio[i] = NAN;
        out->score[i] = 0;
        if (n->depth != 3)
            continue;
        double r;
        switch (n->method) {
        case CTL_METHOD_JUDGMENT:
            if (isnan(scores->score[i])) {
                snprintf(err, errlen, "no score for %s (%s)", n->id, n->label_zh);
                return -1;
            }
            out->score[i] = scores->score[i];
            continue;
        case CTL_METHOD_FUNDS_IN_PLACE: r = out->allocated / out->planned; break;
        case CTL_METHOD_FUNDS_USE: r = out->allocated > 0 ? out->spent / out->allocated : 0; break;
        case CTL_METHOD_EXECUTION: r = out->spent / out->planned; break;
        case CTL_METHOD_OUTPUT_ATTAINMENT:
        default:
            if (isnan(output_attainment)) {
                snprintf(err, errlen, "%s (%s) needs the output indicators' attainment", n->id,
                         n->label_zh);
                return -1;
            }
            r = output_attainment;
            break;
        }
        r = fmin(1.0, fmax(0.0, r));
        out->ratio[i] = r;
        out->score[i] = s_round2(n->points * r);
    }
    /* leaves come after their parents: add up from the end */
    for (size_t i = sheet->count; i-- > 0;) {
        const ctl_score_node_t *n = &sheet->nodes[i];
        if (n->parent >= 0)
            out->score[n->parent] += out->score[i];
        if (n->depth == 3)
            out->total += out->score[i];
    }
    for (size_t i = 0; i < sheet->count; i++)
        out->score[i] = s_round2(out->score[i]);
    out->total = s_round2(out->total);
    out->grade = ctl_scoresheet_grade(out->total);
    return 0;
}

double ctl_scoresheet_output_attainment(const ro_targets_t *targets, const ro_scope_t *province)
{
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < province->indicator_count; i++) {
        const ro_result_t *r = &province->indicators[i];
        const ro_indicator_t *ind = ro_targets_at(targets, r->index);
        if (!ind || ind->type != RO_TYPE_OUTPUT)
            continue;
        sum += r->no_data || isnan(r->share) ? 0 : fmin(1.0, r->share);
        n++;
    }
    return n ? sum / n : NAN;
}

const char *ctl_score_method_formula(ctl_score_method_t method)
{
    static const char *formulas[] = {"evaluator's judgment", "points × allocated / planned",
                                     "points × spent / allocated", "points × spent / planned",
                                     "points × output indicators' attainment"};
    return (unsigned)method < METHOD_COUNT ? formulas[method] : "?";
}
