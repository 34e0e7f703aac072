/* test_status_codec: lib/ro_status, the status API's messages as plain
 * data: every message round trips (PROBLEMS' and TRAIL's lists too), a scope is made from the
 * engine's form as the hub sends it, and the decoder refuses truncated frames, unknown fields, bad
 * UTF-8, NUL bytes and strings or counts over their limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "ro_status.h"

static ro_status_scope_t s_scope(void)
{
    ro_status_scope_t s;
    memset(&s, 0, sizeof s);
    s.kind = "unit";
    s.id = "469005-012";
    s.name = "文昌市行政审批服务局";
    s.level = "municipal";
    s.division = "469005";
    s.units = 1, s.units_reporting = 1;
    s.participants = 40, s.hours_tenths = 65, s.sessions = 2;
    s.staff_total = 10, s.staff_proficient = 7;
    s.items_total = 100, s.items_no_visit = 55;
    s.cases_total = 900, s.cases_no_visit = 450;
    s.last_seq = 12, s.last_heard = 1514764800, s.reports = 12;
    s.grade = "差";
    s.why = 2;
    s.corrected = 3, s.held_review = 2, s.rejected = 1;
    s.n_indicators = 2;
    s.indicators[0] = (ro_status_indicator_t){.id = "training_participants",
                                              .value = 40,
                                              .goal = 3,
                                              .share = 13.3,
                                              .grade = "优",
                                              .milestone = "none",
                                              .label_zh = "培训人数",
                                              .label_en = "Training",
                                              .measure = "people",
                                              .why = ""};
    s.indicators[1] = (ro_status_indicator_t){.id = "items_no_visit",
                                              .value = 0.55,
                                              .goal = 0.8,
                                              .share = 0.6875,
                                              .grade = "差",
                                              .milestone = "missed",
                                              .next_date = 20181231,
                                              .next_goal = 0.8,
                                              .gap = 0.25,
                                              .label_zh = "事项占比",
                                              .label_en = "Items",
                                              .measure = "percent",
                                              .due_date = 20181231,
                                              .due_goal = 0.8,
                                              .why = "below 良",
                                              .corrected = 4,
                                              .held_review = 5,
                                              .rejected = 6};
    return s;
}

static void s_same_scope(const ro_status_scope_t *a, const ro_status_scope_t *b)
{
    assert_string_equal(a->kind, b->kind);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->level, b->level);
    assert_string_equal(a->division, b->division);
    assert_string_equal(a->grade, b->grade);
    assert_int_equal(a->units, b->units);
    assert_int_equal(a->participants, b->participants);
    assert_int_equal(a->cases_no_visit, b->cases_no_visit);
    assert_int_equal(a->last_heard, b->last_heard);
    assert_int_equal(a->reports, b->reports);
    assert_int_equal(a->why, b->why);
    assert_int_equal(a->corrected, b->corrected);
    assert_int_equal(a->held_review, b->held_review);
    assert_int_equal(a->rejected, b->rejected);
    assert_int_equal(a->n_indicators, b->n_indicators);
    for (size_t i = 0; i < a->n_indicators; i++) {
        const ro_status_indicator_t *x = &a->indicators[i], *y = &b->indicators[i];
        assert_string_equal(x->id, y->id);
        assert_true(x->value == y->value && x->share == y->share && x->gap == y->gap);
        assert_string_equal(x->grade, y->grade);
        assert_string_equal(x->milestone, y->milestone);
        assert_string_equal(x->label_zh, y->label_zh);
        assert_string_equal(x->measure, y->measure);
        assert_string_equal(x->why, y->why);
        assert_int_equal(x->due_date, y->due_date);
        assert_int_equal(x->no_data, y->no_data);
        assert_int_equal(x->corrected, y->corrected);
        assert_int_equal(x->held_review, y->held_review);
        assert_int_equal(x->rejected, y->rejected);
    }
}

static void test_request_round_trip(void **state)
{
    (void)state;
    ro_status_request_t r = ro_status_request(RO_QUERY_HISTORY), back;
    strcpy(r.key, "469005-012");
    strcpy(r.indicator, "items_no_visit");
    r.as_of = 20180630;
    r.limit = 5;
    uint8_t buf[512];
    int n = ro_status_request_encode(&r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(ro_status_request_encode(&r, buf, 4), -1);
    assert_int_equal(ro_status_request_decode(buf, (size_t)n, &back, NULL, 0), 0);
    assert_memory_equal(&r, &back, sizeof r);
}

static void test_request_hostile(void **state)
{
    (void)state;
    char err[160];
    ro_status_request_t r = ro_status_request(RO_QUERY_UNIT), back;
    strcpy(r.key, "469005-012");
    uint8_t buf[RO_STATUS_REQUEST_MAX + 16];
    int n = ro_status_request_encode(&r, buf, sizeof buf);
    /* truncated in the key */
    assert_int_equal(ro_status_request_decode(buf, (size_t)n - 2, &back, err, sizeof err), -1);
    /* an unknown field (99, varint): skipped and counted, the rest decoded */
    memcpy(buf + n, "\x98\x06\x01", 3);
    assert_int_equal(ro_status_request_decode(buf, (size_t)n + 3, &back, err, sizeof err), 0);
    assert_int_equal(back.unknown, 1);
    assert_string_equal(back.key, "469005-012");
    /* LEVEL with every field written out at its default (key "", as_of 0,
     * indicator "", limit 0), as FEED.md's recipe may be written */
    static const uint8_t level[] = {0x08, 0x01, 0x10, 0x04, 0x1a, 0x00,
                                    0x20, 0x00, 0x2a, 0x00, 0x30, 0x00};
    assert_int_equal(ro_status_request_decode(level, sizeof level, &back, err, sizeof err), 0);
    assert_int_equal(back.query, RO_QUERY_LEVEL);
    assert_string_equal(back.key, "");
    assert_int_equal(back.unknown, 0);
    /* bad UTF-8, then a NUL byte, in the key */
    buf[n - 1] = 0xff;
    assert_int_equal(ro_status_request_decode(buf, (size_t)n, &back, err, sizeof err), -1);
    buf[n - 1] = 0;
    assert_int_equal(ro_status_request_decode(buf, (size_t)n, &back, err, sizeof err), -1);
    /* a key over RO_STATUS_KEY_MAX: field 3, 300 bytes */
    uint8_t big[400] = {0x08, 0x01, 0x1a, 0xac, 0x02};
    memset(big + 5, 'a', 300);
    assert_int_equal(ro_status_request_decode(big, 305, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
    big[4] = 0x01, big[3] = 0x80 | 0x7f; /* 255 bytes fit */
    assert_int_equal(ro_status_request_decode(big, 5 + 255, &back, err, sizeof err), 0);
    assert_int_equal(strlen(back.key), 255);
    /* a frame over the limit, however well formed */
    assert_int_equal(
        ro_status_request_decode(buf, RO_STATUS_REQUEST_MAX + 1, &back, err, sizeof err), -1);
}

static ro_status_reply_t s_reply(ro_status_scope_t *scopes, ro_status_point_t *points,
                                 ro_status_metric_t *metrics)
{
    ro_status_reply_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_VERSION;
    r.status = 0;
    r.error = "";
    r.feed_seq = 77;
    r.as_of = 20180630;
    scopes[0] = s_scope();
    scopes[1] = s_scope();
    scopes[1].kind = "province", scopes[1].id = "460000", scopes[1].n_indicators = 0;
    r.scopes = scopes, r.n_scopes = 2;
    points[0] =
        (ro_status_point_t){.date = 20180101, .value = 0.5, .seq = 3, .total = 10, .part = 5};
    points[1] = (ro_status_point_t){.date = 20180201, .no_data = true};
    r.history = points, r.n_history = 2;
    metrics[0] = (ro_status_metric_t){.name = "reports_stored", .value = 12};
    r.metrics = metrics, r.n_metrics = 1;
    r.store_state = "ok";
    r.indicator = "items_no_visit";
    r.total = 9;
    r.targets_ini = "[indicator x]\n";
    r.feed_epoch = 1ull << 40;
    return r;
}

static void test_reply_round_trip(void **state)
{
    (void)state;
    ro_status_scope_t scopes[2];
    ro_status_point_t points[2];
    ro_status_metric_t metrics[1];
    ro_status_reply_t r = s_reply(scopes, points, metrics);
    uint8_t *buf;
    size_t len;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    char err[160];
    ro_status_reply_t *back = ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err);
    assert_non_null(back);
    assert_int_equal(back->feed_seq, 77);
    assert_int_equal(back->feed_epoch, 1ull << 40);
    assert_int_equal(back->as_of, 20180630);
    assert_int_equal(back->total, 9);
    assert_string_equal(back->error, "");
    assert_string_equal(back->store_state, "ok");
    assert_string_equal(back->indicator, "items_no_visit");
    assert_string_equal(back->targets_ini, "[indicator x]\n");
    assert_int_equal(back->n_scopes, 2);
    s_same_scope(&back->scopes[0], &scopes[0]);
    s_same_scope(&back->scopes[1], &scopes[1]);
    assert_int_equal(back->n_history, 2);
    assert_int_equal(back->history[0].seq, 3);
    assert_true(back->history[0].value == 0.5);
    assert_true(back->history[1].no_data);
    assert_int_equal(back->n_metrics, 1);
    assert_string_equal(back->metrics[0].name, "reports_stored");
    assert_true(back->metrics[0].value == 12);
    /* the plain data encodes to the same bytes again */
    uint8_t *again;
    size_t again_len;
    assert_int_equal(ro_status_reply_encode(back, &again, &again_len), 0);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, buf, len);
    free(again);
    ro_status_reply_free(&back);
    assert_null(back);
    ro_status_reply_free(&back);
    free(buf);
}

