/* test_report: the target table and the score sheet rendered as md, csv and
 * html from a fixed small state, compared byte for byte with golden files
 * in tests/golden/; plus escaping, self-containment and determinism, the
 * csv's byte-order mark, the html's width, the one rounding rule of the
 * percents, how a sum's goal is shared out among units (targets.c), the
 * milestone a missed laggard's row shows and where the series chart ends. */

/* To regenerate the golden files after an intended change of the output:
 *   RO_UPDATE_GOLDEN=1 meson test -C <build> report
 * (or run build/tests/unit/test_report with RO_SOURCE_ROOT=<source> and
 * RO_UPDATE_GOLDEN=1), then review `git diff tests/golden`. On a mismatch
 * the actual output is left in /tmp/rollout-test-XXXXXX/ for diffing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "document.h"
#include "scoresheet.h"
#include "ro_targets.h"
#include "test_util.h"

#include <limits.h>
#include <math.h>

/* Eight units; some names carry characters every format must escape. */

/* Point r at a rollup's province, levels and divisions. */
static void s_use_rollup(ctl_document_t *r, const hub_rollup_t *rollup)
{
    r->province = &rollup->province;
    r->levels = rollup->levels;
    r->level_count = RO_LEVEL_COUNT;
    r->divisions = rollup->divisions;
    r->division_count = RO_DIVISION_COUNT;
}

static const char s_units[] = "id,level,division,name\n"
                              "460000-001,provincial,460000,省发展改革委\n"
                              "460000-002,provincial,460000,省教育厅 | 审批处\n"
                              "460100-001,municipal,460100,海口市政务服务中心\n"
                              "460100-002,township,460100,演丰镇\n"
                              "460200-001,municipal,460200,三亚市<b>行政</b>审批 & \"服务\"局\n"
                              "460200-002,township,460200,=HYPERLINK 天涯镇\n"
                              "469001-001,municipal,469001,五指山市政务中心\n"
                              "469001-002,township,469001,水满乡\n";

typedef struct {
    ro_targets_t *targets;
    ro_registry_t *reg;
    hub_engine_t *engine;
    hub_unit_state_t st[8];
    hub_rollup_t rollup;
    ro_scope_t laggards[8];
    size_t laggard_count;
    ctl_document_point_t series[6];
    ctl_document_t report;
    ctl_scoresheet_t *sheet;
    ctl_scores_t scores;
    ctl_score_result_t result;
    ctl_document_sheet_t sheet_report;
} fx_t;

static const char *s_root(void)
{
    const char *root = getenv("RO_SOURCE_ROOT");
    assert_non_null(root);
    return root;
}

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char err[512] = "", path[512];
    snprintf(path, sizeof path, "%s/config/targets.ini", s_root());
    fx->targets = ro_targets_load(path, err, sizeof err);
    if (!fx->targets)
        fail_msg("%s", err);
    fx->reg = ro_registry_load(tu_write("units.csv", s_units), err, sizeof err);
    if (!fx->reg)
        fail_msg("%s", err);
    fx->engine = hub_engine_new(fx->reg, fx->targets, err, sizeof err);
    assert_non_null(fx->engine);
    /* participants, tenths of hours, staff total/proficient, items total/no-visit, cases */
    static const uint32_t d[8][8] = {
        {400, 700, 40, 40, 120, 100, 900, 800},   {150, 300, 30, 25, 80, 50, 300, 200},
        {380, 650, 60, 57, 200, 170, 2000, 1700}, {20, 40, 8, 6, 30, 12, 100, 40},
        {300, 500, 50, 46, 150, 100, 1500, 1250}, {0, 0, 0, 0, 0, 0, 0, 0},
        {200, 350, 20, 16, 60, 30, 400, 220},     {90, 160, 6, 6, 20, 19, 50, 48}};
    for (int u = 0; u < 8; u++) {
        hub_unit_state_t *s = &fx->st[u];
        s->participants = d[u][0];
        s->hours_tenths = d[u][1];
        s->sessions = d[u][0] ? 2 : 0;
        s->staff_total = d[u][2];
        s->staff_proficient = d[u][3];
        s->items_total = d[u][4];
        s->items_no_visit = d[u][5];
        s->cases_total = d[u][6];
        s->cases_no_visit = d[u][7];
        s->reports = d[u][0] ? 5 : 0;
        s->last_seq = s->reports;
        s->last_heard = d[u][0] ? 1530403200 : 0;
    }
    const uint32_t as_of = 20180701;
    hub_engine_rollup(fx->engine, fx->st, as_of, &fx->rollup);
    hub_laggard_t *lag = NULL;
    size_t head = ro_targets_headline(fx->targets);
    assert_int_equal(hub_engine_laggards(fx->engine, fx->st, NULL, as_of, head, 8, &lag,
                                         &fx->laggard_count, NULL),
                     0);
    for (size_t k = 0; k < fx->laggard_count; k++)
        hub_engine_unit(fx->engine, fx->st, lag[k].unit, as_of, &fx->laggards[k]);
    free(lag);
    static const ctl_document_point_t series[] = {
        {20171001, 0.12, 0, 0}, {20171231, 0.31, 0, 0}, {20180331, 0.52, 0, 0},
        {20180515, NAN, 0, 0},  {20180630, 0.64, 0, 0}, {20180701, 0.6585365853658537, 0, 0}};
    memcpy(fx->series, series, sizeof series);
    ctl_document_init(&fx->report, fx->targets, as_of);
    s_use_rollup(&fx->report, &fx->rollup);
    fx->report.laggards = fx->laggards;
    fx->report.laggard_count = fx->laggard_count;
    fx->report.series = fx->series;
    fx->report.series_count = 6;
    fx->report.note = "测试数据 test data";

    snprintf(path, sizeof path, "%s/config/scoresheet.ini", s_root());
    fx->sheet = ctl_scoresheet_load(path, err, sizeof err);
    if (!fx->sheet)
        fail_msg("%s", err);
    snprintf(path, sizeof path, "%s/config/scores-2019.ini", s_root());
    if (ctl_scores_load(path, fx->sheet, &fx->scores, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(
        ctl_scoresheet_compute(fx->sheet, &fx->scores, NAN, &fx->result, err, sizeof err), 0);
    fx->sheet_report =
        (ctl_document_sheet_t){.sheet = fx->sheet, .scores = &fx->scores, .result = &fx->result};
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    ctl_scoresheet_destroy(&fx->sheet);
    hub_engine_destroy(&fx->engine);
    ro_registry_destroy(&fx->reg);
    ro_targets_destroy(&fx->targets);
    free(fx);
    return 0;
}

static char *s_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* Compare text with tests/golden/name, or rewrite it when RO_UPDATE_GOLDEN is set. */
static void s_golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/golden/%s", s_root(), name);
    const char *update = getenv("RO_UPDATE_GOLDEN");
    if (update && strcmp(update, "0")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        print_message("# rewrote %s\n", path);
        return;
    }
    char *want = s_read(path);
    if (!want)
        fail_msg("%s is missing: run with RO_UPDATE_GOLDEN=1 to create it", path);
    if (strcmp(want, text)) {
        size_t line = 1, i = 0;
        while (want[i] && want[i] == text[i]) {
            line += want[i] == '\n';
            i++;
        }
        const char *actual = tu_write(name, text);
        free(want);
        fail_msg("%s differs from the golden file from line %zu; actual output in %s", name, line,
                 actual);
    }
    free(want);
}

