/* rolloutctl status, metrics and verify: one question to the hub's status
 * socket, the answer printed as a table or as one JSON document. It never
 * opens hub.db: everything it knows comes over the socket. */
#include "commands.h"
#include "document.h"
#include "ro_json.h"
#include "ro_status.h"
#include "ro_time.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---- JSON ------------------------------------------------------------------ */

/* The JSON pieces come from lib/ro_json, the one writer of the status JSON
 * (the hub's /api/status uses it too); these print them to stdout. */
static void s_json_print(ro_buf_t *b)
{
    if (b->data)
        fputs(b->data, stdout);
    ro_buf_free(b);
}

static void s_json_str(const char *s)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_str(&b, s);
    s_json_print(&b);
}

static void s_json_num(double v)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_num(&b, v);
    s_json_print(&b);
}

static void s_json_date(uint32_t d)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_date(&b, d);
    s_json_print(&b);
}

static void s_json_head(const ro_status_reply_t *r)
{
    printf("{\"json_version\":%d,\"as_of\":", RO_JSON_VERSION);
    s_json_date(r->as_of);
    if (r->known_on) {
        fputs(",\"known_on\":", stdout);
        s_json_date(r->known_on);
        printf(",\"corrections_after\":%u", r->corrections_after);
    }
    printf(",\"feed_seq\":%llu,\"feed_epoch\":%llu,\"store_state\":",
           (unsigned long long)r->feed_seq, (unsigned long long)r->feed_epoch);
    s_json_str(r->store_state);
}

void ctl_known_on_line(const ro_status_reply_t *r, char *out, size_t cap)
{
    char as_of[11], known[11];
    out[0] = '\0';
    if (!r->known_on)
        return;
    ro_date_format(r->as_of, as_of);
    ro_date_format(r->known_on, known);
    if (r->corrections_after)
        snprintf(out, cap,
                 "as of %s, as known on %s: %u correction%s and review decision%s came "
                 "after %s",
                 as_of, known, r->corrections_after, r->corrections_after == 1 ? "" : "s",
                 r->corrections_after == 1 ? "" : "s", known);
    else
        snprintf(out, cap,
                 "as of %s, as known on %s: no correction or review decision came after "
                 "%s",
                 as_of, known, known);
}

/* A number, or null when the indicator has no data. */
static void s_json_value(double v, int no_data)
{
    if (no_data)
        fputs("null", stdout);
    else
        s_json_num(v);
}

static void s_json_scope(const ro_status_scope_t *s)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_scope(&b, s);
    s_json_print(&b);
}

/* The points [from, to) of a history or series. */
static void s_json_points(const ro_status_reply_t *r, size_t from, size_t to)
{
    fputs(",\"history\":[", stdout);
    for (size_t i = from; i < to; i++) {
        const ro_status_point_t *p = &r->history[i];
        fputs(i > from ? ",{\"date\":" : "{\"date\":", stdout);
        s_json_date(p->date);
        fputs(",\"value\":", stdout);
        s_json_value(p->value, p->no_data);
        printf(",\"no_data\":%s,\"seq\":%llu,\"total\":%llu,\"part\":%llu}",
               p->no_data ? "true" : "false", (unsigned long long)p->seq,
               (unsigned long long)p->total, (unsigned long long)p->part);
    }
    putchar(']');
}

/* ---- tables ---------------------------------------------------------------- */

static void s_part_of(const char *label, uint64_t part, uint64_t total)
{
    char pct[32];
    if (total == 0)
        printf("  %-18s %llu / %llu\n", label, (unsigned long long)part, (unsigned long long)total);
    else
        printf("  %-18s %llu / %llu (%s)\n", label, (unsigned long long)part,
               (unsigned long long)total, ro_pct_format(part, total, pct, sizeof pct));
}

