/* test_review: targets.ini [review] (the parser and its errors), each rule
 * flagging a report in ingest (held for review, or counted with hold = no),
 * a reviewer's decision through hub_ingest_decide (accept counts, reject
 * keeps out, the same decision again is ok, the other one is refused
 * naming who decided), a correction of a held report, and QUERY_REVIEWS
 * and QUERY_DECIDE on the status side (the key check, the hand-off). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_fixture.h"
#include "ingest.h"
#include "review.h"
#include "ro_status.h"
#include "status.h"
#include "store_db.h"

/* Lines of the indicators' part: where a [review] appended starts. */
static int s_lines_before(void)
{
    const char *p = hf_targets_with("");
    FILE *f = fopen(p, "r");
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static void s_load_fails(const char *review, int line, const char *why)
{
    char err[512] = "", want[600];
    const char *path = hf_targets_with(review);
    ro_targets_t *t = ro_targets_load(path, err, sizeof err);
    assert_null(t);
    snprintf(want, sizeof want, "%s:%d: %s", path, s_lines_before() + line, why);
    assert_string_equal(err, want);
}

static void test_review_targets_parse(void **state)
{
    (void)state;
    ro_targets_t *t = hf_targets(); /* the shipped file: rules on */
    const ro_review_t *rv = ro_targets_review(t);
    assert_true(rv->participants_above_staff);
    assert_true(rv->hold);
    assert_true(rv->max_session_hours == 24);
    assert_true(rv->max_share_jump == 50);
    assert_true(rv->max_goal_multiple == 10000);
    ro_targets_destroy(&t);

    char err[512] = "";
    t = ro_targets_load(hf_targets_with(""), err, sizeof err);
    assert_non_null(t);
    rv = ro_targets_review(t);
    assert_false(rv->participants_above_staff); /* absent: off, but a flag holds */
    assert_true(rv->max_session_hours == 0 && rv->max_share_jump == 0);
    assert_true(rv->hold);
    ro_targets_destroy(&t);

    s_load_fails("[review]\nmax_session_hours = 0\n", 2,
                 "max_session_hours = '0' is not a number above 0 and at most 744");
    s_load_fails("[review]\nmax_share_jump = 101\n", 2,
                 "max_share_jump = '101' is not a number above 0 and at most 100");
    s_load_fails("[review]\nhold = maybe\n", 2, "hold = 'maybe' is not no or yes");
}

/* The "given twice" message names the first line, which depends on the
 * file: checked apart. */
static void test_review_targets_errors(void **state)
{
    (void)state;
    char err[512] = "", want[700];
    int base = s_lines_before();
    const char *path = hf_targets_with("[review]\nhold = no\nhold = yes\n");
    assert_null(ro_targets_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s:%d: 'hold' given twice in [review] (first on line %d)", path,
             base + 3, base + 2);
    assert_string_equal(err, want);
    path = hf_targets_with("[review]\nmax_goal = 3\n");
    assert_null(ro_targets_load(path, err, sizeof err));
    assert_non_null(strstr(err, "unknown key 'max_goal' in [review]"));
    path = hf_targets_with("[review]\n[review]\n");
    assert_null(ro_targets_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s:%d: [review] appears twice (first on line %d)", path, base + 2,
             base + 1);
    assert_string_equal(err, want);
}

/* ---- ingest ----------------------------------------------------------------- */

typedef struct {
    ro_registry_t *reg;
    ro_targets_t *targets;
    hub_engine_t *engine;
    hub_review_t *review;
    hub_store_t *store;
    hub_unit_state_t states[NUNITS];
    hub_ingest_t *ingest;
} fixture_t;

#define RULES                                                                                      \
    "[review]\nparticipants_above_staff = yes\nmax_session_hours = 24\nmax_share_jump = 50\n"      \
    "max_goal_multiple = 10\n"

static fixture_t *s_fixture(const char *review)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[512] = "";
    f->reg = hf_registry();
    f->targets = ro_targets_load(hf_targets_with(review), err, sizeof err);
    if (!f->targets)
        fail_msg("targets: %s", err);
    f->engine = hub_engine_new(f->reg, f->targets, err, sizeof err);
    if (!f->engine)
        fail_msg("engine: %s", err);
    f->review = hub_review_new(f->reg, f->targets, f->engine);
    f->store = hf_open(":memory:", 0);
    assert_int_equal(hub_store_load_states(f->store, f->reg, f->states, NULL, 0), 0);
    f->ingest = hub_ingest_new(f->store, f->reg, f->states, 64);
    assert_non_null(f->ingest);
    hub_ingest_set_review(f->ingest, f->review);
    return f;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    hub_ingest_destroy(&f->ingest);
    hub_store_destroy(&f->store);
    hub_review_destroy(&f->review);
    hub_engine_destroy(&f->engine);
    ro_targets_destroy(&f->targets);
    ro_registry_destroy(&f->reg);
    free(f);
    return 0;
}

