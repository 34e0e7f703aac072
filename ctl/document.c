/* hub_report: one small writer (headings, key lines, tables with rowspans)
 * that speaks Markdown, CSV and HTML, and the two reports built on it; the
 * HTML adds inline SVG charts. Rendering only: every number comes in
 * evaluated, and nothing here reads a clock, a file or a socket. */
#include "document.h"

#include "ro_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TITLE "海南省政务服务应用平台“不见面审批”实施推广"

typedef struct {
    FILE *f;                   /* where it goes */
    ctl_document_format_t fmt; /* how */
    bool no_bom;               /* CSV without the byte-order mark */
} w_t;

/* ---- escaping ---------------------------------------------------------- */

static bool s_ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Markdown: backslash-escape what would format; turn into entities only a
 * '<' that could open a tag and an '&' that could open an entity, so that
 * "<1600" stays readable in the source. */
static void s_md_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\':
        case '`':
        case '*':
        case '_':
        case '[':
        case ']':
        case '|':
        case '~':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '<':
            if (((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z') || s[1] == '/' || s[1] == '!' ||
                s[1] == '?')
                fputs("&lt;", f);
            else
                fputc('<', f);
            break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs(s_ascii_alnum(s[1]) || s[1] == '#' ? "&amp;" : "&", f); break;
        case '\n':
        case '\r': fputc(' ', f); break;
        default: fputc(*s, f);
        }
    }
}

static void s_html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void s_csv_field(FILE *f, const char *s)
{
    bool formula = strchr("=+-@\t\r", s[0]) && s[0];
    size_t n = strlen(s);
    bool quote = formula || strpbrk(s, ",\"\r\n") || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (quote)
        fputc('"', f);
    if (formula)
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    if (quote)
        fputc('"', f);
}

/* ---- the writer -------------------------------------------------------- */

#define ROW_CELLS 40
#define CELL_MAX 400

typedef struct {
    size_t n;                       /* cells */
    char text[ROW_CELLS][CELL_MAX]; /* unescaped text */
    int span[ROW_CELLS];            /* 0 plain, >1 HTML rowspan, -1 covered by a span above */
    int cls[ROW_CELLS];             /* 0 none, 1 + grade for a grade-coloured cell */
} row_t;