static void s_when(int64_t t, int64_t now)
{
    if (t <= 0) {
        puts("never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    int64_t ago = now - t;
    if (ago < 0)
        printf("%s\n", buf);
    else if (ago < 120)
        printf("%s (%llds ago)\n", buf, (long long)ago);
    else if (ago < 7200)
        printf("%s (%lld min ago)\n", buf, (long long)(ago / 60));
    else if (ago < 2 * 86400)
        printf("%s (%lld h ago)\n", buf, (long long)(ago / 3600));
    else
        printf("%s (%lld days ago)\n", buf, (long long)(ago / 86400));
}

/* Format a value the way the hub's targets would ("55.0%", "1540", "270.0");
 * no data in ASCII, so that byte-padded columns line up. */
static const char *s_fmt(const char *measure, double v, int no_data, char *buf, size_t len)
{
    if (no_data) {
        snprintf(buf, len, "no data");
        return buf;
    }
    ro_indicator_t ind;
    memset(&ind, 0, sizeof ind);
    ind.measure = !strcmp(measure, "percent") ? RO_MEASURE_PERCENT
                  : !strcmp(measure, "hours") ? RO_MEASURE_HOURS
                                              : RO_MEASURE_PEOPLE;
    return ro_indicator_format(&ind, v, buf, len);
}

static const char *s_date_or(uint32_t d, const char *none, char *buf)
{
    if (!d)
        return none;
    ro_date_format(d, buf);
    return buf;
}

ctl_document_milestone_t ctl_row_milestone(const ro_status_indicator_t *in)
{
    ro_result_t res;
    memset(&res, 0, sizeof res);
    if (ro_milestone_status_parse(in->milestone, &res.milestone))
        res.milestone = RO_MILESTONE_NONE;
    res.no_data = in->no_data;
    res.value = in->value;
    res.next_date = in->next_date;
    res.next_goal = in->next_goal;
    res.gap = in->gap;
    res.due_date = in->due_date;
    res.due_goal = in->due_goal;
    return ctl_document_row_milestone(&res);
}

/* The indicators of a scope: value, goal, share, grade, milestone status,
 * the milestone it is about (ctl_row_milestone: its due date, target and the
 * gap to it); then why each one that falls short does. */
static void s_table_indicators(const ro_status_scope_t *s)
{
    if (!s->n_indicators)
        return;
    printf("  %-24s %9s %9s %7s %-5s %-9s %-10s %9s %9s\n", "indicator", "value", "goal", "share",
           "grade", "milestone", "due", "target", "gap");
    for (size_t i = 0; i < s->n_indicators; i++) {
        const ro_status_indicator_t *in = &s->indicators[i];
        ctl_document_milestone_t m = ctl_row_milestone(in);
        char v[32], g[32], ng[32], gap[32], d[16], share[16] = "-";
        if (!in->no_data)
            ro_pct_format_ratio(in->share, share, sizeof share);
        /* the grade is one CJK character (3 bytes, 2 columns): pad by hand */
        printf("  %-24s %9s %9s %7s %s    %-9s %-10s %9s %9s\n", in->id,
               s_fmt(in->measure, in->value, in->no_data, v, sizeof v),
               s_fmt(in->measure, in->goal, 0, g, sizeof g), share, in->grade, in->milestone,
               s_date_or(m.date, "-", d), s_fmt(in->measure, m.goal, 0, ng, sizeof ng),
               s_fmt(in->measure, m.gap, 0, gap, sizeof gap));
    }
    int why = 0;
    for (size_t i = 0; i < s->n_indicators; i++) {
        if (!s->indicators[i].why[0])
            continue;
        if (!why++)
            printf("  why:\n");
        printf("    - %s\n", s->indicators[i].why);
    }
}

static void s_table_scope(const ro_status_scope_t *s, const ro_status_reply_t *r)
{
    char date[16];
    ro_date_format(r->as_of, date);
    int unit = strcmp(s->kind, "unit") == 0;
    printf("%s %s %s", s->kind, s->id, s->name);
    if (unit)
        printf(" (%s, division %s)", s->level, s->division);
    else if (s->level[0])
        printf(" (%s)", s->level);
    printf("  as of %s, store %s, feed seq %llu\n", date, r->store_state,
           (unsigned long long)r->feed_seq);
    printf("  %-18s %llu\n", "participants", (unsigned long long)s->participants);
    printf("  %-18s %llu.%llu\n", "training hours", (unsigned long long)(s->hours_tenths / 10),
           (unsigned long long)(s->hours_tenths % 10));
    printf("  %-18s %llu\n", "sessions", (unsigned long long)s->sessions);
    s_part_of("staff proficient", s->staff_proficient, s->staff_total);
    s_part_of("no-visit items", s->items_no_visit, s->items_total);
    s_part_of("no-visit cases", s->cases_no_visit, s->cases_total);
    if (!unit)
        printf("  %-18s %u / %u\n", "units reporting", s->units_reporting, s->units);
    printf("  %-18s %llu\n", "reports", (unsigned long long)s->reports);
    if (s->corrected || s->held_review || s->rejected) /* what the figures rest on */
        printf("  %-18s %llu corrected, %llu held for review, %llu rejected\n", "not counted",
               (unsigned long long)s->corrected, (unsigned long long)s->held_review,
               (unsigned long long)s->rejected);
    if (unit)
        printf("  %-18s %llu\n", "last seq", (unsigned long long)s->last_seq);
    printf("  %-18s ", "last heard");
    s_when(s->last_heard, ro_time_now());
    if (unit && s->flags) {
        printf("  %-18s", "flagged");
        for (unsigned i = 0; i < RO_SCOPE_FLAG_COUNT; i++)
            if (s->flags & (1u << i))
                printf(" %s", ro_scope_flag_name(i));
        printf(" (rolloutctl status --problems says what to do)\n");
    }
    if (s->grade[0])
        printf("  %-18s %s\n", "grade", s->grade);
    s_table_indicators(s);
}

/* Divisions: one line each, every indicator's value and grade. */
static void s_table_divisions(const ro_status_reply_t *r)
{
    char date[16];
    ro_date_format(r->as_of, date);
    printf("divisions as of %s", date);
    const ro_status_scope_t *first = r->n_scopes ? &r->scopes[0] : NULL;
    for (size_t i = 0; first && i < first->n_indicators; i++)
        printf("%s [%zu] %s", i ? "," : ";", i + 1, first->indicators[i].id);
    printf("\n%-7s %5s %5s", "code", "units", "rep");
    for (size_t i = 0; first && i < first->n_indicators; i++) {
        char h[24];
        snprintf(h, sizeof h, "[%zu]", i + 1);
        printf(" %11s   ", h);
    }
    printf(" %-7s %s\n", "overall", "name");
    for (size_t k = 0; k < r->n_scopes; k++) {
        const ro_status_scope_t *s = &r->scopes[k];
        printf("%-7s %5u %5u", s->id, s->units, s->units_reporting);
        for (size_t i = 0; i < s->n_indicators; i++) {
            const ro_status_indicator_t *in = &s->indicators[i];
            char v[32];
            printf(" %11s %s", s_fmt(in->measure, in->value, in->no_data, v, sizeof v), in->grade);
        }
        printf(" %s      %s\n", s->grade, s->name);
    }
}

/* The indicator of a unit scope that a laggard list is about. */
static const ro_status_indicator_t *s_find_indicator(const ro_status_scope_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_indicators; i++)
        if (!strcmp(s->indicators[i].id, id))
            return &s->indicators[i];
    return NULL;
}

static void s_table_laggards(const ro_status_reply_t *r)
{
    char date[16];
    ro_date_format(r->as_of, date);
    const ro_status_indicator_t *head =
        r->n_scopes ? s_find_indicator(&r->scopes[0], r->indicator) : NULL;
    printf("laggards on %s%s%s as of %s: %u unit%s behind", r->indicator, head ? " " : "",
           head ? head->label_zh : "", date, r->total, r->total == 1 ? "" : "s");
    if (r->n_scopes < r->total)
        printf(", %zu shown", r->n_scopes);
    printf("\n");
    if (!r->n_scopes)
        return;
    printf("%4s  %-12s %8s %8s %-10s %8s  %-9s %-8s %s\n", "#", "unit", "value", "target", "due",
           "gap", "status", "division", "name");
    for (size_t k = 0; k < r->n_scopes; k++) {
        const ro_status_scope_t *s = &r->scopes[k];
        const ro_status_indicator_t *in = s_find_indicator(s, r->indicator);
        if (!in)
            continue;
        ctl_document_milestone_t m = ctl_row_milestone(in);
        char v[32], t[32], g[32], d[16];
        printf("%4zu  %-12s %8s %8s %-10s %8s  %-9s %-8s %s\n", k + 1, s->id,
               s_fmt(in->measure, in->value, in->no_data, v, sizeof v),
               s_fmt(in->measure, m.goal, 0, t, sizeof t), s_date_or(m.date, "-", d),
               s_fmt(in->measure, m.gap, 0, g, sizeof g), in->milestone, s->division, s->name);
    }
}

static void s_table_silent(const ro_status_reply_t *r)
{
    double after = 0;
    for (size_t i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i].name, "silent_after"))
            after = r->metrics[i].value;
    printf("silent units (nothing heard for %.0f s or more): %u", after, r->total);
    if (r->n_scopes < r->total)
        printf(", %zu shown", r->n_scopes);
    printf("\n");
    if (!r->n_scopes)
        return;
    printf("%-12s %-8s %-40s %s\n", "unit", "division", "last heard", "name");
    int64_t now = ro_time_now();
    for (size_t k = 0; k < r->n_scopes; k++) {
        const ro_status_scope_t *s = &r->scopes[k];
        printf("%-12s %-8s ", s->id, s->division);
        char when[64] = "never";
        if (s->last_heard > 0) {
            time_t tt = (time_t)s->last_heard;
            struct tm tm;
            gmtime_r(&tt, &tm);
            char buf[32];
            strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
            snprintf(when, sizeof when, "%s (%lld h ago)", buf,
                     (long long)((now - s->last_heard) / 3600));
        }
        printf("%-40s %s\n", when, s->name);
    }
}