static char *s_targets(fx_t *fx, ctl_document_format_t fmt)
{
    char *text = ctl_document_targets_string(fmt, &fx->report);
    assert_non_null(text);
    return text;
}

static char *s_sheet(fx_t *fx, ctl_document_format_t fmt)
{
    char *text = ctl_document_scoresheet_string(fmt, &fx->sheet_report);
    assert_non_null(text);
    return text;
}

static void test_targets_md(void **state)
{
    char *t = s_targets(*state, CTL_DOCUMENT_MD);
    s_golden("targets.md", t);
    free(t);
}

static void test_targets_csv(void **state)
{
    char *t = s_targets(*state, CTL_DOCUMENT_CSV);
    s_golden("targets.csv", t);
    free(t);
}

static void test_targets_html(void **state)
{
    char *t = s_targets(*state, CTL_DOCUMENT_HTML);
    s_golden("targets.html", t);
    free(t);
}

static void test_scoresheet_md(void **state)
{
    char *t = s_sheet(*state, CTL_DOCUMENT_MD);
    s_golden("scoresheet.md", t);
    free(t);
}

static void test_scoresheet_csv(void **state)
{
    char *t = s_sheet(*state, CTL_DOCUMENT_CSV);
    s_golden("scoresheet.csv", t);
    free(t);
}

static void test_scoresheet_html(void **state)
{
    char *t = s_sheet(*state, CTL_DOCUMENT_HTML);
    s_golden("scoresheet.html", t);
    free(t);
}

/* Beside each figure, how many reports behind it were corrected, are held
 * for review or were rejected (only those not 0), a key line that says so
 * once, and in html the units and the held and rejected reports listed, with
 * how many more there are; the score sheet's computed item too. */
static void test_figures_say_what_they_rest_on(void **state)
{
    fx_t *fx = *state;
    ro_scope_t *p = &fx->rollup.province;
    p->corrected = 2, p->held_review = 1, p->rejected = 0;
    p->indicators[0].corrected = 2; /* people and hours: training */
    p->indicators[1].corrected = 2;
    p->indicators[3].held_review = 1; /* items */
    fx->rollup.divisions[1].indicators[3].held_review = 1;
    ro_scope_t marked[1] = {fx->rollup.divisions[1]};
    marked[0].kind = RO_SCOPE_UNIT;
    strcpy(marked[0].id, "460100-002");
    marked[0].held_review = 1;
    ctl_document_review_t reviews[] = {
        {"460100-002", "items", 20180620, "pending", "max_share_jump"}};
    fx->report.marked = marked, fx->report.marked_count = 1, fx->report.marked_total = 3;
    fx->report.reviews = reviews, fx->report.review_count = 1, fx->report.review_total = 1;
    char *md = s_targets(fx, CTL_DOCUMENT_MD);
    assert_non_null(strstr(md, "更正 2 份、待审 1 份、退回 0 份报告"));
    assert_null(strstr(md, "neither corrected"));
    assert_non_null(strstr(md, " (更正 2) |"));  /* the province's people and hours */
    assert_non_null(strstr(md, "% (待审 1) |")); /* the division's items share */
    assert_null(strstr(md, "退回 1"));
    assert_null(strstr(md, "What the figures rest on")); /* only html lists them */
    free(md);
    char *html = s_targets(fx, CTL_DOCUMENT_HTML);
    assert_non_null(strstr(html, "<h2>数字依据 What the figures rest on</h2>"));
    assert_non_null(strstr(html, "<td>460100-002</td>"));
    assert_non_null(strstr(html, "<td>max_share_jump</td>"));
    assert_non_null(strstr(html, "and 2 more"));
    free(html);
    /* the score sheet: its item computed from the province's output indicators */
    char err[512] = "";
    ctl_scoresheet_t *sheet = ctl_scoresheet_load(
        tu_write("sheet.ini", "[level1 a]\nlabel_zh = 甲\nlabel_en = A\npoints = 100\n"
                              "[level2 b]\nparent = a\nlabel_zh = 乙\nlabel_en = B\npoints = 100\n"
                              "[level3 c]\nparent = b\nlabel_zh = 丙\nlabel_en = C\npoints = 100\n"
                              "method = output_attainment\n"),
        err, sizeof err);
    if (!sheet)
        fail_msg("%s", err);
    ctl_scores_t sc;
    ctl_score_result_t res;
    if (ctl_scores_load(tu_write("scores.ini", "[funds]\nplanned = 10\n"), sheet, &sc, err,
                        sizeof err) ||
        ctl_scoresheet_compute(sheet, &sc, 0.5, &res, err, sizeof err))
        fail_msg("%s", err);
    ctl_document_sheet_t r = {
        .sheet = sheet, .scores = &sc, .result = &res, .targets = fx->targets, .province = p};
    char *text = ctl_document_scoresheet_string(CTL_DOCUMENT_MD, &r);
    assert_non_null(text);
    assert_non_null(strstr(text, "% (更正 2) |")); /* counted once: people and hours */
    assert_non_null(strstr(text, "each figure says how many of its own"));
    free(text);
    ctl_scoresheet_destroy(&sheet);
}

