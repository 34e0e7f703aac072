/* rolloutctl report: asks the hub for the province, levels, divisions,
 * laggards and the headline series as of one date, turns the replies back
 * into the engine's scopes and renders them with hub_report; --score-sheet
 * renders the score sheet instead. The targets (labels, bands, milestones)
 * are the hub's own, sent over the status socket, unless --targets names a
 * file. Like the rest of rolloutctl it never opens hub.db. */
#include "commands.h"
#include "document.h"
#include "ro_time.h"
#include "scoresheet.h"
#include "ro_targets.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SHEET RO_ETC "/scoresheet.ini"
#define DEFAULT_SCORES RO_ETC "/scores-2019.ini"
#define DEFAULT_LAGGARDS 30
#define LISTED_MAX 200 /* html: corrected, held and rejected reports' units listed */

static void s_help(void)
{
    printf("usage: rolloutctl [--hub H] [--timeout SEC] report [OPTIONS]\n"
           "\n"
           "The year-end tables from a running hub: the performance target table\n"
           "(绩效目标表: the province against each indicator, by level, by division, the\n"
           "laggards, and in html the charts) or, with --score-sheet, the score sheet\n"
           "(绩效评价指标评分). Everything comes over the hub's status socket.\n"
           "\n"
           "  --as-of YYYY-MM-DD  evaluate as of this date (default: today; the score sheet:\n"
           "                      the scores file's evaluation date)\n"
           "  --known-on DATE     as the hub knew it at the end of DATE (the figures an\n"
           "                      evaluation made then used): reports received and\n"
           "                      corrections or review decisions made later are left out,\n"
           "                      and the heading says how many corrections came after\n"
           "  --format F          md (default), csv or html (one self-contained page with\n"
           "                      inline SVG charts; it fetches nothing); csv starts with a\n"
           "                      UTF-8 byte-order mark, so that Excel reads it as UTF-8\n"
           "  --no-bom            csv without the byte-order mark (for other programs)\n"
           "  --out FILE          write there instead of to standard output\n"
           "  --laggards N        laggards listed (default %d; 0 = all)\n"
           "  --targets FILE      label the table from FILE instead of the hub's own\n"
           "                      targets (its indicators must be the hub's)\n"
           "  --score-sheet       print the score sheet instead of the target table\n"
           "  --sheet FILE        the score sheet's tree (default %s)\n"
           "  --scores FILE       the evaluator's scores and the funds (default\n"
           "                      %s)\n"
           "  -h, --help          this help\n"
           "\n"
           "exit status: 0 ok; 1 no answer or hub trouble; 2 bad usage, a bad file or a\n"
           "request the hub refused.\n",
           DEFAULT_LAGGARDS, DEFAULT_SHEET, DEFAULT_SCORES);
}

typedef struct {
    uint32_t as_of;            /* 0 = today */
    uint32_t known_on;         /* 0 = now */
    ctl_document_format_t fmt; /* md, csv, html */
    const char *out;           /* NULL = stdout */
    long laggards;             /* how many to list; 0 = all */
    const char *targets;       /* local targets file, NULL = the hub's */
    int score_sheet;           /* print the score sheet */
    int no_bom;                /* csv without the byte-order mark */
    const char *sheet;         /* score sheet tree */
    const char *scores;        /* evaluator's scores */
} s_opts_t;

/* Everything the target table needs, owned. */
typedef struct {
    ro_targets_t *targets;
    ro_status_reply_t *replies[7]; /* province, levels, divisions, laggards, series,
                                      marked, reviews */
    ro_scope_t province;
    ro_scope_t *levels, *divisions, *laggards, *marked;
    size_t nlevels, ndivisions, nlaggards, nmarked;
    ctl_document_review_t *reviews; /* pending and rejected, dated by as_of */
    size_t nreviews, reviews_total;
    ctl_document_point_t *series;
    size_t nseries;
} s_data_t;

