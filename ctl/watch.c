/* rolloutctl watch: the operator's live view. Follows the feed with the
 * Clone pattern (lib/ro_clone, snapshots over the status socket) and
 * redraws one frame in place with ANSI codes, plain when not a terminal;
 * --once prints one frame. Evaluation is the hub's, and so is what counts
 * as a problem (PROBLEMS): this only draws. */
#include "commands.h"
#include "ro_clone.h"
#include "ro_codec.h"
#include "ro_json.h"
#include "ro_registry.h"
#include "ro_time.h"
#include "ro_targets.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define FEED_PORT_BELOW_STATUS 1 /* hub.ini's defaults: feed 7451, status 7452 */
#define EXTRAS_EVERY_MS 5000     /* metrics, silent units and problems are asked this often */
#define SILENT_SHOWN 5           /* silent units named */
#define PROBLEMS_SHOWN 5         /* problems listed, with what to do */
#define EVENTS_SHOWN 8           /* latest unit updates shown */
#define ASK_TIMEOUT_MS 2000      /* a status request the live view waits for */

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_resized;
static int s_screen; /* the alternate screen is on: restore it on the way out */

static void s_on_stop(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_on_winch(int sig)
{
    (void)sig;
    s_resized = 1;
}

static void s_restore(void)
{
    if (s_screen) {
        /* show the cursor, reset colours, leave the alternate screen */
        fputs("\x1b[?25h\x1b[0m\x1b[?1049l", stdout);
        fflush(stdout);
        s_screen = 0;
    }
}

static void s_help(void)
{
    printf(
        "usage: rolloutctl [--config FILE] [--hub H] watch [--feed ENDPOINT] [--once]\n"
        "                  [--interval SEC] [--plain]\n"
        "\n"
        "A live view of the province converging on its targets: per indicator the\n"
        "province's progress bar coloured by grade band (优 良 中 差), the next milestone\n"
        "and the gap to it; a table of the divisions; the latest unit updates; silent\n"
        "units and refusals; and the problems: how many units cannot deliver or need a\n"
        "look, and the first 5 (unit, kind, what to do), most urgent first, as\n"
        "`rolloutctl status --problems` lists them (asked every 5 s). It follows the\n"
        "hub's feed and resyncs from the status socket on any gap, so it survives slow\n"
        "links and hub restarts. Ctrl-C quits.\n"
        "\n"
        "  --feed E       the hub's feed socket (default: the status host, the port one\n"
        "                 below the status port: 7451 for 7452, as hub.ini and scripts/demo\n"
        "                 lay them out)\n"
        "  --once         print one frame from a snapshot and exit (for scripts)\n"
        "  --interval S   redraw at most every S seconds (default 0.5; 5 when not a terminal)\n"
        "  --plain        no colours and no cursor movement (also when stdout is not a\n"
        "                 terminal, with NO_COLOR set, or TERM=dumb)\n"
        "\n"
        "With CURVE on, the operator key of --config (ctl.ini) must be on the hub's\n"
        "allow-list; it is used for both the feed and the status socket.\n"
        "\n"
        "exit status: 0 quit or frame printed; 1 no answer from the hub (--once); 2 bad usage.\n");
}

/* ---- display width ---------------------------------------------------------- */

/* Bytes of the UTF-8 sequence at s, with its code point in *cp. */
static size_t s_utf8(const char *s, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = u[0] < 0x80 ? 1 : u[0] < 0xE0 ? 2 : u[0] < 0xF0 ? 3 : 4;
    uint32_t c = n == 1 ? u[0] : n == 2 ? u[0] & 0x1F : n == 3 ? u[0] & 0x0F : u[0] & 0x07;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return i;
        }
        c = (c << 6) | (u[i] & 0x3F);
    }
    *cp = c;
    return n;
}