static int s_setup_hold(void **state)
{
    *state = s_fixture(RULES);
    return 0;
}

static int s_setup_no_hold(void **state)
{
    *state = s_fixture(RULES "hold = no\n");
    return 0;
}

static void s_add(hub_ingest_t *in, const ro_report_t *r)
{
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_ingest_add(in, "A", 1, buf, (size_t)n, 1), 0);
}

static void s_send(fixture_t *f, const ro_report_t *r)
{
    s_add(f->ingest, r);
}

/* Every report of the rules' tour, in one batch: each rule fires once.
 * 460100-001 (index 1): staff 40, a session of 200 (above staff), one of
 * 30 hours, a share from 50% to 97.5% (47.5 points: not above 50) and then
 * to 12.5% (85 points); 469002-003 (index 2, no staff): 7000 people, above
 * 10 times its goal of 666 (2000 shared by three units). */
static void s_tour(fixture_t *f)
{
    const char *u = "460100-001";
    ro_report_t r[] = {
        hf_report(u, 1, RO_KIND_STAFF, 20180301, 40, 20),
        hf_report(u, 2, RO_KIND_TRAINING, 20180302, 200, 15),
        hf_report(u, 3, RO_KIND_TRAINING, 20180303, 20, 300),
        hf_report(u, 4, RO_KIND_STAFF, 20180310, 40, 39),
        hf_report(u, 5, RO_KIND_STAFF, 20180315, 40, 5),
        hf_report(u, 6, RO_KIND_TRAINING, 20180316, 30, 20),
        hf_report("469002-003", 1, RO_KIND_TRAINING, 20180302, 7000, 20),
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        s_send(f, &r[i]);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    /* each is stored and acknowledged */
    assert_int_equal(hub_ingest_reply_count(f->ingest), 2);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(hub_ingest_reply_at(f->ingest, i)->msg.kind, RO_HUBMSG_ACK);
    assert_int_equal(hub_ingest_counters(f->ingest)->flagged, 4);
    assert_int_equal(hub_ingest_counters(f->ingest)->reports_stored, 7);
}

/* The flagged reports as "unit:seq:rule:state", pending first. */
static void s_reviews(fixture_t *f, char *out, size_t cap, uint64_t *pending)
{
    hub_store_review_t *v = NULL;
    size_t n = 0;
    uint64_t total = 0;
    assert_int_equal(hub_store_reviews(f->store, -1, 0, &v, &n, &total, pending, NULL, 0), 0);
    assert_int_equal(total, n);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s:%llu:%s:%d\n", v[i].unit,
                                 (unsigned long long)v[i].seq, v[i].rule, v[i].state);
    free(v);
}

static void s_recount_agrees(fixture_t *f)
{
    char err[256] = "";
    assert_int_equal(hub_store_recount(f->store, NULL, 0, NULL, NULL, err, sizeof err), 0);
    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(f->store, f->reg, again, NULL, 0), 0);
    hf_assert_states_equal(f->states, again, NUNITS);
}

/* What ingest keeps of each unit's marks (corrected, held, rejected per
 * kind, as committed) is what the store counts from the trail. */
