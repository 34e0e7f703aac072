/* ctl_scoresheet: the self-evaluation score sheet (绩效评价指标评分): the
 * three-level 100-point tree (scoresheet.ini), the evaluator's scores and the
 * funds (scores-<year>.ini), and the computed total and grade. Drawing the
 * sheet is hub_report's; the engine's province scope is only read. */
#ifndef CTL_SCORESHEET_H
#define CTL_SCORESHEET_H

#include "ro_scope.h"
#include "ro_targets.h"

#include <stddef.h>
#include <stdint.h>

/* Leaf methods (ratio r capped to 0..1, score = points x r rounded to 0.01):
 *   judgment          the evaluator's score from the scores file [scores];
 *   funds_in_place    r = allocated / planned (到位率);
 *   funds_use         r = spent / allocated (资金使用; 0 when nothing allocated);
 *   execution         r = spent / planned: the share of the plan executed,
 *                     which is how the document scored 产出数量 and 产出成本;
 *   output_attainment r = mean over the output indicators (type output) of
 *                     min(1, province share of goal), from the engine.
 * allocated and spent are the sums over the years of [funds]. With the
 * document's figures (planned 261.10; 2018: 130.55 allocated, 130.55 spent;
 * 2019: 130.55 allocated, 0 spent) they give 3, 3.5, 2.5 and 1.5 as the
 * document does, and with its judgment scores a total of 92.50, 优.
 * A level-1 or level-2 score is the sum of its children's; the total is the
 * sum of the leaves; the grade 优 >= 90, 良 >= 80, 中 >= 60, else 差. */

#define CTL_SCORE_NODES_MAX 64 /* nodes of a score sheet, all levels */
#define CTL_FUND_YEARS_MAX 16  /* years in a scores file's [funds] */

typedef enum {
    CTL_METHOD_JUDGMENT = 0,
    CTL_METHOD_FUNDS_IN_PLACE = 1,
    CTL_METHOD_FUNDS_USE = 2,
    CTL_METHOD_EXECUTION = 3,
    CTL_METHOD_OUTPUT_ATTAINMENT = 4,
} ctl_score_method_t;

typedef struct {
    char id[RO_ID_MAX];          /* section name after "level1 ", "level2 " or "level3 " */
    char label_zh[RO_LABEL_MAX]; /* the document's name */
    char label_en[RO_LABEL_MAX]; /* English name */
    int depth;                   /* 1, 2 or 3 (a leaf) */
    int parent;                  /* index of the parent node; -1 at depth 1 */
    double points;               /* 分值 */
    ctl_score_method_t method;   /* leaves: how the score is found */
} ctl_score_node_t;

typedef struct ctl_scoresheet ctl_scoresheet_t;

/* Load a score sheet: sections [level1 <id>], [level2 <id>] and
 * [level3 <id>] with label_zh, label_en, points (> 0), parent (levels 2
 * and 3: the id of an earlier node one level up) and method (level 3 only:
 * judgment, funds_in_place, funds_use, execution or output_attainment).
 * Each parent's points must equal the sum of its children's, every node
 * above level 3 must have children, and the level-1 points must add up to
 * 100. Errors as "path:line: reason"; NULL on failure. */
ctl_scoresheet_t *ctl_scoresheet_load(const char *path, char *err, size_t errlen);
void ctl_scoresheet_destroy(ctl_scoresheet_t **self_p);

/* Nodes in document order (each node followed by its subtree). */
size_t ctl_scoresheet_count(const ctl_scoresheet_t *self);
const ctl_score_node_t *ctl_scoresheet_at(const ctl_scoresheet_t *self, size_t index);
/* Index of the node with this id, or -1. */
int ctl_scoresheet_find(const ctl_scoresheet_t *self, const char *id);

typedef struct {
    uint32_t year;    /* e.g. 2018 */
    double allocated; /* 万元 put in place that year */
    double spent;     /* 万元 spent that year */
} ctl_fund_year_t;

/* What the evaluator enters: a score per judgment leaf, and the funds. */
typedef struct {
    uint32_t year;     /* evaluated year ([evaluation] year), 0 = not given */
    uint32_t date;     /* YYYYMMDD of the evaluation, 0 = not given */
    double planned;    /* 计划投资额, 万元 */
    size_t year_count; /* years in funds */
    ctl_fund_year_t funds[CTL_FUND_YEARS_MAX]; /* by year, ascending */
    double score[CTL_SCORE_NODES_MAX];         /* by node index; NaN = not given */
} ctl_scores_t;

/* Fill *out with no scores and no funds (scores NaN, planned 0). */
void ctl_scores_init(ctl_scores_t *out);

/* Load a scores file for sheet into *out: [evaluation] year, date
 * (YYYY-MM-DD), both optional; [funds] planned (> 0, required),
 * allocated.<year> and spent.<year> (>= 0); [scores] <leaf id> = score,
 * one for every judgment leaf and only for them, 0 <= score <= points.
 * Returns 0, or -1 with "path:line: reason" in err. */
int ctl_scores_load(const char *path, const ctl_scoresheet_t *sheet, ctl_scores_t *out, char *err,
                    size_t errlen);

/* The result: a score per node, the ratio behind each computed leaf. */
typedef struct {
    size_t count;                      /* nodes */
    double score[CTL_SCORE_NODES_MAX]; /* by node index */
    double ratio[CTL_SCORE_NODES_MAX]; /* computed leaves: r; NaN for judgment and parents */
    double planned;                    /* 万元 */
    double allocated;                  /* 万元, all years */
    double spent;                      /* 万元, all years */
    double total;                      /* sum of the leaf scores */
    ro_grade_t grade;                  /* of the total */
} ctl_score_result_t;

/* Compute the sheet. output_attainment (0..1) is what output_attainment
 * leaves use; pass NAN when not known (then a sheet with such a leaf is
 * refused). Returns 0, or -1 with a reason in err (a judgment leaf with no
 * score, planned not above 0, output attainment needed but NaN). */
int ctl_scoresheet_compute(const ctl_scoresheet_t *sheet, const ctl_scores_t *scores,
                           double output_attainment, ctl_score_result_t *out, char *err,
                           size_t errlen);

/* The output attainment of a province scope: the mean over the targets'
 * output indicators of min(1, share), a no-data share counting 0; NaN if
 * the targets have no output indicator. */
double ctl_scoresheet_output_attainment(const ro_targets_t *targets, const ro_scope_t *province);

/* The grade of a total: 优 >= 90, 良 >= 80, 中 >= 60, else 差. */
ro_grade_t ctl_scoresheet_grade(double total);

/* A short formula for display, e.g. "points × spent / planned". */
const char *ctl_score_method_formula(ctl_score_method_t method);

#endif