/* Terminal columns of a code point: 2 for East Asian wide and fullwidth. */
static int s_cp_width(uint32_t c)
{
    return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) ||
                   (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
                   (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
                   (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD)
               ? 2
               : 1;
}

/* s cut to at most width columns (an ellipsis marks a cut) and padded with
 * spaces to exactly width, on the right (left aligned) or the left. */
static void s_pad(ro_buf_t *b, const char *s, int width, int right_align)
{
    int w = 0;
    size_t len = 0, n = strlen(s ? s : "");
    int cut = 0;
    while (len < n) {
        uint32_t cp;
        size_t k = s_utf8(s + len, &cp);
        int cw = s_cp_width(cp);
        if (w + cw > width) {
            cut = 1;
            break;
        }
        w += cw;
        len += k;
    }
    if (cut) {
        /* make room for the ellipsis */
        while (len > 0 && w + 1 > width) {
            size_t back = len - 1;
            while (back > 0 && ((unsigned char)s[back] & 0xC0) == 0x80)
                back--;
            uint32_t cp;
            s_utf8(s + back, &cp);
            w -= s_cp_width(cp);
            len = back;
        }
    }
    int fill = width - w - cut;
    if (right_align)
        for (int i = 0; i < fill; i++)
            ro_buf_puts(b, " ");
    ro_buf_put(b, s ? s : "", len);
    if (cut)
        ro_buf_puts(b, "…");
    if (!right_align)
        for (int i = 0; i < fill; i++)
            ro_buf_puts(b, " ");
}

/* ---- the view ---------------------------------------------------------------- */

typedef struct {
    int color;                         /* ANSI colours */
    int tty;                           /* redraw in place */
    int width;                         /* terminal columns */
    const ro_clone_t *clone;           /* province, levels, divisions, events */
    const ro_status_reply_t *metrics;  /* latest METRICS answer, may be NULL */
    const ro_status_reply_t *silent;   /* latest SILENT answer, may be NULL */
    const ro_status_reply_t *problems; /* latest PROBLEMS answer, may be NULL */
    const char *problems_why;          /* why there is none: "" not asked yet */
    const char *hub;                   /* status endpoint shown */
    const char *feed;                  /* feed endpoint shown ("-" with --once) */
    const char *state;                 /* "live", "snapshot", "resyncing: ..." */
    int64_t now;                       /* wall clock */
} s_view_t;

static const char *s_grade_color(const char *g)
{
    if (!g || !g[0])
        return "\x1b[2m";
    if (!strcmp(g, "优"))
        return "\x1b[32m";
    if (!strcmp(g, "良"))
        return "\x1b[36m";
    if (!strcmp(g, "中"))
        return "\x1b[33m";
    return "\x1b[31m";
}

static void s_on(ro_buf_t *b, const s_view_t *v, const char *code)
{
    if (v->color)
        ro_buf_puts(b, code);
}

static void s_off(ro_buf_t *b, const s_view_t *v)
{
    if (v->color)
        ro_buf_puts(b, "\x1b[0m");
}

/* 1234567 -> "1,234,567" */
static void s_thousands(char *out, size_t cap, double v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* A value in the indicator's measure: "1,912", "87.5 h", "72.4%", "-". */
static void s_value(char *out, size_t cap, const ro_status_indicator_t *in, double v, int no_data)
{
    if (no_data || !isfinite(v))
        snprintf(out, cap, "-");
    else if (in->measure && !strcmp(in->measure, "percent"))
        ro_pct_format_ratio(v, out, cap);
    else if (in->measure && !strcmp(in->measure, "hours"))
        snprintf(out, cap, "%.1f h", v);
    else
        s_thousands(out, cap, v);
}

/* A bar of width cells filled to share (0..1), in eighths. */
static void s_bar(ro_buf_t *b, const s_view_t *v, double share, const char *grade, int width)
{
    static const char *eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    if (!isfinite(share) || share < 0)
        share = 0;
    if (share > 1)
        share = 1;
    int units = (int)lround(share * width * 8);
    int full = units / 8, part = units % 8, used = 0;
    s_on(b, v, s_grade_color(grade));
    for (int i = 0; i < full; i++, used++)
        ro_buf_puts(b, v->color ? "█" : "#");
    if (part && used < width) {
        ro_buf_puts(b, v->color ? eighths[part] : (part >= 4 ? "#" : "."));
        used++;
    }
    s_off(b, v);
    s_on(b, v, "\x1b[2m");
    for (; used < width; used++)
        ro_buf_puts(b, v->color ? "░" : ".");
    s_off(b, v);
}

static void s_grade(ro_buf_t *b, const s_view_t *v, const char *g, int width)
{
    s_on(b, v, s_grade_color(g));
    s_pad(b, g && g[0] ? g : "-", width, 0);
    s_off(b, v);
}

/* Copy line into frame, cut to the terminal width (escape codes take no
 * room), ending it with clear-to-end-of-line in place mode. */
static void s_emit(ro_buf_t *frame, const s_view_t *v, const ro_buf_t *line)
{
    const char *s = line->data ? line->data : "";
    size_t n = line->len, i = 0;
    int w = 0;
    while (i < n) {
        if (s[i] == '\x1b') {
            size_t j = i + 1;
            while (j < n && !(s[j] >= '@' && s[j] <= '~' && s[j] != '['))
                j++;
            ro_buf_put(frame, s + i, j < n ? j - i + 1 : n - i);
            i = j + 1;
            continue;
        }
        uint32_t cp;
        size_t k = s_utf8(s + i, &cp);
        int cw = s_cp_width(cp);
        if (v->width > 0 && w + cw > v->width)
            break;
        ro_buf_put(frame, s + i, k);
        w += cw;
        i += k;
    }
    if (v->color)
        ro_buf_puts(frame, "\x1b[0m");
    ro_buf_puts(frame, v->tty ? "\x1b[K\n" : "\n");
}

#define LINE_START(line) ((line)->len = 0, (line)->failed = 0)

static double s_metric(const s_view_t *v, const char *name, int *found)
{
    for (size_t i = 0; v->metrics && i < v->metrics->n_metrics; i++)
        if (!strcmp(v->metrics->metrics[i].name, name)) {
            if (found)
                *found = 1;
            return v->metrics->metrics[i].value;
        }
    if (found)
        *found = 0;
    return 0;
}

static void s_clock(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%H:%M:%S", &tm);
}

static void s_frame_head(ro_buf_t *f, ro_buf_t *l, const s_view_t *v, const ro_status_scope_t *p)
{
    char asof[16] = "-", clock[16];
    if (ro_clone_as_of(v->clone))
        ro_date_format(ro_clone_as_of(v->clone), asof);
    s_clock(clock, sizeof clock, v->now);
    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    ro_buf_printf(l, "rollout watch · %s", p ? p->name : "(no data yet)");
    s_off(l, v);
    ro_buf_printf(l, "   as of %s   feed seq %llu   ", asof,
                  (unsigned long long)ro_clone_seq(v->clone));
    s_on(l, v,
         !strcmp(v->state, "live") || !strcmp(v->state, "snapshot") ? "\x1b[32m" : "\x1b[33m");
    ro_buf_puts(l, v->state);
    s_off(l, v);
    ro_buf_printf(l, "   %s UTC", clock);
    s_emit(f, v, l);

    LINE_START(l);
    if (p) {
        char reports[32];
        s_thousands(reports, sizeof reports, (double)p->reports);
        ro_buf_printf(l, "units reporting %u/%u · reports %s", p->units_reporting, p->units,
                      reports);
        if (p->held_review) /* reports waiting for a reviewer (rolloutctl review list) */
            ro_buf_printf(l, " · held for review %llu", (unsigned long long)p->held_review);
    }
    int have = 0;
    double silent = s_metric(v, "units_silent", &have);
    if (have)
        ro_buf_printf(l, " · silent %.0f", silent);
    double agents = s_metric(v, "connected_agents", &have);
    if (have)
        ro_buf_printf(l, " · agents connected %.0f", agents);
    if (v->problems)
        ro_buf_printf(l, " · problems %u", v->problems->total);
    if (v->metrics && v->metrics->store_state)
        ro_buf_printf(l, " · store %s", v->metrics->store_state);
    ro_buf_printf(l, " · hub %s, feed %s", v->hub, v->feed);
    s_emit(f, v, l);
}

static void s_frame_indicators(ro_buf_t *f, ro_buf_t *l, const s_view_t *v,
                               const ro_status_scope_t *p)
{
    int barw = v->width > 0 ? v->width - 100 : 24;
    if (barw < 10)
        barw = 10;
    if (barw > 40)
        barw = 40;
    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    s_pad(l, "indicator", 28, 0);
    s_pad(l, "value", 10, 1);
    s_pad(l, "goal", 10, 1);
    ro_buf_puts(l, "  ");
    s_pad(l, "progress", barw, 0);
    s_pad(l, "share", 7, 1);
    ro_buf_puts(l, "  ");
    s_pad(l, "grade", 6, 0);
    s_pad(l, "milestone", 10, 0);
    s_pad(l, "due", 11, 0);
    s_pad(l, "gap", 9, 1);
    s_off(l, v);
    s_emit(f, v, l);
    for (size_t i = 0; p && i < p->n_indicators; i++) {
        const ro_status_indicator_t *in = &p->indicators[i];
        char val[32], goal[32], share[16], due[16] = "-", gap[32] = "-";
        ctl_document_milestone_t m = ctl_row_milestone(in);
        s_value(val, sizeof val, in, in->value, in->no_data);
        s_value(goal, sizeof goal, in, in->goal, 0);
        if (in->no_data || !isfinite(in->share))
            snprintf(share, sizeof share, "-");
        else
            ro_pct_format_ratio(in->share, share, sizeof share);
        if (m.date)
            ro_date_format(m.date, due);
        if (m.gap > 0)
            s_value(gap, sizeof gap, in, m.gap, 0);
        LINE_START(l);
        char label[200];
        snprintf(label, sizeof label, "%s",
                 in->label_zh && in->label_zh[0] ? in->label_zh : in->id);
        s_pad(l, label, 28, 0);
        s_pad(l, val, 10, 1);
        s_pad(l, goal, 10, 1);
        ro_buf_puts(l, "  ");
        s_bar(l, v, in->no_data ? 0 : in->share, in->grade, barw);
        s_pad(l, share, 7, 1);
        ro_buf_puts(l, "  ");
        s_grade(l, v, in->grade, 6);
        s_pad(l, in->milestone, 10, 0);
        s_pad(l, due, 11, 0);
        s_pad(l, gap, 9, 1);
        s_emit(f, v, l);
    }
}

static void s_scope_row(ro_buf_t *l, const s_view_t *v, const ro_status_scope_t *s,
                        const char *code)
{
    char units[32], reports[32];
    snprintf(units, sizeof units, "%u/%u", s->units_reporting, s->units);
    s_thousands(reports, sizeof reports, (double)s->reports);
    s_pad(l, code, 11, 0);
    s_pad(l, s->name, 18, 0);
    s_pad(l, units, 8, 1);
    s_pad(l, reports, 9, 1);
    for (size_t i = 0; i < s->n_indicators; i++) {
        char val[32];
        s_value(val, sizeof val, &s->indicators[i], s->indicators[i].value,
                s->indicators[i].no_data);
        ro_buf_puts(l, "  ");
        s_on(l, v, s_grade_color(s->indicators[i].grade));
        s_pad(l, val, 9, 1);
        s_off(l, v);
    }
    ro_buf_puts(l, "  ");
    s_grade(l, v, s->grade, 4);
}

static void s_frame_divisions(ro_buf_t *f, ro_buf_t *l, const s_view_t *v,
                              const ro_status_scope_t *p)
{
    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    s_pad(l, "division", 29, 0);
    s_pad(l, "units", 8, 1);
    s_pad(l, "reports", 9, 1);
    for (size_t i = 0; p && i < p->n_indicators; i++) {
        ro_buf_puts(l, "  ");
        /* short heads: people, hours, or the id's first word and % */
        const ro_status_indicator_t *in = &p->indicators[i];
        char head[64];
        if (in->measure && strcmp(in->measure, "percent") != 0)
            snprintf(head, sizeof head, "%s", in->measure);
        else
            snprintf(head, sizeof head, "%.*s%%", (int)strcspn(in->id, "_"), in->id);
        s_pad(l, head, 9, 1);
    }
    ro_buf_puts(l, "  grade");
    s_off(l, v);
    s_emit(f, v, l);
    for (size_t d = 0; d < RO_DIVISION_COUNT; d++) {
        char id[16], topic[RO_FEED_TOPIC_MAX];
        snprintf(id, sizeof id, "%06u", (unsigned)ro_division_code(d));
        ro_feed_topic("division", id, topic, sizeof topic);
        const ro_status_scope_t *s = ro_clone_scope(v->clone, topic);
        if (!s)
            continue;
        LINE_START(l);
        s_scope_row(l, v, s, id);
        s_emit(f, v, l);
    }
    for (int k = 0; k < RO_LEVEL_COUNT; k++) {
        char topic[RO_FEED_TOPIC_MAX];
        ro_feed_topic("level", ro_level_name((ro_level_t)k), topic, sizeof topic);
        const ro_status_scope_t *s = ro_clone_scope(v->clone, topic);
        if (!s)
            continue;
        LINE_START(l);
        s_scope_row(l, v, s, ro_level_name((ro_level_t)k));
        s_emit(f, v, l);
    }
    if (p) {
        LINE_START(l);
        s_scope_row(l, v, p, "province");
        s_emit(f, v, l);
    }
}

static void s_frame_tail(ro_buf_t *f, ro_buf_t *l, const s_view_t *v)
{
    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    ro_buf_puts(l, "latest updates");
    s_off(l, v);
    size_t ne = ro_clone_event_count(v->clone);
    if (ne == 0)
        ro_buf_puts(l, ": none since this view started");
    s_emit(f, v, l);
    for (size_t i = 0; i < ne && i < EVENTS_SHOWN; i++) {
        const ro_clone_event_t *e = ro_clone_event_at(v->clone, i);
        char clock[16], reports[32];
        s_clock(clock, sizeof clock, e->time);
        s_thousands(reports, sizeof reports, (double)e->reports);
        LINE_START(l);
        ro_buf_printf(l, "  %s  ", clock);
        s_pad(l, e->unit, 12, 0);
        s_pad(l, e->name, 34, 0);
        ro_buf_printf(l, "  reports %s, last seq %llu  ", reports, (unsigned long long)e->last_seq);
        s_grade(l, v, e->grade, 2);
        s_emit(f, v, l);
    }

    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    ro_buf_puts(l, "silent units");
    s_off(l, v);
    if (v->silent) {
        ro_buf_printf(l, ": %u", v->silent->total);
        for (size_t i = 0; i < v->silent->n_scopes; i++) {
            const ro_status_scope_t *s = &v->silent->scopes[i];
            ro_buf_printf(l, "%s%s %s", i ? ", " : " (", s->id, s->name);
            if (s->last_heard == 0)
                ro_buf_puts(l, " never heard");
        }
        if (v->silent->n_scopes)
            ro_buf_printf(l, "%s)", v->silent->total > v->silent->n_scopes ? ", ..." : "");
    } else {
        int have = 0;
        double n = s_metric(v, "units_silent", &have);
        if (have)
            ro_buf_printf(l, ": %.0f", n);
        else
            ro_buf_puts(l, ": not known");
    }
    s_emit(f, v, l);

    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    ro_buf_puts(l, "refusals");
    s_off(l, v);
    double total = 0;
    int any = 0;
    for (size_t i = 0; v->metrics && i < v->metrics->n_metrics; i++) {
        const ro_status_metric_t *m = &v->metrics->metrics[i];
        if (strncmp(m->name, "refused_", 8) != 0)
            continue;
        total += m->value;
        if (m->value > 0)
            ro_buf_printf(l, "%s%s %.0f", any++ ? ", " : " (", m->name + 8, m->value);
    }
    if (any)
        ro_buf_puts(l, ")");
    if (v->metrics) {
        char t[32];
        s_thousands(t, sizeof t, total);
        ro_buf_printf(l, ": %s in all", t);
    } else {
        ro_buf_puts(l, ": not known");
    }
    s_emit(f, v, l);
}

/* How many problems, and the first few: unit, kind, what to do (or what is
 * wrong when there is nothing to do). Kinds are shown as the hub names them. */
static void s_frame_problems(ro_buf_t *f, ro_buf_t *l, const s_view_t *v)
{
    LINE_START(l);
    s_on(l, v, "\x1b[1m");
    ro_buf_puts(l, "problems");
    s_off(l, v);
    const ro_status_reply_t *r = v->problems;
    if (!r) {
        ro_buf_printf(l, ": not known%s%s", v->problems_why[0] ? " (" : "", v->problems_why);
        if (v->problems_why[0])
            ro_buf_puts(l, ")");
        s_emit(f, v, l);
        return;
    }
    ro_buf_printf(l, ": %u", r->total);
    if (r->total == 0)
        ro_buf_puts(l, ", none");
    else if (r->total > r->n_problems)
        ro_buf_printf(l, ", the first %zu (all: rolloutctl status --problems)", r->n_problems);
    s_emit(f, v, l);
    for (size_t i = 0; i < r->n_problems; i++) {
        const ro_status_problem_t *p = &r->problems[i];
        LINE_START(l);
        ro_buf_puts(l, "  ");
        s_pad(l, p->unit, 12, 0);
        ro_buf_puts(l, " ");
        s_on(l, v, !strcmp(p->kind, "silent") ? "\x1b[2m" : "\x1b[31m");
        s_pad(l, p->kind, 8, 0);
        s_off(l, v);
        if (p->what_to_do && p->what_to_do[0])
            ro_buf_printf(l, " what to do: %s", p->what_to_do);
        else
            ro_buf_printf(l, " %s", p->text ? p->text : "");
        s_emit(f, v, l);
    }
}

/* One whole frame into f. */
static void s_frame(ro_buf_t *f, const s_view_t *v)
{
    ro_buf_t line;
    ro_buf_init(&line);
    const ro_status_scope_t *p = ro_clone_scope(v->clone, "province");
    if (v->tty)
        ro_buf_puts(f, "\x1b[H"); /* home: overwrite the last frame */
    s_frame_head(f, &line, v, p);
    s_frame_problems(f, &line, v);
    LINE_START(&line);
    s_emit(f, v, &line);
    s_frame_indicators(f, &line, v, p);
    LINE_START(&line);
    s_emit(f, v, &line);
    s_frame_divisions(f, &line, v, p);
    LINE_START(&line);
    s_emit(f, v, &line);
    s_frame_tail(f, &line, v);
    if (v->tty)
        ro_buf_puts(f, "\x1b[J"); /* clear what an older, longer frame left */
    ro_buf_free(&line);
}

/* ---- talking to the hub ------------------------------------------------------ */

typedef struct {
    const ctl_hub_t *hub;        /* status endpoint, keys */
    char feed[RO_ENDPOINT_MAX];  /* feed endpoint */
    void *ctx;                   /* ZeroMQ context */
    void *sub;                   /* the feed */
    ro_clone_t *clone;           /* what is shown */
    ro_status_reply_t *metrics;  /* latest METRICS answer */
    ro_status_reply_t *silent;   /* latest SILENT answer */
    ro_status_reply_t *problems; /* latest PROBLEMS answer, NULL: not known */
    char problems_why[900];      /* why not known; "" not asked yet */
    void *asking;                /* PROBLEMS in flight: its DEALER, NULL when none */
    int64_t asked_ms;            /* when it was sent */
    char why[1200];              /* last trouble, for the head line */
    char err[800];               /* last request failure */
} s_watch_t;

/* The wait for a status answer: the hub's timeout, at most ASK_TIMEOUT_MS. */
static long s_wait_ms(const s_watch_t *w)
{
    long wait_ms = (long)(w->hub->timeout * 1000);
    return wait_ms > ASK_TIMEOUT_MS ? ASK_TIMEOUT_MS : wait_ms;
}

/* Send one request on a fresh DEALER (CURVE per ctl.ini), without waiting.
 * Returns the socket (the caller's to close), or NULL with w->err set. */
static void *s_ask_send(s_watch_t *w, ro_query_t q, const char *key, uint32_t limit)
{
    ro_status_request_t req = ro_status_request(q);
    snprintf(req.key, sizeof req.key, "%s", key ? key : "");
    req.limit = limit;
    uint8_t body[RO_STATUS_REQUEST_MAX];
    size_t len = (size_t)ro_status_request_encode(&req, body, sizeof body); /* a short key fits */
    void *sock = zmq_socket(w->ctx, ZMQ_DEALER);
    int linger = 0;
    int64_t maxmsg = RO_STATUS_FRAME_MAX;
    if (!sock) {
        snprintf(w->err, sizeof w->err, "socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    char why[256];
    if (ctl_curve_client(sock, &w->hub->sec, why, sizeof why) != 0) {
        snprintf(w->err, sizeof w->err, "%s", why);
    } else if (zmq_connect(sock, w->hub->endpoint) != 0 ||
               zmq_send(sock, body, len, ZMQ_DONTWAIT) < 0) {
        snprintf(w->err, sizeof w->err, "%s: %s", w->hub->endpoint, zmq_strerror(zmq_errno()));
    } else {
        return sock;
    }
    zmq_close(sock);
    return NULL;
}

/* The answer waiting on sock (s_ask_send's), decoded; NULL with w->err set
 * when there is none or it cannot be read. */
static ro_status_reply_t *s_ask_read(s_watch_t *w, void *sock)
{
    ro_status_reply_t *r = NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0)
        r = ro_status_reply_decode(zmq_msg_data(&m), zmq_msg_size(&m), RO_DECODE_SKIP_UNKNOWN, NULL,
                                   0);
    zmq_msg_close(&m);
    if (!r)
        snprintf(w->err, sizeof w->err, "no answer from the hub at %s within %.1f s%s",
                 w->hub->endpoint, (double)s_wait_ms(w) / 1000,
                 w->hub->sec.curve ? " (is the operator key on its allow-list?)" : "");
    return r;
}

/* One request, waited for; NULL with w->err set. */
static ro_status_reply_t *s_ask(s_watch_t *w, ro_query_t q, const char *key, uint32_t limit)
{
    void *sock = s_ask_send(w, q, key, limit);
    if (!sock)
        return NULL;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    int rc;
    do
        rc = zmq_poll(&it, 1, s_wait_ms(w));
    while (rc < 0 && zmq_errno() == EINTR && !s_stop);
    ro_status_reply_t *r = s_ask_read(w, sock);
    zmq_close(sock);
    return r;
}

/* Keep r (taken over; NULL: none came, w->err says why) as the problems shown. */
static void s_problems_got(s_watch_t *w, ro_status_reply_t *r)
{
    if (w->problems)
        ro_status_reply_free(&w->problems);
    if (r && r->status == 0) {
        w->problems = r;
        return;
    }
    if (r)
        snprintf(w->problems_why, sizeof w->problems_why, "the hub says: %.*s", 512,
                 r->error && r->error[0] ? r->error : "refused");
    else
        snprintf(w->problems_why, sizeof w->problems_why, "%s", w->err);
    if (r)
        ro_status_reply_free(&r);
}

/* The live view's PROBLEMS, asked without waiting (a scan of the hub's
 * store must not hold up the feed): sent when due, read when the answer
 * is in (s_live polls w->asking with the feed), given up on after the
 * wait. Returns 1 when what is shown changed. */
static int s_problems_turn(s_watch_t *w, int64_t mono, int due)
{
    if (w->asking) {
        zmq_pollitem_t it = {w->asking, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 0) < 1 && mono - w->asked_ms < s_wait_ms(w))
            return 0;
        s_problems_got(w, s_ask_read(w, w->asking));
        zmq_close(w->asking);
        w->asking = NULL;
        return 1;
    }
    if (!due)
        return 0;
    w->asking = s_ask_send(w, RO_QUERY_PROBLEMS, NULL, PROBLEMS_SHOWN);
    w->asked_ms = mono;
    if (!w->asking) {
        s_problems_got(w, NULL);
        return 1;
    }
    return 0;
}

/* Snapshot into the clone: drain the queue (it predates the answers), then
 * the province, the levels and the divisions. Returns 0 or -1. */
static int s_sync(s_watch_t *w)
{
    ro_clone_reset(w->clone);
    if (w->sub) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, w->sub, ZMQ_DONTWAIT) >= 0)
            ;
        zmq_msg_close(&m);
    }
    static const struct {
        ro_query_t q;
        const char *key;
        int required;
    } asks[] = {
        {RO_QUERY_PROVINCE, NULL, 1},
        {RO_QUERY_LEVEL, "", 0},
        {RO_QUERY_DIVISIONS, NULL, 0},
    };
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        ro_status_reply_t *r = s_ask(w, asks[i].q, asks[i].key, 0);
        if (!r)
            return -1;
        int rc = r->status == 0 ? ro_clone_snapshot(w->clone, r) : (asks[i].required ? -1 : 0);
        if (rc)
            snprintf(w->err, sizeof w->err, "the hub says: %s",
                     r->error && r->error[0] ? r->error : "snapshot refused");
        ro_status_reply_free(&r);
        if (rc)
            return -1;
    }
    return ro_clone_start(w->clone, ro_time_mono_ms());
}