static void s_cell(row_t *r, int span, int cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_cell(row_t *r, int span, int cls, const char *fmt, ...)
{
    if (r->n == ROW_CELLS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text[r->n], CELL_MAX, fmt, ap);
    va_end(ap);
    r->span[r->n] = span;
    r->cls[r->n] = cls;
    r->n++;
}

static void s_row(w_t *w, const row_t *r, bool header)
{
    FILE *f = w->f;
    switch (w->fmt) {
    case CTL_DOCUMENT_MD:
        fputc('|', f);
        for (size_t i = 0; i < r->n; i++) {
            fputc(' ', f);
            if (r->span[i] >= 0)
                s_md_text(f, r->text[i]);
            fputs(" |", f);
        }
        fputc('\n', f);
        if (header) {
            fputc('|', f);
            for (size_t i = 0; i < r->n; i++)
                fputs("---|", f);
            fputc('\n', f);
        }
        break;
    case CTL_DOCUMENT_CSV:
        for (size_t i = 0; i < r->n; i++) {
            if (i)
                fputc(',', f);
            s_csv_field(f, r->text[i]);
        }
        fputc('\n', f);
        break;
    case CTL_DOCUMENT_HTML:
        fputs("<tr>", f);
        for (size_t i = 0; i < r->n; i++) {
            if (r->span[i] < 0)
                continue;
            const char *tag = header ? "th" : "td";
            fprintf(f, "<%s", tag);
            if (r->span[i] > 1)
                fprintf(f, " rowspan=\"%d\"", r->span[i]);
            if (r->cls[i] > 0)
                fprintf(f, " class=\"g%d\"", r->cls[i] - 1);
            fputc('>', f);
            s_html_text(f, r->text[i]);
            fprintf(f, "</%s>", tag);
        }
        fputs("</tr>\n", f);
        break;
    }
}

static void s_heading(w_t *w, int level, const char *text)
{
    switch (w->fmt) {
    case CTL_DOCUMENT_MD:
        for (int i = 0; i < level; i++)
            fputc('#', w->f);
        fputc(' ', w->f);
        s_md_text(w->f, text);
        fputs("\n\n", w->f);
        break;
    case CTL_DOCUMENT_CSV:
        s_csv_field(w->f, text);
        fputc('\n', w->f);
        break;
    case CTL_DOCUMENT_HTML:
        fprintf(w->f, "<h%d>", level);
        s_html_text(w->f, text);
        fprintf(w->f, "</h%d>\n", level);
        break;
    }
}

static void s_kv(w_t *w, const char *key, const char *value)
{
    switch (w->fmt) {
    case CTL_DOCUMENT_MD:
        fputs("**", w->f);
        s_md_text(w->f, key);
        fputs(":** ", w->f);
        s_md_text(w->f, value);
        fputs("  \n", w->f);
        break;
    case CTL_DOCUMENT_CSV:
        s_csv_field(w->f, key);
        fputc(',', w->f);
        s_csv_field(w->f, value);
        fputc('\n', w->f);
        break;
    case CTL_DOCUMENT_HTML:
        fputs("<p><b>", w->f);
        s_html_text(w->f, key);
        fputs(":</b> ", w->f);
        s_html_text(w->f, value);
        fputs("</p>\n", w->f);
        break;
    }
}

/* End of a block of key lines, a list or a table. */
static void s_gap(w_t *w)
{
    fputc('\n', w->f);
}

static void s_table_open(w_t *w)
{
    if (w->fmt == CTL_DOCUMENT_HTML)
        fputs("<div class=\"wide\"><table>\n", w->f);
}

static void s_table_close(w_t *w)
{
    if (w->fmt == CTL_DOCUMENT_HTML)
        fputs("</table></div>\n", w->f);
    else
        s_gap(w);
}

/* Open a table whose header row is the n cells of head (row is scratch). */
static void s_table_head(w_t *w, row_t *row, const char *const *head, size_t n)
{
    memset(row, 0, sizeof *row);
    for (size_t c = 0; c < n; c++)
        s_cell(row, 0, 0, "%s", head[c]);
    s_table_open(w);
    s_row(w, row, true);
}

static void s_list(w_t *w, const char *title, const char *const *items, size_t n)
{
    switch (w->fmt) {
    case CTL_DOCUMENT_MD:
        s_md_text(w->f, title);
        fputs("\n\n", w->f);
        for (size_t i = 0; i < n; i++) {
            fputs("- ", w->f);
            s_md_text(w->f, items[i]);
            fputc('\n', w->f);
        }
        s_gap(w);
        break;
    case CTL_DOCUMENT_CSV:
        for (size_t i = 0; i < n; i++) {
            s_csv_field(w->f, title);
            fputc(',', w->f);
            s_csv_field(w->f, items[i]);
            fputc('\n', w->f);
        }
        s_gap(w);
        break;
    case CTL_DOCUMENT_HTML:
        fputs("<p>", w->f);
        s_html_text(w->f, title);
        fputs("</p>\n<ul>\n", w->f);
        for (size_t i = 0; i < n; i++) {
            fputs("<li>", w->f);
            s_html_text(w->f, items[i]);
            fputs("</li>\n", w->f);
        }
        fputs("</ul>\n", w->f);
        break;
    }
}

/* The page is as wide as the window: a table takes the width its cells need
 * up to the window's, wrapping only at spaces (keep-all: never inside a
 * Chinese word, which made headers one character wide); a table that still
 * does not fit scrolls sideways in its own box rather than the page. Prose
 * keeps a readable measure. */
static const char s_css[] =
    "body{font-family:\"Noto Sans CJK SC\",\"PingFang SC\",\"Microsoft YaHei\",sans-serif;"
    "margin:1.5em 2em;color:#222}\n"
    "h1,h2,p,ul{max-width:60em}\n"
    "div.wide{overflow-x:auto;margin:.5em 0 1.5em}\n"
    "table{border-collapse:collapse}\n"
    "th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top;"
    "word-break:keep-all}\n"
    "th{background:#eee}\n"
    "td.g0{background:#c8e6c9}td.g1{background:#e6f2c4}td.g2{background:#fff1b8}"
    "td.g3{background:#ffcdd2}\n"
    "svg{display:block;margin:.5em 0 1.5em}svg text{font-size:12px;fill:#222}\n";

static void s_doc_begin(w_t *w, const char *title)
{
    /* Excel takes a CSV without the mark for the system's code page */
    if (w->fmt == CTL_DOCUMENT_CSV && !w->no_bom)
        fputs("\xEF\xBB\xBF", w->f);
    if (w->fmt != CTL_DOCUMENT_HTML)
        return;
    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          w->f);
    s_html_text(w->f, title);
    fprintf(w->f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", s_css);
}

static int s_doc_end(w_t *w)
{
    if (w->fmt == CTL_DOCUMENT_HTML)
        fputs("</body>\n</html>\n", w->f);
    return fflush(w->f) || ferror(w->f) ? -1 : 0;
}

/* ---- what a row and a series show (shared with rolloutctl) -------------- */

ctl_document_milestone_t ctl_document_row_milestone(const ro_result_t *res)
{
    ctl_document_milestone_t m = {res->next_date, res->next_goal, res->gap};
    if (res->milestone == RO_MILESTONE_MISSED && res->due_date) {
        m.date = res->due_date;
        m.goal = res->due_goal;
        m.gap = fmax(0.0, res->due_goal - (res->no_data ? 0.0 : res->value));
    }
    return m;
}

/* Two points show the same thing: both without data, or the same value,
 * part and total. */
static bool s_point_same(const ctl_document_point_t *p, const ctl_document_point_t *q)
{
    if (!isnan(p->share) != !isnan(q->share) || p->part != q->part || p->total != q->total)
        return false;
    return isnan(p->share) || p->share == q->share;
}

size_t ctl_document_series_end(const ctl_document_point_t *p, size_t n, uint32_t last_milestone)
{
    if (n < 2)
        return n;
    uint32_t end = p[0].date;
    for (size_t i = 1; i < n; i++)
        if (!s_point_same(&p[i], &p[i - 1]))
            end = p[i].date;
    end = last_milestone > end ? last_milestone : end;
    size_t to = 0;
    while (to < n && p[to].date <= end)
        to++;
    return to ? to : 1;
}

uint32_t ctl_document_last_milestone(const ro_targets_t *targets)
{
    uint32_t last = 0;
    for (size_t i = 0; i < ro_targets_count(targets); i++) {
        const ro_indicator_t *ind = ro_targets_at(targets, i);
        for (size_t m = 0; m < ind->milestone_count; m++)
            last = ind->milestones[m].date > last ? ind->milestones[m].date : last;
    }
    return last;
}

/* ---- numbers ----------------------------------------------------------- */

static const char *s_pct(double share, char *buf, size_t len)
{
    return ro_pct_format_ratio(share, buf, len);
}

static const char *s_date(uint32_t d, char *buf)
{
    if (!d)
        strcpy(buf, "—");
    else
        ro_date_format(d, buf);
    return buf;
}

/* Up to two decimals, trailing zeros dropped: 3.5, 4, 0.25. */
static const char *s_num(double x, char *buf, size_t len)
{
    snprintf(buf, len, "%.2f", x + 0.0);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf);
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1)
            *dot = '\0';
    }
    return buf;
}

static const char *s_milestone_text(ro_milestone_status_t m)
{
    switch (m) {
    case RO_MILESTONE_MET: return "已达成 met";
    case RO_MILESTONE_AT_RISK: return "有风险 at-risk";
    case RO_MILESTONE_MISSED: return "未达成 missed";
    default: return "—";
    }
}

/* "2017-12-31 ≥30.0%; ..." for the milestones of ind in a scope with goal. */
static void s_schedule(const ro_indicator_t *ind, double goal, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    if (!ind->milestone_count) {
        snprintf(buf, len, "—");
        return;
    }
    for (size_t m = 0; m < ind->milestone_count && o < len; m++) {
        char d[16], v[32];
        double target = ind->milestones[m].share * (ind->kind == RO_KIND_RATIO ? 1.0 : goal);
        ro_date_format(ind->milestones[m].date, d);
        int n = snprintf(buf + o, len - o, "%s%s ≥%s", m ? "; " : "", d,
                         ro_indicator_format(ind, target, v, sizeof v));
        o += n > 0 ? (size_t)n : 0;
    }
}