static void s_marks_agree(fixture_t *f, const hub_committed_t *c)
{
    char err[256] = "";
    hub_unit_marks_t want[NUNITS];
    assert_int_equal(hub_store_marks(f->store, f->reg, 99991231, 0, want, NULL, err, sizeof err),
                     0);
    hub_unit_marks_t province = {0}, level[RO_LEVEL_COUNT] = {0}, div[RO_DIVISION_COUNT] = {0};
    for (size_t u = 0; u < NUNITS; u++) {
        assert_memory_equal(&hub_committed_flags(c)[u].marks, &want[u], sizeof want[u]);
        const ro_unit_t *unit = ro_registry_at(f->reg, u);
        hub_unit_marks_t *to[3] = {&province, &level[unit->level],
                                   &div[ro_division_index(unit->division)]};
        for (int t = 0; t < 3; t++)
            for (size_t k = 0; k < HUB_MARK_KINDS; k++) {
                to[t]->corrected[k] += want[u].corrected[k];
                to[t]->held[k] += want[u].held[k];
                to[t]->rejected[k] += want[u].rejected[k];
            }
    }
    /* and the kept sums of the province, each level and each division */
    assert_memory_equal(hub_committed_marks(c, -1, -1), &province, sizeof province);
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        assert_memory_equal(hub_committed_marks(c, l, -1), &level[l], sizeof level[l]);
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        assert_memory_equal(hub_committed_marks(c, -1, d), &div[d], sizeof div[d]);
}

