/* test_engine: targets.ini parsing (and its refusals with line numbers),
 * the attainment engine's rules (bands, milestones, no data, ratios of sums,
 * allocation, laggards, silent units, a 100,000-unit registry) and the score sheet, which must
 * reproduce the document's 92.50 / 优 from the document's figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "scoresheet.h"
#include "ro_targets.h"
#include "test_util.h"

#include <math.h>

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

static const char *s_config(const char *name)
{
    static char path[512];
    const char *root = getenv("RO_SOURCE_ROOT");
    assert_non_null(root);
    snprintf(path, sizeof path, "%s/config/%s", root, name);
    return path;
}

static ro_targets_t *s_shipped_targets(void)
{
    char err[512] = "";
    ro_targets_t *t = ro_targets_load(s_config("targets.ini"), err, sizeof err);
    if (!t)
        fail_msg("targets.ini: %s", err);
    return t;
}

static ro_registry_t *s_registry(const char *csv)
{
    char err[512] = "";
    ro_registry_t *reg = ro_registry_load(tu_write("units.csv", csv), err, sizeof err);
    if (!reg)
        fail_msg("registry: %s", err);
    return reg;
}

/* Five units over two levels of the province, two divisions and a township. */
static const char s_units5[] = "id,level,division,name\n"
                               "460000-001,provincial,460000,省发展改革委\n"
                               "460000-002,provincial,460000,省教育厅\n"
                               "460100-001,municipal,460100,海口市政务中心\n"
                               "460100-002,township,460100,演丰镇\n"
                               "469001-001,municipal,469001,五指山市政务中心\n";

typedef struct {
    ro_targets_t *targets;
    ro_registry_t *reg;
    hub_engine_t *engine;
    hub_unit_state_t st[5];
    int participants, hours, staff, items, cases; /* indicator indexes */
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char err[512] = "";
    fx->targets = s_shipped_targets();
    fx->reg = s_registry(s_units5);
    fx->engine = hub_engine_new(fx->reg, fx->targets, err, sizeof err);
    if (!fx->engine)
        fail_msg("engine: %s", err);
    fx->participants = ro_targets_find(fx->targets, "training_participants");
    fx->hours = ro_targets_find(fx->targets, "training_hours");
    fx->staff = ro_targets_find(fx->targets, "staff_proficient");
    fx->items = ro_targets_find(fx->targets, "items_no_visit");
    fx->cases = ro_targets_find(fx->targets, "cases_no_visit");
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    hub_engine_destroy(&fx->engine);
    assert_null(fx->engine);
    hub_engine_destroy(&fx->engine); /* NULL is fine */
    ro_registry_destroy(&fx->reg);
    ro_targets_destroy(&fx->targets);
    assert_null(fx->targets);
    free(fx);
    return 0;
}

/* ---- targets.ini -------------------------------------------------------- */

static void test_shipped_targets_load(void **state)
{
    (void)state;
    ro_targets_t *t = s_shipped_targets();
    assert_int_equal(ro_targets_count(t), 5);
    const ro_indicator_t *p = ro_targets_at(t, (size_t)ro_targets_find(t, "training_participants"));
    assert_int_equal(p->kind, RO_KIND_SUM);
    assert_int_equal(p->type, RO_TYPE_OUTPUT);
    assert_int_equal(p->source, RO_SOURCE_PARTICIPANTS);
    NEAR(p->goal, 2000);
    NEAR(p->excellent, 2000);
    NEAR(p->good, 1800);
    NEAR(p->fair, 1600);
    const ro_indicator_t *h = ro_targets_at(t, (size_t)ro_targets_find(t, "training_hours"));
    NEAR(h->goal, 300);
    NEAR(h->good, 250);
    NEAR(h->fair, 200);
    const ro_indicator_t *s = ro_targets_at(t, (size_t)ro_targets_find(t, "staff_proficient"));
    NEAR(s->goal, 1.0);
    NEAR(s->good, 0.9);
    NEAR(s->fair, 0.8);
    assert_int_equal(s->milestone_count, 0);
    int ii = ro_targets_find(t, "items_no_visit");
    const ro_indicator_t *i = ro_targets_at(t, (size_t)ii);
    assert_int_equal(i->kind, RO_KIND_RATIO);
    assert_int_equal(i->type, RO_TYPE_EFFECT);
    NEAR(i->goal, 0.8);
    NEAR(i->excellent, 0.8);
    NEAR(i->good, 0.7);
    NEAR(i->fair, 0.6);
    assert_int_equal(i->milestone_count, 3);
    assert_int_equal(i->milestones[0].date, 20171231);
    NEAR(i->milestones[0].share, 0.3);
    assert_int_equal(i->milestones[1].date, 20180630);
    NEAR(i->milestones[1].share, 0.7);
    assert_int_equal(i->milestones[2].date, 20181231);
    NEAR(i->milestones[2].share, 0.8);
    const ro_indicator_t *c = ro_targets_at(t, (size_t)ro_targets_find(t, "cases_no_visit"));
    assert_int_equal(c->source, RO_SOURCE_CASES);
    NEAR(c->goal, 0.8);
    assert_int_equal(c->milestone_count, 1);
    assert_int_equal(c->milestones[0].date, 20181231);
    assert_int_equal(ro_targets_headline(t), (size_t)ii);
    assert_int_equal(ro_targets_find(t, "nope"), -1);
    assert_null(ro_targets_at(t, 5));
    ro_targets_destroy(&t);
    ro_targets_destroy(&t);
}

static const char s_ok_sum[] = "[indicator people]\n"    /* 1 */
                               "label_zh = 人数\n"       /* 2 */
                               "label_en = People\n"     /* 3 */
                               "type = output\n"         /* 4 */
                               "kind = sum\n"            /* 5 */
                               "source = participants\n" /* 6 */
                               "unit = people\n"         /* 7 */
                               "goal = 100\n"            /* 8 */
                               "excellent = 100\n"       /* 9 */
                               "good = 90\n"             /* 10 */
                               "fair = 80\n"             /* 11 */
                               "weight.provincial = 1\n" /* 12 */
                               "weight.municipal = 1\n"  /* 13 */
                               "weight.township = 1\n";  /* 14 */

static const char s_ok_ratio[] = "\n[indicator share]\n"        /* 15, 16 */
                                 "label_zh = 占比\n"            /* 17 */
                                 "label_en = Share\n"           /* 18 */
                                 "type = effect\n"              /* 19 */
                                 "kind = ratio\n"               /* 20 */
                                 "source = items\n"             /* 21 */
                                 "unit = percent\n"             /* 22 */
                                 "goal = 80\n"                  /* 23 */
                                 "excellent = 80\n"             /* 24 */
                                 "good = 70\n"                  /* 25 */
                                 "fair = 60\n"                  /* 26 */
                                 "milestone = 2017-12-31 30\n"  /* 27 */
                                 "milestone = 2018-06-30 70\n"; /* 28 */

/* s_ok_sum + s_ok_ratio with line `line` replaced by `text` (NULL: deleted,
 * "+..." inserted before it instead). */
static const char *s_variant(int line, const char *text)
{
    static char out[4096];
    char all[2048];
    snprintf(all, sizeof all, "%s%s", s_ok_sum, s_ok_ratio);
    out[0] = '\0';
    int n = 1;
    for (char *p = all, *nl; *p; p = nl + 1, n++) {
        nl = strchr(p, '\n');
        if (n == line && text && text[0] == '+') {
            strcat(out, text + 1);
            strcat(out, "\n");
        }
        if (n != line || (text && text[0] == '+'))
            strncat(out, p, (size_t)(nl - p + 1));
        else if (text) {
            strcat(out, text);
            strcat(out, "\n");
        }
    }
    return out;
}

static void s_expect(const char *text, const char *needle)
{
    char err[512] = "";
    ro_targets_t *t = ro_targets_load(tu_write("bad.ini", text), err, sizeof err);
    if (t || !strstr(err, needle))
        fail_msg("expected error containing '%s', got '%s'", needle, t ? "(loaded)" : err);
}