/* Metrics and the first silent units: shown, not part of the Clone state. */
static void s_extras(s_watch_t *w)
{
    ro_status_reply_t *m = s_ask(w, RO_QUERY_METRICS, NULL, 0);
    if (m && m->status == 0) {
        if (w->metrics)
            ro_status_reply_free(&w->metrics);
        w->metrics = m;
    } else if (m) {
        ro_status_reply_free(&m);
    }
    ro_status_reply_t *s = s_ask(w, RO_QUERY_SILENT, NULL, SILENT_SHOWN);
    if (w->silent)
        ro_status_reply_free(&w->silent);
    w->silent = NULL;
    if (s && s->status == 0)
        w->silent = s;
    else if (s)
        ro_status_reply_free(&s);
}

/* tcp://HOST:PORT -> tcp://HOST:PORT-1. Returns 0, or -1 if not of that form. */
static int s_feed_endpoint(const char *status, char *out, size_t cap)
{
    const char *colon = strrchr(status, ':');
    if (strncmp(status, "tcp://", 6) != 0 || !colon || colon < status + 6)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= FEED_PORT_BELOW_STATUS || port > 65535)
        return -1;
    int n = snprintf(out, cap, "%.*s:%ld", (int)(colon - status), status,
                     port - FEED_PORT_BELOW_STATUS);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int s_term_width(int tty)
{
    struct winsize ws;
    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    int n = cols ? atoi(cols) : 0;
    return n > 20 ? n : 160;
}