/* PROBLEMS' list comes back as sent; a problem's text over its limit is refused. */
static void test_problems_round_trip(void **state)
{
    (void)state;
    ro_status_problem_t p[2] = {
        {"460100-001", "gap", 1530000000, "sends seq 3 but the hub's next is seq 2", "nothing"},
        {"460000-001", "silent", 0, "never heard from", ""},
    };
    ro_status_reply_t r = {
        .version = RO_PROTOCOL_VERSION, .problems = p, .n_problems = 2, .total = 893};
    uint8_t *buf;
    size_t len;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    char err[160];
    ro_status_reply_t *back = ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err);
    assert_non_null(back);
    free(buf);
    assert_int_equal(back->n_problems, 2);
    assert_int_equal(back->total, 893);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(back->problems[i].unit, p[i].unit);
        assert_string_equal(back->problems[i].kind, p[i].kind);
        assert_int_equal(back->problems[i].since, p[i].since);
        assert_string_equal(back->problems[i].text, p[i].text);
        assert_string_equal(back->problems[i].what_to_do, p[i].what_to_do);
    }
    ro_status_reply_free(&back);
    char text[RO_STATUS_WHY_MAX + 2];
    memset(text, 't', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    p[1].text = text;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    assert_null(ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err));
    free(buf);
}