static void s_data_free(s_data_t *d)
{
    for (size_t i = 0; i < sizeof d->replies / sizeof d->replies[0]; i++)
        if (d->replies[i])
            ro_status_reply_free(&d->replies[i]);
    free(d->levels);
    free(d->divisions);
    free(d->laggards);
    free(d->marked);
    free(d->reviews);
    free(d->series);
    ro_targets_destroy(&d->targets);
}

/* Ask and check: the reply, or NULL with *code set (1 or 2) and a line printed. */
static ro_status_reply_t *s_ask(const ctl_hub_t *hub, const ro_status_request_t *req, int *code)
{
    ro_status_reply_t *r = ctl_ask(hub, req);
    if (!r) {
        *code = 1;
        return NULL;
    }
    if ((*code = ctl_reply_failed(r))) {
        ro_status_reply_free(&r);
        return NULL;
    }
    return r;
}

/* The hub's targets: its file's text over the socket, loaded through a
 * temporary file (the loader reads files, and names lines in its errors). */
static ro_targets_t *s_hub_targets(const ctl_hub_t *hub, int *code)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_TARGETS);
    ro_status_reply_t *r = s_ask(hub, &req, code);
    if (!r)
        return NULL;
    const char *dir = getenv("TMPDIR");
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/rolloutctl-targets-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    ro_targets_t *t = NULL;
    size_t len = strlen(r->targets_ini);
    if (fd < 0 || write(fd, r->targets_ini, len) != (ssize_t)len) {
        fprintf(stderr, "rolloutctl: cannot keep the hub's targets in %s: %s\n", path,
                strerror(errno));
        *code = 1;
    } else if (!(t = ro_targets_load(path, err, sizeof err))) {
        fprintf(stderr, "rolloutctl: the hub's targets do not load here: %s\n", err);
        *code = 1;
    }
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    ro_status_reply_free(&r);
    return t;
}

/* All scopes of a reply into a malloc'ed array. Returns 0, or -1 (printed). */
static int s_scopes(const ro_targets_t *t, const ro_status_reply_t *r, ro_scope_t **out,
                    size_t *count)
{
    *out = calloc(r->n_scopes ? r->n_scopes : 1, sizeof **out);
    *count = r->n_scopes;
    if (!*out) {
        fprintf(stderr, "rolloutctl: out of memory\n");
        return -1;
    }
    char err[256];
    for (size_t i = 0; i < r->n_scopes; i++) {
        if (ro_status_scope_read(t, &r->scopes[i], &(*out)[i], err, sizeof err)) {
            fprintf(stderr, "rolloutctl: %s%s\n", err,
                    " (are --targets and the hub's targets the same?)");
            return -1;
        }
    }
    return 0;
}

/* html: the units whose figures rest on corrected, held or rejected reports
 * (MARKED, the first LISTED_MAX), and the held and rejected reports dated by
 * as_of (REVIEWS, which lists what the hub holds now, whatever the date:
 * those dated later are left out here). Returns 0 or an exit code. */
static int s_fetch_lists(const ctl_hub_t *hub, uint32_t as_of, s_data_t *d)
{
    int code = 0;
    ro_status_request_t req = ro_status_request(RO_QUERY_MARKED);
    req.as_of = as_of;
    req.limit = LISTED_MAX;
    if (!(d->replies[5] = s_ask(hub, &req, &code)))
        return code;
    if (s_scopes(d->targets, d->replies[5], &d->marked, &d->nmarked))
        return 1;
    req = ro_status_request(RO_QUERY_REVIEWS);
    if (!(d->replies[6] = s_ask(hub, &req, &code)))
        return code;
    const ro_status_reply_t *r = d->replies[6];
    d->reviews = calloc(r->n_reviews ? r->n_reviews : 1, sizeof *d->reviews);
    if (!d->reviews)
        return 1;
    for (size_t i = 0; i < r->n_reviews; i++) {
        const ro_status_review_t *v = &r->reviews[i];
        uint32_t day = v->date < 1000000 ? v->date * 100 + 1 : v->date; /* a month's cases */
        if ((strcmp(v->state, "pending") && strcmp(v->state, "rejected")) || day > as_of)
            continue;
        if (d->nreviews < LISTED_MAX)
            d->reviews[d->nreviews++] =
                (ctl_document_review_t){v->unit, v->kind, v->date, v->state, v->rule};
        d->reviews_total++;
    }
    return 0;
}