static void s_draw(const s_watch_t *w, int color, int tty, const char *state)
{
    s_view_t v = {.color = color,
                  .tty = tty,
                  .width = s_term_width(tty),
                  .clone = w->clone,
                  .metrics = w->metrics,
                  .silent = w->silent,
                  .problems = w->problems,
                  .problems_why = w->problems_why,
                  .hub = w->hub->endpoint,
                  .feed = w->feed[0] ? w->feed : "-",
                  .state = state,
                  .now = ro_time_now()};
    ro_buf_t f;
    ro_buf_init(&f);
    s_frame(&f, &v);
    if (!tty)
        ro_buf_puts(&f, "\n");
    if (f.data)
        fwrite(f.data, 1, f.len, stdout);
    fflush(stdout);
    ro_buf_free(&f);
}

/* Read what the feed has, up to a bound so drawing keeps its turn.
 * Returns 1 when the queue was emptied, 0 when a backlog is left. */
static int s_read_feed(s_watch_t *w, int *changed)
{
    for (int k = 0; ro_clone_synced(w->clone); k++) {
        if (k == 5000)
            return 0;
        zmq_msg_t t, b;
        zmq_msg_init(&t);
        if (zmq_msg_recv(&t, w->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&t);
            return 1;
        }
        zmq_msg_init(&b);
        int two = zmq_msg_more(&t) && zmq_msg_recv(&b, w->sub, ZMQ_DONTWAIT) >= 0;
        ro_clone_result_t r = RO_CLONE_SKIPPED;
        if (two)
            r = ro_clone_message(w->clone, zmq_msg_data(&t), zmq_msg_size(&t), zmq_msg_data(&b),
                                 zmq_msg_size(&b), ro_time_mono_ms());
        zmq_msg_close(&t);
        zmq_msg_close(&b);
        if (r == RO_CLONE_APPLIED)
            *changed = 1;
        if (r == RO_CLONE_RESYNC) {
            snprintf(w->why, sizeof w->why, "resyncing: %s", ro_clone_why(w->clone));
            *changed = 1;
            return 1;
        }
    }
    return 1;
}