static void test_escaping(void **state)
{
    fx_t *fx = *state;
    char *html = s_targets(fx, CTL_DOCUMENT_HTML);
    char *csv = s_targets(fx, CTL_DOCUMENT_CSV);
    char *md = s_targets(fx, CTL_DOCUMENT_MD);
    /* the laggards list names the Sanya unit with <, >, & and quotes */
    assert_non_null(strstr(html, "三亚市&lt;b&gt;行政&lt;/b&gt;审批 &amp; &quot;服务&quot;局"));
    assert_null(strstr(html, "<b>行政"));
    assert_non_null(strstr(csv, "\"三亚市<b>行政</b>审批 & \"\"服务\"\"局\""));
    assert_non_null(strstr(md, "三亚市&lt;b&gt;行政&lt;/b&gt;审批 & \"服务\"局"));
    /* md keeps a '<' that opens no tag readable */
    assert_non_null(strstr(md, "| <1600 |"));
    /* a name that a spreadsheet would run as a formula is defused */
    assert_non_null(strstr(csv, "\"'=HYPERLINK 天涯镇\""));
    free(html);
    free(csv);
    free(md);
    /* labels from the file are escaped too: a registry name with a pipe in md */
    ro_scope_t lag;
    hub_engine_unit(fx->engine, fx->st, 1, 20180701, &lag);
    ctl_document_t r = fx->report;
    r.laggards = &lag;
    r.laggard_count = 1;
    md = ctl_document_targets_string(CTL_DOCUMENT_MD, &r);
    assert_non_null(strstr(md, "| 省教育厅 \\| 审批处 |"));
    free(md);
}

static void test_html_is_self_contained(void **state)
{
    fx_t *fx = *state;
    char *pages[2] = {s_targets(fx, CTL_DOCUMENT_HTML), s_sheet(fx, CTL_DOCUMENT_HTML)};
    for (int k = 0; k < 2; k++) {
        const char *h = pages[k];
        assert_true(!strncmp(h, "<!DOCTYPE html>", 15));
        assert_non_null(strstr(h, "<style>"));
        assert_non_null(strstr(h, "</html>\n"));
        assert_null(strstr(h, "http:"));
        assert_null(strstr(h, "https:"));
        assert_null(strstr(h, "<link"));
        assert_null(strstr(h, "<script"));
        assert_null(strstr(h, "<img"));
        assert_null(strstr(h, "url("));
    }
    /* the charts: one bar chart per indicator, the series with three milestones */
    size_t svgs = 0;
    for (const char *p = pages[0]; (p = strstr(p, "<svg ")); p++)
        svgs++;
    assert_int_equal(svgs, ro_targets_count(fx->targets) + 1);
    size_t markers = 0;
    for (const char *p = pages[0]; (p = strstr(p, "<polygon ")); p++)
        markers++;
    assert_int_equal(markers, 3);
    assert_non_null(strstr(pages[0], "<polyline "));
    free(pages[0]);
    free(pages[1]);
}

static void test_deterministic_and_same_as_file(void **state)
{
    fx_t *fx = *state;
    for (int fmt = CTL_DOCUMENT_MD; fmt <= CTL_DOCUMENT_HTML; fmt++) {
        char *a = s_targets(fx, (ctl_document_format_t)fmt);
        char *b = s_targets(fx, (ctl_document_format_t)fmt);
        assert_string_equal(a, b);
        char path[512];
        snprintf(path, sizeof path, "%s/out.%s", tu_dir(),
                 ctl_document_format_name((ctl_document_format_t)fmt));
        FILE *f = fopen(path, "wb");
        assert_int_equal(ctl_document_targets(f, (ctl_document_format_t)fmt, &fx->report), 0);
        fclose(f);
        char *c = s_read(path);
        assert_string_equal(a, c);
        free(a);
        free(b);
        free(c);
    }
}