static void test_targets_errors_name_their_line(void **state)
{
    (void)state;
    char err[512];
    /* the good file loads */
    ro_targets_t *t = ro_targets_load(tu_write("ok.ini", s_variant(0, NULL)), err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    assert_int_equal(ro_targets_count(t), 2);
    ro_targets_destroy(&t);

    s_expect(s_variant(16, "[target share]"), "bad.ini:16: unknown section [target share]");
    s_expect(s_variant(16, "[indicator Share!]"), "bad.ini:16: indicator id 'Share!'");
    s_expect(s_variant(16, "[indicator people]"), "bad.ini:16: [indicator people] appears twice");
    s_expect(s_variant(10, "+colour = red"),
             "bad.ini:10: unknown key 'colour' in [indicator people]");
    s_expect(s_variant(8, "goal = 2k"), "bad.ini:8: goal = '2k' is not a number");
    s_expect(s_variant(8, "goal = nan"), "bad.ini:8: goal = 'nan' is not a number");
    s_expect(s_variant(8, "goal = -5"), "bad.ini:8: goal = '-5' is not a number from 0");
    s_expect(s_variant(8, "goal = 0"), "bad.ini:8: goal 0 must be above 0");
    s_expect(s_variant(23, "goal = 120"), "bad.ini:23: goal 120 must be above 0 and at most 100");
    s_expect(s_variant(24, "excellent = 101"), "bad.ini:24: excellent 101 is above 100");
    /* thresholds not descending: the key that breaks the order is named */
    s_expect(s_variant(10, "good = 100"), "bad.ini:10: good 100 must be below excellent 100");
    s_expect(s_variant(11, "fair = 95"), "bad.ini:11: fair 95 must be below good 90");
    s_expect(s_variant(26, "fair = 70"), "bad.ini:26: fair 70 must be below good 70");
    /* milestones */
    s_expect(s_variant(28, "milestone = 2017-06-30 70"),
             "bad.ini:28: milestone 2017-06-30 is not after 2017-12-31 (line 27)");
    s_expect(s_variant(28, "milestone = 2017-12-31 70"),
             "bad.ini:28: milestone 2017-12-31 is not after");
    s_expect(s_variant(28, "milestone = 2018-06-30 20"),
             "bad.ini:28: milestone 2018-06-30 asks 20%");
    s_expect(s_variant(27, "milestone = 2017-02-30 30"), "bad.ini:27: milestone date '2017-02-30'");
    s_expect(s_variant(27, "milestone = 2017-12-31"),
             "bad.ini:27: milestone = '2017-12-31' is not");
    s_expect(s_variant(27, "milestone = 2017-12-31 130"), "bad.ini:27: milestone percent '130'");
    /* missing keys name the section's line */
    s_expect(s_variant(8, NULL), "bad.ini:1: [indicator people] lacks 'goal'");
    s_expect(s_variant(18, NULL), "bad.ini:16: [indicator share] lacks 'label_en'");
    s_expect(s_variant(13, NULL), "bad.ini:1: [indicator people] lacks 'weight.municipal'");
    s_expect(
        s_variant(14, "weight.township = 0\nweight.provincial = 0"),
        "bad.ini:15: 'weight.provincial' given twice in [indicator people] (first on line 12)");
    s_expect(s_variant(26, "+weight.township = 1"),
             "bad.ini:26: weight.township: weights apply only");
    s_expect(s_variant(21, "source = hours"), "bad.ini:21: source 'hours' does not fit kind ratio");
    s_expect(s_variant(6, "source = cases"), "bad.ini:6: source 'cases' does not fit kind sum");
    s_expect(s_variant(7, "unit = hours"), "bad.ini:7: unit of source participants must be people");
    s_expect(s_variant(5, "kind = mean"), "bad.ini:5: kind = 'mean' is not sum or ratio");
    s_expect(s_variant(4, "type = input"), "bad.ini:4: type = 'input' is not output or effect");
    s_expect(s_variant(3, "label_en ="), "bad.ini:3: label_en must be 1 to");
    s_expect(s_variant(1, "+goal = 5"),
             "bad.ini:1: key 'goal' outside any [indicator <id>] section");
    s_expect(s_variant(9, "excellent 100"), "bad.ini:9: not a 'key = value' or '[section]' line");
    s_expect(s_variant(9, "  excellent = 100"), "bad.ini:9: indented line");
    s_expect(s_variant(16, "[indicator share"), "bad.ini:16: not a 'key = value'");
    char longline[600];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "label_en = ", 11);
    longline[sizeof longline - 1] = '\0';
    s_expect(s_variant(3, longline), "bad.ini:3: line longer than");
    /* an empty section is refused too, though inih never reports it */
    s_expect("; nothing\n[indicator empty]\n", "bad.ini:2: [indicator empty] lacks 'label_zh'");
    s_expect("; only comments\n", "bad.ini: no [indicator <id>] sections");
    s_expect("", "bad.ini: no [indicator <id>] sections");
    t = ro_targets_load("/nonexistent/targets.ini", err, sizeof err);
    assert_null(t);
    assert_non_null(strstr(err, "/nonexistent/targets.ini: cannot open"));
}

/* ---- bands ---------------------------------------------------------------- */

static ro_grade_t s_province_grade(fx_t *fx, int indicator)
{
    ro_scope_t s;
    assert_int_equal(hub_engine_province(fx->engine, fx->st, 20190101, &s), 0);
    return s.indicators[indicator].grade;
}

static void test_band_edges_sum(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    /* the province's goal is the sum of five allocated goals (400 each) */
    ro_scope_t s;
    hub_engine_province(fx->engine, fx->st, 20190101, &s);
    NEAR(s.indicators[fx->participants].goal, 2000);
    NEAR(s.indicators[fx->hours].goal, 300);
    static const struct {
        uint64_t v;
        ro_grade_t g;
    } people[] = {{2001, RO_GRADE_EXCELLENT}, {2000, RO_GRADE_EXCELLENT}, {1999, RO_GRADE_GOOD},
                  {1800, RO_GRADE_GOOD},      {1799, RO_GRADE_FAIR},      {1600, RO_GRADE_FAIR},
                  {1599, RO_GRADE_POOR},      {0, RO_GRADE_POOR}};
    for (size_t k = 0; k < sizeof people / sizeof people[0]; k++) {
        fx->st[2].participants = people[k].v;
        if (s_province_grade(fx, fx->participants) != people[k].g)
            fail_msg("%llu people: grade %s, want %s", (unsigned long long)people[k].v,
                     ro_grade_label(s_province_grade(fx, fx->participants)),
                     ro_grade_label(people[k].g));
    }
    /* hours come in tenths and are graded in hours */
    static const struct {
        uint64_t tenths;
        ro_grade_t g;
    } hours[] = {{3000, RO_GRADE_EXCELLENT}, {2999, RO_GRADE_GOOD}, {2500, RO_GRADE_GOOD},
                 {2499, RO_GRADE_FAIR},      {2000, RO_GRADE_FAIR}, {1999, RO_GRADE_POOR}};
    for (size_t k = 0; k < sizeof hours / sizeof hours[0]; k++) {
        fx->st[0].hours_tenths = hours[k].tenths;
        assert_int_equal(s_province_grade(fx, fx->hours), hours[k].g);
    }
    hub_engine_province(fx->engine, fx->st, 20190101, &s);
    NEAR(s.indicators[fx->hours].value, 199.9);
    /* a unit is graded against its own goal: 400 people, 良 from 360 */
    NEAR(hub_engine_unit_goal(fx->engine, 2, (size_t)fx->participants), 400);
    fx->st[2].participants = 360;
    hub_engine_unit(fx->engine, fx->st, 2, 20190101, &s);
    assert_int_equal(s.indicators[fx->participants].grade, RO_GRADE_GOOD);
    NEAR(s.indicators[fx->participants].share, 0.9);
    fx->st[2].participants = 359;
    hub_engine_unit(fx->engine, fx->st, 2, 20190101, &s);
    assert_int_equal(s.indicators[fx->participants].grade, RO_GRADE_FAIR);
    /* with no milestones: status none, the standing target is the goal */
    assert_int_equal(s.indicators[fx->participants].milestone, RO_MILESTONE_NONE);
    assert_int_equal(s.indicators[fx->participants].next_date, 0);
    NEAR(s.indicators[fx->participants].next_goal, 400);
    NEAR(s.indicators[fx->participants].gap, 41);
}

