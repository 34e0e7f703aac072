/* test_status: the status API's attainment queries without sockets: scopes
 * carry the engine's indicators (no data as 0 plus a flag), division, level,
 * divisions, laggards, silent, history, series and targets, as-of dates from
 * the raw reports (and a cached as-of scan that a new report invalidates),
 * and a series from one pass that equals an as-of query at every point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "committed.h"
#include "engine.h"
#include "ro_registry.h"
#include "ro_status.h"
#include "ro_time.h"
#include "status.h"
#include "store.h"
#include "ro_targets.h"
#include "test_util.h"

#include <math.h>

#define NOW 1546300800 /* 2019-01-01T00:00:00Z */
#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

static const char *s_units_csv = "id,level,division,name\n"
                                 "460000-001,provincial,460000,省发展和改革委员会\n"
                                 "460000-002,provincial,460000,省教育厅\n"
                                 "460100-001,municipal,460100,海口市教育局\n"
                                 "460100-201,township,460100,海口市第1乡镇\n"
                                 "469002-003,municipal,469002,琼海市科学技术局\n";
#define NUNITS 5

typedef struct {
    ro_registry_t *reg;
    ro_targets_t *targets;
    hub_engine_t *engine;
    hub_store_t *store;
    hub_unit_state_t states[NUNITS];
    hub_status_t *status;
    uint64_t seq[NUNITS];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[512] = "", path[512];
    f->reg = ro_registry_load(tu_write("units.csv", s_units_csv), err, sizeof err);
    if (!f->reg)
        fail_msg("registry: %s", err);
    snprintf(path, sizeof path, "%s/config/targets.ini", getenv("RO_SOURCE_ROOT"));
    f->targets = ro_targets_load(path, err, sizeof err);
    if (!f->targets)
        fail_msg("targets: %s", err);
    f->engine = hub_engine_new(f->reg, f->targets, err, sizeof err);
    assert_non_null(f->engine);
    f->store = hub_store_open(":memory:", 2, 0, err, sizeof err);
    assert_non_null(f->store);
    assert_int_equal(hub_store_load_states(f->store, f->reg, f->states, err, sizeof err), 0);
    f->status = hub_status_new(f->reg, f->states, f->store, NULL);
    assert_non_null(f->status);
    assert_int_equal(hub_status_set_engine(f->status, f->engine, f->targets, "the text"), 0);
    hub_status_set_silent_after(f->status, 3600);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    hub_status_destroy(&f->status);
    assert_null(f->status);
    hub_store_destroy(&f->store);
    hub_engine_destroy(&f->engine);
    ro_targets_destroy(&f->targets);
    ro_registry_destroy(&f->reg);
    free(f);
    return 0;
}

/* Store one report of unit index as ingest would: report, state, commit. */
/* Store a report of unit u in a transaction of its own: counted, or held
 * for review (held: as a [review] rule that holds has it stored). */
static void s_put_as(fixture_t *f, size_t u, ro_kind_t kind, uint32_t date, uint32_t total,
                     uint32_t part, int held)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%s", ro_registry_at(f->reg, u)->id);
    r.seq = ++f->seq[u];
    r.recorded_at = NOW - 100;
    r.kind = kind;
    r.date = date;
    r.total = total;
    r.part = part;
    char err[256];
    assert_int_equal(hub_store_begin(f->store, err, sizeof err), 0);
    int64_t iid = hub_store_incarnation(f->store, u, NULL, NOW, err, sizeof err);
    assert_true(iid > 0);
    if (held) {
        assert_int_equal(
            hub_store_hold_review(f->store, u, iid, &r, r.seq, NOW - 100, err, sizeof err), 0);
    } else {
        assert_int_equal(
            hub_store_put_report(f->store, u, iid, &r, r.seq, NOW - 100, err, sizeof err), 0);
        hub_state_apply(&f->states[u], &r);
    }
    f->states[u].last_seq = r.seq;
    f->states[u].last_heard = NOW - 100;
    assert_int_equal(
        hub_store_put_state(f->store, u, &f->states[u], HUB_STORE_DAYS_NOW, err, sizeof err), 0);
    assert_int_equal(hub_store_commit(f->store, err, sizeof err), 0);
}