/* HISTORY (one unit) or SERIES (the province): date, value, and the counts
 * of the points [from, to); a series cut short of as_of says where it ends. */
static void s_table_points(const ro_status_reply_t *r, int history, size_t from, size_t to)
{
    char date[16];
    ro_date_format(r->as_of, date);
    const ro_status_scope_t *s = r->n_scopes ? &r->scopes[0] : NULL;
    const ro_status_indicator_t *in = s ? s_find_indicator(s, r->indicator) : NULL;
    const char *measure = in ? in->measure : "people";
    int ratio = !strcmp(measure, "percent");
    if (history && s) {
        printf("history of %s for %s %s, as of %s: %zu report%s\n", r->indicator, s->id, s->name,
               date, r->n_history, r->n_history == 1 ? "" : "s");
    } else if (to < r->n_history) {
        char end[16];
        ro_date_format(r->history[to - 1].date, end);
        printf("the province's %s as of each month end, to %s (its last change or the targets' "
               "last milestone; unchanged to %s: --as-of DATE runs to DATE)\n",
               r->indicator, end, date);
    } else {
        printf("the province's %s as of each month end, to %s\n", r->indicator, date);
    }
    if (history)
        printf("%-10s %6s %9s  %s\n", "date", "seq", "value",
               ratio ? "part / total" : "this report");
    else
        printf("%-10s %9s  %s\n", "date", "value", ratio ? "part / total" : "");
    for (size_t i = from; i < to; i++) {
        const ro_status_point_t *p = &r->history[i];
        char d[16], v[32];
        ro_date_format(p->date, d);
        s_fmt(measure, p->value, p->no_data, v, sizeof v);
        if (history)
            printf("%-10s %6llu %9s  ", d, (unsigned long long)p->seq, v);
        else
            printf("%-10s %9s  ", d, v);
        if (ratio)
            printf("%llu / %llu\n", (unsigned long long)p->part, (unsigned long long)p->total);
        else if (history)
            printf("+%llu people, +%llu.%llu h\n", (unsigned long long)p->total,
                   (unsigned long long)(p->part / 10), (unsigned long long)(p->part % 10));
        else
            putchar('\n');
    }
}