static void s_status(const ro_indicator_t *ind, const ro_result_t *res, char *buf, size_t len)
{
    char a[32], b[32], d[16];
    ctl_document_milestone_t m = ctl_document_row_milestone(res);
    switch (res->milestone) {
    case RO_MILESTONE_MISSED:
        snprintf(buf, len, "%s: %s @ %s", s_milestone_text(res->milestone),
                 ro_indicator_format(ind, m.goal, a, sizeof a), s_date(m.date, d));
        break;
    case RO_MILESTONE_AT_RISK:
        snprintf(buf, len, "%s: %s @ %s, 差距 gap %s", s_milestone_text(res->milestone),
                 ro_indicator_format(ind, m.goal, a, sizeof a), s_date(m.date, d),
                 ro_indicator_format(ind, m.gap, b, sizeof b));
        break;
    default: snprintf(buf, len, "%s", s_milestone_text(res->milestone));
    }
}

/* What a figure rests on, beside it: "" when it rests on reports neither
 * corrected nor under review nor rejected, else " (更正 2 待审 1 退回 1)",
 * the parts that are not 0 (the report's key line says what they mean). */
static const char *s_rests(uint64_t corrected, uint64_t held, uint64_t rejected, char *buf,
                           size_t len)
{
    const char *name[3] = {"更正", "待审", "退回"};
    uint64_t n[3] = {corrected, held, rejected};
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < 3 && o < len; i++) {
        if (!n[i])
            continue;
        int w = snprintf(buf + o, len - o, "%s%s %llu", o ? " " : " (", name[i],
                         (unsigned long long)n[i]);
        o += w > 0 ? (size_t)w : 0;
    }
    if (o && o + 1 < len)
        strcat(buf, ")");
    return buf;
}

static const char *s_rests_result(const ro_result_t *res, char *buf, size_t len)
{
    return s_rests(res->corrected, res->held_review, res->rejected, buf, len);
}

/* The key line under the title: what the marks beside the figures mean, or
 * that every figure rests on reports neither corrected nor under review. */
static void s_rests_key(w_t *w, const ro_scope_t *p)
{
    char buf[CELL_MAX];
    if (!p->corrected && !p->held_review && !p->rejected) {
        s_kv(w, "依据 Rests on",
             "所有数字依据的报告均未经更正、无待审或退回 / every figure rests on reports neither "
             "corrected nor under review nor rejected");
        return;
    }
    snprintf(buf, sizeof buf,
             "更正 %llu 份、待审 %llu 份、退回 %llu 份报告 / %llu reports corrected (更正: amended "
             "or cancelled), %llu held for review (待审), %llu rejected by a reviewer (退回); "
             "each figure says how many of its own",
             (unsigned long long)p->corrected, (unsigned long long)p->held_review,
             (unsigned long long)p->rejected, (unsigned long long)p->corrected,
             (unsigned long long)p->held_review, (unsigned long long)p->rejected);
    s_kv(w, "依据 Rests on", buf);
}

/* A scope's cell for one indicator: "55.0%", or "1234 / 2000 (61.7%)". */
static void s_value_cell(row_t *row, const ro_indicator_t *ind, const ro_result_t *res)
{
    char v[32], g[32], s[32], m[96];
    s_rests_result(res, m, sizeof m);
    if (res->no_data)
        s_cell(row, 0, 0, "无数据 no data%s", m);
    else if (ind->kind == RO_KIND_RATIO)
        s_cell(row, 0, 0, "%s%s", ro_indicator_format(ind, res->value, v, sizeof v), m);
    else
        s_cell(row, 0, 0, "%s / %s (%s)%s", ro_indicator_format(ind, res->value, v, sizeof v),
               ro_indicator_format(ind, res->goal, g, sizeof g), s_pct(res->share, s, sizeof s), m);
}

static void s_grade_cell(row_t *row, ro_grade_t grade)
{
    s_cell(row, 0, 1 + (int)grade, "%s %s", ro_grade_label(grade), ro_grade_name(grade));
}

/* ---- SVG charts (HTML only) -------------------------------------------- */

static const char *s_grade_colour(ro_grade_t g)
{
    static const char *colours[] = {"#2e7d32", "#7cb342", "#f9a825", "#c62828"};
    return (unsigned)g < 4 ? colours[g] : "#9e9e9e";
}

/* Share of goal by division for indicator i: one bar per division, on one
 * scale to BAR_MAX of the goal; a longer bar stops there with a break mark
 * and its label gives the real figure, so 130% and 2000% still differ. */
#define BAR_MAX 1.25
static void s_chart_divisions(w_t *w, const ctl_document_t *r, size_t i)
{
    FILE *f = w->f;
    const ro_indicator_t *ind = ro_targets_at(r->targets, i);
    size_t rows = 0, capped = 0;
    for (size_t d = 0; d < r->division_count; d++) {
        const ro_result_t *res = &r->divisions[d].indicators[i];
        rows += r->divisions[d].units > 0;
        capped += r->divisions[d].units > 0 && !res->no_data && res->share > BAR_MAX;
    }
    if (!rows)
        return;
    const double width = 720, left = 170, unit = 352, top = 30, rh = 20;
    double height = top + (double)rows * rh + 26 + (capped ? 18 : 0);
    fprintf(f,
            "<svg width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            width, height, width, height);
    fputs("<text x=\"0\" y=\"16\" font-weight=\"bold\">完成率 Share of goal — ", f);
    s_html_text(f, ind->label_zh);
    fputc(' ', f);
    s_html_text(f, ind->label_en);
    fputs("</text>\n", f);
    size_t k = 0;
    for (size_t d = 0; d < r->division_count; d++) {
        const ro_scope_t *s = &r->divisions[d];
        if (!s->units)
            continue;
        const ro_result_t *res = &s->indicators[i];
        double y = top + (double)k * rh;
        char pct[32];
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6, y + 14);
        s_html_text(f, s->name);
        fputs("</text>\n", f);
        if (res->no_data) {
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"2\" height=\"14\" fill=\"#9e9e9e\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\">无数据 no data</text>\n",
                    left, y + 3, left + 6, y + 14);
        } else {
            int cut = res->share > BAR_MAX;
            double len = fmin(fmax(res->share, 0.0), BAR_MAX) * unit;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" fill=\"%s\">",
                    left, y + 3, len, s_grade_colour(res->grade));
            fputs("<title>", f);
            s_html_text(f, s->name);
            fprintf(f, ": %s %s%s</title></rect>", s_pct(res->share, pct, sizeof pct),
                    ro_grade_label(res->grade), cut ? " (bar cut at 125%)" : "");
            if (cut) /* a break mark: the bar goes on beyond the chart */
                fprintf(f,
                        "<path d=\"M%.1f %.1f l5 -14 M%.1f %.1f l5 -14\" stroke=\"#fff\" "
                        "stroke-width=\"2.5\" data-capped=\"1\"/>",
                        left + len - 16, y + 17, left + len - 10, y + 17);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s%s</text>\n", left + len + 4, y + 14,
                    cut ? "» " : "", pct);
        }
        k++;
    }
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
            "stroke-dasharray=\"4 3\"/>\n",
            left + unit, top - 4, left + unit, top + (double)rows * rh);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">目标 goal 100%%</text>\n",
            left + unit, height - 8 - (capped ? 18 : 0));
    if (capped)
        fprintf(f,
                "<text x=\"0\" y=\"%.1f\">» 长条截于 125%%, 数字为实际值 bar cut at 125%% of "
                "goal; the figure is the real one</text>\n",
                height - 8);
    fputs("</svg>\n", f);
}