static void test_band_edges_ratio(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    static const struct {
        uint32_t part, total;
        ro_grade_t staff, items;
    } cases[] = {{100, 100, RO_GRADE_EXCELLENT, RO_GRADE_EXCELLENT},
                 {999, 1000, RO_GRADE_GOOD, RO_GRADE_EXCELLENT},
                 {90, 100, RO_GRADE_GOOD, RO_GRADE_EXCELLENT},
                 {899, 1000, RO_GRADE_FAIR, RO_GRADE_EXCELLENT},
                 {80, 100, RO_GRADE_FAIR, RO_GRADE_EXCELLENT},
                 {799, 1000, RO_GRADE_POOR, RO_GRADE_GOOD},
                 {70, 100, RO_GRADE_POOR, RO_GRADE_GOOD},
                 {7, 10, RO_GRADE_POOR, RO_GRADE_GOOD},
                 {699, 1000, RO_GRADE_POOR, RO_GRADE_FAIR},
                 {60, 100, RO_GRADE_POOR, RO_GRADE_FAIR},
                 {3, 5, RO_GRADE_POOR, RO_GRADE_FAIR},
                 {599, 1000, RO_GRADE_POOR, RO_GRADE_POOR},
                 {0, 1000, RO_GRADE_POOR, RO_GRADE_POOR}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fx->st[4].staff_total = fx->st[4].items_total = cases[k].total;
        fx->st[4].staff_proficient = fx->st[4].items_no_visit = cases[k].part;
        ro_scope_t s;
        hub_engine_unit(fx->engine, fx->st, 4, 20190101, &s);
        if (s.indicators[fx->staff].grade != cases[k].staff ||
            s.indicators[fx->items].grade != cases[k].items)
            fail_msg("%u/%u: staff %s items %s", cases[k].part, cases[k].total,
                     ro_grade_label(s.indicators[fx->staff].grade),
                     ro_grade_label(s.indicators[fx->items].grade));
        assert_int_equal(s_province_grade(fx, fx->items), cases[k].items);
    }
}

/* ---- milestones ------------------------------------------------------------- */

static ro_result_t s_items_at(fx_t *fx, uint32_t part, uint32_t total, uint32_t as_of)
{
    memset(fx->st, 0, sizeof fx->st);
    fx->st[0].items_total = total;
    fx->st[0].items_no_visit = part;
    ro_scope_t s;
    assert_int_equal(hub_engine_unit(fx->engine, fx->st, 0, as_of, &s), 0);
    return s.indicators[fx->items];
}

static void s_check(ro_result_t r, ro_milestone_status_t status, uint32_t next_date,
                    double next_goal, double gap)
{
    if (r.milestone != status || r.next_date != next_date || fabs(r.next_goal - next_goal) > 1e-9 ||
        fabs(r.gap - gap) > 1e-9)
        fail_msg("value %.4f: %s next %u %.4f gap %.4f; want %s %u %.4f %.4f", r.value,
                 ro_milestone_status_name(r.milestone), r.next_date, r.next_goal, r.gap,
                 ro_milestone_status_name(status), next_date, next_goal, gap);
}

static void test_milestones_before_on_after(void **state)
{
    fx_t *fx = *state;
    /* batch 1: 30% by 2017-12-31 */
    s_check(s_items_at(fx, 29, 100, 20171230), RO_MILESTONE_AT_RISK, 20171231, 0.3, 0.01);
    s_check(s_items_at(fx, 30, 100, 20171230), RO_MILESTONE_MET, 20171231, 0.3, 0);
    s_check(s_items_at(fx, 29, 100, 20171231), RO_MILESTONE_MISSED, 20180630, 0.7, 0.41);
    s_check(s_items_at(fx, 30, 100, 20171231), RO_MILESTONE_AT_RISK, 20180630, 0.7, 0.4);
    s_check(s_items_at(fx, 29, 100, 20180101), RO_MILESTONE_MISSED, 20180630, 0.7, 0.41);
    /* batch 2: 70% by 2018-06-30 */
    s_check(s_items_at(fx, 69, 100, 20180629), RO_MILESTONE_AT_RISK, 20180630, 0.7, 0.01);
    s_check(s_items_at(fx, 70, 100, 20180629), RO_MILESTONE_MET, 20180630, 0.7, 0);
    s_check(s_items_at(fx, 69, 100, 20180630), RO_MILESTONE_MISSED, 20181231, 0.8, 0.11);
    s_check(s_items_at(fx, 70, 100, 20180630), RO_MILESTONE_AT_RISK, 20181231, 0.8, 0.1);
    s_check(s_items_at(fx, 70, 100, 20180701), RO_MILESTONE_AT_RISK, 20181231, 0.8, 0.1);
    /* batch 3: 80% by 2018-12-31, the last: after it next_date is 0 and the
     * last milestone stays in force */
    s_check(s_items_at(fx, 79, 100, 20181230), RO_MILESTONE_AT_RISK, 20181231, 0.8, 0.01);
    s_check(s_items_at(fx, 80, 100, 20181230), RO_MILESTONE_MET, 20181231, 0.8, 0);
    s_check(s_items_at(fx, 79, 100, 20181231), RO_MILESTONE_MISSED, 0, 0.8, 0.01);
    s_check(s_items_at(fx, 80, 100, 20181231), RO_MILESTONE_MET, 0, 0.8, 0);
    s_check(s_items_at(fx, 79, 100, 20190101), RO_MILESTONE_MISSED, 0, 0.8, 0.01);
    s_check(s_items_at(fx, 95, 100, 20190101), RO_MILESTONE_MET, 0, 0.8, 0);
    /* ahead of schedule before the first date is met */
    s_check(s_items_at(fx, 50, 100, 20170601), RO_MILESTONE_MET, 20171231, 0.3, 0);
    ro_result_t r = s_items_at(fx, 69, 100, 20180701);
    assert_int_equal(r.due_date, 20180630);
    NEAR(r.due_goal, 0.7);
    r = s_items_at(fx, 10, 100, 20170101);
    assert_int_equal(r.due_date, 0);
    /* the cases share has one milestone, 80% by 2018-12-31 */
    memset(fx->st, 0, sizeof fx->st);
    fx->st[0].cases_total = 1000;
    fx->st[0].cases_no_visit = 500;
    ro_scope_t s;
    hub_engine_unit(fx->engine, fx->st, 0, 20180630, &s);
    s_check(s.indicators[fx->cases], RO_MILESTONE_AT_RISK, 20181231, 0.8, 0.3);
    hub_engine_unit(fx->engine, fx->st, 0, 20181231, &s);
    s_check(s.indicators[fx->cases], RO_MILESTONE_MISSED, 0, 0.8, 0.3);
    /* staff has none */
    fx->st[0].staff_total = 10;
    fx->st[0].staff_proficient = 8;
    hub_engine_unit(fx->engine, fx->st, 0, 20181231, &s);
    s_check(s.indicators[fx->staff], RO_MILESTONE_NONE, 0, 1.0, 0.2);
}

/* ---- no data, no reports ------------------------------------------------------ */

static void test_zero_totals_are_no_data(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    fx->st[1].reports = 3;
    fx->st[1].participants = 12;
    ro_scope_t s;
    hub_engine_unit(fx->engine, fx->st, 1, 20180101, &s);
    const ro_result_t *r = &s.indicators[fx->items];
    assert_true(r->no_data);
    assert_true(isnan(r->value));
    assert_true(isnan(r->share));
    assert_int_equal(r->grade, RO_GRADE_POOR);
    /* counts as 0 against milestones: missed 30% (due), gap to 70% */
    s_check(*r, RO_MILESTONE_MISSED, 20180630, 0.7, 0.7);
    assert_true(s.why & (1u << fx->items));
    assert_true(s.why & (1u << fx->staff));
    assert_int_equal(s.grade, RO_GRADE_POOR);
    char why[512];
    ro_scope_reason(fx->targets, &s, (size_t)fx->items, why, sizeof why);
    assert_non_null(strstr(why, "no data (no service items reported)"));
    assert_non_null(strstr(why, "missed 30.0% due 2017-12-31"));
    ro_scope_reason(fx->targets, &s, (size_t)fx->staff, why, sizeof why);
    assert_non_null(strstr(why, "no data (no approval staff reported)"));
    /* before the first milestone: at-risk */
    hub_engine_unit(fx->engine, fx->st, 1, 20170601, &s);
    s_check(s.indicators[fx->items], RO_MILESTONE_AT_RISK, 20171231, 0.3, 0.3);
    /* the whole province with no items at all */
    hub_engine_province(fx->engine, fx->st, 20180101, &s);
    assert_true(s.indicators[fx->items].no_data);
    assert_true(s.indicators[fx->cases].no_data);
    /* a sum is never no data: 0 people is a value */
    assert_false(s.indicators[fx->participants].no_data);
    NEAR(s.indicators[fx->participants].value, 12);
    /* one unit with items ends the province's no data */
    fx->st[3].items_total = 4;
    fx->st[3].items_no_visit = 1;
    hub_engine_province(fx->engine, fx->st, 20180101, &s);
    assert_false(s.indicators[fx->items].no_data);
    NEAR(s.indicators[fx->items].value, 0.25);
}