static void s_put(fixture_t *f, size_t u, ro_kind_t kind, uint32_t date, uint32_t total,
                  uint32_t part)
{
    s_put_as(f, u, kind, date, total, part, 0);
}

/* Ask status st, whose answer must decode. */
static ro_status_reply_t *s_ask_of(hub_status_t *st, ro_query_t q, const char *key, uint32_t as_of,
                                   const char *indicator, uint32_t limit)
{
    ro_status_request_t req = ro_status_request(q);
    snprintf(req.key, sizeof req.key, "%s", key ? key : "");
    req.as_of = as_of;
    snprintf(req.indicator, sizeof req.indicator, "%s", indicator ? indicator : "");
    req.limit = limit;
    uint8_t buf[512], *out = NULL;
    size_t n = (size_t)ro_status_request_encode(&req, buf, sizeof buf), out_len = 0;
    assert_int_equal(hub_status_answer(st, buf, n, NOW, &out, &out_len), 0);
    ro_status_reply_t *r = ro_status_reply_decode(out, out_len, RO_DECODE_STRICT, NULL, 0);
    free(out);
    assert_non_null(r);
    return r;
}

static ro_status_reply_t *s_ask(fixture_t *f, ro_query_t q, const char *key, uint32_t as_of,
                                const char *indicator, uint32_t limit)
{
    return s_ask_of(f->status, q, key, as_of, indicator, limit);
}

static const ro_status_indicator_t *s_ind(const ro_status_scope_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_indicators; i++)
        if (!strcmp(s->indicators[i].id, id))
            return &s->indicators[i];
    fail_msg("no indicator %s", id);
    return NULL;
}

/* The shared state: items 70/100, 50/100, 10/50 (130/250 = 52%), with an
 * earlier 30/100 and 20/100; staff 9/10 (exactly 良); no cases at all. */
static void s_fill(fixture_t *f)
{
    s_put(f, 0, RO_KIND_ITEMS, 20171220, 100, 30);
    s_put(f, 0, RO_KIND_ITEMS, 20180620, 100, 70);
    s_put(f, 0, RO_KIND_STAFF, 20180301, 10, 9);
    s_put(f, 0, RO_KIND_TRAINING, 20180110, 40, 125);
    s_put(f, 2, RO_KIND_ITEMS, 20171220, 100, 20);
    s_put(f, 2, RO_KIND_ITEMS, 20180620, 100, 50);
    s_put(f, 2, RO_KIND_TRAINING, 20180201, 20, 75);
    s_put(f, 3, RO_KIND_ITEMS, 20180625, 50, 10);
}

static void test_province_carries_indicators(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    ro_status_reply_t *r = s_ask(f, RO_QUERY_PROVINCE, NULL, 0, NULL, 0);
    assert_int_equal(r->status, 0);
    const ro_status_scope_t *p = &r->scopes[0];
    assert_int_equal(p->n_indicators, ro_targets_count(f->targets));
    const ro_status_indicator_t *items = s_ind(p, "items_no_visit");
    NEAR(items->value, 130.0 / 250.0);
    assert_string_equal(items->grade, "差");
    assert_string_equal(items->milestone, "missed");
    assert_int_equal(items->next_date, 0); /* after the last milestone */
    assert_int_equal(items->due_date, 20181231);
    NEAR(items->gap, 0.8 - 0.52);
    assert_string_equal(items->measure, "percent");
    assert_non_null(strstr(items->why, "missed 80.0% due 2018-12-31"));
    const ro_status_indicator_t *staff = s_ind(p, "staff_proficient");
    NEAR(staff->value, 0.9);
    assert_string_equal(staff->grade, "良");
    assert_string_equal(staff->why, "");
    /* no cases: NaN travels as 0 with the flag */
    const ro_status_indicator_t *cases = s_ind(p, "cases_no_visit");
    assert_true(cases->no_data);
    assert_true(cases->value == 0.0 && cases->share == 0.0);
    assert_string_equal(cases->grade, "差");
    const ro_status_indicator_t *hours = s_ind(p, "training_hours");
    NEAR(hours->value, 20.0);
    assert_string_equal(p->grade, "差");
    assert_true(p->why & (1u << ro_targets_find(f->targets, "cases_no_visit")));
    ro_status_reply_free(&r);
}