/* Ask the hub everything the target table shows, as of one date. */
static int s_fetch(const ctl_hub_t *hub, const s_opts_t *o, s_data_t *d)
{
    int code = 0;
    ro_status_request_t req = ro_status_request(RO_QUERY_PROVINCE);
    req.as_of = o->as_of;
    req.known_on = o->known_on;
    if (!(d->replies[0] = s_ask(hub, &req, &code)))
        return code;
    req.as_of = d->replies[0]->as_of; /* one date for all, even across midnight */
    req.query = RO_QUERY_LEVEL;
    if (!(d->replies[1] = s_ask(hub, &req, &code)))
        return code;
    req.query = RO_QUERY_DIVISIONS;
    if (!(d->replies[2] = s_ask(hub, &req, &code)))
        return code;
    size_t headline = ro_targets_headline(d->targets);
    snprintf(req.indicator, sizeof req.indicator, "%s", ro_targets_at(d->targets, headline)->id);
    req.query = RO_QUERY_LAGGARDS;
    req.limit = (uint32_t)o->laggards;
    if (!(d->replies[3] = s_ask(hub, &req, &code)))
        return code;
    req.query = RO_QUERY_SERIES;
    req.limit = 0;
    if (!(d->replies[4] = s_ask(hub, &req, &code)))
        return code;

    ro_scope_t *province = NULL;
    size_t n = 0;
    int bad = s_scopes(d->targets, d->replies[0], &province, &n);
    if (!bad && n == 1)
        d->province = province[0];
    free(province);
    if (!bad && n != 1) {
        fprintf(stderr, "rolloutctl: the hub sent %zu province scopes\n", n);
        bad = 1;
    }
    if (bad || s_scopes(d->targets, d->replies[1], &d->levels, &d->nlevels) ||
        s_scopes(d->targets, d->replies[2], &d->divisions, &d->ndivisions) ||
        s_scopes(d->targets, d->replies[3], &d->laggards, &d->nlaggards))
        return 1;
    const ro_status_reply_t *s = d->replies[4];
    d->series = calloc(s->n_history ? s->n_history : 1, sizeof *d->series);
    if (!d->series) {
        fprintf(stderr, "rolloutctl: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < s->n_history; i++) {
        d->series[i].date = s->history[i].date;
        d->series[i].share = s->history[i].no_data ? NAN : s->history[i].value;
        d->series[i].part = s->history[i].part;
        d->series[i].total = s->history[i].total;
    }
    d->nseries = s->n_history;
    return 0;
}

/* Write text to o->out (or stdout). Returns 0, or 1 (printed). */
static int s_write(const s_opts_t *o, const char *text)
{
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "rolloutctl: cannot write %s: %s\n", o->out, strerror(errno));
        return 1;
    }
    int bad = fputs(text, f) < 0;
    bad |= fflush(f) != 0;
    if (o->out)
        bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "rolloutctl: cannot write %s: %s\n", o->out ? o->out : "the output",
                strerror(errno));
        return 1;
    }
    return 0;
}