static void test_units_with_no_reports(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    fx->st[0].reports = 2;
    fx->st[0].staff_total = 10;
    fx->st[0].staff_proficient = 10;
    fx->st[3].reports = 1;
    fx->st[3].last_heard = 1500;
    hub_rollup_t *r = malloc(sizeof *r);
    hub_engine_rollup(fx->engine, fx->st, 20190101, r);
    assert_int_equal(r->province.units, 5);
    assert_int_equal(r->province.units_reporting, 2);
    assert_int_equal(r->province.reports, 3);
    assert_int_equal(r->province.last_heard, 1500);
    assert_int_equal(r->levels[RO_LEVEL_PROVINCIAL].units, 2);
    assert_int_equal(r->levels[RO_LEVEL_PROVINCIAL].units_reporting, 1);
    assert_int_equal(r->levels[RO_LEVEL_TOWNSHIP].units_reporting, 1);
    /* staff: only unit 0 reported, 10 of 10: the province is 100% */
    NEAR(r->province.indicators[fx->staff].value, 1.0);
    assert_int_equal(r->province.indicators[fx->staff].grade, RO_GRADE_EXCELLENT);
    /* a silent division has no data for ratios and 0 for sums */
    const ro_scope_t *wzs = &r->divisions[ro_division_index(469001)];
    assert_int_equal(wzs->units, 1);
    assert_int_equal(wzs->units_reporting, 0);
    assert_true(wzs->indicators[fx->staff].no_data);
    NEAR(wzs->indicators[fx->participants].value, 0);
    NEAR(wzs->indicators[fx->participants].goal, 400);
    assert_int_equal(wzs->indicators[fx->participants].grade, RO_GRADE_POOR);
    assert_int_equal(wzs->grade, RO_GRADE_POOR);
    /* a division with no units: nothing asked of it, so sums are 优 */
    const ro_scope_t *sanya = &r->divisions[ro_division_index(460200)];
    assert_int_equal(sanya->units, 0);
    NEAR(sanya->indicators[fx->participants].goal, 0);
    NEAR(sanya->indicators[fx->participants].share, 1);
    assert_int_equal(sanya->indicators[fx->participants].grade, RO_GRADE_EXCELLENT);
    free(r);
}

/* ---- rollups -------------------------------------------------------------------- */

static void test_rollup_is_ratio_of_sums(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    /* provincial 1/10 and 3/4, municipal 90/100, township 0/6, municipal 40/50 */
    uint32_t part[5] = {1, 3, 90, 0, 40}, total[5] = {10, 4, 100, 6, 50};
    for (int u = 0; u < 5; u++) {
        fx->st[u].items_no_visit = part[u];
        fx->st[u].items_total = total[u];
        fx->st[u].reports = 1;
    }
    hub_rollup_t *r = malloc(sizeof *r);
    assert_int_equal(hub_engine_rollup(fx->engine, fx->st, 20181231, r), 0);
    assert_int_equal(r->as_of, 20181231);
    double province = r->province.indicators[fx->items].value;
    NEAR(province, 134.0 / 170.0); /* 0.7882..., while the mean of ratios is 0.51 */
    assert_true(fabs(province - (0.1 + 0.75 + 0.9 + 0 + 0.8) / 5) > 0.1);
    assert_int_equal(r->province.items_no_visit, 134);
    assert_int_equal(r->province.items_total, 170);
    NEAR(r->levels[RO_LEVEL_PROVINCIAL].indicators[fx->items].value, 4.0 / 14.0);
    NEAR(r->levels[RO_LEVEL_MUNICIPAL].indicators[fx->items].value, 130.0 / 150.0);
    NEAR(r->levels[RO_LEVEL_TOWNSHIP].indicators[fx->items].value, 0.0);
    /* Haikou mixes a municipal and a township unit: 90/106, not 0.45 */
    const ro_scope_t *hk = &r->divisions[ro_division_index(460100)];
    NEAR(hk->indicators[fx->items].value, 90.0 / 106.0);
    assert_string_equal(hk->id, "460100");
    assert_string_equal(hk->name, "海口市");
    assert_int_equal(hk->kind, RO_SCOPE_DIVISION);
    assert_int_equal(hk->division, 460100);
    const ro_scope_t *prov = &r->divisions[0];
    assert_string_equal(prov->id, "460000");
    assert_string_equal(prov->name, "省直属单位");
    NEAR(prov->indicators[fx->items].value, 4.0 / 14.0);
    assert_string_equal(r->province.name, "海南省");
    assert_int_equal(r->province.kind, RO_SCOPE_PROVINCE);
    assert_string_equal(r->levels[RO_LEVEL_TOWNSHIP].id, "township");
    assert_string_equal(r->levels[RO_LEVEL_TOWNSHIP].name, "乡镇");
    /* the single-scope calls agree with the one-pass rollup */
    ro_scope_t s;
    assert_int_equal(hub_engine_division(fx->engine, fx->st, 460100, 20181231, &s), 0);
    assert_memory_equal(&s, hk, sizeof s);
    assert_int_equal(hub_engine_level(fx->engine, fx->st, RO_LEVEL_MUNICIPAL, 20181231, &s), 0);
    assert_memory_equal(&s, &r->levels[RO_LEVEL_MUNICIPAL], sizeof s);
    assert_int_equal(hub_engine_province(fx->engine, fx->st, 20181231, &s), 0);
    assert_memory_equal(&s, &r->province, sizeof s);
    assert_int_equal(hub_engine_division(fx->engine, fx->st, 469999, 20181231, &s), -1);
    assert_int_equal(hub_engine_level(fx->engine, fx->st, RO_LEVEL_COUNT, 20181231, &s), -1);
    assert_int_equal(hub_engine_unit(fx->engine, fx->st, 5, 20181231, &s), -1);
    /* the unit scope carries the unit's own fields */
    fx->st[3].seq_shown = 17; /* what status shows: the sequence its agent speaks in */
    fx->st[3].last_heard = 99;
    hub_engine_unit(fx->engine, fx->st, 3, 20181231, &s);
    assert_string_equal(s.id, "460100-002");
    assert_string_equal(s.name, "演丰镇");
    assert_int_equal(s.level, RO_LEVEL_TOWNSHIP);
    assert_int_equal(s.division, 460100);
    assert_int_equal(s.last_seq, 17);
    assert_int_equal(s.last_heard, 99);
    assert_int_equal(s.indicator_count, 5);
    assert_string_equal(s.indicators[fx->items].id, "items_no_visit");
    assert_string_equal(ro_scope_kind_name(s.kind), "unit");
    free(r);
}

/* A random state whose last_heard is at least that of before (it only grows). */
static hub_unit_state_t s_random_state(unsigned *seed, const hub_unit_state_t *before)
{
    hub_unit_state_t s;
    memset(&s, 0, sizeof s);
    s.reports = (uint64_t)(rand_r(seed) % 3 ? rand_r(seed) % 50 : 0);
    s.participants = (uint64_t)(rand_r(seed) % 400);
    s.hours_tenths = (uint64_t)(rand_r(seed) % 900);
    s.sessions = (uint64_t)(rand_r(seed) % 9);
    s.staff_total = (uint32_t)(rand_r(seed) % 60);
    s.staff_proficient = s.staff_total ? (uint32_t)rand_r(seed) % (s.staff_total + 1) : 0;
    s.items_total = (uint32_t)(rand_r(seed) % 200);
    s.items_no_visit = s.items_total ? (uint32_t)rand_r(seed) % (s.items_total + 1) : 0;
    s.cases_total = (uint32_t)(rand_r(seed) % 1000);
    s.cases_no_visit = s.cases_total ? (uint32_t)rand_r(seed) % (s.cases_total + 1) : 0;
    s.last_heard = (before ? before->last_heard : 0) + rand_r(seed) % 100;
    return s;
}

/* Sums kept with hub_engine_sum_move through thousands of random changes
 * equal sums taken afresh, and evaluating them gives what a pass over the
 * units gives, for the province, each level and each division. */