/* Where a series without --as-of ends: it runs to today, long after the
 * rollout ended, so it stops where ctl_document_series_end says (the later
 * of its last change and the targets' last milestone), as the report's
 * chart does. The province scope sent with it carries each indicator's
 * latest due milestone (due_date) and the next one (next_date); once every
 * milestone is due the latest of them is the last. Returns the number of
 * points to show, from the first (all of them if memory ran out). */
static size_t s_series_end(const ro_status_reply_t *r)
{
    size_t n = r->n_history;
    ctl_document_point_t *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return n;
    for (size_t i = 0; i < n; i++) {
        const ro_status_point_t *h = &r->history[i];
        p[i].date = h->date;
        p[i].share = h->no_data ? NAN : h->value;
        p[i].part = h->part;
        p[i].total = h->total;
    }
    uint32_t last = 0;
    const ro_status_scope_t *s = r->n_scopes ? &r->scopes[0] : NULL;
    for (size_t i = 0; s && i < s->n_indicators; i++) {
        const ro_status_indicator_t *in = &s->indicators[i];
        last = in->due_date > last ? in->due_date : last;
        last = in->next_date > last ? in->next_date : last;
    }
    size_t to = ctl_document_series_end(p, n, last);
    free(p);
    return to;
}

static void s_table_problems(const ro_status_reply_t *r)
{
    int64_t now = ro_time_now();
    printf("problems: %u", r->total);
    if (r->n_problems < r->total)
        printf(", %zu shown (--limit N for more)", r->n_problems);
    printf("\n");
    for (size_t k = 0; k < r->n_problems; k++) {
        const ro_status_problem_t *p = &r->problems[k];
        printf("\n%-12s %-8s since ", p->unit, p->kind);
        s_when(p->since, now);
        printf("  %s\n", p->text);
        if (p->what_to_do[0])
            printf("  what to do: %s\n", p->what_to_do);
    }
}