/* TRAIL's list comes back as sent, every field, with a request for it; an
 * incarnation longer than 32 hex digits or a reason over its limit is
 * refused. */
static void test_trail_round_trip(void **state)
{
    (void)state;
    ro_status_request_t req = ro_status_request(RO_QUERY_TRAIL), got;
    snprintf(req.key, sizeof req.key, "460100-001");
    req.limit = 5;
    uint8_t small[64];
    int n = ro_status_request_encode(&req, small, sizeof small);
    assert_true(n > 0);
    assert_int_equal(ro_status_request_decode(small, (size_t)n, &got, NULL, 0), 0);
    assert_int_equal(got.query, RO_QUERY_TRAIL);
    assert_string_equal(got.key, "460100-001");
    assert_int_equal(got.limit, 5);

    char inc[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    ro_status_trail_t t[2] = {
        {1765000000, "amend", 2, inc, "training", 20180105, 200, 35, 3, inc, 20180106, 20, 35,
         "460100-001", "200 typed for 20"},
        {1764990000, "cancel", 7, "", "cases", 201806, 900, 600, 8, "", 0, 0, 0, "", "录错了"},
    };
    ro_status_reply_t r = {.version = RO_PROTOCOL_VERSION, .trail = t, .n_trail = 2, .total = 9};
    uint8_t *buf;
    size_t len;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    char err[160];
    ro_status_reply_t *back = ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err);
    assert_non_null(back);
    free(buf);
    assert_int_equal(back->n_trail, 2);
    assert_int_equal(back->total, 9);
    for (int i = 0; i < 2; i++) {
        const ro_status_trail_t *b = &back->trail[i], *a = &t[i];
        assert_int_equal(b->at, a->at);
        assert_string_equal(b->what, a->what);
        assert_int_equal(b->target_seq, a->target_seq);
        assert_string_equal(b->target_incarnation, a->target_incarnation);
        assert_string_equal(b->target_kind, a->target_kind);
        assert_int_equal(b->target_date, a->target_date);
        assert_int_equal(b->target_total, a->target_total);
        assert_int_equal(b->target_part, a->target_part);
        assert_int_equal(b->seq, a->seq);
        assert_string_equal(b->incarnation, a->incarnation);
        assert_int_equal(b->new_date, a->new_date);
        assert_int_equal(b->new_total, a->new_total);
        assert_int_equal(b->new_part, a->new_part);
        assert_string_equal(b->by, a->by);
        assert_string_equal(b->reason, a->reason);
    }
    ro_status_reply_free(&back);
    char longer[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* 33 */
    t[0].incarnation = longer;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    assert_null(ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err));
    free(buf);
    char reason[RO_TEXT_MAX + 2];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    t[0].incarnation = inc;
    t[1].reason = reason;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    assert_null(ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err));
    free(buf);
}