static void test_as_of_reads_the_reports_and_refreshes(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    /* on the day before the second milestone: 130/250 at risk */
    ro_status_reply_t *r = s_ask(f, RO_QUERY_PROVINCE, NULL, 20180629, NULL, 0);
    assert_int_equal(r->as_of, 20180629);
    const ro_status_indicator_t *items = s_ind(&r->scopes[0], "items_no_visit");
    NEAR(items->value, 0.52);
    assert_string_equal(items->milestone, "at-risk");
    assert_int_equal(items->next_date, 20180630);
    ro_status_reply_free(&r);
    /* 2018-01-01: only the first snapshots, 50/200 */
    r = s_ask(f, RO_QUERY_PROVINCE, NULL, 20180101, NULL, 0);
    NEAR(s_ind(&r->scopes[0], "items_no_visit")->value, 0.25);
    assert_string_equal(s_ind(&r->scopes[0], "items_no_visit")->milestone, "missed");
    ro_status_reply_free(&r);
    /* a late report dated in the past changes the past: the cached scan must go */
    s_put(f, 4, RO_KIND_ITEMS, 20171201, 50, 50);
    r = s_ask(f, RO_QUERY_PROVINCE, NULL, 20180101, NULL, 0);
    NEAR(s_ind(&r->scopes[0], "items_no_visit")->value, 100.0 / 250.0);
    ro_status_reply_free(&r);
}

static void test_division_level_divisions(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    ro_status_reply_t *r = s_ask(f, RO_QUERY_DIVISION, "460100", 0, NULL, 0);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->scopes[0].kind, "division");
    assert_string_equal(r->scopes[0].name, "海口市");
    assert_int_equal(r->scopes[0].units, 2);
    NEAR(s_ind(&r->scopes[0], "items_no_visit")->value, 60.0 / 150.0);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_DIVISION, "460000", 0, NULL, 0);
    assert_string_equal(r->scopes[0].name, "省直属单位");
    ro_status_reply_free(&r);
    const char *bad[] = {"123456", "", "4601OO", "-460100"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = s_ask(f, RO_QUERY_DIVISION, bad[i], 0, NULL, 0);
        assert_int_equal(r->status, 2);
        assert_non_null(strstr(r->error, "unknown division"));
        ro_status_reply_free(&r);
    }
    r = s_ask(f, RO_QUERY_LEVEL, "township", 0, NULL, 0);
    assert_int_equal(r->n_scopes, 1);
    assert_string_equal(r->scopes[0].level, "township");
    NEAR(s_ind(&r->scopes[0], "items_no_visit")->value, 0.2);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_LEVEL, NULL, 0, NULL, 0);
    assert_int_equal(r->n_scopes, RO_LEVEL_COUNT);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_LEVEL, "county", 0, NULL, 0);
    assert_int_equal(r->status, 2);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_DIVISIONS, NULL, 0, NULL, 0);
    assert_int_equal(r->n_scopes, RO_DIVISION_COUNT);
    assert_string_equal(r->scopes[0].id, "460000");
    assert_int_equal(r->scopes[0].units, 2);
    ro_status_reply_free(&r);
}

/* In a transaction of its own: flag unit u's latest report (stored held), then
 * decide it (accept 1, reject 0) unless decide is -1; or amend it with the
 * same figures (amend 1). */