/* The days the chart spans: its first count points with a value and the
 * indicator's milestones (*d0 > *d1 when there is neither). */
static void s_chart_days(const ctl_document_t *r, const ro_indicator_t *ind, size_t count,
                         int64_t *d0, int64_t *d1)
{
    *d0 = INT64_MAX;
    *d1 = INT64_MIN;
    for (size_t i = 0; i < count; i++) {
        if (!ro_date_valid(r->series[i].date) || isnan(r->series[i].share))
            continue;
        int64_t d = ro_date_days(r->series[i].date);
        *d0 = d < *d0 ? d : *d0;
        *d1 = d > *d1 ? d : *d1;
    }
    for (size_t m = 0; m < ind->milestone_count; m++) {
        int64_t d = ro_date_days(ind->milestones[m].date);
        *d0 = d < *d0 ? d : *d0;
        *d1 = d > *d1 ? d : *d1;
    }
}

/* The value of the latest of the first count points dated by date; NaN if none. */
static double s_reached(const ctl_document_t *r, size_t count, uint32_t date)
{
    double reached = NAN;
    uint32_t best = 0;
    for (size_t i = 0; i < count; i++) {
        const ctl_document_point_t *p = &r->series[i];
        if (ro_date_valid(p->date) && !isnan(p->share) && p->date <= date && p->date >= best) {
            best = p->date;
            reached = p->share;
        }
    }
    return reached;
}

/* The headline share over time against its milestones. Without an as-of
 * date the series runs to today: only its points up to where
 * ctl_document_series_end puts its end are drawn, so the axis stops there. */
static void s_chart_series(w_t *w, const ctl_document_t *r)
{
    FILE *f = w->f;
    const ro_indicator_t *ind = ro_targets_at(r->targets, r->series_indicator);
    size_t count = r->as_of_given
                       ? r->series_count
                       : ctl_document_series_end(r->series, r->series_count,
                                                 ctl_document_last_milestone(r->targets));
    int64_t d0, d1;
    s_chart_days(r, ind, count, &d0, &d1);
    if (d0 > d1)
        return; /* neither points nor milestones: nothing to draw */
    if (d1 == d0)
        d1 = d0 + 1;
    const double width = 720, height = 320, ml = 56, mr = 70, mt = 30, mb = 50;
    const double pw = width - ml - mr, ph = height - mt - mb;
#define X(days) (ml + pw * (double)((days)-d0) / (double)(d1 - d0))
#define Y(v) (mt + ph * (1.0 - fmin(fmax((v), 0.0), 1.0)))
    fprintf(f,
            "<svg width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            width, height, width, height);
    fputs("<text x=\"0\" y=\"16\" font-weight=\"bold\">全省走势 Province over time — ", f);
    s_html_text(f, ind->label_zh);
    fputc(' ', f);
    s_html_text(f, ind->label_en);
    fputs("</text>\n", f);
    for (int t = 0; t <= 5; t++) {
        double y = Y(t / 5.0);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
                ml, y, ml + pw, y, ml - 6, y + 4, t * 20);
    }
    char a[16], b[16], v[32];
    ro_date_format(ro_date_of(d0 * 86400), a);
    ro_date_format(ro_date_of(d1 * 86400), b);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">%s</text>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
            ml, mt + ph, ml + pw, mt + ph, ml, mt + ph + 18, a, ml + pw, mt + ph + 18, b);
    double goal = ind->kind == RO_KIND_RATIO ? ind->goal : 1.0;
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1565c0\" "
            "stroke-dasharray=\"6 4\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
            "fill=\"#1565c0\">目标 goal %s</text>\n",
            ml, Y(goal), ml + pw, Y(goal), ml + pw, Y(goal) - 4, s_pct(goal, v, sizeof v));
    /* the line, then its points */
    fputs("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"", f);
    bool first = true;
    for (size_t i = 0; i < count; i++) {
        const ctl_document_point_t *p = &r->series[i];
        if (!ro_date_valid(p->date) || isnan(p->share))
            continue;
        fprintf(f, "%s%.1f,%.1f", first ? "" : " ", X(ro_date_days(p->date)), Y(p->share));
        first = false;
    }
    fputs("\"/>\n", f);
    for (size_t i = 0; i < count; i++) {
        const ctl_document_point_t *p = &r->series[i];
        if (!ro_date_valid(p->date) || isnan(p->share))
            continue;
        ro_date_format(p->date, a);
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#1565c0\"><title>%s: %s"
                "</title></circle>\n",
                X(ro_date_days(p->date)), Y(p->share), a, s_pct(p->share, v, sizeof v));
    }
    /* milestones: green when the latest point by that date reached it, red
     * when it did not, grey while not yet due (or with no point before it) */
    for (size_t m = 0; m < ind->milestone_count; m++) {
        const ro_milestone_t *ms = &ind->milestones[m];
        double reached = s_reached(r, count, ms->date);
        const char *colour = ms->date > r->as_of || isnan(reached) ? "#757575"
                             : reached >= ms->share - 1e-12        ? "#2e7d32"
                                                                   : "#c62828";
        double x = X(ro_date_days(ms->date)), y = Y(ms->share);
        ro_date_format(ms->date, a);
        fprintf(f,
                "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\">"
                "<title>第%zu批 batch %zu: %s by %s</title></polygon>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">%s %s</text>\n",
                x, y - 7, x + 7, y, x, y + 7, x - 7, y, colour, m + 1, m + 1,
                s_pct(ms->share, v, sizeof v), a, x, y + 20, colour, v, a);
    }
    fputs("</svg>\n", f);