static void test_refuses_incomplete_input(void **state)
{
    fx_t *fx = *state;
    ctl_document_t r = fx->report;
    r.province = NULL;
    assert_null(ctl_document_targets_string(CTL_DOCUMENT_MD, &r));
    r = fx->report;
    r.laggard_indicator = 99;
    assert_null(ctl_document_targets_string(CTL_DOCUMENT_MD, &r));
    assert_int_equal(ctl_document_targets(stdout, (ctl_document_format_t)7, &fx->report), -1);
    ctl_document_sheet_t s = fx->sheet_report;
    s.result = NULL;
    assert_null(ctl_document_scoresheet_string(CTL_DOCUMENT_CSV, &s));
    ctl_document_format_t fmt;
    assert_int_equal(ctl_document_format_parse("html", &fmt), 0);
    assert_int_equal(fmt, CTL_DOCUMENT_HTML);
    assert_int_equal(ctl_document_format_parse("pdf", &fmt), -1);
    /* no laggards, no levels, no divisions, no series: still a report */
    r = fx->report;
    r.laggard_count = 0;
    r.level_count = 0;
    r.division_count = 0;
    r.series_count = 0;
    char *text = ctl_document_targets_string(CTL_DOCUMENT_HTML, &r);
    assert_non_null(text);
    assert_non_null(strstr(text, "无 none"));
    free(text);
}

/* ---- csv byte-order mark, html width ---------------------------------------------- */

static const char s_bom[] = "\xEF\xBB\xBF";

/* Excel on Chinese Windows reads a csv without the mark as GBK: mojibake */
static void test_csv_starts_with_bom_unless_asked(void **state)
{
    fx_t *fx = *state;
    char *with = s_targets(fx, CTL_DOCUMENT_CSV);
    char *sheet = s_sheet(fx, CTL_DOCUMENT_CSV);
    assert_memory_equal(with, s_bom, 3);
    assert_memory_equal(sheet, s_bom, 3);
    fx->report.no_bom = true;
    fx->sheet_report.no_bom = true;
    char *without = s_targets(fx, CTL_DOCUMENT_CSV);
    char *sheet_without = s_sheet(fx, CTL_DOCUMENT_CSV);
    assert_string_equal(with + 3, without);
    assert_string_equal(sheet + 3, sheet_without);
    /* md and html never carry one (html says its charset itself) */
    fx->report.no_bom = false;
    char *md = s_targets(fx, CTL_DOCUMENT_MD);
    char *html = s_targets(fx, CTL_DOCUMENT_HTML);
    assert_true(strncmp(md, s_bom, 3) != 0);
    assert_true(strncmp(html, s_bom, 3) != 0);
    free(with);
    free(sheet);
    free(without);
    free(sheet_without);
    free(md);
    free(html);
}

/* Bars above 125% of goal all stopped at 125% and looked alike: 130% and
 * 2000% must still differ, by a break mark and the real figure. */
static void test_html_capped_bars_say_so(void **state)
{
    fx_t *fx = *state;
    ro_scope_t *divs = (ro_scope_t *)fx->report.divisions;
    size_t set = 0;
    for (size_t d = 0; d < fx->report.division_count && set < 2; d++) {
        if (!divs[d].units)
            continue;
        divs[d].indicators[0].no_data = false;
        divs[d].indicators[0].share = set++ ? 20.0 : 1.30;
    }
    assert_int_equal(set, 2);
    char *h = s_targets(fx, CTL_DOCUMENT_HTML);
    assert_non_null(strstr(h, ">» 130.0%</text>"));
    assert_non_null(strstr(h, ">» 2000.0%</text>"));
    assert_non_null(strstr(h, "bar cut at 125% of goal; the figure is the real one"));
    size_t marks = 0, over = 0;
    for (const char *p = h; (p = strstr(p, "data-capped=\"1\"")); p++)
        marks++;
    for (size_t i = 0; i < ro_targets_count(fx->targets); i++)
        for (size_t d = 0; d < fx->report.division_count; d++)
            over += divs[d].units && !divs[d].indicators[i].no_data &&
                    divs[d].indicators[i].share > 1.25;
    assert_true(over >= 2);
    assert_int_equal(marks, over);
    free(h);
}

/* The page was capped at 1200 px, so the 14-column tables wrapped their
 * headers one Chinese character per line. */
static void test_html_tables_use_the_width(void **state)
{
    fx_t *fx = *state;
    char *h = s_targets(fx, CTL_DOCUMENT_HTML);
    const char *body = strstr(h, "body{");
    assert_non_null(body);
    const char *end = strchr(body, '}');
    assert_non_null(end);
    /* the body is as wide as the window: no max-width of its own */
    char rule[512];
    snprintf(rule, sizeof rule, "%.*s", (int)(end - body), body);
    assert_null(strstr(rule, "max-width"));
    /* cells break at spaces only, and a table too wide scrolls in its own box */
    assert_non_null(strstr(h, "word-break:keep-all"));
    assert_non_null(strstr(h, "div.wide{overflow-x:auto"));
    size_t tables = 0, boxed = 0;
    for (const char *p = h; (p = strstr(p, "<table>")); p++)
        tables++;
    for (const char *p = h; (p = strstr(p, "<div class=\"wide\"><table>")); p++)
        boxed++;
    assert_true(tables >= 4);
    assert_int_equal(boxed, tables);
    free(h);
}

/* ---- one rounding rule for percents ------------------------------------------------ */