static int s_target_table(const ctl_hub_t *hub, const s_opts_t *o, s_data_t *d)
{
    int code = s_fetch(hub, o, d);
    if (code)
        return code;
    ctl_document_t r;
    ctl_document_init(&r, d->targets, d->replies[0]->as_of);
    r.province = &d->province;
    r.levels = d->levels;
    r.level_count = d->nlevels;
    r.divisions = d->divisions;
    r.division_count = d->ndivisions;
    r.laggards = d->laggards;
    r.laggard_count = d->nlaggards;
    int lag = ro_targets_find(d->targets, d->replies[3]->indicator);
    if (lag >= 0)
        r.laggard_indicator = (size_t)lag;
    r.series = d->series;
    r.series_count = d->nseries;
    r.as_of_given = o->as_of != 0;
    r.known_on = d->replies[0]->known_on;
    r.corrections_after = d->replies[0]->corrections_after;
    r.no_bom = o->no_bom;
    const ro_scope_t *p = &d->province;
    if (o->fmt == CTL_DOCUMENT_HTML && (p->corrected || p->held_review || p->rejected)) {
        if ((code = s_fetch_lists(hub, d->replies[0]->as_of, d)))
            return code;
        r.marked = d->marked;
        r.marked_count = d->nmarked;
        r.marked_total = d->replies[5]->total;
        r.reviews = d->reviews;
        r.review_count = d->nreviews;
        r.review_total = d->reviews_total;
    }
    char note[256];
    uint32_t total = d->replies[3]->total;
    if (total > d->nlaggards) {
        snprintf(note, sizeof note,
                 "滞后单位共 %u 个，列出差距最大的 %zu 个 / %u laggards, the %zu "
                 "furthest behind listed",
                 total, d->nlaggards, total, d->nlaggards);
        r.note = note;
    }
    char *text = ctl_document_targets_string(o->fmt, &r);
    if (!text) {
        fprintf(stderr, "rolloutctl: cannot render the report\n");
        return 1;
    }
    code = s_write(o, text);
    free(text);
    return code;
}

static int s_score_sheet(const ctl_hub_t *hub, const s_opts_t *o, s_data_t *d)
{
    char err[512];
    ctl_scoresheet_t *sheet = ctl_scoresheet_load(o->sheet, err, sizeof err);
    if (!sheet) {
        fprintf(stderr, "rolloutctl: %s\n", err);
        return 2;
    }
    int code = 0;
    ctl_scores_t scores;
    ctl_score_result_t res;
    double attainment = NAN;
    if (ctl_scores_load(o->scores, sheet, &scores, err, sizeof err)) {
        fprintf(stderr, "rolloutctl: %s\n", err);
        code = 2;
    }
    int needs_hub = 0, have_province = 0;
    for (size_t i = 0; i < ctl_scoresheet_count(sheet); i++)
        needs_hub |= ctl_scoresheet_at(sheet, i)->method == CTL_METHOD_OUTPUT_ATTAINMENT;
    if (!code && needs_hub) {
        /* the output indicators as the hub has them on the evaluation date */
        ro_status_request_t req = ro_status_request(RO_QUERY_PROVINCE);
        req.as_of = o->as_of ? o->as_of : scores.date;
        req.known_on = o->known_on;
        ro_scope_t *province = NULL;
        size_t n = 0;
        if (!d->targets)
            d->targets = s_hub_targets(hub, &code);
        if (!code && (d->replies[0] = s_ask(hub, &req, &code)) &&
            !s_scopes(d->targets, d->replies[0], &province, &n) && n == 1) {
            attainment = ctl_scoresheet_output_attainment(d->targets, &province[0]);
            d->province = province[0]; /* what the computed items rest on */
            have_province = 1;
        } else if (!code) {
            code = 1;
        }
        free(province);
    }
    if (!code && ctl_scoresheet_compute(sheet, &scores, attainment, &res, err, sizeof err)) {
        fprintf(stderr, "rolloutctl: %s: %s\n", o->scores, err);
        code = 2;
    }
    if (!code) {
        ctl_document_sheet_t r = {.sheet = sheet,
                                  .scores = &scores,
                                  .result = &res,
                                  .no_bom = o->no_bom,
                                  .targets = d->targets,
                                  .province = have_province ? &d->province : NULL};
        char *text = ctl_document_scoresheet_string(o->fmt, &r);
        if (!text) {
            fprintf(stderr, "rolloutctl: cannot render the score sheet\n");
            code = 1;
        } else {
            code = s_write(o, text);
            free(text);
        }
    }
    ctl_scoresheet_destroy(&sheet);
    return code;
}