static void test_review_rules_hold(void **state)
{
    fixture_t *f = *state;
    s_tour(f);
    /* held: counted nowhere */
    assert_int_equal(f->states[1].participants, 30);
    assert_int_equal(f->states[1].sessions, 1);
    assert_int_equal(f->states[1].staff_proficient, 39); /* the 12.5% one waits */
    assert_int_equal(f->states[2].participants, 0);
    assert_int_equal(f->states[1].reports, 3);
    char out[1024];
    uint64_t pending = 0;
    s_reviews(f, out, sizeof out, &pending);
    assert_int_equal(pending, 4);
    assert_string_equal(out, "469002-003:1:max_goal_multiple:0\n"
                             "460100-001:5:max_share_jump:0\n"
                             "460100-001:3:max_session_hours:0\n"
                             "460100-001:2:participants_above_staff:0\n");
    hub_store_review_t *v = NULL;
    size_t n = 0;
    assert_int_equal(hub_store_reviews(f->store, 1, 1, &v, &n, NULL, NULL, NULL, 0), 0);
    assert_int_equal(n, 1); /* limit 1, of one unit */
    assert_string_equal(v[0].text, "staff share 12.5% on 20180315 after 97.5% on 20180310: a "
                                   "jump of 85.0 points");
    free(v);
    assert_int_equal(hub_store_reviews(f->store, 1, 0, &v, &n, NULL, NULL, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[1].text, "a session of 30.0 hours, above 24");
    assert_string_equal(v[2].text, "200 participants, the unit's staff is 40");
    free(v);
    s_recount_agrees(f);

    /* a restarted hub's ingest counts them again from the store, for the scopes */
    hub_ingest_t *again = hub_ingest_new(f->store, f->reg, f->states, 64);
    hub_committed_t *c = hub_committed_new(f->reg, NULL, f->states);
    hub_ingest_set_committed(again, c);
    assert_int_equal(hub_committed_held_review(c), 4);
    assert_int_equal(hub_marks_held(&hub_committed_flags(c)[1].marks), 3);
    assert_int_equal(hub_marks_held(&hub_committed_flags(c)[2].marks), 1);
    hub_ingest_destroy(&again);
    hub_committed_destroy(&c);
}

static void test_review_rules_no_hold(void **state)
{
    fixture_t *f = *state;
    s_tour(f);
    /* counted all the same, and listed */
    assert_int_equal(f->states[1].participants, 250);
    assert_int_equal(f->states[1].staff_proficient, 5);
    assert_int_equal(f->states[2].participants, 7000);
    char out[1024];
    uint64_t pending = 0;
    s_reviews(f, out, sizeof out, &pending);
    assert_int_equal(pending, 4);
    s_recount_agrees(f);
    /* a reject takes a counted one out */
    hub_decision_t d = {
        .unit = "469002-003", .seq = 1, .accept = 0, .by = "reviewer:ann", .reason = "typo"};
    char why[512] = "";
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    assert_int_equal(f->states[2].participants, 0);
    s_recount_agrees(f);
}

static hub_decision_t s_decision(uint64_t seq, int accept)
{
    hub_decision_t d = {.unit = "460100-001", .seq = seq, .accept = accept, .by = "reviewer:ann"};
    snprintf(d.reason, sizeof d.reason, "checked seq %llu", (unsigned long long)seq);
    return d;
}

static void test_review_decide(void **state)
{
    fixture_t *f = *state;
    hub_committed_t *c = hub_committed_new(f->reg, NULL, f->states);
    hub_ingest_set_committed(f->ingest, c);
    s_tour(f);
    assert_int_equal(hub_committed_held_review(c), 4);
    char why[512] = "";
    hub_decision_t d = s_decision(2, 1);
    uint64_t batches = hub_ingest_counters(f->ingest)->batches;
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW + 10, why, sizeof why), 0);
    assert_int_equal(f->states[1].participants, 230); /* accepted: it counts */
    assert_int_equal(hub_committed_held_review(c), 3);
    assert_int_equal(hub_ingest_counters(f->ingest)->decisions, 1);
    assert_int_equal(hub_ingest_counters(f->ingest)->batches, batches);
    size_t n = 0;
    const uint32_t *changed = hub_ingest_changed(f->ingest, &n);
    assert_int_equal(n, 1);
    assert_int_equal(changed[0], 1);
    /* again: ok, nothing written; the other way: refused, naming who and when */
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW + 20, why, sizeof why), 1);
    d.accept = 0;
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW + 20, why, sizeof why),
                     HUB_STORE_ETARGET);
    assert_string_equal(why, "460100-001 seq 2 was accepted by reviewer:ann at 2019-01-01 "
                             "00:00:10 UTC");
    /* reject: stays out */
    d = s_decision(3, 0);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    assert_int_equal(f->states[1].participants, 230);
    assert_int_equal(hub_committed_held_review(c), 2);
    /* not flagged, not a unit, no such seq */
    d = s_decision(1, 1);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), HUB_STORE_ETARGET);
    assert_string_equal(why, "460100-001 seq 1 is not a report flagged for review");
    snprintf(d.unit, sizeof d.unit, "469099-001");
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), HUB_STORE_ETARGET);
    char out[1024];
    uint64_t pending = 0;
    s_reviews(f, out, sizeof out, &pending);
    assert_int_equal(pending, 2);
    assert_string_equal(out, "469002-003:1:max_goal_multiple:0\n"
                             "460100-001:5:max_share_jump:0\n"
                             "460100-001:3:max_session_hours:2\n"
                             "460100-001:2:participants_above_staff:1\n");
    /* accepting the share jump makes its snapshot the unit's latest */
    d = s_decision(5, 1);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    assert_int_equal(f->states[1].staff_proficient, 5);
    assert_int_equal(hub_marks_held(&hub_committed_flags(c)[1].marks), 0);
    assert_int_equal(hub_committed_held_review(c), 1);
    s_recount_agrees(f);
    s_marks_agree(f, c);
    assert_int_equal(hub_committed_flags(c)[1].marks.rejected[RO_KIND_TRAINING - 1], 1);
    hub_ingest_set_committed(f->ingest, NULL);
    hub_committed_destroy(&c);
}

/* A held report may be corrected: it becomes cancelled, its review goes
 * with it ("corrected"), and a decision on it is refused. */