static void test_pct_rounds_half_up(void **state)
{
    (void)state;
    char buf[32];
    /* 29 of 2000 is exactly 1.45%: printf("%.1f") of the double says 1.4 */
    assert_int_equal(ro_pct_tenths(29, 2000), 15);
    assert_string_equal(ro_pct_format(29, 2000, buf, sizeof buf), "1.5%");
    assert_string_equal(ro_pct_format_ratio(29.0 / 2000.0, buf, sizeof buf), "1.5%");
    /* 1/16 = 6.25% is exact in binary, and printf rounds that tie to even: 6.2 */
    assert_string_equal(ro_pct_format(1, 16, buf, sizeof buf), "6.3%");
    assert_string_equal(ro_pct_format_ratio(0.0625, buf, sizeof buf), "6.3%");
    assert_string_equal(ro_pct_format(1, 3, buf, sizeof buf), "33.3%");
    assert_string_equal(ro_pct_format(2, 3, buf, sizeof buf), "66.7%");
    assert_string_equal(ro_pct_format(0, 7, buf, sizeof buf), "0.0%");
    assert_string_equal(ro_pct_format(7, 7, buf, sizeof buf), "100.0%");
    assert_string_equal(ro_pct_format(1540, 1400, buf, sizeof buf), "110.0%");
    assert_string_equal(ro_pct_format(1, 0, buf, sizeof buf), "—");
    assert_string_equal(ro_pct_format_ratio(NAN, buf, sizeof buf), "—");
    assert_string_equal(ro_pct_format_ratio(INFINITY, buf, sizeof buf), "—");
    assert_string_equal(ro_pct_format_ratio(-0.0, buf, sizeof buf), "0.0%");
    assert_string_equal(ro_pct_format_ratio(-0.0145, buf, sizeof buf), "-1.5%");
    /* past what integers hold exactly, still the rule */
    assert_int_equal(ro_pct_tenths(UINT64_MAX / 2, UINT64_MAX), 500);
    /* the double form is the exact rule for every ratio of counts up to 2000 */
    for (uint64_t den = 1; den <= 2000; den++)
        for (uint64_t num = 0; num <= den; num++)
            if (ro_pct_tenths_of((double)num / (double)den) != (int64_t)ro_pct_tenths(num, den))
                fail_msg("%llu / %llu: %lld from the double, %llu exact", (unsigned long long)num,
                         (unsigned long long)den,
                         (long long)ro_pct_tenths_of((double)num / (double)den),
                         (unsigned long long)ro_pct_tenths(num, den));
}

static void test_pct_in_values_and_reports(void **state)
{
    fx_t *fx = *state;
    char buf[32];
    int items = ro_targets_find(fx->targets, "items_no_visit");
    assert_true(items >= 0);
    const ro_indicator_t *ind = ro_targets_at(fx->targets, (size_t)items);
    assert_string_equal(ro_indicator_format(ind, 29.0 / 2000.0, buf, sizeof buf), "1.5%");
    /* a province whose items share is 1 of 16 (6.25%, a tie that printf
     * rounds to even: 6.2) and whose 125 people trained are 6.25% of the
     * goal shows 6.3% for both, in every format */
    hub_unit_state_t st[8];
    memset(st, 0, sizeof st);
    st[0].items_total = 16;
    st[0].items_no_visit = 1;
    st[0].participants = 125;
    hub_rollup_t *r = malloc(sizeof *r);
    assert_non_null(r);
    hub_engine_rollup(fx->engine, st, 20180701, r);
    ctl_document_t rep = fx->report;
    s_use_rollup(&rep, r);
    rep.laggard_count = 0;
    rep.series_count = 0;
    /* the province's row of each: value, then share of goal */
    static const char *const share[] = {"| 6.3% | 7.8% |", ",6.3%,7.8%,",
                                        "<td>6.3%</td><td>7.8%</td>"};
    static const char *const people[] = {"| 125 | 6.3% |", ",125,6.3%,",
                                         "<td>125</td><td>6.3%</td>"};
    for (int fmt = CTL_DOCUMENT_MD; fmt <= CTL_DOCUMENT_HTML; fmt++) {
        char *t = ctl_document_targets_string((ctl_document_format_t)fmt, &rep);
        assert_non_null(t);
        if (!strstr(t, share[fmt]))
            fail_msg("%s: 1 of 16 not shown as 6.3%%", ctl_document_format_name(fmt));
        if (!strstr(t, people[fmt]))
            fail_msg("%s: 125 of 2000 people not shown as 6.3%%", ctl_document_format_name(fmt));
        if (strstr(t, "6.2%"))
            fail_msg("%s: shows 6.2%%: %.60s", ctl_document_format_name(fmt),
                     strstr(t, "6.2%") - 30);
        free(t);
    }
    free(r);
}

/* ---- sharing a sum's goal out among units ----------------------------------------- */

/* Goals in whole steps that add up to the province goal exactly, for the
 * real registry and targets: 2000 people over 893 units was "goal 2.24". */