static void test_kept_sums_equal_a_fresh_pass(void **state)
{
    fx_t *fx = *state;
    unsigned seed = 2019;
    for (int u = 0; u < 5; u++)
        fx->st[u] = s_random_state(&seed, NULL);
    hub_rollup_t *kept = malloc(sizeof *kept), *fresh = malloc(sizeof *fresh);
    hub_engine_sum(fx->engine, fx->st, kept);
    for (int step = 0; step < 5000; step++) {
        size_t u = (size_t)rand_r(&seed) % 5;
        hub_unit_state_t after = s_random_state(&seed, &fx->st[u]);
        hub_engine_sum_move(fx->engine, kept, u, &fx->st[u], &after);
        fx->st[u] = after;
        if (step % 250 != 249)
            continue;
        hub_engine_sum(fx->engine, fx->st, fresh);
        assert_memory_equal(&kept->province, &fresh->province, sizeof kept->province);
        assert_memory_equal(kept->levels, fresh->levels, sizeof kept->levels);
        assert_memory_equal(kept->divisions, fresh->divisions, sizeof kept->divisions);
        uint32_t as_of = step % 500 ? 20180630 : 20181231;
        ro_scope_t a, b;
        assert_int_equal(hub_engine_eval(fx->engine, &kept->province, as_of, &a), 0);
        assert_int_equal(hub_engine_province(fx->engine, fx->st, as_of, &b), 0);
        assert_memory_equal(&a, &b, sizeof a);
        for (int l = 0; l < RO_LEVEL_COUNT; l++) {
            assert_int_equal(hub_engine_eval(fx->engine, &kept->levels[l], as_of, &a), 0);
            assert_int_equal(hub_engine_level(fx->engine, fx->st, (ro_level_t)l, as_of, &b), 0);
            assert_memory_equal(&a, &b, sizeof a);
        }
        for (int d = 0; d < RO_DIVISION_COUNT; d++) {
            uint32_t code = ro_division_code((size_t)d);
            assert_int_equal(hub_engine_eval(fx->engine, &kept->divisions[d], as_of, &a), 0);
            assert_int_equal(hub_engine_division(fx->engine, fx->st, code, as_of, &b), 0);
            assert_memory_equal(&a, &b, sizeof a);
        }
    }
    ro_scope_t unit, out;
    assert_int_equal(hub_engine_unit(fx->engine, fx->st, 0, 20181231, &unit), 0);
    assert_int_equal(hub_engine_eval(fx->engine, &unit, 20181231, &out), -1);
    free(kept);
    free(fresh);
}

static void test_overall_grade_is_worst_and_why(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    hub_unit_state_t *u = &fx->st[0];
    u->participants = 400; /* 优 against 400 */
    u->hours_tenths = 600; /* 60 h of 60: 优 */
    u->staff_total = 100;
    u->staff_proficient = 95; /* 良 */
    u->items_total = 100;
    u->items_no_visit = 85; /* 优, met */
    u->cases_total = 100;
    u->cases_no_visit = 85;
    ro_scope_t s;
    hub_engine_unit(fx->engine, fx->st, 0, 20190101, &s);
    assert_int_equal(s.grade, RO_GRADE_GOOD);
    assert_int_equal(s.why, 0); /* 良 is not a reason */
    u->cases_no_visit = 65;     /* 中 and missed */
    hub_engine_unit(fx->engine, fx->st, 0, 20190101, &s);
    assert_int_equal(s.grade, RO_GRADE_FAIR);
    assert_int_equal(s.why, 1u << fx->cases);
    char why[512];
    ro_scope_reason(fx->targets, &s, (size_t)fx->cases, why, sizeof why);
    assert_string_equal(why,
                        "Share of case volume no-visit “不见面审批”办件量占比: 65.0%, grade 中 "
                        "(良 from 70.0%); missed 80.0% due 2018-12-31");
    ro_scope_reason(fx->targets, &s, (size_t)fx->staff, why, sizeof why);
    assert_string_equal(why, "");
    /* behind the next milestone with a good grade is still a reason */
    u->cases_no_visit = 85;
    u->items_no_visit = 72;
    hub_engine_unit(fx->engine, fx->st, 0, 20180701, &s);
    assert_int_equal(s.indicators[fx->items].grade, RO_GRADE_GOOD);
    assert_int_equal(s.why, 1u << fx->items);
    ro_scope_reason(fx->targets, &s, (size_t)fx->items, why, sizeof why);
    assert_non_null(strstr(why, "72.0%; at risk: 80.0% due 2018-12-31, 8.0% short"));
}

/* ---- allocation ------------------------------------------------------------------- */

static const char s_weighted[] = "[indicator people]\n"
                                 "label_zh = 人数\nlabel_en = People\ntype = output\n"
                                 "kind = sum\nsource = participants\nunit = people\n"
                                 "goal = 1200\nexcellent = 1200\ngood = 1000\nfair = 800\n"
                                 "milestone = 2018-06-30 50\n"
                                 "weight.provincial = 3\nweight.municipal = 2\n"
                                 "weight.township = 1\n"
                                 "[indicator items]\n"
                                 "label_zh = 事项\nlabel_en = Items\ntype = effect\n"
                                 "kind = ratio\nsource = items\nunit = percent\n"
                                 "goal = 80\nexcellent = 80\ngood = 70\nfair = 60\n";