#undef X
#undef Y
}

/* ---- the target table -------------------------------------------------- */

int ctl_document_format_parse(const char *name, ctl_document_format_t *out)
{
    static const char *names[] = {"md", "csv", "html"};
    for (int i = 0; i < 3; i++) {
        if (!strcmp(name, names[i])) {
            *out = (ctl_document_format_t)i;
            return 0;
        }
    }
    return -1;
}

const char *ctl_document_format_name(ctl_document_format_t fmt)
{
    static const char *names[] = {"md", "csv", "html"};
    return (unsigned)fmt < 3 ? names[fmt] : "?";
}

void ctl_document_init(ctl_document_t *r, const ro_targets_t *targets, uint32_t as_of)
{
    memset(r, 0, sizeof *r);
    r->targets = targets;
    r->as_of = as_of;
    r->laggard_indicator = ro_targets_headline(targets);
    r->series_indicator = r->laggard_indicator;
}

static void s_indicator_name(const ro_indicator_t *ind, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s (%s)", ind->label_zh, ind->label_en, ro_measure_label(ind->measure));
}

static void s_targets_table(w_t *w, const ctl_document_t *r)
{
    const ro_scope_t *p = r->province;
    size_t n = ro_targets_count(r->targets);
    row_t *row = malloc(sizeof *row);
    if (!row)
        return;
    memset(row, 0, sizeof *row);
    const char *head[] = {"指标类型 Type",
                          "指标名称 Indicator",
                          "绩效目标 Goal",
                          "优 Excellent",
                          "良 Good",
                          "中 Fair",
                          "差 Poor",
                          "实际值 Actual",
                          "完成率 Share of goal",
                          "等级 Grade",
                          "里程碑 Milestones",
                          "状态 Status"};
    s_table_head(w, row, head, sizeof head / sizeof head[0]);
    for (size_t i = 0; i < n && i < p->indicator_count; i++) {
        const ro_indicator_t *ind = ro_targets_at(r->targets, i);
        const ro_result_t *res = &p->indicators[i];
        /* the type cell spans its run of indicators, as in the document */
        int span = 1;
        if (i > 0 && ro_targets_at(r->targets, i - 1)->type == ind->type)
            span = -1;
        else
            while (i + (size_t)span < n && ro_targets_at(r->targets, i + span)->type == ind->type)
                span++;
        char a[32], b[CELL_MAX];
        /* a band's bound in this scope: a sum's bands scale with the scope's goal */
        double scale = ind->kind == RO_KIND_RATIO ? 1.0 : res->goal / ind->goal;
        memset(row, 0, sizeof *row);
        s_cell(row, span, 0, "%s %s", ro_indicator_type_label(ind->type),
               ind->type == RO_TYPE_OUTPUT ? "Output" : "Effect");
        s_indicator_name(ind, b, sizeof b);
        s_cell(row, 0, 0, "%s", b);
        s_cell(row, 0, 0, "%s", ro_indicator_format(ind, res->goal, a, sizeof a));
        s_cell(row, 0, 0, "≥%s", ro_indicator_format(ind, ind->excellent * scale, a, sizeof a));
        s_cell(row, 0, 0, "≥%s", ro_indicator_format(ind, ind->good * scale, a, sizeof a));
        s_cell(row, 0, 0, "≥%s", ro_indicator_format(ind, ind->fair * scale, a, sizeof a));
        s_cell(row, 0, 0, "<%s", ro_indicator_format(ind, ind->fair * scale, a, sizeof a));
        char m[96];
        s_cell(row, 0, 0, "%s%s",
               res->no_data ? "无数据 no data" : ro_indicator_format(ind, res->value, a, sizeof a),
               s_rests_result(res, m, sizeof m));
        s_cell(row, 0, 0, "%s", s_pct(res->share, a, sizeof a));
        s_grade_cell(row, res->grade);
        s_schedule(ind, res->goal, b, sizeof b);
        s_cell(row, 0, 0, "%s", b);
        s_status(ind, res, b, sizeof b);
        s_cell(row, 0, 0, "%s", b);
        s_row(w, row, false);
    }
    s_table_close(w);
    free(row);
}

/* Levels or divisions: one row per scope. */
static void s_scopes_table(w_t *w, const ctl_document_t *r, const ro_scope_t *scopes, size_t count,
                           bool divisions)
{
    size_t n = ro_targets_count(r->targets);
    row_t *row = calloc(1, sizeof *row);
    if (!row)
        return;
    if (divisions)
        s_cell(row, 0, 0, "区划代码 Code");
    s_cell(row, 0, 0, "%s", divisions ? "市县 Division" : "层级 Level");
    s_cell(row, 0, 0, "单位数 Units");
    s_cell(row, 0, 0, "已报告 Reporting");
    for (size_t i = 0; i < n; i++) {
        const ro_indicator_t *ind = ro_targets_at(r->targets, i);
        s_cell(row, 0, 0, "%s %s", ind->label_zh, ind->label_en);
        s_cell(row, 0, 0, "等级 Grade");
    }
    s_cell(row, 0, 0, "总评 Overall");
    s_table_open(w);
    s_row(w, row, true);
    for (size_t k = 0; k < count; k++) {
        const ro_scope_t *s = &scopes[k];
        if (divisions && !s->units)
            continue;
        memset(row, 0, sizeof *row);
        if (divisions)
            s_cell(row, 0, 0, "%s", s->id);
        if (divisions)
            s_cell(row, 0, 0, "%s", s->name);
        else
            s_cell(row, 0, 0, "%s %s", s->name, s->id);
        s_cell(row, 0, 0, "%u", (unsigned)s->units);
        s_cell(row, 0, 0, "%u", (unsigned)s->units_reporting);
        for (size_t i = 0; i < n && i < s->indicator_count; i++) {
            s_value_cell(row, ro_targets_at(r->targets, i), &s->indicators[i]);
            s_grade_cell(row, s->indicators[i].grade);
        }
        s_grade_cell(row, s->grade);
        s_row(w, row, false);
    }
    s_table_close(w);
    free(row);
}