static void s_mark(fixture_t *f, size_t u, int amend, int decide)
{
    char err[256] = "";
    int changed, was_held, kind;
    uint64_t seq = f->seq[u];
    assert_int_equal(hub_store_begin(f->store, err, sizeof err), 0);
    int64_t iid = hub_store_incarnation(f->store, u, NULL, NOW, err, sizeof err);
    if (amend) {
        ro_report_t r;
        memset(&r, 0, sizeof r);
        r.version = RO_PROTOCOL_VERSION;
        snprintf(r.unit, sizeof r.unit, "%s", ro_registry_at(f->reg, u)->id);
        r.seq = ++f->seq[u], r.recorded_at = NOW - 50;
        r.kind = RO_KIND_TRAINING, r.date = 20181201, r.total = 3, r.part = 10;
        r.action = RO_ACTION_AMEND, r.target_seq = seq;
        snprintf(r.reason, sizeof r.reason, "typo");
        hub_store_target_t was;
        assert_int_equal(
            hub_store_correct(f->store, u, iid, &r, iid, "", NOW - 50, &was, err, sizeof err), 0);
        assert_int_equal(
            hub_store_put_report(f->store, u, iid, &r, r.seq, NOW - 50, err, sizeof err), 0);
    } else {
        assert_int_equal(
            hub_store_flag(f->store, u, iid, seq, 1, "r", "x", NOW - 50, err, sizeof err), 0);
        if (decide >= 0)
            assert_int_equal(hub_store_decide(f->store, u, NULL, seq, decide, "", "why", NOW - 40,
                                              &changed, &was_held, &kind, err, sizeof err),
                             0);
    }
    assert_int_equal(hub_store_commit(f->store, err, sizeof err), 0);
}

/* "corrected held rejected" of a scope, or of its indicator id. */
static const char *s_rests(const ro_status_scope_t *s, const char *id)
{
    static char buf[64];
    if (id) {
        const ro_status_indicator_t *in = s_ind(s, id);
        snprintf(buf, sizeof buf, "%llu %llu %llu", (unsigned long long)in->corrected,
                 (unsigned long long)in->held_review, (unsigned long long)in->rejected);
    } else {
        snprintf(buf, sizeof buf, "%llu %llu %llu", (unsigned long long)s->corrected,
                 (unsigned long long)s->held_review, (unsigned long long)s->rejected);
    }
    return buf;
}

/* Every scope says how many of the reports behind it were corrected, are
 * held for review or were rejected: a division's and a level's are their
 * units' sums, each indicator those of its kind; as of a past date, those
 * dated by then; a new trail row is counted at once (not a stale cache). */