static void test_review_correct_held(void **state)
{
    fixture_t *f = *state;
    ro_report_t staff = hf_report("460100-001", 1, RO_KIND_STAFF, 20180301, 40, 20);
    ro_report_t big = hf_report("460100-001", 2, RO_KIND_TRAINING, 20180302, 200, 15);
    staff.version = big.version = 2;
    memset(staff.incarnation, 0xaa, sizeof staff.incarnation);
    memset(big.incarnation, 0xaa, sizeof big.incarnation);
    hub_committed_t *c = hub_committed_new(f->reg, NULL, f->states);
    hub_ingest_set_committed(f->ingest, c);
    ro_report_t cancel = big;
    cancel.seq = 3;
    cancel.action = RO_ACTION_CANCEL;
    cancel.kind = RO_KIND_NONE, cancel.date = cancel.total = cancel.part = 0;
    cancel.text[0] = '\0';
    memset(cancel.target_inc, 0xaa, sizeof cancel.target_inc);
    cancel.target_seq = 2;
    snprintf(cancel.reason, sizeof cancel.reason, "typed 200 for 20");
    s_send(f, &staff);
    s_send(f, &big);
    s_send(f, &cancel);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_ingest_counters(f->ingest)->corrections, 1);
    assert_int_equal(f->states[1].participants, 0);
    char out[256], why[512] = "";
    uint64_t pending = 9;
    s_reviews(f, out, sizeof out, &pending);
    assert_string_equal(out, "460100-001:2:participants_above_staff:3\n");
    assert_int_equal(pending, 0);
    hub_decision_t d = s_decision(2, 1);
    memset(d.inc, 0xaa, sizeof d.inc);
    d.has_inc = 1;
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), HUB_STORE_ETARGET);
    assert_non_null(strstr(why, "corrected since"));
    assert_int_equal(hub_committed_held_review(c), 0); /* its review went with it */
    assert_int_equal(hub_committed_flags(c)[1].marks.corrected[RO_KIND_TRAINING - 1], 1);
    s_recount_agrees(f);
    s_marks_agree(f, c);
    hub_ingest_set_committed(f->ingest, NULL);
    hub_committed_destroy(&c);
}

/* A restarted hub publishes every unit's marks, not only those with a
 * report held: a unit whose reports were only rejected (or corrected)
 * shows them in the answers of today from the start. */
static void test_review_marks_published_at_start(void **state)
{
    fixture_t *f = *state;
    s_tour(f);
    char why[512] = "";
    hub_decision_t d = s_decision(3, 0);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    d = s_decision(2, 1);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    d = s_decision(5, 1);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    /* unit 1: nothing held, one rejected */
    hub_ingest_t *again = hub_ingest_new(f->store, f->reg, f->states, 64);
    hub_committed_t *c = hub_committed_new(f->reg, NULL, f->states);
    hub_ingest_set_committed(again, c);
    assert_int_equal(hub_committed_flags(c)[1].marks.rejected[RO_KIND_TRAINING - 1], 1);
    s_marks_agree(f, c);
    hub_ingest_destroy(&again);
    hub_committed_destroy(&c);
}

/* Refuses to read the trail (table events): the marks' count fails. */
static int s_no_trail(void *arg, int action, const char *a, const char *b, const char *db,
                      const char *view)
{
    (void)arg, (void)b, (void)db, (void)view;
    return action == SQLITE_READ && a && strcmp(a, "events") == 0 ? SQLITE_DENY : SQLITE_OK;
}

/* A start whose count of the marks fails (the store's trouble) counts
 * them again at the next batch and publishes every unit's then, those
 * the batch did not touch too. */
static void test_review_marks_counted_again(void **state)
{
    fixture_t *f = *state;
    s_tour(f);
    char why[512] = "";
    hub_decision_t d = s_decision(3, 0);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    sqlite3_set_authorizer(f->store->db, s_no_trail, NULL);
    hub_ingest_t *again = hub_ingest_new(f->store, f->reg, f->states, 64);
    sqlite3_set_authorizer(f->store->db, NULL, NULL);
    assert_non_null(again);
    hub_committed_t *c = hub_committed_new(f->reg, NULL, f->states);
    hub_ingest_set_committed(again, c);
    assert_int_equal(hub_committed_flags(c)[1].marks.rejected[RO_KIND_TRAINING - 1], 0);
    /* a report of another unit: unit 1's marks come with its batch */
    ro_report_t r = hf_report("469030-210", 1, RO_KIND_STAFF, 20180305, 30, 10);
    s_add(again, &r);
    assert_int_equal(hub_ingest_flush(again, NOW), 0);
    assert_int_equal(hub_committed_flags(c)[1].marks.rejected[RO_KIND_TRAINING - 1], 1);
    s_marks_agree(f, c);
    hub_ingest_destroy(&again);
    hub_committed_destroy(&c);
}