static void s_laggards_table(w_t *w, const ctl_document_t *r)
{
    const ro_indicator_t *ind = ro_targets_at(r->targets, r->laggard_indicator);
    if (!r->laggard_count) {
        s_kv(w, "滞后单位 Laggards", "无 none");
        s_gap(w);
        return;
    }
    row_t *row = calloc(1, sizeof *row);
    if (!row)
        return;
    const char *head[] = {"序号 #",      "单位 Unit", "名称 Name", "市县 Division", "实际 Actual",
                          "目标 Target", "截止 Due",  "差距 Gap",  "状态 Status"};
    s_table_head(w, row, head, sizeof head / sizeof head[0]);
    for (size_t k = 0; k < r->laggard_count; k++) {
        const ro_scope_t *s = &r->laggards[k];
        if (r->laggard_indicator >= s->indicator_count)
            continue;
        const ro_result_t *res = &s->indicators[r->laggard_indicator];
        const char *dname = ro_scope_division_name(s->division);
        ctl_document_milestone_t m = ctl_document_row_milestone(res);
        char a[32], d[16];
        memset(row, 0, sizeof *row);
        s_cell(row, 0, 0, "%zu", k + 1);
        s_cell(row, 0, 0, "%s", s->id);
        s_cell(row, 0, 0, "%s", s->name);
        s_cell(row, 0, 0, "%s", dname ? dname : "?");
        char marks[96];
        s_cell(row, 0, 0, "%s%s",
               res->no_data ? "无数据 no data" : ro_indicator_format(ind, res->value, a, sizeof a),
               s_rests_result(res, marks, sizeof marks));
        s_cell(row, 0, 0, "%s", ro_indicator_format(ind, m.goal, a, sizeof a));
        s_cell(row, 0, 0, "%s", s_date(m.date, d));
        s_cell(row, 0, 0, "%s", ro_indicator_format(ind, m.gap, a, sizeof a));
        if (res->milestone == RO_MILESTONE_MISSED) {
            char b[CELL_MAX];
            s_status(ind, res, b, sizeof b);
            s_cell(row, 0, 0, "%s", b);
        } else {
            s_cell(row, 0, 0, "%s", s_milestone_text(res->milestone));
        }
        s_row(w, row, false);
    }
    s_table_close(w);
    free(row);
}

/* "和另外 N 个 / and N more" under a list that shows count of total. */
static void s_more(w_t *w, size_t count, size_t total)
{
    char buf[128];
    if (total <= count)
        return;
    snprintf(buf, sizeof buf, "另有 %zu 项未列出 / and %zu more", total - count, total - count);
    s_kv(w, "…", buf);
}

/* HTML: which units' reports the figures rest on were corrected, are held
 * for review or were rejected, and the held and rejected reports. */
static void s_rests_lists(w_t *w, const ctl_document_t *r)
{
    const ro_scope_t *p = r->province;
    if (!p->corrected && !p->held_review && !p->rejected)
        return;
    s_heading(w, 2, "数字依据 What the figures rest on");
    row_t *row = calloc(1, sizeof *row);
    if (!row)
        return;
    const char *head[] = {"单位 Unit",      "名称 Name",         "市县 Division",
                          "更正 Corrected", "待审 Under review", "退回 Rejected"};
    s_table_head(w, row, head, sizeof head / sizeof head[0]);
    for (size_t k = 0; k < r->marked_count; k++) {
        const ro_scope_t *s = &r->marked[k];
        const char *dname = ro_scope_division_name(s->division);
        memset(row, 0, sizeof *row);
        s_cell(row, 0, 0, "%s", s->id);
        s_cell(row, 0, 0, "%s", s->name);
        s_cell(row, 0, 0, "%s", dname ? dname : "?");
        s_cell(row, 0, 0, "%llu", (unsigned long long)s->corrected);
        s_cell(row, 0, 0, "%llu", (unsigned long long)s->held_review);
        s_cell(row, 0, 0, "%llu", (unsigned long long)s->rejected);
        s_row(w, row, false);
    }
    s_table_close(w);
    s_more(w, r->marked_count, r->marked_total);
    if (r->review_total) {
        const char *rhead[] = {"单位 Unit", "类别 Kind", "日期 Date", "状态 State", "规则 Rule"};
        s_table_head(w, row, rhead, sizeof rhead / sizeof rhead[0]);
        for (size_t k = 0; k < r->review_count; k++) {
            const ctl_document_review_t *v = &r->reviews[k];
            char d[16];
            memset(row, 0, sizeof *row);
            s_cell(row, 0, 0, "%s", v->unit);
            s_cell(row, 0, 0, "%s", v->kind);
            if (v->date < 1000000) /* a month's cases */
                s_cell(row, 0, 0, "%04u-%02u", (unsigned)(v->date / 100),
                       (unsigned)(v->date % 100));
            else
                s_cell(row, 0, 0, "%s", s_date(v->date, d));
            s_cell(row, 0, 0, "%s",
                   !strcmp(v->state, "pending") ? "待审 pending" : "退回 rejected");
            s_cell(row, 0, 0, "%s", v->rule);
            s_row(w, row, false);
        }
        s_table_close(w);
        s_more(w, r->review_count, r->review_total);
    }
    free(row);
}

/* The heading's lines of a table as known on a day: that day, and what
 * came after it. */
static void s_known_on(w_t *w, const ctl_document_t *r, char *buf, size_t cap)
{
    char d[16], k[16];
    s_date(r->as_of, d);
    s_date(r->known_on, k);
    snprintf(buf, cap, "%s（截至 %s）/ as of %s, as known on %s", k, d, d, k);
    s_kv(w, "所知日期 Known on", buf);
    if (r->corrections_after)
        snprintf(buf, cap,
                 "%s 之后有 %u 项更正和审核决定 / %u correction%s and review decision%s came "
                 "after %s",
                 k, r->corrections_after, r->corrections_after,
                 r->corrections_after == 1 ? "" : "s", r->corrections_after == 1 ? "" : "s", k);
    else
        snprintf(buf, cap,
                 "%s 之后没有更正和审核决定 / no correction or review decision came after %s", k,
                 k);
    s_kv(w, "其后更正 Corrected after", buf);
}