/* Find needle in hay: its offset, or -1. */
static long s_find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(hay + i, needle, m))
            return (long)i;
    return -1;
}

/* Replace the first occurrence of from in buf (len bytes) with to (same length). */
static void s_patch(uint8_t *buf, size_t len, const char *from, const char *to)
{
    long at = s_find(buf, len, from, strlen(from));
    assert_true(at >= 0);
    memcpy(buf + at, to, strlen(to));
}

static void test_reply_hostile(void **state)
{
    (void)state;
    ro_status_scope_t scopes[2];
    ro_status_point_t points[2];
    ro_status_metric_t metrics[1];
    ro_status_reply_t r = s_reply(scopes, points, metrics);
    uint8_t *buf;
    size_t len;
    char err[160];
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    /* truncated: the last varint (feed_epoch), then inside the first scope */
    assert_null(ro_status_reply_decode(buf, len - 1, RO_DECODE_STRICT, err, sizeof err));
    long at = s_find(buf, len, "469005-012", 10);
    assert_true(at > 0);
    assert_null(ro_status_reply_decode(buf, (size_t)at + 5, RO_DECODE_STRICT, err, sizeof err));
    /* an unknown field at the end */
    uint8_t *more = malloc(len + 3);
    memcpy(more, buf, len);
    memcpy(more + len, "\x98\x06\x01", 3);
    assert_null(ro_status_reply_decode(more, len + 3, RO_DECODE_STRICT, err, sizeof err));
    assert_non_null(strstr(err, "unknown field"));
    /* a client reading a newer hub skips it */
    ro_status_reply_t *newer =
        ro_status_reply_decode(more, len + 3, RO_DECODE_SKIP_UNKNOWN, err, sizeof err);
    assert_non_null(newer);
    assert_int_equal(newer->n_scopes, 2);
    ro_status_reply_free(&newer);
    free(more);
    /* bad UTF-8 and a NUL byte inside a scope's string */
    s_patch(buf, len, "469005-012", "469005-01\xff");
    assert_null(ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err));
    s_patch(buf, len, "469005-01\xff", "469005-01");
    buf[at + 9] = 0;
    assert_null(ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err));
    free(buf);
    /* a scope name over RO_NAME_MAX */
    char name[RO_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    scopes[0].name = name;
    assert_int_equal(ro_status_reply_encode(&r, &buf, &len), 0);
    assert_null(ro_status_reply_decode(buf, len, RO_DECODE_STRICT, err, sizeof err));
    assert_non_null(strstr(err, "limit"));
    free(buf);
    /* a scope with more indicators than RO_INDICATORS_MAX: field 6 holding a
     * Scope of 17 empty field-20 entries */
    uint8_t many[64] = {0x32, 17 * 3};
    for (int i = 0; i < 17; i++)
        memcpy(many + 2 + 3 * i, "\xa2\x01\x00", 3);
    assert_null(ro_status_reply_decode(many, 2 + 17 * 3, RO_DECODE_STRICT, err, sizeof err));
    /* junk */
    assert_null(ro_status_reply_decode((const uint8_t *)"\xff\xff\xff", 3, RO_DECODE_STRICT, err,
                                       sizeof err));
}