static void test_scopes_say_what_they_rest_on(void **state)
{
    fixture_t *f = *state;
    s_put(f, 0, RO_KIND_TRAINING, 20181201, 30, 10); /* provincial, amended */
    s_mark(f, 0, 1, -1);
    s_put_as(f, 2, RO_KIND_ITEMS, 20181210, 100, 10, 1); /* 460100 municipal, held */
    s_mark(f, 2, 0, -1);
    s_put_as(f, 3, RO_KIND_STAFF, 20181215, 10, 1, 1); /* 460100 township, rejected */
    s_mark(f, 3, 0, 0);
    s_put_as(f, 4, RO_KIND_CASES, 201812, 10, 1, 1); /* 469002 municipal, accepted */
    s_mark(f, 4, 0, 1);

    ro_status_reply_t *r = s_ask(f, RO_QUERY_DIVISION, "460100", 0, NULL, 0);
    assert_string_equal(s_rests(&r->scopes[0], NULL), "0 1 1");
    assert_string_equal(s_rests(&r->scopes[0], "items_no_visit"), "0 1 0");
    assert_string_equal(s_rests(&r->scopes[0], "staff_proficient"), "0 0 1");
    assert_string_equal(s_rests(&r->scopes[0], "training_participants"), "0 0 0");
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_LEVEL, "", 0, NULL, 0);
    assert_string_equal(r->scopes[0].level, "provincial");
    assert_string_equal(s_rests(&r->scopes[0], NULL), "1 0 0");
    assert_string_equal(s_rests(&r->scopes[0], "training_hours"), "1 0 0");
    assert_string_equal(s_rests(&r->scopes[1], NULL), "0 1 0");
    assert_string_equal(s_rests(&r->scopes[2], "staff_proficient"), "0 0 1");
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_DIVISIONS, NULL, 0, NULL, 0);
    assert_string_equal(s_rests(&r->scopes[0], "training_participants"), "1 0 0");
    assert_string_equal(s_rests(&r->scopes[1], NULL), "0 1 1");
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_PROVINCE, NULL, 0, NULL, 0);
    assert_string_equal(s_rests(&r->scopes[0], NULL), "1 1 1");
    assert_string_equal(s_rests(&r->scopes[0], "cases_no_visit"), "0 0 0");
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_UNIT, "460100-001", 0, NULL, 0);
    assert_string_equal(s_rests(&r->scopes[0], NULL), "0 1 0");
    ro_status_reply_free(&r);
    /* MARKED: the units behind them, the most first, then registry order */
    r = s_ask(f, RO_QUERY_MARKED, NULL, 0, NULL, 2);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->total, 3);
    assert_int_equal(r->n_scopes, 2);
    assert_string_equal(r->scopes[0].id, "460000-001");
    assert_string_equal(s_rests(&r->scopes[1], "items_no_visit"), "0 1 0");
    ro_status_reply_free(&r);
    /* a new flag counts at once */
    s_put_as(f, 4, RO_KIND_CASES, 201811, 10, 2, 1);
    s_mark(f, 4, 0, -1);
    r = s_ask(f, RO_QUERY_PROVINCE, NULL, 0, NULL, 0);
    assert_string_equal(s_rests(&r->scopes[0], NULL), "1 2 1");
    ro_status_reply_free(&r);
    /* as of a past date: only what was dated by then */
    r = s_ask(f, RO_QUERY_PROVINCE, NULL, 20181211, NULL, 0);
    assert_string_equal(s_rests(&r->scopes[0], NULL), "1 2 0");
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_MARKED, NULL, 20181211, NULL, 0);
    assert_int_equal(r->total, 3);
    assert_string_equal(r->scopes[2].id, "469002-003");
    ro_status_reply_free(&r);
}

/* Today's laggards from a committed state, as the hub answers them (on the
 * values it keeps), are the laggards read from the same states, before and
 * after a unit moves up the list; every indicator, all and the worst 2. */
static void test_laggards_from_kept_values(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    hub_committed_t *c = hub_committed_new(f->reg, f->engine, f->states);
    assert_non_null(c);
    assert_non_null(hub_committed_values(c, f->engine));
    hub_status_t *kept = hub_status_new(f->reg, hub_committed_states(c), f->store, c);
    assert_non_null(kept);
    assert_int_equal(hub_status_set_engine(kept, f->engine, f->targets, "the text"), 0);
    static const char *const inds[] = {"items_no_visit", "staff_proficient", "training_hours"};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof inds / sizeof *inds; i++) {
            for (uint32_t limit = 0; limit <= 2; limit += 2) {
                ro_status_reply_t *a = s_ask(f, RO_QUERY_LAGGARDS, NULL, 0, inds[i], limit);
                ro_status_reply_t *b = s_ask_of(kept, RO_QUERY_LAGGARDS, NULL, 0, inds[i], limit);
                assert_int_equal(a->status, 0);
                assert_int_equal(b->status, 0);
                assert_int_equal(a->total, b->total);
                assert_int_equal(a->n_scopes, b->n_scopes);
                for (size_t k = 0; k < a->n_scopes; k++) {
                    assert_string_equal(a->scopes[k].id, b->scopes[k].id);
                    NEAR(s_ind(&a->scopes[k], inds[i])->gap, s_ind(&b->scopes[k], inds[i])->gap);
                }
                ro_status_reply_free(&a);
                ro_status_reply_free(&b);
            }
        }
        if (round == 1)
            break;
        /* unit 3 (10 of 50 items, near the top) reaches 45 of 50: published */
        s_put(f, 3, RO_KIND_ITEMS, 20180626, 50, 45);
        uint32_t units[] = {3};
        hub_committed_publish(c, units, 1, f->states, NULL, NULL);
        ro_status_reply_t *b = s_ask_of(kept, RO_QUERY_LAGGARDS, NULL, 0, "items_no_visit", 0);
        for (size_t k = 0; k < b->n_scopes; k++)
            assert_string_not_equal(b->scopes[k].id, "460100-201"); /* 90%: behind no more */
        ro_status_reply_free(&b);
    }
    hub_status_destroy(&kept);
    hub_committed_destroy(&c);
}