static void s_json_problems(const ro_status_reply_t *r)
{
    fputs(",\"problems\":[", stdout);
    for (size_t i = 0; i < r->n_problems; i++) {
        const ro_status_problem_t *p = &r->problems[i];
        fputs(i ? ",{\"unit\":" : "{\"unit\":", stdout);
        s_json_str(p->unit);
        fputs(",\"kind\":", stdout);
        s_json_str(p->kind);
        printf(",\"since\":%lld,\"text\":", (long long)p->since);
        s_json_str(p->text);
        fputs(",\"what_to_do\":", stdout);
        s_json_str(p->what_to_do);
        putchar('}');
    }
    putchar(']');
}

/* A report's figures as the trail shows them: its date (left out when
 * same_date), then people and hours for training, part / total else. */
static void s_figures(const char *kind, uint32_t date, uint64_t total, uint64_t part, int same_date,
                      char *buf, size_t len)
{
    char d[16] = "";
    if (!same_date)
        ro_date_format(date, d);
    if (!strcmp(kind, "training"))
        snprintf(buf, len, "%s%s%llu people %llu.%llu h", d, d[0] ? " " : "",
                 (unsigned long long)total, (unsigned long long)(part / 10),
                 (unsigned long long)(part % 10));
    else
        snprintf(buf, len, "%s%s%llu / %llu", d, d[0] ? " " : "", (unsigned long long)part,
                 (unsigned long long)total);
}

/* The unit's corrections below its history (TRAIL): one line each, newest
 * first; trail NULL: the hub does not list them (older than the trail). */