static void test_empty_reply_decodes(void **state)
{
    (void)state;
    ro_status_reply_t *r =
        ro_status_reply_decode((const uint8_t *)"", 0, RO_DECODE_STRICT, NULL, 0);
    assert_non_null(r);
    assert_string_equal(r->error, "");
    assert_string_equal(r->store_state, "");
    assert_int_equal(r->n_scopes, 0);
    ro_status_reply_free(&r);
}

static ro_targets_t *s_targets(void)
{
    const char *root = getenv("RO_SOURCE_ROOT");
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/config/targets.ini", root ? root : "../..");
    ro_targets_t *t = ro_targets_load(path, err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    return t;
}

static void test_make_scope(void **state)
{
    (void)state;
    ro_targets_t *t = s_targets();
    ro_scope_t s;
    memset(&s, 0, sizeof s);
    s.kind = RO_SCOPE_PROVINCE;
    strcpy(s.id, "460000");
    strcpy(s.name, "海南省");
    s.level = -1;
    s.indicator_count = ro_targets_count(t);
    for (size_t i = 0; i < s.indicator_count; i++) {
        s.indicators[i].index = i;
        strcpy(s.indicators[i].id, ro_targets_at(t, i)->id);
        s.indicators[i].value = NAN;
        s.indicators[i].share = NAN;
        s.indicators[i].no_data = true;
        s.indicators[i].grade = RO_GRADE_POOR;
    }
    s.grade = RO_GRADE_POOR;
    s.why = 1;
    ro_status_scope_t w;
    assert_int_equal(ro_status_scope_make(t, &s, &w), 0);
    assert_string_equal(w.kind, "province");
    assert_string_equal(w.division, "460000");
    assert_string_equal(w.level, "");
    assert_string_equal(w.grade, ro_grade_label(RO_GRADE_POOR));
    assert_int_equal(w.n_indicators, s.indicator_count);
    assert_true(w.indicators[0].value == 0 && w.indicators[0].no_data);
    assert_string_equal(w.indicators[0].label_zh, ro_targets_at(t, 0)->label_zh);
    assert_non_null(strstr(w.indicators[0].why, "no data"));
    assert_string_equal(w.indicators[1].why, "");
    /* a copy encodes to the same bytes; without targets, no indicators */
    ro_status_scope_t c;
    assert_int_equal(ro_status_scope_copy(&c, &w), 0);
    uint8_t a[8192], b[8192];
    size_t na = ro_status_scope_encode(&w, a, sizeof a);
    assert_true(na > 0 && na <= sizeof a);
    assert_int_equal(ro_status_scope_encode(&c, b, sizeof b), na);
    assert_memory_equal(a, b, na);
    assert_int_equal(ro_status_scope_encode(&w, a, 3), na); /* too small: the size needed */
    ro_status_scope_clear(&c);
    ro_status_scope_clear(&w);
    assert_int_equal(ro_status_scope_make(NULL, &s, &w), 0);
    assert_int_equal(w.n_indicators, 0);
    ro_status_scope_clear(&w);
    ro_status_scope_clear(NULL);
    ro_targets_destroy(&t);
}

/* ro_status_scope_read undoes ro_status_scope_make: a unit scope with
 * figures, grades and milestones comes back field for field; a scope whose
 * indicators are not the targets', or whose grade is unknown, is refused. */
static void test_read_scope(void **state)
{
    (void)state;
    ro_targets_t *t = s_targets();
    ro_scope_t s, back;
    memset(&s, 0, sizeof s);
    s.kind = RO_SCOPE_UNIT;
    strcpy(s.id, "469002-003");
    strcpy(s.name, "琼海市科学技术局");
    s.level = RO_LEVEL_MUNICIPAL;
    s.division = 469002;
    s.units = 1;
    s.units_reporting = 1;
    s.participants = 120;
    s.hours_tenths = 355;
    s.sessions = 4;
    s.staff_total = 20;
    s.staff_proficient = 17;
    s.items_total = 100;
    s.items_no_visit = 81;
    s.last_seq = 9;
    s.last_heard = 1546300800;
    s.reports = 9;
    s.grade = RO_GRADE_GOOD;
    s.why = 2;
    s.indicator_count = ro_targets_count(t);
    for (size_t i = 0; i < s.indicator_count; i++) {
        ro_result_t *r = &s.indicators[i];
        r->index = i;
        strcpy(r->id, ro_targets_at(t, i)->id);
        r->value = 0.25 * (double)(i + 1);
        r->share = 0.5;
        r->goal = 0.8;
        r->grade = i ? RO_GRADE_GOOD : RO_GRADE_EXCELLENT;
        r->milestone = i ? RO_MILESTONE_AT_RISK : RO_MILESTONE_MET;
        r->next_date = 20181231;
        r->next_goal = 0.8;
        r->gap = 0.1;
    }
    ro_status_scope_t w;
    char err[256] = "";
    assert_int_equal(ro_status_scope_make(t, &s, &w), 0);
    assert_int_equal(ro_status_scope_read(t, &w, &back, err, sizeof err), 0);
    assert_int_equal(back.kind, s.kind);
    assert_string_equal(back.id, s.id);
    assert_string_equal(back.name, s.name);
    assert_int_equal(back.level, s.level);
    assert_int_equal(back.division, s.division);
    assert_int_equal(back.participants, s.participants);
    assert_int_equal(back.hours_tenths, s.hours_tenths);
    assert_int_equal(back.items_no_visit, s.items_no_visit);
    assert_int_equal(back.last_heard, s.last_heard);
    assert_int_equal(back.grade, s.grade);
    assert_int_equal(back.why, s.why);
    assert_int_equal(back.indicator_count, s.indicator_count);
    for (size_t i = 0; i < s.indicator_count; i++) {
        assert_string_equal(back.indicators[i].id, s.indicators[i].id);
        assert_true(back.indicators[i].value == s.indicators[i].value);
        assert_int_equal(back.indicators[i].grade, s.indicators[i].grade);
        assert_int_equal(back.indicators[i].milestone, s.indicators[i].milestone);
        assert_int_equal(back.indicators[i].next_date, s.indicators[i].next_date);
    }
    /* another order of indicators, or a grade no one writes: refused, with why */
    char *swap = w.indicators[0].id;
    w.indicators[0].id = w.indicators[1].id;
    assert_int_equal(ro_status_scope_read(t, &w, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "indicator"));
    w.indicators[0].id = swap;
    char *grade = w.grade;
    w.grade = "A+";
    assert_int_equal(ro_status_scope_read(t, &w, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "A+"));
    w.grade = grade;
    ro_status_scope_clear(&w);
    ro_targets_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),  cmocka_unit_test(test_request_hostile),
        cmocka_unit_test(test_reply_round_trip),    cmocka_unit_test(test_reply_hostile),
        cmocka_unit_test(test_empty_reply_decodes), cmocka_unit_test(test_make_scope),
        cmocka_unit_test(test_read_scope),          cmocka_unit_test(test_problems_round_trip),
        cmocka_unit_test(test_trail_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