static void test_laggards_and_silent(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    /* as of 2018-06-30: no data (gap 80%) in registry order, then by gap */
    ro_status_reply_t *r = s_ask(f, RO_QUERY_LAGGARDS, NULL, 20180630, NULL, 0);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->indicator, "items_no_visit");
    assert_int_equal(r->total, 5);
    const char *order[] = {"460000-002", "469002-003", "460100-201", "460100-001", "460000-001"};
    assert_int_equal(r->n_scopes, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(r->scopes[i].id, order[i]);
    assert_string_equal(r->scopes[3].division, "460100");
    NEAR(s_ind(&r->scopes[3], "items_no_visit")->gap, 0.3);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_LAGGARDS, NULL, 20180630, NULL, 2);
    assert_int_equal(r->total, 5);
    assert_int_equal(r->n_scopes, 2);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_LAGGARDS, NULL, 0, "nosuch", 0);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->error, "items_no_visit"));
    ro_status_reply_free(&r);

    /* heard 100 s ago: three units; never: two, in registry order */
    r = s_ask(f, RO_QUERY_SILENT, NULL, 0, NULL, 0);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->total, 2);
    assert_string_equal(r->scopes[0].id, "460000-002");
    assert_string_equal(r->scopes[1].id, "469002-003");
    ro_status_reply_free(&r);
    hub_status_set_silent_after(f->status, 50);
    r = s_ask(f, RO_QUERY_SILENT, NULL, 0, NULL, 0);
    assert_int_equal(r->total, 5);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_SILENT, NULL, 20180101, NULL, 0);
    assert_int_equal(r->status, 2);
    ro_status_reply_free(&r);
}

static void test_history(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    s_put(f, 0, RO_KIND_TRAINING, 20180301, 10, 30);
    ro_status_reply_t *r = s_ask(f, RO_QUERY_HISTORY, "460000-001", 0, "training_participants", 0);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->scopes[0].id, "460000-001");
    assert_int_equal(r->n_history, 2);
    /* a sum's value runs; total and part are the session's own */
    NEAR(r->history[0].value, 40);
    NEAR(r->history[1].value, 50);
    assert_int_equal(r->history[1].total, 10);
    assert_int_equal(r->history[1].seq, 5);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_HISTORY, "460000-001", 0, "training_hours", 1);
    assert_int_equal(r->n_history, 1);
    NEAR(r->history[0].value, 15.5);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_HISTORY, "460000-001", 20180101, NULL, 0);
    assert_string_equal(r->indicator, "items_no_visit");
    assert_int_equal(r->n_history, 1);
    NEAR(r->history[0].value, 0.3);
    assert_int_equal(r->history[0].date, 20171220);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_HISTORY, "469002-003", 0, "cases_no_visit", 0);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->n_history, 0);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_HISTORY, "469002-999", 0, NULL, 0);
    assert_int_equal(r->status, 2);
    ro_status_reply_free(&r);
}

/* The one-pass series equals an as-of query at every point, for every
 * indicator, with snapshots replaced, equal dates, months and late reports. */