int ctl_document_targets(FILE *out, ctl_document_format_t fmt, const ctl_document_t *r)
{
    if (!r || !r->targets || !r->province || (unsigned)fmt > CTL_DOCUMENT_HTML)
        return -1;
    size_t n = ro_targets_count(r->targets);
    if (r->laggard_indicator >= n || r->series_indicator >= n || r->province->indicator_count != n)
        return -1;
    w_t w = {out, fmt, r->no_bom};
    const char *title = r->title ? r->title : DEFAULT_TITLE;
    char buf[CELL_MAX], d[16];
    s_doc_begin(&w, title);
    s_heading(&w, 1, "项目绩效目标表 Performance target table");
    s_kv(&w, "项目名称 Project", title);
    s_kv(&w, "截至 As of", s_date(r->as_of, d));
    if (r->known_on)
        s_known_on(&w, r, buf, sizeof buf);
    snprintf(buf, sizeof buf, "%u 个单位，%u 个已报告 / %u units, %u reporting",
             (unsigned)r->province->units, (unsigned)r->province->units_reporting,
             (unsigned)r->province->units, (unsigned)r->province->units_reporting);
    s_kv(&w, "范围 Scope", buf);
    s_rests_key(&w, r->province);
    if (r->note)
        s_kv(&w, "说明 Note", r->note);
    s_gap(&w);

    s_heading(&w, 2, "绩效目标完成情况 Targets and results — 全省 Province");
    s_targets_table(&w, r);
    snprintf(buf, sizeof buf, "%s %s", ro_grade_label(r->province->grade),
             ro_grade_name(r->province->grade));
    s_kv(&w, "全省总评 Overall grade", buf);
    s_gap(&w);
    const char *why[RO_INDICATORS_MAX];
    char reasons[RO_INDICATORS_MAX][512];
    size_t nwhy = 0;
    for (size_t i = 0; i < r->province->indicator_count; i++) {
        if (!(r->province->why & (1u << i)))
            continue;
        ro_scope_reason(r->targets, r->province, i, reasons[nwhy], sizeof reasons[nwhy]);
        why[nwhy] = reasons[nwhy];
        nwhy++;
    }
    if (nwhy)
        s_list(&w, "需关注 Needs attention", why, nwhy);

    if (r->level_count) {
        s_heading(&w, 2, "按层级 By level");
        s_scopes_table(&w, r, r->levels, r->level_count, false);
    }
    if (r->division_count) {
        s_heading(&w, 2, "按市县 By division (18 市县 + 省直属单位 provincial units)");
        s_scopes_table(&w, r, r->divisions, r->division_count, true);
    }
    const ro_indicator_t *lag = ro_targets_at(r->targets, r->laggard_indicator);
    snprintf(buf, sizeof buf, "滞后单位 Laggards — %s %s", lag->label_zh, lag->label_en);
    s_heading(&w, 2, buf);
    s_laggards_table(&w, r);

    if (fmt == CTL_DOCUMENT_HTML) {
        s_rests_lists(&w, r);
        s_heading(&w, 2, "图表 Charts");
        if (r->division_count)
            for (size_t i = 0; i < n; i++)
                s_chart_divisions(&w, r, i);
        s_chart_series(&w, r);
    }
    return s_doc_end(&w);
}

/* ---- the score sheet --------------------------------------------------- */

static size_t s_leaves_under(const ctl_scoresheet_t *sheet, size_t i)
{
    size_t n = 0;
    const ctl_score_node_t *node = ctl_scoresheet_at(sheet, i);
    for (size_t j = i + 1; j < ctl_scoresheet_count(sheet); j++) {
        const ctl_score_node_t *m = ctl_scoresheet_at(sheet, j);
        if (m->depth <= node->depth)
            break;
        n += m->depth == 3;
    }
    return n;
}

/* The score sheet's subtotals table: the level-1 and level-2 scores. */
static void s_sheet_subtotals(w_t *w, row_t *row, const ctl_scoresheet_t *sheet,
                              const ctl_score_result_t *res)
{
    char a[64];
    /* the document shows only the leaves' scores; the subtotals help reading it */
    s_heading(w, 2, "分项得分 Subtotals");
    memset(row, 0, sizeof *row);
    s_cell(row, 0, 0, "级 Level");
    s_cell(row, 0, 0, "指标 Item");
    s_cell(row, 0, 0, "分值 Points");
    s_cell(row, 0, 0, "得分 Score");
    s_table_open(w);
    s_row(w, row, true);
    for (size_t i = 0; i < ctl_scoresheet_count(sheet); i++) {
        const ctl_score_node_t *node = ctl_scoresheet_at(sheet, i);
        if (node->depth == 3)
            continue;
        memset(row, 0, sizeof *row);
        s_cell(row, 0, 0, "%s", node->depth == 1 ? "一级 1" : "二级 2");
        s_cell(row, 0, 0, "%s %s", node->label_zh, node->label_en);
        s_cell(row, 0, 0, "%s", s_num(node->points, a, sizeof a));
        s_cell(row, 0, 0, "%s", s_num(res->score[i], a, sizeof a));
        s_row(w, row, false);
    }
    s_table_close(w);
}

/* The score sheet's funds table and the ratios the computed items use. */
static void s_sheet_funds(w_t *w, row_t *row, const ctl_document_sheet_t *r,
                          const ctl_score_result_t *res)
{
    char a[64];
    s_heading(w, 2, "资金 Funds (万元)");
    memset(row, 0, sizeof *row);
    s_cell(row, 0, 0, "年度 Year");
    s_cell(row, 0, 0, "到位 Allocated");
    s_cell(row, 0, 0, "使用 Spent");
    s_table_open(w);
    s_row(w, row, true);
    for (size_t y = 0; y < r->scores->year_count; y++) {
        const ctl_fund_year_t *fy = &r->scores->funds[y];
        memset(row, 0, sizeof *row);
        s_cell(row, 0, 0, "%u", (unsigned)fy->year);
        s_cell(row, 0, 0, "%.2f", fy->allocated);
        s_cell(row, 0, 0, "%.2f", fy->spent);
        s_row(w, row, false);
    }
    memset(row, 0, sizeof *row);
    s_cell(row, 0, 0, "合计 Total");
    s_cell(row, 0, 0, "%.2f", res->allocated);
    s_cell(row, 0, 0, "%.2f", res->spent);
    s_row(w, row, false);
    s_table_close(w);
    snprintf(a, sizeof a, "%.2f", res->planned);
    s_kv(w, "计划投资额 Planned", a);
    s_kv(w, "到位率 Allocated / planned", s_pct(res->allocated / res->planned, a, sizeof a));
    s_kv(w, "使用率 Spent / allocated",
         s_pct(res->allocated > 0 ? res->spent / res->allocated : NAN, a, sizeof a));
    s_kv(w, "执行率 Spent / planned", s_pct(res->spent / res->planned, a, sizeof a));
}

/* What output attainment rests on: the marks of the province's output
 * indicators, each kind of report once (people and hours are both counted
 * from training). */