static void s_table_trail(const ro_status_reply_t *t)
{
    if (!t) {
        printf("\ncorrections: this hub does not list them (it is older than the trail)\n");
        return;
    }
    if (!t->n_trail) {
        printf("\nno corrections\n");
        return;
    }
    printf("\ncorrections: %u, newest first", t->total);
    if (t->n_trail < t->total)
        printf(", %zu shown", t->n_trail);
    /* the arrow is 3 bytes in 1 column: the figures are padded by hand */
    enum { FIG = 46 };
    printf("\n%-19s  %-6s %6s  %-8s  was → now%*s  %-12s %s\n", "when (UTC)", "what", "target",
           "kind", FIG - 9, "", "by", "reason");
    for (size_t k = 0; k < t->n_trail; k++) {
        const ro_status_trail_t *e = &t->trail[k];
        char when[32] = "", was[64], now[64] = "cancelled", fig[160];
        time_t tt = (time_t)e->at;
        struct tm tm;
        if (gmtime_r(&tt, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        s_figures(e->target_kind, e->target_date, e->target_total, e->target_part, 0, was,
                  sizeof was);
        if (!strcmp(e->what, "amend"))
            s_figures(e->target_kind, e->new_date, e->new_total, e->new_part,
                      e->new_date == e->target_date, now, sizeof now);
        int pad = FIG - (snprintf(fig, sizeof fig, "%s → %s", was, now) - 2);
        printf("%-19s  %-6s %6llu  %-8s  %s%*s  %-12s %s\n", when, e->what,
               (unsigned long long)e->target_seq, e->target_kind, fig, pad > 0 ? pad : 0, "",
               e->by[0] ? e->by : "-", e->reason);
    }
}

static void s_json_trail(const ro_status_reply_t *t)
{
    if (!t)
        return; /* a hub older than the trail: no key rather than an empty list */
    printf(",\"trail_total\":%u,\"trail\":[", t->total);
    for (size_t i = 0; i < t->n_trail; i++) {
        ro_buf_t b;
        ro_buf_init(&b);
        if (i)
            ro_buf_puts(&b, ",");
        ro_json_trail(&b, &t->trail[i]);
        s_json_print(&b);
    }
    putchar(']');
}

/* The request a status command asks. */
static ro_status_request_t s_status_request(const ctl_status_args_t *a)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_PROVINCE);
    if (a->unit) {
        req.query = RO_QUERY_UNIT;
        snprintf(req.key, sizeof req.key, "%s", a->unit);
    } else if (a->division) {
        req.query = RO_QUERY_DIVISION;
        snprintf(req.key, sizeof req.key, "%s", a->division);
    } else if (a->level) {
        req.query = RO_QUERY_LEVEL;
        snprintf(req.key, sizeof req.key, "%s", a->level);
    } else if (a->divisions) {
        req.query = RO_QUERY_DIVISIONS;
    } else if (a->laggards) {
        req.query = RO_QUERY_LAGGARDS;
        req.limit = a->limit < 0 ? 20 : (uint32_t)a->limit;
    } else if (a->silent) {
        req.query = RO_QUERY_SILENT;
        req.limit = a->limit < 0 ? 50 : (uint32_t)a->limit;
    } else if (a->problems) {
        req.query = RO_QUERY_PROBLEMS;
        req.limit = a->limit < 0 ? 50 : (uint32_t)a->limit;
    } else if (a->history) {
        req.query = RO_QUERY_HISTORY;
        snprintf(req.key, sizeof req.key, "%s", a->history);
        req.limit = a->limit < 0 ? 0 : (uint32_t)a->limit;
    } else if (a->series) {
        req.query = RO_QUERY_SERIES;
        /* without --as-of the series is cut at its end first (s_series_end),
         * then --limit applies, here */
        req.limit = a->limit < 0 || !a->as_of ? 0 : (uint32_t)a->limit;
    }
    if (a->indicator)
        snprintf(req.indicator, sizeof req.indicator, "%s", a->indicator);
    req.as_of = a->as_of;
    req.known_on = a->known_on;
    return req;
}

/* The trail of --history's unit into *out: 0, or the exit status after
 * saying why. A hub older than the trail (it answers "unknown query") is
 * not a failure: *out stays NULL and the history is shown without it. */
static int s_ask_trail(const ctl_status_args_t *a, const ctl_hub_t *hub, ro_status_reply_t **out)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_TRAIL);
    snprintf(req.key, sizeof req.key, "%s", a->history);
    *out = NULL;
    ro_status_reply_t *t = ctl_ask(hub, &req);
    if (!t)
        return 1;
    if (t->status == 2 && !strncmp(t->error, "unknown query", 13)) {
        ro_status_reply_free(&t);
        return 0;
    }
    int code = ctl_reply_failed(t);
    if (code)
        ro_status_reply_free(&t);
    *out = t;
    return code;
}