static void test_series_equals_as_of(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    s_put(f, 1, RO_KIND_ITEMS, 20180115, 80, 8);
    s_put(f, 1, RO_KIND_ITEMS, 20180115, 80, 40); /* same date: the later seq wins */
    s_put(f, 1, RO_KIND_ITEMS, 20171105, 60, 6);  /* recorded late, dated early */
    s_put(f, 2, RO_KIND_CASES, 201803, 100, 30);
    s_put(f, 2, RO_KIND_CASES, 201805, 200, 150);
    s_put(f, 4, RO_KIND_STAFF, 20180505, 20, 10);
    s_put(f, 4, RO_KIND_STAFF, 20180401, 5, 5);
    size_t n = ro_targets_count(f->targets);
    for (size_t i = 0; i < n; i++) {
        const char *id = ro_targets_at(f->targets, i)->id;
        ro_status_reply_t *s = s_ask(f, RO_QUERY_SERIES, NULL, 20180815, id, 0);
        assert_int_equal(s->status, 0);
        assert_string_equal(s->indicator, id);
        assert_int_equal(s->n_scopes, 1);
        assert_true(s->n_history > 0);
        assert_int_equal(s->history[s->n_history - 1].date, 20180815);
        for (size_t k = 0; k < s->n_history; k++) {
            const ro_status_point_t *p = &s->history[k];
            if (k + 1 < s->n_history)
                assert_int_equal(p->date, ro_month_end(p->date / 100));
            ro_status_reply_t *a = s_ask(f, RO_QUERY_PROVINCE, NULL, p->date, NULL, 0);
            const ro_status_indicator_t *in = s_ind(&a->scopes[0], id);
            assert_int_equal(p->no_data, in->no_data);
            if (fabs(p->value - in->value) > 1e-12)
                fail_msg("%s on %u: series %g, as-of %g", id, p->date, p->value, in->value);
            ro_status_reply_free(&a);
        }
        ro_status_reply_free(&s);
    }
    /* the items series starts at the first month end with data: 2017-11-30 */
    ro_status_reply_t *s = s_ask(f, RO_QUERY_SERIES, NULL, 20180815, NULL, 0);
    assert_int_equal(s->history[0].date, 20171130);
    NEAR(s->history[0].value, 0.1);
    assert_int_equal(s->n_history, 10);
    ro_status_reply_free(&s);
    s = s_ask(f, RO_QUERY_SERIES, NULL, 20180815, NULL, 3);
    assert_int_equal(s->n_history, 3);
    assert_int_equal(s->history[0].date, 20180630);
    ro_status_reply_free(&s);
}

/* Reply scope w is the engine's x: every sum, every indicator's value and
 * grade. */
static void s_assert_scope_is(const ro_status_scope_t *w, const ro_scope_t *x, uint32_t as_of)
{
    if (w->units != x->units || w->units_reporting != x->units_reporting ||
        w->reports != x->reports || w->participants != x->participants ||
        w->hours_tenths != x->hours_tenths || w->sessions != x->sessions ||
        w->staff_total != x->staff_total || w->staff_proficient != x->staff_proficient ||
        w->items_total != x->items_total || w->items_no_visit != x->items_no_visit ||
        w->cases_total != x->cases_total || w->cases_no_visit != x->cases_no_visit)
        fail_msg("%s %s as of %u: answered reporting %u reports %llu participants %llu items "
                 "%llu/%llu; the units' states add up to reporting %u reports %llu participants "
                 "%llu items %llu/%llu",
                 w->kind, w->id, as_of, w->units_reporting, (unsigned long long)w->reports,
                 (unsigned long long)w->participants, (unsigned long long)w->items_no_visit,
                 (unsigned long long)w->items_total, x->units_reporting,
                 (unsigned long long)x->reports, (unsigned long long)x->participants,
                 (unsigned long long)x->items_no_visit, (unsigned long long)x->items_total);
    assert_int_equal(w->n_indicators, x->indicator_count);
    for (size_t i = 0; i < x->indicator_count; i++) {
        assert_int_equal(w->indicators[i].no_data, x->indicators[i].no_data);
        if (!x->indicators[i].no_data)
            NEAR(w->indicators[i].value, x->indicators[i].value);
        assert_string_equal(w->indicators[i].grade, ro_grade_label(x->indicators[i].grade));
    }
}

/* As of a past date, the province, levels and divisions are the store's
 * scope sums; they equal the units' states as of that date added up by the
 * engine, with a snapshot replaced, late reports, and a unit whose rows are
 * stale (a report dated months before its latest). */