static int s_live(s_watch_t *w, int color, int tty, double interval)
{
    w->sub = zmq_socket(w->ctx, ZMQ_SUB);
    int linger = 0, hwm = 100000;
    int64_t maxmsg = RO_STATUS_FRAME_MAX;
    char why[256];
    if (!w->sub) {
        fprintf(stderr, "rolloutctl: cannot create a socket: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    zmq_setsockopt(w->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(w->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (ctl_curve_client(w->sub, &w->hub->sec, why, sizeof why) != 0) {
        fprintf(stderr, "rolloutctl: %s\n", why);
        return 1;
    }
    zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(w->sub, w->feed) != 0) {
        fprintf(stderr, "rolloutctl: cannot connect to the feed at %s: %s\n", w->feed,
                zmq_strerror(zmq_errno()));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_stop; /* no SA_RESTART: zmq_poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = s_on_winch;
    sigaction(SIGWINCH, &sa, NULL);
    if (tty) {
        atexit(s_restore);
        s_screen = 1;
        fputs("\x1b[?1049h\x1b[?25l\x1b[2J", stdout); /* alternate screen, no cursor */
    }
    int64_t next_sync = 0, next_extras = 0, last_draw = 0;
    int changed = 1;
    snprintf(w->why, sizeof w->why, "connecting");
    while (!s_stop) {
        int64_t mono = ro_time_mono_ms();
        if (!ro_clone_synced(w->clone) && mono >= next_sync) {
            if (s_sync(w) == 0) {
                snprintf(w->why, sizeof w->why, "live");
                next_extras = 0;
            } else {
                char clock[16];
                s_clock(clock, sizeof clock, ro_time_now());
                snprintf(w->why, sizeof w->why, "waiting for the hub (%s at %s); retrying", w->err,
                         clock);
                next_sync = ro_time_mono_ms() + 1000;
            }
            changed = 1;
        }
        int due = ro_clone_synced(w->clone) && mono >= next_extras;
        if (due) {
            s_extras(w);
            next_extras = ro_time_mono_ms() + EXTRAS_EVERY_MS;
            changed = 1;
        }
        if (s_problems_turn(w, ro_time_mono_ms(), due))
            changed = 1;
        zmq_pollitem_t it[2] = {{w->sub, 0, ZMQ_POLLIN, 0}, {w->asking, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(it, w->asking ? 2 : 1, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        /* a backlog means we were behind (stopped, slow), not that the hub fell silent */
        int drained = rc > 0 && (it[0].revents & ZMQ_POLLIN) ? s_read_feed(w, &changed) : 1;
        if (drained && ro_clone_tick(w->clone, ro_time_mono_ms()) == RO_CLONE_RESYNC &&
            strncmp(w->why, "resyncing", 9) != 0) {
            snprintf(w->why, sizeof w->why, "resyncing: %s", ro_clone_why(w->clone));
            changed = 1;
        }
        mono = ro_time_mono_ms();
        if (s_resized) {
            s_resized = 0;
            changed = 1;
            if (tty)
                fputs("\x1b[2J", stdout);
        }
        if (changed && mono - last_draw >= (int64_t)(interval * 1000)) {
            s_draw(w, color, tty, w->why);
            last_draw = mono;
            changed = 0;
        }
    }
    s_restore();
    return 0;
}

int ctl_watch_main(const ctl_hub_t *hub, int argc, char **argv)
{
    int once = 0, plain = 0;
    double interval = -1;
    const char *feed = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            s_help();
            return 0;
        } else if (!strcmp(arg, "--once")) {
            once = 1;
        } else if (!strcmp(arg, "--plain")) {
            plain = 1;
        } else if (ctl_opt_is(arg, "--feed")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--feed")) || !strstr(v, "://"))
                return ctl_usage_error("--feed needs a ZeroMQ endpoint, e.g. tcp://127.0.0.1:7451");
            feed = v;
        } else if (ctl_opt_is(arg, "--interval")) {
            char *end;
            if (!(v = ctl_opt_value(argc, argv, &i, "--interval")))
                return ctl_usage_error("--interval needs a number of seconds");
            interval = strtod(v, &end);
            if (end == v || *end || !(interval >= 0.05) || interval > 3600)
                return ctl_usage_error("--interval '%s' is not a number of seconds from 0.05", v);
        } else {
            return ctl_usage_error("watch: unexpected argument '%s'", arg);
        }
    }
    int tty = isatty(STDOUT_FILENO) && !plain;
    const char *term = getenv("TERM");
    if (term && !strcmp(term, "dumb"))
        tty = 0;
    const char *nc = getenv("NO_COLOR");
    int color = tty && !(nc && nc[0]);
    if (interval < 0)
        interval = tty ? 0.5 : 5;

    s_watch_t w;
    memset(&w, 0, sizeof w);
    w.hub = hub;
    if (feed)
        snprintf(w.feed, sizeof w.feed, "%s", feed);
    else if (!once && s_feed_endpoint(hub->endpoint, w.feed, sizeof w.feed))
        return ctl_usage_error("watch: give --feed: the hub at %s has no port to derive it from",
                               hub->endpoint);
    w.ctx = zmq_ctx_new();
    w.clone = ro_clone_new(1);
    if (!w.ctx || !w.clone) {
        fprintf(stderr, "rolloutctl: out of memory\n");
        return 1;
    }
    int code = 0;
    if (once) {
        if (s_sync(&w) != 0) {
            fprintf(stderr, "rolloutctl: %s\n", w.err);
            code = 1;
        } else {
            s_extras(&w);
            s_problems_got(&w, s_ask(&w, RO_QUERY_PROBLEMS, NULL, PROBLEMS_SHOWN));
            s_draw(&w, color, 0, "snapshot");
        }
    } else {
        code = s_live(&w, color, tty, interval);
    }
    if (w.metrics)
        ro_status_reply_free(&w.metrics);
    if (w.silent)
        ro_status_reply_free(&w.silent);
    if (w.problems)
        ro_status_reply_free(&w.problems);
    if (w.asking)
        zmq_close(w.asking);
    ro_clone_destroy(&w.clone);
    if (w.sub)
        zmq_close(w.sub);
    zmq_ctx_term(w.ctx);
    return code;
}