static void test_goal_allocation_whole_people(void **state)
{
    (void)state;
    char err[512] = "", path[512];
    snprintf(path, sizeof path, "%s/config/targets.ini", s_root());
    ro_targets_t *t = ro_targets_load(path, err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    snprintf(path, sizeof path, "%s/config/units.csv", s_root());
    ro_registry_t *reg = ro_registry_load(path, err, sizeof err);
    if (!reg)
        fail_msg("%s", err);
    size_t n = ro_registry_count(reg), sums = 0;
    assert_int_equal(n, 893);
    double *goal = calloc(n, sizeof *goal);
    assert_non_null(goal);
    for (size_t i = 0; i < ro_targets_count(t); i++) {
        const ro_indicator_t *ind = ro_targets_at(t, i);
        if (ind->kind != RO_KIND_SUM) {
            assert_int_equal(ro_targets_allocate(ind, reg, goal), -1);
            continue;
        }
        sums++;
        unsigned steps = ro_indicator_goal_steps(ind);
        assert_int_equal(steps, ind->measure == RO_MEASURE_HOURS ? 10 : 1);
        assert_int_equal(ro_targets_allocate(ind, reg, goal), 0);
        long long total = 0, lo = LLONG_MAX, hi = 0;
        for (size_t u = 0; u < n; u++) {
            double x = goal[u] * steps;
            if (fabs(x - round(x)) > 1e-9)
                fail_msg("%s: unit %s has goal %.17g, not whole %s", ind->id,
                         ro_registry_at(reg, u)->id, goal[u],
                         steps == 1 ? "people" : "tenths of an hour");
            long long k = llround(x);
            total += k;
            lo = k < lo ? k : lo;
            hi = k > hi ? k : hi;
        }
        assert_int_equal(total, llround(ind->goal * steps));
        /* equal weights: nobody is asked a step more than anybody else plus one,
         * and the extra steps go to the units first in the registry */
        assert_true(hi - lo <= 1);
        long long extra = total - lo * (long long)n;
        for (size_t u = 0; u < n; u++)
            assert_int_equal(llround(goal[u] * steps), lo + (u < (size_t)extra));
        if (ind->source == RO_SOURCE_PARTICIPANTS) {
            /* 2000 over 893: 214 units are asked 3 people, 679 are asked 2 */
            assert_int_equal(lo, 2);
            assert_int_equal(extra, 214);
            char buf[32];
            assert_string_equal(ro_indicator_format(ind, goal[n - 1], buf, sizeof buf), "2");
        } else {
            /* 300 hours over 893: 321 units are asked 0.4 h, 572 are asked 0.3 h */
            assert_int_equal(lo, 3);
            assert_int_equal(extra, 321);
        }
    }
    assert_int_equal(sums, 2);
    free(goal);
    ro_registry_destroy(&reg);
    ro_targets_destroy(&t);
}

static const char s_weighted[] = "[indicator people]\n"
                                 "label_zh = 人数\nlabel_en = People\ntype = output\n"
                                 "kind = sum\nsource = participants\nunit = people\n"
                                 "goal = 1200\nexcellent = 1200\ngood = 1000\nfair = 800\n"
                                 "weight.provincial = 3\nweight.municipal = 2\n"
                                 "weight.township = 1\n"
                                 "[indicator hours]\n"
                                 "label_zh = 时间\nlabel_en = Hours\ntype = output\n"
                                 "kind = sum\nsource = hours\nunit = hours\n"
                                 "goal = 10\nexcellent = 10\ngood = 8\nfair = 6\n"
                                 "weight.provincial = 1\nweight.municipal = 1\n"
                                 "weight.township = 1\n";

/* Largest remainders by level weight; overrides kept; ties to the earlier unit. */
static void test_goal_allocation_largest_remainder(void **state)
{
    (void)state;
    char err[512] = "";
    ro_targets_t *t = ro_targets_load(tu_write("weighted.ini", s_weighted), err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    ro_registry_t *reg = ro_registry_load(tu_write("units5.csv", "id,level,division,name\n"
                                                                 "460000-001,provincial,460000,a\n"
                                                                 "460000-002,provincial,460000,b\n"
                                                                 "460100-001,municipal,460100,c\n"
                                                                 "460100-201,township,460100,d\n"
                                                                 "469001-001,municipal,469001,e\n"),
                                          err, sizeof err);
    if (!reg)
        fail_msg("%s", err);
    double goal[5];
    /* weights 3, 3, 2, 1, 2 (sum 11): quotas 327.27 327.27 218.18 109.09 218.18;
     * the floors leave 1, which goes to the first of the two largest remainders */
    assert_int_equal(ro_targets_allocate(ro_targets_at(t, 0), reg, goal), 0);
    const double want[5] = {328, 327, 218, 109, 218};
    for (size_t u = 0; u < 5; u++)
        assert_true(goal[u] == want[u]);
    /* 10 hours in tenths over 5 units: 2.0 each, exactly */
    assert_int_equal(ro_targets_allocate(ro_targets_at(t, 1), reg, goal), 0);
    for (size_t u = 0; u < 5; u++)
        assert_true(goal[u] == 2.0);
    ro_registry_destroy(&reg);

    /* unit 0 keeps its 500; the other four share 700 by 3, 2, 1, 2: quotas
     * 262.5 175 87.5 175; one step left, the tie of .5 to the earlier unit */
    reg = ro_registry_load(tu_write("units5o.csv", "id,level,division,name,goal.people\n"
                                                   "460000-001,provincial,460000,a,500\n"
                                                   "460000-002,provincial,460000,b,\n"
                                                   "460100-001,municipal,460100,c,\n"
                                                   "460100-201,township,460100,d,\n"
                                                   "469001-001,municipal,469001,e,\n"),
                           err, sizeof err);
    if (!reg)
        fail_msg("%s", err);
    assert_int_equal(ro_targets_allocate(ro_targets_at(t, 0), reg, goal), 0);
    const double over[5] = {500, 263, 175, 87, 175};
    for (size_t u = 0; u < 5; u++)
        if (goal[u] != over[u])
            fail_msg("unit %zu: goal %g, want %g", u, goal[u], over[u]);
    ro_registry_destroy(&reg);

    /* overrides beyond the goal leave 0 to share */
    reg = ro_registry_load(tu_write("units3o.csv", "id,level,division,name,goal.people\n"
                                                   "460000-001,provincial,460000,a,1000\n"
                                                   "460000-002,provincial,460000,b,400\n"
                                                   "460100-001,municipal,460100,c,\n"),
                           err, sizeof err);
    if (!reg)
        fail_msg("%s", err);
    assert_int_equal(ro_targets_allocate(ro_targets_at(t, 0), reg, goal), 0);
    assert_true(goal[0] == 1000 && goal[1] == 400 && goal[2] == 0);
    ro_registry_destroy(&reg);
    ro_targets_destroy(&t);
}

/* ---- the milestone beside "missed"; where the series chart ends ------------------- */

/* The laggards' row of unit u evaluated as of date, in md: "| value | target | due | gap |
 * status |" (the cells from Actual on). */
static char *s_laggard_row(fx_t *fx, size_t u, uint32_t as_of, char *buf, size_t len)
{
    ro_scope_t lag;
    hub_engine_unit(fx->engine, fx->st, u, as_of, &lag);
    ctl_document_t r = fx->report;
    r.as_of = as_of;
    r.laggards = &lag;
    r.laggard_count = 1;
    char *md = ctl_document_targets_string(CTL_DOCUMENT_MD, &r);
    assert_non_null(md);
    char head[64];
    snprintf(head, sizeof head, "| 1 | %s | ", ro_registry_at(fx->reg, u)->id);
    const char *row = strstr(md, head);
    assert_non_null(row);
    /* past #, unit, name and division */
    for (int bars = 0; bars < 5; row++)
        bars += *row == '|' && row[-1] != '\\';
    const char *end = strchr(row, '\n');
    snprintf(buf, len, "|%.*s", (int)(end - row), row);
    free(md);
    return buf;
}

/* The report's laggards showed the next milestone (80% by 2018-12-31) under
 * Target, Due and Gap beside a status naming the one missed (70% by
 * 2018-06-30), unlike rolloutctl's laggards: a missed unit's row is about
 * the milestone it missed, any other's about the next. */
static void test_laggards_missed_show_the_milestone_missed(void **state)
{
    fx_t *fx = *state;
    char row[512];
    /* 演丰镇, 12 of 30 items (40%) */
    assert_string_equal(
        s_laggard_row(fx, 3, 20180701, row, sizeof row),
        "| 40.0% | 70.0% | 2018-06-30 | 30.0% | 未达成 missed: 70.0% @ 2018-06-30 |");
    /* the day before that milestone it was at risk of it: the next one */
    assert_string_equal(s_laggard_row(fx, 3, 20180629, row, sizeof row),
                        "| 40.0% | 70.0% | 2018-06-30 | 30.0% | 有风险 at-risk |");
    /* after the last milestone: that one, not "—" */
    assert_string_equal(
        s_laggard_row(fx, 3, 20190131, row, sizeof row),
        "| 40.0% | 80.0% | 2018-12-31 | 40.0% | 未达成 missed: 80.0% @ 2018-12-31 |");
    /* no data counts as 0: the whole of the milestone missed is the gap */
    assert_string_equal(s_laggard_row(fx, 5, 20180701, row, sizeof row),
                        "| 无数据 no data | 70.0% | 2018-06-30 | 70.0% | 未达成 missed: 70.0% @ "
                        "2018-06-30 |");
    /* the fixture's table: every laggard missed 70%, none shows 80% */
    char *md = s_targets(fx, CTL_DOCUMENT_MD);
    const char *lag = strstr(md, "## 滞后单位 Laggards");
    assert_non_null(lag);
    assert_null(strstr(lag, "| 80.0% | 2018-12-31 |"));
    assert_non_null(strstr(lag, "| 62.5% | 70.0% | 2018-06-30 | 7.5% |"));
    free(md);
}

static void test_row_milestone(void **state)
{
    (void)state;
    ro_result_t res;
    memset(&res, 0, sizeof res);
    res.value = 0.5;
    res.next_date = 20181231;
    res.next_goal = 0.8;
    res.gap = 0.3;
    res.due_date = 20180630;
    res.due_goal = 0.7;
    const ro_milestone_status_t next[] = {RO_MILESTONE_NONE, RO_MILESTONE_MET,
                                          RO_MILESTONE_AT_RISK};
    for (size_t k = 0; k < 3; k++) {
        res.milestone = next[k];
        ctl_document_milestone_t m = ctl_document_row_milestone(&res);
        assert_int_equal(m.date, 20181231);
        assert_true(m.goal == 0.8 && m.gap == 0.3);
    }
    res.milestone = RO_MILESTONE_MISSED;
    ctl_document_milestone_t m = ctl_document_row_milestone(&res);
    assert_int_equal(m.date, 20180630);
    assert_true(m.goal == 0.7 && fabs(m.gap - 0.2) < 1e-12);
    res.no_data = true;
    res.value = NAN;
    m = ctl_document_row_milestone(&res);
    assert_true(m.goal == 0.7 && m.gap == 0.7);
    /* missed with nothing due cannot be: the next, as given */
    res.due_date = 0;
    m = ctl_document_row_milestone(&res);
    assert_int_equal(m.date, 20181231);
    assert_true(m.goal == 0.8 && m.gap == 0.3);
}

/* The month end of y-m, YYYYMMDD. */
static uint32_t s_month_end(unsigned y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned d = days[m - 1] + (m == 2 && y % 4 == 0 && (y % 100 || y % 400 == 0));
    return y * 10000 + m * 100 + d;
}

/* A series as the hub sends one asked as of 2026-12-04: each month end from
 * 2017-12, then that day; 31 of 100 to 2018-05, 64 of 100 from 2018-06.
 * Returns the count. */
static size_t s_long_series(ctl_document_point_t *p)
{
    size_t n = 0;
    for (unsigned y = 2017, m = 12; y < 2026 || m < 12; m = m % 12 + 1, y += m == 1) {
        uint32_t d = s_month_end(y, m);
        bool after = d >= 20180630;
        p[n++] = (ctl_document_point_t){d, after ? 0.64 : 0.31, after ? 64 : 31, 100};
    }
    p[n] = p[n - 1];
    p[n++].date = 20261204;
    return n;
}

static size_t s_count(const char *text, const char *what)
{
    size_t k = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        k++;
    return k;
}

static void test_series_end(void **state)
{
    (void)state;
    ctl_document_point_t p[120];
    size_t n = s_long_series(p);
    assert_int_equal(n, 109);
    /* the last change is 2018-06-30, the last milestone later */
    assert_int_equal(ctl_document_series_end(p, n, 20181231), 13);
    assert_int_equal(p[12].date, 20181231);
    /* no milestones: to the last change */
    assert_int_equal(ctl_document_series_end(p, n, 0), 7);
    assert_int_equal(p[6].date, 20180630);
    /* a milestone between month ends: the points up to it */
    assert_int_equal(ctl_document_series_end(p, n, 20190215), 14);
    /* a change after the last milestone (2019-02-28): to it */
    for (size_t i = 14; i < n; i++)
        p[i] = (ctl_document_point_t){p[i].date, 0.66, 66, 100};
    assert_int_equal(ctl_document_series_end(p, n, 20181231), 15);
    /* the same share of a larger total is a change too */
    p[20].total = 200;
    p[20].part = 132;
    assert_int_equal(ctl_document_series_end(p, n, 20181231), 22);
    /* no data to no data is none; no data to data is one */
    ctl_document_point_t q[4] = {
        {20180131, NAN, 0, 0}, {20180228, NAN, 0, 0}, {20180331, 0.5, 1, 2}, {20180430, 0.5, 1, 2}};
    assert_int_equal(ctl_document_series_end(q, 2, 0), 1);
    assert_int_equal(ctl_document_series_end(q, 4, 0), 3);
    assert_int_equal(ctl_document_series_end(q, 4, 20180430), 4);
    assert_int_equal(ctl_document_series_end(q, 1, 0), 1);
    assert_int_equal(ctl_document_series_end(q, 0, 0), 0);
    /* a milestone before the first point: still the first */
    assert_int_equal(ctl_document_series_end(q, 2, 20170101), 1);
}

/* The chart of a report made without --as-of ran to the report's date,
 * today: 108 months for a rollout whose data and milestones ended in 2018.
 * It ends at the later of the series' last change and the targets' last
 * milestone; with an as-of date given, at that date. */
static void test_series_chart_ends_at_last_data_or_milestone(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(ctl_document_last_milestone(fx->targets), 20181231);
    ctl_document_point_t p[120];
    size_t n = s_long_series(p);
    ctl_document_t r = fx->report;
    r.as_of = 20261204;
    r.series = p;
    r.series_count = n;
    char *h = ctl_document_targets_string(CTL_DOCUMENT_HTML, &r);
    const char *chart = strstr(h, "全省走势 Province over time");
    assert_non_null(chart);
    /* the axis ends at the last milestone, with a point on each month end to it */
    assert_non_null(strstr(chart, "text-anchor=\"end\">2018-12-31</text>"));
    assert_null(strstr(chart, "2026-"));
    assert_null(strstr(chart, "2019-"));
    assert_int_equal(s_count(chart, "<circle "), 13);
    assert_int_equal(s_count(chart, "<polygon "), 3);
    free(h);
    /* asked as of that date: to it */
    r.as_of_given = true;
    h = ctl_document_targets_string(CTL_DOCUMENT_HTML, &r);
    chart = strstr(h, "全省走势 Province over time");
    assert_non_null(strstr(chart, "text-anchor=\"end\">2026-12-04</text>"));
    assert_int_equal(s_count(chart, "<circle "), 109);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_targets_md, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_targets_csv, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_targets_html, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scoresheet_md, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scoresheet_csv, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scoresheet_html, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_figures_say_what_they_rest_on, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_escaping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_html_is_self_contained, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_and_same_as_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_incomplete_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_csv_starts_with_bom_unless_asked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_html_tables_use_the_width, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_html_capped_bars_say_so, s_setup, s_teardown),
        cmocka_unit_test(test_pct_rounds_half_up),
        cmocka_unit_test_setup_teardown(test_pct_in_values_and_reports, s_setup, s_teardown),
        cmocka_unit_test(test_goal_allocation_whole_people),
        cmocka_unit_test(test_goal_allocation_largest_remainder),
        cmocka_unit_test_setup_teardown(test_laggards_missed_show_the_milestone_missed, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_row_milestone),
        cmocka_unit_test(test_series_end),
        cmocka_unit_test_setup_teardown(test_series_chart_ends_at_last_data_or_milestone, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