static void test_past_scopes_are_the_units_added_up(void **state)
{
    fixture_t *f = *state;
    s_fill(f);
    s_put(f, 1, RO_KIND_ITEMS, 20180715, 80, 40);
    s_put(f, 1, RO_KIND_TRAINING, 20180105, 12, 30); /* half a year back: stale rows */
    s_put(f, 2, RO_KIND_CASES, 201803, 100, 30);
    s_put(f, 4, RO_KIND_STAFF, 20180505, 20, 10);
    s_put(f, 4, RO_KIND_STAFF, 20180401, 5, 5);
    assert_true(f->states[1].reports == 2);
    static const uint32_t dates[] = {20171201, 20171231, 20180106, 20180301,
                                     20180629, 20180716, 20180815};
    hub_unit_state_t at[NUNITS];
    hub_rollup_t *want = malloc(sizeof *want);
    assert_non_null(want);
    for (size_t d = 0; d < sizeof dates / sizeof dates[0]; d++) {
        assert_int_equal(hub_store_states_as_of(f->store, f->reg, dates[d], at, NULL, 0), 0);
        assert_int_equal(hub_engine_rollup(f->engine, at, dates[d], want), 0);
        ro_status_reply_t *r = s_ask(f, RO_QUERY_PROVINCE, NULL, dates[d], NULL, 0);
        assert_int_equal(r->status, 0);
        s_assert_scope_is(&r->scopes[0], &want->province, dates[d]);
        ro_status_reply_free(&r);
        r = s_ask(f, RO_QUERY_LEVEL, NULL, dates[d], NULL, 0);
        assert_int_equal(r->n_scopes, RO_LEVEL_COUNT);
        for (int l = 0; l < RO_LEVEL_COUNT; l++)
            s_assert_scope_is(&r->scopes[l], &want->levels[l], dates[d]);
        ro_status_reply_free(&r);
        r = s_ask(f, RO_QUERY_DIVISIONS, NULL, dates[d], NULL, 0);
        assert_int_equal(r->n_scopes, RO_DIVISION_COUNT);
        for (int k = 0; k < RO_DIVISION_COUNT; k++)
            s_assert_scope_is(&r->scopes[k], &want->divisions[k], dates[d]);
        ro_status_reply_free(&r);
        r = s_ask(f, RO_QUERY_DIVISION, "460100", dates[d], NULL, 0);
        s_assert_scope_is(&r->scopes[0], &want->divisions[ro_division_index(460100)], dates[d]);
        ro_status_reply_free(&r);
    }
    free(want);
}

static void test_targets_and_no_engine(void **state)
{
    fixture_t *f = *state;
    ro_status_reply_t *r = s_ask(f, RO_QUERY_TARGETS, NULL, 0, NULL, 0);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->targets_ini, "the text");
    ro_status_reply_free(&r);
    assert_int_equal(hub_status_set_engine(f->status, NULL, NULL, NULL), 0);
    r = s_ask(f, RO_QUERY_TARGETS, NULL, 0, NULL, 0);
    assert_int_equal(r->status, 1);
    ro_status_reply_free(&r);
    r = s_ask(f, RO_QUERY_DIVISIONS, NULL, 0, NULL, 0);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->error, "no targets"));
    ro_status_reply_free(&r);
    /* raw sums still answer, with no indicators and no grade */
    r = s_ask(f, RO_QUERY_PROVINCE, NULL, 0, NULL, 0);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->scopes[0].units, NUNITS);
    assert_int_equal(r->scopes[0].n_indicators, 0);
    assert_string_equal(r->scopes[0].grade, "");
    ro_status_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_province_carries_indicators, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_as_of_reads_the_reports_and_refreshes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_division_level_divisions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scopes_say_what_they_rest_on, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_laggards_and_silent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_laggards_from_kept_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_series_equals_as_of, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_past_scopes_are_the_units_added_up, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_targets_and_no_engine, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