static void test_allocation_by_weight_and_override(void **state)
{
    (void)state;
    char err[512] = "";
    ro_targets_t *t = ro_targets_load(tu_write("weighted.ini", s_weighted), err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    /* weights 3, 3, 2, 1, 2: sum 11; quotas 327.27 327.27 218.18 109.09 218.18 in
     * whole people by largest remainder, the one left to the first of the tie */
    ro_registry_t *reg = s_registry(s_units5);
    hub_engine_t *e = hub_engine_new(reg, t, err, sizeof err);
    assert_non_null(e);
    double want[5] = {328, 327, 218, 109, 218};
    for (size_t u = 0; u < 5; u++)
        NEAR(hub_engine_unit_goal(e, u, 0), want[u]);
    NEAR(hub_engine_unit_goal(e, 0, 1), 0.8);
    assert_true(isnan(hub_engine_unit_goal(e, 5, 0)));
    hub_unit_state_t st[5] = {{0}};
    hub_rollup_t *r = malloc(sizeof *r);
    hub_engine_rollup(e, st, 20180101, r);
    NEAR(r->province.indicators[0].goal, 1200);
    NEAR(r->levels[RO_LEVEL_PROVINCIAL].indicators[0].goal, 655);
    NEAR(r->divisions[ro_division_index(460100)].indicators[0].goal, 327);
    /* a sum's milestone is a share of the scope's goal: 50% of 1200 */
    s_check(r->province.indicators[0], RO_MILESTONE_AT_RISK, 20180630, 600, 600);
    st[0].participants = 700;
    hub_engine_rollup(e, st, 20180630, r);
    s_check(r->province.indicators[0], RO_MILESTONE_MET, 0, 600, 0);
    hub_engine_destroy(&e);
    ro_registry_destroy(&reg);

    /* unit 0 overrides with 500: the other four share 700 by weight (3+2+1+2 = 8):
     * 262.5 175 87.5 175, the step left to the first of the tie at .5 */
    reg = s_registry("id,level,division,name,goal.people\n"
                     "460000-001,provincial,460000,省发展改革委,500\n"
                     "460000-002,provincial,460000,省教育厅,\n"
                     "460100-001,municipal,460100,海口市政务中心,\n"
                     "460100-002,township,460100,演丰镇,\n"
                     "469001-001,municipal,469001,五指山市政务中心,\n");
    e = hub_engine_new(reg, t, err, sizeof err);
    assert_non_null(e);
    double over[5] = {500, 263, 175, 87, 175};
    for (size_t u = 0; u < 5; u++)
        NEAR(hub_engine_unit_goal(e, u, 0), over[u]);
    hub_engine_rollup(e, st, 20180101, r);
    NEAR(r->province.indicators[0].goal, 1200);
    NEAR(r->levels[RO_LEVEL_PROVINCIAL].indicators[0].goal, 763);
    hub_engine_destroy(&e);
    ro_registry_destroy(&reg);

    /* overrides beyond the goal leave nothing to share; the province asks their sum */
    reg = s_registry("id,level,division,name,goal.people\n"
                     "460000-001,provincial,460000,省发展改革委,1000\n"
                     "460000-002,provincial,460000,省教育厅,400\n"
                     "460100-001,municipal,460100,海口市政务中心,\n");
    e = hub_engine_new(reg, t, err, sizeof err);
    assert_non_null(e);
    NEAR(hub_engine_unit_goal(e, 2, 0), 0);
    hub_engine_rollup(e, st, 20180101, r);
    NEAR(r->province.indicators[0].goal, 1400);
    hub_engine_destroy(&e);
    ro_registry_destroy(&reg);

    /* a per-unit goal for a ratio, or for no indicator, is refused */
    reg = s_registry("id,level,division,name,goal.items\n"
                     "460000-001,provincial,460000,省发展改革委,50\n");
    e = hub_engine_new(reg, t, err, sizeof err);
    assert_null(e);
    assert_non_null(strstr(err, "goal.items of unit 460000-001: per-unit goals apply only to sum"));
    ro_registry_destroy(&reg);
    reg = s_registry("id,level,division,name,goal.peeple\n"
                     "460000-001,provincial,460000,省发展改革委,\n"
                     "460000-002,provincial,460000,省教育厅,50\n");
    e = hub_engine_new(reg, t, err, sizeof err);
    assert_null(e);
    assert_non_null(strstr(err, "goal column 1 (set for unit 460000-002) names no indicator"));
    ro_registry_destroy(&reg);
    free(r);
    ro_targets_destroy(&t);
}

/* ---- laggards and silent units -------------------------------------------------- */

/* The worst `limit` (kept in a heap as the units go by) are the first
 * `limit` of the whole sorted list, ties in registry order included, and
 * the total counts every laggard: random shares drawn from a few values, so
 * that gaps tie often, for every limit. */
static void test_laggards_limit_is_the_sorted_head(void **state)
{
    fx_t *fx = *state;
    uint32_t seed = 7;
    for (int world = 0; world < 2000; world++) {
        memset(fx->st, 0, sizeof fx->st);
        for (int u = 0; u < 5; u++) {
            seed = seed * 1103515245u + 12345u;
            fx->st[u].items_total = (seed >> 16) % 3 == 0 ? 0 : 100;
            fx->st[u].items_no_visit = 25 * ((seed >> 20) % 5);
        }
        hub_laggard_t *all = NULL, *head = NULL;
        size_t n = 0, k = 0, total = 99;
        assert_int_equal(hub_engine_laggards(fx->engine, fx->st, NULL, 20180701, (size_t)fx->items,
                                             0, &all, &n, &total),
                         0);
        assert_int_equal(total, n);
        for (size_t limit = 1; limit <= 5; limit++) {
            assert_int_equal(hub_engine_laggards(fx->engine, fx->st, NULL, 20180701,
                                                 (size_t)fx->items, limit, &head, &k, &total),
                             0);
            assert_int_equal(total, n);
            assert_int_equal(k, n < limit ? n : limit);
            for (size_t i = 0; i < k; i++) {
                assert_int_equal(head[i].unit, all[i].unit);
                NEAR(head[i].gap, all[i].gap);
            }
            free(head);
        }
        free(all);
    }
}

/* Values kept with hub_engine_values_set through random changes rank the
 * laggards as the states themselves do: the same units, gaps, values and
 * totals, for every indicator, as of dates around the milestones, for
 * every limit; and they equal values filled afresh. */
static void test_kept_values_rank_as_the_states(void **state)
{
    fx_t *fx = *state;
    size_t len = hub_engine_values_len(fx->engine), nind = ro_targets_count(fx->targets);
    assert_int_equal(len, 5 * nind);
    double *kept = calloc(len, sizeof *kept), *fresh = calloc(len, sizeof *fresh);
    assert_non_null(kept);
    assert_non_null(fresh);
    memset(fx->st, 0, sizeof fx->st);
    hub_engine_values(fx->engine, fx->st, kept);
    static const uint32_t dates[] = {20170101, 20171231, 20180101, 20180630, 20181231, 20190101};
    uint32_t seed = 11;
    for (int step = 0; step < 3000; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t u = (seed >> 16) % 5;
        hub_unit_state_t *s = &fx->st[u];
        uint32_t r = seed >> 8, v = 10 * ((r >> 4) % 11); /* shares on a few values: ties */
        switch (r % 5) {
        case 0: s->participants += v, s->sessions++; break;
        case 1: s->hours_tenths += v * 7; break;
        case 2: s->staff_total = v ? 100 : 0, s->staff_proficient = v; break;
        case 3: s->items_total = v ? 100 : 0, s->items_no_visit = v; break;
        default: s->cases_total = 100, s->cases_no_visit = v; break;
        }
        hub_engine_values_set(fx->engine, kept, u, s);
        if (step % 50)
            continue;
        hub_engine_values(fx->engine, fx->st, fresh);
        assert_memory_equal(kept, fresh, len * sizeof *kept); /* NAN, bit for bit */
        for (size_t ind = 0; ind < nind; ind++) {
            uint32_t as_of = dates[(size_t)step / 50 % (sizeof dates / sizeof *dates)];
            for (size_t limit = 0; limit <= 5; limit++) {
                hub_laggard_t *a = NULL, *b = NULL;
                size_t na = 9, nb = 9, ta = 9, tb = 9;
                assert_int_equal(
                    hub_engine_laggards(fx->engine, fx->st, NULL, as_of, ind, limit, &a, &na, &ta),
                    0);
                assert_int_equal(
                    hub_engine_laggards(fx->engine, fx->st, kept, as_of, ind, limit, &b, &nb, &tb),
                    0);
                assert_int_equal(na, nb);
                assert_int_equal(ta, tb);
                for (size_t i = 0; i < na; i++) { /* field by field: the struct has padding */
                    assert_int_equal(a[i].unit, b[i].unit);
                    assert_int_equal(a[i].division, b[i].division);
                    assert_memory_equal(&a[i].value, &b[i].value, sizeof a[i].value); /* NAN */
                    assert_true(a[i].next_goal == b[i].next_goal);
                    assert_int_equal(a[i].next_date, b[i].next_date);
                    assert_true(a[i].gap == b[i].gap);
                    assert_int_equal(a[i].milestone, b[i].milestone);
                }
                free(a);
                free(b);
            }
        }
    }
    free(kept);
    free(fresh);
}

static void test_laggards_order(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    /* as of 2018-07-01 the next milestone is 80% by 2018-12-31 */
    uint32_t part[5] = {75, 0, 50, 85, 5}, total[5] = {100, 0, 100, 100, 10};
    for (int u = 0; u < 5; u++) {
        fx->st[u].items_no_visit = part[u];
        fx->st[u].items_total = total[u];
    }
    hub_laggard_t *l = NULL;
    size_t n = 99;
    assert_int_equal(
        hub_engine_laggards(fx->engine, fx->st, NULL, 20180701, (size_t)fx->items, 0, &l, &n, NULL),
        0);
    assert_int_equal(n, 4);
    /* no data (gap 0.8) first, then 0.5 twice in registry order, then 0.75 */
    assert_int_equal(l[0].unit, 1);
    assert_true(isnan(l[0].value));
    NEAR(l[0].gap, 0.8);
    assert_int_equal(l[1].unit, 2);
    NEAR(l[1].gap, 0.3);
    assert_int_equal(l[2].unit, 4);
    NEAR(l[2].gap, 0.3);
    assert_int_equal(l[2].division, 469001);
    assert_int_equal(l[3].unit, 0);
    NEAR(l[3].gap, 0.05);
    NEAR(l[3].value, 0.75);
    assert_int_equal(l[3].next_date, 20181231);
    NEAR(l[3].next_goal, 0.8);
    assert_int_equal(l[3].milestone, RO_MILESTONE_AT_RISK);
    assert_int_equal(l[3].division, 460000);
    free(l);
    assert_int_equal(
        hub_engine_laggards(fx->engine, fx->st, NULL, 20180701, (size_t)fx->items, 2, &l, &n, NULL),
        0);
    assert_int_equal(n, 2);
    assert_int_equal(l[1].unit, 2);
    free(l);
    /* nobody behind: no list */
    for (int u = 0; u < 5; u++) {
        fx->st[u].items_no_visit = 90;
        fx->st[u].items_total = 100;
    }
    assert_int_equal(
        hub_engine_laggards(fx->engine, fx->st, NULL, 20180701, (size_t)fx->items, 0, &l, &n, NULL),
        0);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(hub_engine_laggards(fx->engine, fx->st, NULL, 20180701, 99, 0, &l, &n, NULL),
                     -1);
}

static void test_silent_units(void **state)
{
    fx_t *fx = *state;
    memset(fx->st, 0, sizeof fx->st);
    int64_t now = 1000000, after = 100;
    fx->st[0].last_heard = 0;           /* never */
    fx->st[1].last_heard = now - after; /* exactly at the edge: not yet silent */
    fx->st[2].last_heard = now - after - 1;
    fx->st[3].last_heard = 500;
    fx->st[4].last_heard = now;
    hub_silent_t *s = NULL;
    size_t n = 0;
    assert_int_equal(hub_engine_silent(fx->engine, fx->st, now, after, 0, &s, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].unit, 0);
    assert_int_equal(s[0].last_heard, 0);
    assert_int_equal(s[1].unit, 3);
    assert_int_equal(s[1].last_heard, 500);
    assert_int_equal(s[2].unit, 2);
    assert_int_equal(s[2].division, 460100);
    free(s);
    assert_int_equal(hub_engine_silent(fx->engine, fx->st, now, after, 1, &s, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].unit, 0);
    free(s);
    for (int u = 0; u < 5; u++)
        fx->st[u].last_heard = now;
    assert_int_equal(hub_engine_silent(fx->engine, fx->st, now, after, 0, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_null(s);
}

/* ---- a large registry ------------------------------------------------------------ */

/* Correctness on 100,000 units; how fast is bench/'s business, never a test's. */
static void test_100k_units(void **state)
{
    (void)state;
    const size_t n = 100000;
    size_t cap = n * 64 + 64;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "id,level,division,name\n");
    for (size_t i = 0; i < n; i++) {
        uint32_t code = ro_division_code(i % RO_DIVISION_COUNT);
        const char *level = code == RO_PROVINCE_CODE ? "provincial"
                            : i % 3                  ? "municipal"
                                                     : "township";
        o += (size_t)snprintf(csv + o, cap - o, "%06u-%06zu,%s,%06u,u%zu\n", (unsigned)code, i,
                              level, (unsigned)code, i);
    }
    ro_registry_t *reg = s_registry(csv);
    free(csv);
    ro_targets_t *t = s_shipped_targets();
    char err[256];
    hub_engine_t *e = hub_engine_new(reg, t, err, sizeof err);
    assert_non_null(e);
    hub_unit_state_t *st = calloc(n, sizeof *st);
    for (size_t i = 0; i < n; i++) {
        st[i].reports = i % 7 ? 3 : 0;
        st[i].participants = i % 5;
        st[i].hours_tenths = i % 11;
        st[i].staff_total = 10;
        st[i].staff_proficient = (uint32_t)(i % 11);
        st[i].items_total = i % 13 ? 100 : 0;
        st[i].items_no_visit = (uint32_t)(i % 101);
        st[i].cases_total = 50;
        st[i].cases_no_visit = (uint32_t)(i % 51);
        st[i].last_heard = (int64_t)(i % 1000);
    }
    hub_rollup_t *r = malloc(sizeof *r);
    hub_laggard_t *l = NULL;
    size_t nl = 0;
    assert_int_equal(hub_engine_rollup(e, st, 20181231, r), 0);
    assert_int_equal(
        hub_engine_laggards(e, st, NULL, 20181231, ro_targets_headline(t), 0, &l, &nl, NULL), 0);
    assert_int_equal(r->province.units, n);
    assert_true(nl > n / 2);
    for (size_t i = 1; i < nl; i++)
        assert_true(l[i - 1].gap >= l[i].gap);
    uint64_t reporting = 0;
    for (size_t i = 0; i < n; i++)
        reporting += st[i].reports > 0;
    assert_int_equal(r->province.units_reporting, reporting);
    free(l);
    free(r);
    free(st);
    hub_engine_destroy(&e);
    ro_targets_destroy(&t);
    ro_registry_destroy(&reg);
}

/* ---- score sheet -------------------------------------------------------------------- */

static ctl_scoresheet_t *s_sheet(void)
{
    char err[512] = "";
    ctl_scoresheet_t *sheet = ctl_scoresheet_load(s_config("scoresheet.ini"), err, sizeof err);
    if (!sheet)
        fail_msg("scoresheet.ini: %s", err);
    return sheet;
}

static double s_score(const ctl_scoresheet_t *sheet, const ctl_score_result_t *res, const char *id)
{
    int i = ctl_scoresheet_find(sheet, id);
    assert_true(i >= 0);
    return res->score[i];
}

static void test_scoresheet_reproduces_document(void **state)
{
    (void)state;
    char err[512] = "";
    ctl_scoresheet_t *sheet = s_sheet();
    assert_int_equal(ctl_scoresheet_count(sheet), 3 + 8 + 20);
    /* document order: each level-1 item followed by its subtree */
    assert_string_equal(ctl_scoresheet_at(sheet, 0)->label_zh, "项目决策");
    assert_string_equal(ctl_scoresheet_at(sheet, 1)->label_zh, "项目目标");
    assert_string_equal(ctl_scoresheet_at(sheet, 2)->label_zh, "目标内容");
    assert_string_equal(ctl_scoresheet_at(sheet, 30)->label_zh, "服务对象满意度");
    ctl_scores_t scores;
    if (ctl_scores_load(s_config("scores-2019.ini"), sheet, &scores, err, sizeof err))
        fail_msg("scores-2019.ini: %s", err);
    assert_int_equal(scores.year, 2019);
    assert_int_equal(scores.date, 20200525);
    ctl_score_result_t res;
    assert_int_equal(ctl_scoresheet_compute(sheet, &scores, NAN, &res, err, sizeof err), 0);
    NEAR(res.total, 92.5);
    assert_int_equal(res.grade, RO_GRADE_EXCELLENT);
    NEAR(res.planned, 261.10);
    NEAR(res.allocated, 261.10);
    NEAR(res.spent, 130.55);
    NEAR(s_score(sheet, &res, "in_place_rate"), 3);
    NEAR(s_score(sheet, &res, "funds_use"), 3.5);
    NEAR(s_score(sheet, &res, "output_quantity"), 2.5);
    NEAR(s_score(sheet, &res, "output_cost"), 1.5);
    NEAR(s_score(sheet, &res, "decision"), 20);
    NEAR(s_score(sheet, &res, "management"), 21.5);
    NEAR(s_score(sheet, &res, "performance"), 51);
    NEAR(s_score(sheet, &res, "funds_management"), 6.5);
    NEAR(s_score(sheet, &res, "outputs"), 11);
    NEAR(res.ratio[ctl_scoresheet_find(sheet, "funds_use")], 0.5);
    assert_true(isnan(res.ratio[ctl_scoresheet_find(sheet, "satisfaction")]));

    /* the same figures entered by hand */
    ctl_scores_t hand;
    ctl_scores_init(&hand);
    hand.planned = 261.10;
    hand.year_count = 2;
    hand.funds[0] = (ctl_fund_year_t){2018, 130.55, 130.55};
    hand.funds[1] = (ctl_fund_year_t){2019, 130.55, 0};
    static const struct {
        const char *id;
        double s;
    } judged[] = {
        {"objective_content", 4},    {"decision_basis", 3},         {"decision_procedure", 5},
        {"allocation_method", 2},    {"allocation_result", 6},      {"in_place_timeliness", 2},
        {"financial_management", 3}, {"organisation_structure", 1}, {"management_rules", 9},
        {"output_quality", 4},       {"output_timeliness", 3},      {"economic_effect", 8},
        {"social_effect", 8},        {"environmental_effect", 8},   {"sustainability", 8},
        {"satisfaction", 8}};
    for (size_t k = 0; k < sizeof judged / sizeof judged[0]; k++)
        hand.score[ctl_scoresheet_find(sheet, judged[k].id)] = judged[k].s;
    assert_int_equal(ctl_scoresheet_compute(sheet, &hand, NAN, &res, err, sizeof err), 0);
    char total[16];
    snprintf(total, sizeof total, "%.2f", res.total);
    assert_string_equal(total, "92.50");
    assert_string_equal(ro_grade_label(res.grade), "优");
    /* once 2019's money is spent, the plan is executed in full */
    hand.funds[1].spent = 130.55;
    ctl_scoresheet_compute(sheet, &hand, NAN, &res, err, sizeof err);
    NEAR(res.total, 100);
    /* a judgment left out is refused */
    hand.score[ctl_scoresheet_find(sheet, "satisfaction")] = NAN;
    assert_int_equal(ctl_scoresheet_compute(sheet, &hand, NAN, &res, err, sizeof err), -1);
    assert_non_null(strstr(err, "no score for satisfaction"));
    ctl_scoresheet_destroy(&sheet);
    assert_null(sheet);
    ctl_scoresheet_destroy(&sheet);
}

static void test_scoresheet_grades(void **state)
{
    (void)state;
    assert_int_equal(ctl_scoresheet_grade(100), RO_GRADE_EXCELLENT);
    assert_int_equal(ctl_scoresheet_grade(90), RO_GRADE_EXCELLENT);
    assert_int_equal(ctl_scoresheet_grade(89.99), RO_GRADE_GOOD);
    assert_int_equal(ctl_scoresheet_grade(80), RO_GRADE_GOOD);
    assert_int_equal(ctl_scoresheet_grade(79.99), RO_GRADE_FAIR);
    assert_int_equal(ctl_scoresheet_grade(60), RO_GRADE_FAIR);
    assert_int_equal(ctl_scoresheet_grade(59.99), RO_GRADE_POOR);
}

static const char s_small_sheet[] = "[level1 a]\n"                              /* 1 */
                                    "label_zh = 甲\nlabel_en = A\n"             /* 2-3 */
                                    "points = 100\n"                            /* 4 */
                                    "[level2 b]\n"                              /* 5 */
                                    "parent = a\nlabel_zh = 乙\nlabel_en = B\n" /* 6-8 */
                                    "points = 100\n"                            /* 9 */
                                    "[level3 c]\n"                              /* 10 */
                                    "parent = b\nlabel_zh = 丙\nlabel_en = C\n" /* 11-13 */
                                    "points = 60\nmethod = output_attainment\n" /* 14-15 */
                                    "[level3 d]\n"                              /* 16 */
                                    "parent = b\nlabel_zh = 丁\nlabel_en = D\n" /* 17-19 */
                                    "points = 40\nmethod = judgment\n";         /* 20-21 */

static void s_sheet_expect(const char *text, const char *needle)
{
    char err[512] = "";
    ctl_scoresheet_t *s = ctl_scoresheet_load(tu_write("sheet.ini", text), err, sizeof err);
    if (s || !strstr(err, needle))
        fail_msg("expected '%s', got '%s'", needle, s ? "(loaded)" : err);
}

static void test_scoresheet_files(void **state)
{
    (void)state;
    char err[512] = "", buf[2048];
    ctl_scoresheet_t *sheet =
        ctl_scoresheet_load(tu_write("sheet.ini", s_small_sheet), err, sizeof err);
    if (!sheet)
        fail_msg("%s", err);
    ctl_scores_t sc;
    if (ctl_scores_load(tu_write("scores.ini", "[funds]\nplanned = 10\nallocated.2018 = 10\n"
                                               "spent.2018 = 5\n[scores]\nd = 30\n"),
                        sheet, &sc, err, sizeof err))
        fail_msg("%s", err);
    ctl_score_result_t res;
    /* output attainment is needed and not known */
    assert_int_equal(ctl_scoresheet_compute(sheet, &sc, NAN, &res, err, sizeof err), -1);
    assert_non_null(strstr(err, "c (丙) needs the output indicators' attainment"));
    assert_int_equal(ctl_scoresheet_compute(sheet, &sc, 0.755, &res, err, sizeof err), 0);
    NEAR(res.score[2], 45.3);
    NEAR(res.total, 75.3);
    assert_int_equal(res.grade, RO_GRADE_FAIR);
    assert_int_equal(ctl_scoresheet_compute(sheet, &sc, 1.7, &res, err, sizeof err), 0);
    NEAR(res.score[2], 60); /* capped */

    /* the output attainment of a province: mean of min(1, share) of the output indicators */
    ro_targets_t *t = s_shipped_targets();
    ro_scope_t p;
    memset(&p, 0, sizeof p);
    p.indicator_count = ro_targets_count(t);
    for (size_t i = 0; i < p.indicator_count; i++) {
        p.indicators[i].index = i;
        p.indicators[i].share = 0.1;
    }
    p.indicators[ro_targets_find(t, "training_participants")].share = 1.2;
    p.indicators[ro_targets_find(t, "training_hours")].share = 0.6;
    NEAR(ctl_scoresheet_output_attainment(t, &p), 0.8);
    ro_targets_destroy(&t);

    /* scores file refusals name their line */
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"[funds]\nplanned = 10\n[scores]\nd = 41\n",
         "scores.ini:4: d = '41' is not a score from 0 to 40"},
        {"[funds]\nplanned = 10\n[scores]\nc = 10\n",
         "scores.ini:4: c (丙) is computed (output_attainment)"},
        {"[funds]\nplanned = 10\n[scores]\nb = 10\n", "scores.ini:4: b (乙) adds up its items"},
        {"[funds]\nplanned = 10\n[scores]\nx = 10\n", "scores.ini:4: 'x' is not an item"},
        {"[funds]\nplanned = 10\n[scores]\n", "scores.ini:3: [scores] lacks d (丁, 40 points)"},
        {"[funds]\nplanned = 0\n", "scores.ini:2: planned = '0' is not a number above 0"},
        {"[funds]\nallocated.2018 = 1\n[scores]\nd = 1\n", "scores.ini:1: [funds] lacks 'planned'"},
        {"[funds]\nplanned = 5\nspent.18 = 1\n", "scores.ini:3: 'spent.18': the year must be YYYY"},
        {"[funds]\nplanned = 5\nspent.2018 = 1\nspent.2018 = 2\n",
         "scores.ini:4: 'spent.2018' given twice (first on line 3)"},
        {"[fund]\n", "scores.ini:1: unknown section [fund]"},
        {"[evaluation]\ndate = 2020-13-01\n", "scores.ini:2: date = '2020-13-01'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        if (!ctl_scores_load(tu_write("scores.ini", bad[k].text), sheet, &sc, err, sizeof err) ||
            !strstr(err, bad[k].needle))
            fail_msg("case %zu: expected '%s', got '%s'", k, bad[k].needle, err);
    }
    ctl_scoresheet_destroy(&sheet);

    /* sheet refusals */
    snprintf(buf, sizeof buf, "%s", s_small_sheet);
    *strstr(buf, "points = 40") = '\0';
    strcat(buf, "points = 30\nmethod = judgment\n");
    s_sheet_expect(buf, "sheet.ini:5: [level2 b] has 100 points but its items add up to 90");
    snprintf(buf, sizeof buf, "%s", s_small_sheet);
    *strstr(buf, "method = judgment") = '\0';
    strcat(buf, "method = vibes\n");
    s_sheet_expect(buf, "sheet.ini:21: method = 'vibes' is not judgment");
    snprintf(buf, sizeof buf, "%s", s_small_sheet);
    *strstr(buf, "method = judgment") = '\0';
    s_sheet_expect(buf, "sheet.ini:16: [level3 d] lacks 'method'");
    snprintf(buf, sizeof buf, "%s", s_small_sheet);
    memcpy(strstr(buf, "parent = b\nlabel_zh = 丁"), "parent = a", 10);
    s_sheet_expect(buf, "sheet.ini:17: parent 'a' is a level-1 item");
    s_sheet_expect("[level1 a]\nlabel_zh = 甲\nlabel_en = A\npoints = 100\n",
                   "sheet.ini:1: [level1 a] has no items under it");
    s_sheet_expect("[level9 a]\n", "sheet.ini:1: unknown section [level9 a]");
    s_sheet_expect("[level2 b]\nparent = zz\n",
                   "sheet.ini:2: parent 'zz' is not an item defined above");
    char top[1024];
    snprintf(top, sizeof top, "%s", s_small_sheet);
    for (char *p = top; (p = strstr(p, "points = 100")); p += 12)
        memcpy(p, "points = 090", 12);
    *strstr(top, "points = 60") = '\0';
    strcat(top, "points = 50\nmethod = output_attainment\n[level3 d]\nparent = b\nlabel_zh = 丁\n"
                "label_en = D\npoints = 40\nmethod = judgment\n");
    s_sheet_expect(top, "sheet.ini: the level-1 items add up to 90 points, not 100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_targets_load),
        cmocka_unit_test(test_targets_errors_name_their_line),
        cmocka_unit_test_setup_teardown(test_band_edges_sum, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_band_edges_ratio, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_milestones_before_on_after, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_zero_totals_are_no_data, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_kept_sums_equal_a_fresh_pass, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_units_with_no_reports, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rollup_is_ratio_of_sums, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_overall_grade_is_worst_and_why, s_setup, s_teardown),
        cmocka_unit_test(test_allocation_by_weight_and_override),
        cmocka_unit_test_setup_teardown(test_laggards_limit_is_the_sorted_head, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_laggards_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_kept_values_rank_as_the_states, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_silent_units, s_setup, s_teardown),
        cmocka_unit_test(test_100k_units),
        cmocka_unit_test(test_scoresheet_reproduces_document),
        cmocka_unit_test(test_scoresheet_grades),
        cmocka_unit_test(test_scoresheet_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