/* r answers a's question; trail (may be NULL) --history's corrections. */
static void s_print_status(const ctl_status_args_t *a, const ro_status_reply_t *r,
                           const ro_status_reply_t *trail)
{
    int points = a->history || a->series;
    size_t from = 0, to = r->n_history;
    if (a->series && !a->as_of) {
        to = s_series_end(r);
        if (a->limit > 0 && to > (size_t)a->limit)
            from = to - (size_t)a->limit;
    }
    if (a->json) {
        s_json_head(r);
        if (r->indicator[0]) {
            fputs(",\"indicator\":", stdout);
            s_json_str(r->indicator);
        }
        if (a->laggards || a->silent || a->problems)
            printf(",\"total\":%u", r->total);
        if (a->problems)
            s_json_problems(r);
        if (a->silent)
            for (size_t i = 0; i < r->n_metrics; i++)
                if (!strcmp(r->metrics[i].name, "silent_after"))
                    printf(",\"silent_after\":%.0f", r->metrics[i].value);
        fputs(",\"scopes\":[", stdout);
        for (size_t i = 0; i < r->n_scopes; i++) {
            if (i)
                putchar(',');
            s_json_scope(&r->scopes[i]);
        }
        putchar(']');
        if (points)
            s_json_points(r, from, to);
        if (a->history)
            s_json_trail(trail);
        fputs("}\n", stdout);
        return;
    }
    if (a->divisions) {
        s_table_divisions(r);
    } else if (a->laggards) {
        s_table_laggards(r);
    } else if (a->silent) {
        s_table_silent(r);
    } else if (a->problems) {
        s_table_problems(r);
    } else if (points) {
        s_table_points(r, a->history != NULL, from, to);
        if (a->history)
            s_table_trail(trail);
    } else {
        for (size_t i = 0; i < r->n_scopes; i++) {
            if (i)
                putchar('\n');
            s_table_scope(&r->scopes[i], r);
        }
    }
    char line[160];
    ctl_known_on_line(r, line, sizeof line);
    if (line[0])
        printf("\n%s\n", line);
    if (strcmp(r->store_state, "ok") != 0)
        printf("\nstore %s: ingest is paused until the hub can write again\n", r->store_state);
}

int ctl_status_run(const ctl_status_args_t *a, const ctl_hub_t *hub)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_VERIFY);
    if (!strcmp(a->command, "status"))
        req = s_status_request(a);
    else if (!strcmp(a->command, "metrics"))
        req.query = RO_QUERY_METRICS;
    ro_status_reply_t *r = ctl_ask(hub, &req);
    if (!r)
        return 1;
    int code = ctl_reply_failed(r);
    if (code) {
        ro_status_reply_free(&r);
        return code;
    }

    if (!strcmp(a->command, "status")) {
        ro_status_reply_t *trail = NULL;
        if (a->history && (code = s_ask_trail(a, hub, &trail))) {
            ro_status_reply_free(&r);
            return code;
        }
        s_print_status(a, r, trail);
        ro_status_reply_free(&trail);
    } else if (!strcmp(a->command, "metrics")) {
        if (a->json) {
            s_json_head(r);
            fputs(",\"metrics\":[", stdout);
            for (size_t i = 0; i < r->n_metrics; i++) {
                fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
                s_json_str(r->metrics[i].name);
                fputs(",\"value\":", stdout);
                s_json_num(r->metrics[i].value);
                putchar('}');
            }
            fputs("]}\n", stdout);
        } else {
            printf("%-24s %s\n", "store", r->store_state);
            if (r->error[0])
                printf("%-24s %s\n", "store problem", r->error);
            for (size_t i = 0; i < r->n_metrics; i++) {
                printf("%-24s ", r->metrics[i].name);
                s_json_num(r->metrics[i].value);
                putchar('\n');
            }
        }
    } else {
        double diffs = -1, units = 0, reports = 0;
        for (size_t i = 0; i < r->n_metrics; i++) {
            const ro_status_metric_t *m = &r->metrics[i];
            if (!strcmp(m->name, "differences"))
                diffs = m->value;
            else if (!strcmp(m->name, "units_checked"))
                units = m->value;
            else if (!strcmp(m->name, "reports_checked"))
                reports = m->value;
        }
        if (diffs < 0) {
            fprintf(stderr, "rolloutctl: the hub's verify answer carries no result\n");
            code = 1;
        } else if (a->json) {
            printf("{\"json_version\":%d,\"differences\":%.0f,\"units_checked\":%.0f,"
                   "\"reports_checked\":%.0f,\"summary\":",
                   RO_JSON_VERSION, diffs, units, reports);
            s_json_str(r->error);
            fputs("}\n", stdout);
            code = diffs > 0 ? 1 : 0;
        } else if (diffs == 0) {
            printf("ok: the stored aggregates of %.0f units equal the recount of %.0f reports\n",
                   units, reports);
        } else {
            printf("MISMATCH: %s\n", r->error);
            printf("(%.0f units and %.0f reports checked; the raw reports are the truth)\n", units,
                   reports);
            code = 1;
        }
    }
    ro_status_reply_free(&r);
    return code;
}