/* Report seq of unit 460100-001's incarnation 0xaa.. correcting target
 * (amend: with kind, date, total, part; cancel: kind RO_KIND_NONE). */
static ro_report_t s_v2(uint64_t seq, ro_kind_t kind, uint32_t date, uint32_t total, uint32_t part)
{
    ro_report_t r = hf_report("460100-001", seq, kind, date, total, part);
    r.version = 2;
    memset(r.incarnation, 0xaa, sizeof r.incarnation);
    return r;
}

static ro_report_t s_fix(ro_report_t r, ro_action_t action, uint64_t target)
{
    r.action = action;
    if (action == RO_ACTION_CANCEL) {
        r.kind = RO_KIND_NONE, r.date = r.total = r.part = 0;
        r.text[0] = '\0';
    }
    memset(r.target_inc, 0xaa, sizeof r.target_inc);
    r.target_seq = target;
    snprintf(r.reason, sizeof r.reason, "fix of seq %llu", (unsigned long long)target);
    return r;
}

/* Ingest's marks equal the store's count through an amend of an amend, a
 * cancel of a held report, a reject, a correction of a rejected report
 * (refused), an accept and a correction of the accepted report. */
static void test_review_marks_follow_the_trail(void **state)
{
    fixture_t *f = *state;
    hub_committed_t *c = hub_committed_new(f->reg, NULL, f->states);
    hub_ingest_set_committed(f->ingest, c);
    ro_report_t r[] = {
        s_v2(1, RO_KIND_STAFF, 20180301, 40, 20),
        s_v2(2, RO_KIND_TRAINING, 20180302, 200, 15), /* held: above staff */
        s_v2(3, RO_KIND_TRAINING, 20180303, 20, 300), /* held: 30 hours */
        s_v2(4, RO_KIND_TRAINING, 20180304, 10, 15),
        s_fix(s_v2(5, RO_KIND_TRAINING, 20180304, 12, 15), RO_ACTION_AMEND, 4),
        s_fix(s_v2(6, RO_KIND_TRAINING, 20180304, 13, 15), RO_ACTION_AMEND, 5),
        s_fix(s_v2(7, RO_KIND_TRAINING, 0, 0, 0), RO_ACTION_CANCEL, 2),
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        s_send(f, &r[i]);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_ingest_counters(f->ingest)->corrections, 3);
    s_marks_agree(f, c);
    char why[512] = "";
    hub_decision_t d = s_decision(3, 0);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    s_marks_agree(f, c);
    ro_report_t more[] = {
        s_fix(s_v2(8, RO_KIND_TRAINING, 0, 0, 0), RO_ACTION_CANCEL, 3), /* refused */
        s_v2(9, RO_KIND_TRAINING, 20180305, 20, 310),                   /* held */
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        s_send(f, &more[i]);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_marks_agree(f, c);
    d = s_decision(9, 1);
    assert_int_equal(hub_ingest_decide(f->ingest, &d, NOW, why, sizeof why), 0);
    ro_report_t last = s_fix(s_v2(10, RO_KIND_TRAINING, 20180305, 20, 15), RO_ACTION_AMEND, 9);
    s_send(f, &last);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_marks_agree(f, c);
    const hub_unit_marks_t *m = &hub_committed_flags(c)[1].marks;
    assert_int_equal(m->corrected[RO_KIND_TRAINING - 1], 4);
    assert_int_equal(m->held[RO_KIND_TRAINING - 1], 0);
    assert_int_equal(m->rejected[RO_KIND_TRAINING - 1], 1);
    s_recount_agrees(f);
    hub_ingest_set_committed(f->ingest, NULL);
    hub_committed_destroy(&c);
}

/* ---- the status side ---------------------------------------------------------- */

static int s_decide_direct(void *arg, const hub_decision_t *d, char *why, size_t whylen)
{
    return hub_ingest_decide(arg, d, NOW, why, whylen);
}

static ro_status_reply_t *s_ask(hub_status_t *st, const ro_status_request_t *req)
{
    uint8_t buf[RO_STATUS_REQUEST_MAX], *out = NULL;
    size_t len = 0;
    int n = ro_status_request_encode(req, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_status_answer(st, buf, (size_t)n, NOW, &out, &len), 0);
    char err[256] = "";
    ro_status_reply_t *r = ro_status_reply_decode(out, len, RO_DECODE_STRICT, err, sizeof err);
    free(out);
    if (!r)
        fail_msg("reply: %s", err);
    return r;
}

static ro_status_request_t s_decide_req(uint64_t seq, bool accept, const char *reason)
{
    ro_status_request_t q = ro_status_request(RO_QUERY_DECIDE);
    q.has_decision = true;
    snprintf(q.decision.unit, sizeof q.decision.unit, "460100-001");
    q.decision.seq = seq;
    q.decision.accept = accept;
    snprintf(q.decision.reason, sizeof q.decision.reason, "%s", reason);
    return q;
}

static void test_review_status(void **state)
{
    fixture_t *f = *state;
    s_tour(f);
    hub_status_t *st = hub_status_new(f->reg, f->states, f->store, NULL);
    assert_non_null(st);

    ro_status_request_t q = ro_status_request(RO_QUERY_REVIEWS);
    ro_status_reply_t *r = s_ask(st, &q);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->n_reviews, 4);
    assert_int_equal(r->total, 4);
    assert_string_equal(r->reviews[3].state, "pending");
    assert_string_equal(r->reviews[3].kind, "training");
    assert_int_equal(r->reviews[3].total, 200);
    ro_status_reply_free(&r);

    /* no hook: hub trouble; keys on: only a reviewer (this asker is none) */
    q = s_decide_req(2, true, "joint session");
    r = s_ask(st, &q);
    assert_int_equal(r->status, 1);
    ro_status_reply_free(&r);
    hub_status_set_decide(st, s_decide_direct, f->ingest, 1);
    r = s_ask(st, &q);
    assert_int_equal(r->status, 2);
    assert_string_equal(r->error, "forbidden: only a reviewer key decides");
    ro_status_reply_free(&r);
    assert_int_equal(f->states[1].participants, 30);

    hub_status_set_decide(st, s_decide_direct, f->ingest, 0);
    q = s_decide_req(2, true, "");
    r = s_ask(st, &q);
    assert_int_equal(r->status, 2);
    assert_string_equal(r->error, "a decision needs a reason");
    ro_status_reply_free(&r);
    q = s_decide_req(2, true, "joint session");
    snprintf(q.decision.incarnation, sizeof q.decision.incarnation, "xyz");
    r = s_ask(st, &q);
    assert_int_equal(r->status, 2);
    ro_status_reply_free(&r);
    q = s_decide_req(2, true, "joint session");
    for (int i = 0; i < 2; i++) { /* asked again: ok */
        r = s_ask(st, &q);
        assert_int_equal(r->status, 0);
        ro_status_reply_free(&r);
    }
    assert_int_equal(f->states[1].participants, 230);
    q = s_decide_req(2, false, "changed my mind");
    r = s_ask(st, &q);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->error, "was accepted by"));
    ro_status_reply_free(&r);

    q = ro_status_request(RO_QUERY_TRAIL);
    snprintf(q.key, sizeof q.key, "460100-001");
    r = s_ask(st, &q);
    assert_int_equal(r->n_trail, 4);
    assert_string_equal(r->trail[0].what, "accept");
    assert_string_equal(r->trail[1].what, "flag");
    ro_status_reply_free(&r);
    hub_status_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_review_targets_parse),
        cmocka_unit_test(test_review_targets_errors),
        cmocka_unit_test_setup_teardown(test_review_rules_hold, s_setup_hold, s_teardown),
        cmocka_unit_test_setup_teardown(test_review_rules_no_hold, s_setup_no_hold, s_teardown),
        cmocka_unit_test_setup_teardown(test_review_decide, s_setup_hold, s_teardown),
        cmocka_unit_test_setup_teardown(test_review_correct_held, s_setup_hold, s_teardown),
        cmocka_unit_test_setup_teardown(test_review_marks_published_at_start, s_setup_hold,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_review_marks_counted_again, s_setup_hold, s_teardown),
        cmocka_unit_test_setup_teardown(test_review_marks_follow_the_trail, s_setup_hold,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_review_status, s_setup_hold, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