int ctl_report_main(const ctl_hub_t *hub, int argc, char **argv)
{
    s_opts_t o = {.fmt = CTL_DOCUMENT_MD,
                  .laggards = DEFAULT_LAGGARDS,
                  .sheet = DEFAULT_SHEET,
                  .scores = DEFAULT_SCORES};
    int scores_given = 0, sheet_given = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            s_help();
            return 0;
        } else if (ctl_opt_is(arg, "--as-of")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--as-of")) || ro_date_parse(v, &o.as_of))
                return ctl_usage_error("report: --as-of needs a date YYYY-MM-DD");
        } else if (ctl_opt_is(arg, "--known-on")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--known-on")) || ro_date_parse(v, &o.known_on))
                return ctl_usage_error("report: --known-on needs a date YYYY-MM-DD");
        } else if (ctl_opt_is(arg, "--format")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--format")) ||
                ctl_document_format_parse(v, &o.fmt))
                return ctl_usage_error("report: --format is md, csv or html");
        } else if (ctl_opt_is(arg, "--out")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--out")) || !v[0])
                return ctl_usage_error("report: --out needs a file name");
            o.out = v;
        } else if (ctl_opt_is(arg, "--laggards")) {
            char *end;
            if (!(v = ctl_opt_value(argc, argv, &i, "--laggards")))
                return ctl_usage_error("report: --laggards needs a number");
            o.laggards = strtol(v, &end, 10);
            if (end == v || *end || o.laggards < 0 || o.laggards > 100000)
                return ctl_usage_error("report: --laggards '%s' is not a number from 0 (all) "
                                       "to 100000",
                                       v);
        } else if (ctl_opt_is(arg, "--targets")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--targets")) || !v[0])
                return ctl_usage_error("report: --targets needs a file");
            o.targets = v;
        } else if (ctl_opt_is(arg, "--sheet")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--sheet")) || !v[0])
                return ctl_usage_error("report: --sheet needs a file");
            o.sheet = v;
            sheet_given = 1;
        } else if (ctl_opt_is(arg, "--scores")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--scores")) || !v[0])
                return ctl_usage_error("report: --scores needs a file");
            o.scores = v;
            scores_given = 1;
        } else if (!strcmp(arg, "--score-sheet")) {
            o.score_sheet = 1;
        } else if (!strcmp(arg, "--no-bom")) {
            o.no_bom = 1;
        } else {
            return ctl_usage_error("report: unexpected '%s'", arg);
        }
    }
    if ((scores_given || sheet_given) && !o.score_sheet)
        return ctl_usage_error("report: --scores and --sheet go with --score-sheet");
    if (o.no_bom && o.fmt != CTL_DOCUMENT_CSV)
        return ctl_usage_error("report: --no-bom goes with --format csv (only csv has the mark)");

    s_data_t d;
    memset(&d, 0, sizeof d);
    int code = 0;
    if (o.targets) {
        char err[512];
        if (!(d.targets = ro_targets_load(o.targets, err, sizeof err))) {
            fprintf(stderr, "rolloutctl: %s\n", err);
            return 2;
        }
    }
    if (o.score_sheet) {
        code = s_score_sheet(hub, &o, &d);
    } else {
        if (!d.targets)
            d.targets = s_hub_targets(hub, &code);
        if (d.targets)
            code = s_target_table(hub, &o, &d);
    }
    s_data_free(&d);
    return code;
}