static void s_sheet_rests(const ctl_document_sheet_t *r, char *buf, size_t len)
{
    uint64_t n[3] = {0};
    bool training = false;
    buf[0] = '\0';
    if (!r->province || !r->targets)
        return;
    for (size_t i = 0; i < r->province->indicator_count && i < ro_targets_count(r->targets); i++) {
        const ro_indicator_t *ind = ro_targets_at(r->targets, i);
        const ro_result_t *res = &r->province->indicators[i];
        bool sum = ind->source == RO_SOURCE_PARTICIPANTS || ind->source == RO_SOURCE_HOURS;
        if (ind->type != RO_TYPE_OUTPUT || (sum && training))
            continue;
        training |= sum;
        n[0] += res->corrected, n[1] += res->held_review, n[2] += res->rejected;
    }
    s_rests(n[0], n[1], n[2], buf, len);
}

int ctl_document_scoresheet(FILE *out, ctl_document_format_t fmt, const ctl_document_sheet_t *r)
{
    if (!r || !r->sheet || !r->scores || !r->result || (unsigned)fmt > CTL_DOCUMENT_HTML ||
        r->result->count != ctl_scoresheet_count(r->sheet))
        return -1;
    const ctl_scoresheet_t *sheet = r->sheet;
    const ctl_score_result_t *res = r->result;
    w_t w = {out, fmt, r->no_bom};
    const char *title = r->title ? r->title : DEFAULT_TITLE;
    char a[64], b[64], c[64], buf[CELL_MAX], rests[96];
    row_t *row = calloc(1, sizeof *row);
    if (!row)
        return -1;
    s_sheet_rests(r, rests, sizeof rests);
    s_doc_begin(&w, title);
    s_heading(&w, 1, "绩效评价指标评分 Performance evaluation score sheet");
    s_kv(&w, "项目名称 Project", title);
    if (r->scores->year) {
        snprintf(a, sizeof a, "%u", (unsigned)r->scores->year);
        s_kv(&w, "评价年度 Year evaluated", a);
    }
    if (r->scores->date)
        s_kv(&w, "评价日期 Date of evaluation", s_date(r->scores->date, a));
    if (r->province)
        s_rests_key(&w, r->province);
    if (r->note)
        s_kv(&w, "说明 Note", r->note);
    s_gap(&w);

    s_heading(&w, 2, "评分 Scores");
    const char *head[] = {"一级指标 Level 1", "分值 Points", "二级指标 Level 2", "分值 Points",
                          "三级指标 Level 3", "分值 Points", "得分 Score",       "计分方法 Method"};
    s_table_head(&w, row, head, sizeof head / sizeof head[0]);
    double points[4] = {0};
    int l1 = -1, l2 = -1;
    for (size_t i = 0; i < ctl_scoresheet_count(sheet); i++) {
        const ctl_score_node_t *node = ctl_scoresheet_at(sheet, i);
        points[node->depth] += node->points;
        if (node->depth == 1) {
            l1 = (int)i;
            continue;
        }
        if (node->depth == 2) {
            l2 = (int)i;
            continue;
        }
        const ctl_score_node_t *n1 = ctl_scoresheet_at(sheet, (size_t)l1);
        const ctl_score_node_t *n2 = ctl_scoresheet_at(sheet, (size_t)l2);
        /* a level-1 or level-2 cell spans its leaves, as the document merges them */
        bool first1 = (size_t)l1 + 2 == i, first2 = (size_t)l2 + 1 == i;
        int span1 = first1 ? (int)s_leaves_under(sheet, (size_t)l1) : -1;
        int span2 = first2 ? (int)s_leaves_under(sheet, (size_t)l2) : -1;
        memset(row, 0, sizeof *row);
        s_cell(row, span1, 0, "%s %s", n1->label_zh, n1->label_en);
        s_cell(row, span1, 0, "%s", s_num(n1->points, a, sizeof a));
        s_cell(row, span2, 0, "%s %s", n2->label_zh, n2->label_en);
        s_cell(row, span2, 0, "%s", s_num(n2->points, a, sizeof a));
        s_cell(row, 0, 0, "%s %s", node->label_zh, node->label_en);
        s_cell(row, 0, 0, "%s", s_num(node->points, a, sizeof a));
        s_cell(row, 0, 0, "%s", s_num(res->score[i], a, sizeof a));
        if (node->method == CTL_METHOD_JUDGMENT)
            snprintf(buf, sizeof buf, "评价 %s", ctl_score_method_formula(node->method));
        else
            snprintf(buf, sizeof buf, "%s = %s × %s%s", ctl_score_method_formula(node->method),
                     s_num(node->points, b, sizeof b), s_pct(res->ratio[i], c, sizeof c),
                     node->method == CTL_METHOD_OUTPUT_ATTAINMENT ? rests : "");
        s_cell(row, 0, 0, "%s", buf);
        s_row(&w, row, false);
    }
    memset(row, 0, sizeof *row);
    s_cell(row, 0, 0, "总分 Total");
    s_cell(row, 0, 0, "%s", s_num(points[1], a, sizeof a));
    s_cell(row, 0, 0, "%s", "");
    s_cell(row, 0, 0, "%s", s_num(points[2], a, sizeof a));
    s_cell(row, 0, 0, "%s", "");
    s_cell(row, 0, 0, "%s", s_num(points[3], a, sizeof a));
    s_cell(row, 0, 0, "%.2f", res->total);
    s_cell(row, 0, 0, "%s", "");
    s_row(&w, row, false);
    memset(row, 0, sizeof *row);
    s_cell(row, 0, 0, "评价等次 Grade");
    s_grade_cell(row, res->grade);
    for (int k = 0; k < 6; k++)
        s_cell(row, 0, 0, "%s", "");
    s_row(&w, row, false);
    s_table_close(&w);

    s_sheet_subtotals(&w, row, sheet, res);
    s_sheet_funds(&w, row, r, res);
    s_gap(&w);
    free(row);
    return s_doc_end(&w);
}

/* ---- into a string ----------------------------------------------------- */

char *ctl_document_targets_string(ctl_document_format_t fmt, const ctl_document_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = ctl_document_targets(f, fmt, r);
    if (fclose(f) || rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *ctl_document_scoresheet_string(ctl_document_format_t fmt, const ctl_document_sheet_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = ctl_document_scoresheet(f, fmt, r);
    if (fclose(f) || rc) {
        free(buf);
        return NULL;
    }
    return buf;
}
