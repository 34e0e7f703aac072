/* hub_report: the year-end tables as Markdown, CSV or one self-contained HTML
 * page: the performance target table (绩效目标表) with province, levels,
 * divisions and laggards, and the score sheet. Pure rendering into a FILE
 * (a file, or open_memstream for a buffer); querying the hub is the caller's. */
#ifndef CTL_DOCUMENT_H
#define CTL_DOCUMENT_H

#include "ro_scope.h"
#include "scoresheet.h"
#include "ro_targets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Output is deterministic (no clock: a timestamp appears only if passed in
 * as the note). Text from configuration or the registry is escaped for the
 * format: HTML entities; Markdown backslash escapes, and entities for a '<'
 * or '&' that could start a tag or an entity; CSV quoted per RFC 4180 when
 * a field holds a comma, quote or line break (rows end in a bare newline),
 * and a field that starts with = + - @ or a tab is prefixed with ' so that
 * a spreadsheet does not run it as a formula. CSV starts with a UTF-8
 * byte-order mark unless no_bom is set: without it Excel reads the file in
 * the system's code page (GBK on Chinese Windows) and shows mojibake. The
 * HTML fetches nothing: CSS is inline and the charts are inline SVG; its
 * tables take the page's full width. Percents are rounded by
 * ro_pct_format_ratio (targets.h). */

typedef enum {
    CTL_DOCUMENT_MD = 0,
    CTL_DOCUMENT_CSV = 1,
    CTL_DOCUMENT_HTML = 2,
} ctl_document_format_t;

/* "md", "csv", "html": 0 and *out, or -1. */
int ctl_document_format_parse(const char *name, ctl_document_format_t *out);
const char *ctl_document_format_name(ctl_document_format_t fmt);

/* One point of a province series over time: for the report's chart, the
 * headline share; for ctl_document_series_end, any indicator's value. */
typedef struct {
    uint32_t date;  /* YYYYMMDD */
    double share;   /* the value (a ratio 0..1 in the chart); NaN = no data
                       that day (the chart skips it) */
    uint64_t part;  /* what the value counts (no-visit items...), if known */
    uint64_t total; /* what it is counted out of, if known */
} ctl_document_point_t;

/* Where a series shown without an as-of date ends. Asked as of today, it
 * runs on month by month long after the rollout ended (108 months for one
 * that ended in 2018-12), so it stops at the later of its last change (the
 * last point whose value, part, total or no data differs from the one
 * before; the first point if none does) and last_milestone (YYYYMMDD, the
 * targets' last milestone; 0 = none). Given an as-of date a series runs to
 * it: do not call this. rolloutctl status --series and the report's chart
 * follow this one rule. p holds n points by date. Returns how many to
 * show, from the first: at least 1 when n is. */
size_t ctl_document_series_end(const ctl_document_point_t *p, size_t n, uint32_t last_milestone);

/* The date of the last milestone of any indicator of targets; 0 if none. */
uint32_t ctl_document_last_milestone(const ro_targets_t *targets);

/* The milestone a row that gives a scope's milestone status shows beside
 * it: "missed" is about the milestone already due, so for a missed result
 * (with a due_date) that one (due_date, due_goal) and the gap to it; any
 * other status is about the next (next_date, next_goal, gap). rolloutctl's
 * scope and laggards tables and the report's laggards table show this. */
typedef struct {
    uint32_t date; /* YYYYMMDD; 0 = none left (after the last milestone) */
    double goal;   /* what that milestone asks */
    double gap;    /* max(0, goal - value), the value 0 when no data */
} ctl_document_milestone_t;

ctl_document_milestone_t ctl_document_row_milestone(const ro_result_t *res);

/* A report held for review or rejected, as the html report lists it
 * (strings borrowed). */
typedef struct {
    const char *unit;  /* unit id */
    const char *kind;  /* training, staff, items, cases */
    uint32_t date;     /* YYYYMMDD, or YYYYMM for cases */
    const char *state; /* pending | rejected */
    const char *rule;  /* the rule that flagged it */
} ctl_document_review_t;

/* What the target table shows. Scopes are borrowed; arrays may be empty. */
typedef struct {
    const ro_targets_t *targets;        /* indicator definitions (required) */
    uint32_t as_of;                     /* YYYYMMDD the scopes were evaluated for */
    const char *title;                  /* project name; NULL = the document's */
    const char *note;                   /* a line under the title, e.g. when made; NULL = none */
    const ro_scope_t *province;         /* the province (required) */
    const ro_scope_t *levels;           /* level scopes, shown in this order */
    size_t level_count;                 /* 0 = no level table */
    const ro_scope_t *divisions;        /* division scopes; those with no units are left out */
    size_t division_count;              /* 0 = no division table nor bar charts */
    const ro_scope_t *laggards;         /* unit scopes, most behind first */
    size_t laggard_count;               /* 0 = "none" */
    size_t laggard_indicator;           /* the indicator the laggards are behind on */
    const ctl_document_point_t *series; /* HTML chart: the headline share over time, by date */
    size_t series_count;                /* 0 = milestones only */
    bool as_of_given;                   /* as_of was asked for: the chart shows the whole
                                           series; else up to ctl_document_series_end */
    size_t series_indicator;            /* whose milestones the chart marks */
    bool no_bom;                        /* CSV: no byte-order mark (default: one) */
    /* HTML: the reports the figures rest on that were corrected, are held
     * for review or were rejected, listed (the first ones; the totals say
     * how many more) */
    const ro_scope_t *marked;             /* unit scopes with any, the most first */
    size_t marked_count;                  /* listed */
    size_t marked_total;                  /* in all */
    const ctl_document_review_t *reviews; /* pending and rejected reports */
    size_t review_count;                  /* listed */
    size_t review_total;                  /* in all */
    uint32_t known_on;                    /* as the hub knew it at the end of this day; 0 = now */
    uint32_t corrections_after;           /* with known_on: corrections and decisions after it */
} ctl_document_t;

/* Zero *r, then set targets, as_of and both indicators to the headline. */
void ctl_document_init(ctl_document_t *r, const ro_targets_t *targets, uint32_t as_of);

/* Write the target table report. Returns 0, or -1 if r lacks targets or
 * province, an indicator index is out of range, or writing failed. */
int ctl_document_targets(FILE *out, ctl_document_format_t fmt, const ctl_document_t *r);

/* What the score sheet shows. */
typedef struct {
    const ctl_scoresheet_t *sheet;    /* the tree (required) */
    const ctl_scores_t *scores;       /* funds by year, evaluation date (required) */
    const ctl_score_result_t *result; /* computed scores (required) */
    const char *title;                /* project name; NULL = the document's */
    const char *note;                 /* a line under the title; NULL = none */
    bool no_bom;                      /* CSV: no byte-order mark (default: one) */
    const ro_targets_t *targets;      /* with province: the output indicators' */
    const ro_scope_t *province;       /* the province output attainment was computed from:
                                         what its figures rest on is shown beside the
                                         computed items; NULL = not asked (none shown) */
} ctl_document_sheet_t;

/* Write the score sheet laid out as the document's, plus the funds behind
 * the computed items. Returns 0, or -1 on missing input or write failure. */
int ctl_document_scoresheet(FILE *out, ctl_document_format_t fmt, const ctl_document_sheet_t *r);

/* The same into a malloc'ed, NUL-terminated string (the caller frees);
 * NULL on failure. */
char *ctl_document_targets_string(ctl_document_format_t fmt, const ctl_document_t *r);
char *ctl_document_scoresheet_string(ctl_document_format_t fmt, const ctl_document_sheet_t *r);

#endif
