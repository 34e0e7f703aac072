/* test_known: "as of D, as known on K" against the past itself. Each world
 * is a store fed day by day through the real ingest, with the hub's clock
 * passed in: reports of the day, late (back-dated, some beyond the days the
 * rows are shifted for), ahead of the clock (held, then released, on the
 * day they are due or, after days the hub heard nothing, later), amends
 * (of amends too), cancels, flags held or left counted (the [review] hold
 * setting switched between days) and reviewers' decisions. At the end of
 * each day the as-of answers for several dates are recorded; at the end,
 * each is asked again as known on that day and must be what was recorded,
 * and the corrections counted after it must be the trail's. Seeded, a few
 * hundred worlds; the store is :memory:. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_fixture.h"
#include "ingest.h"
#include "review.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_time.h"

#include <string.h>

#define WORLDS 150
#define DAYS 36       /* simulated days */
#define DATES 5       /* as-of dates recorded a day */
#define DAY0 20180601 /* the first simulated day */
#define SEQS 512      /* reports of a unit in a world, at most */

typedef struct {
    uint64_t s;
} rng_t;

static uint32_t s_below(rng_t *r, uint32_t n)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)(((r->s * 0x2545F4914F6CDD1Dull) >> 32) % n);
}

/* The YYYYMMDD k days after DAY0 (k may be negative). */
static uint32_t s_day(int k)
{
    return ro_date_of((ro_date_days(DAY0) + k) * 86400);
}

typedef struct {
    rng_t rng;
    ro_registry_t *reg;
    ro_targets_t *targets[2]; /* [review] hold = yes, hold = no */
    hub_engine_t *engine[2];  /* their goals */
    hub_review_t *review[2];  /* their rules */
    hub_store_t *store;       /* :memory: */
    hub_unit_state_t states[NUNITS];
    hub_ingest_t *ingest;
    uint64_t next[NUNITS];          /* each unit's next seq */
    ro_report_t sent[NUNITS][SEQS]; /* what each unit sent, by seq - 1 */
    /* recorded at the end of day k: the as-of states for dates[k][j] */
    uint32_t dates[DAYS][DATES];
    hub_unit_state_t past[DAYS][DATES][NUNITS];
} world_t;

/* config/targets.ini's indicators with a session-length rule, held or not. */
static ro_targets_t *s_targets(int hold)
{
    char err[512] = "";
    ro_targets_t *t =
        ro_targets_load(hf_targets_with(hold ? "[review]\nmax_session_hours = 24\nhold = yes\n"
                                             : "[review]\nmax_session_hours = 24\nhold = no\n"),
                        err, sizeof err);
    if (!t)
        fail_msg("targets: %s", err);
    return t;
}

static void s_send(world_t *w, const ro_report_t *r)
{
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_ingest_add(w->ingest, "A", 1, buf, (size_t)n, 1), 0);
}

/* A report of unit u under the world's one incarnation per unit (protocol
 * version 2: corrections need it), its seq the unit's next. */
static ro_report_t *s_new(world_t *w, size_t u)
{
    assert_true(w->next[u] <= SEQS);
    ro_report_t *r = &w->sent[u][w->next[u] - 1];
    *r = hf_report(ro_registry_at(w->reg, u)->id, w->next[u]++, RO_KIND_TRAINING, 0, 0, 0);
    r->version = 2;
    memset(r->incarnation, 0x10 + (int)u, sizeof r->incarnation);
    return r;
}

/* A report body of a random kind dated on day (a month for cases). */
static void s_body(world_t *w, ro_report_t *r, uint32_t day)
{
    r->kind = (ro_kind_t)(1 + s_below(&w->rng, 4));
    r->date = r->kind == RO_KIND_CASES ? day / 100 : day;
    r->total = 10 + s_below(&w->rng, 90);
    r->part = s_below(&w->rng, r->total + 1);
    if (r->kind == RO_KIND_TRAINING && s_below(&w->rng, 5) == 0)
        r->part = 250 + s_below(&w->rng, 100); /* over 24 hours: flagged */
    snprintf(r->text, sizeof r->text, "%s", r->kind == RO_KIND_TRAINING ? "第1期" : "");
}

/* A report's date k days before today, mostly near it; now and then far
 * back (past the rows' shift window) or ahead of the clock (held). */
static uint32_t s_when(world_t *w, int today)
{
    uint32_t pick = s_below(&w->rng, 20);
    int k = pick < 12   ? today - (int)s_below(&w->rng, 3)
            : pick < 17 ? today - (int)s_below(&w->rng, 20)
            : pick < 19 ? today - 30 - (int)s_below(&w->rng, 40)
                        : today + 2 + (int)s_below(&w->rng, 4);
    return s_day(k);
}

/* A correction of one of unit u's earlier reports (any: the hub refuses
 * what it may not correct), an amend or a cancel. */
static void s_correct(world_t *w, size_t u, int today)
{
    if (w->next[u] < 2)
        return;
    uint64_t target = 1 + s_below(&w->rng, (uint32_t)(w->next[u] - 1));
    const ro_report_t *t = &w->sent[u][target - 1];
    ro_report_t *r = s_new(w, u);
    r->action = s_below(&w->rng, 2) ? RO_ACTION_AMEND : RO_ACTION_CANCEL;
    memcpy(r->target_inc, r->incarnation, sizeof r->target_inc);
    r->target_seq = target;
    snprintf(r->reason, sizeof r->reason, "fix %llu", (unsigned long long)target);
    if (r->action == RO_ACTION_AMEND) {
        uint32_t day = s_when(w, today);
        s_body(w, r, day);
        r->kind = t->kind == RO_KIND_NONE ? RO_KIND_STAFF : t->kind; /* the target's */
        r->date = r->kind == RO_KIND_CASES ? day / 100 : day;
    } else {
        r->kind = RO_KIND_NONE, r->date = r->total = r->part = 0, r->text[0] = '\0';
    }
    s_send(w, r);
}

/* Some pending reviews decided, accepted or rejected, at now. */
static void s_decide(world_t *w, int64_t now)
{
    hub_store_review_t *v = NULL;
    size_t n = 0;
    uint64_t total = 0;
    assert_int_equal(hub_store_reviews(w->store, -1, 0, &v, &n, &total, NULL, NULL, 0), 0);
    for (size_t k = 0; k < n; k++) {
        if (v[k].state != 0 || s_below(&w->rng, 3))
            continue;
        hub_decision_t d = {.seq = v[k].seq, .accept = (int)s_below(&w->rng, 2), .has_inc = 1};
        snprintf(d.unit, sizeof d.unit, "%s", v[k].unit);
        memcpy(d.inc, v[k].inc, sizeof d.inc);
        snprintf(d.by, sizeof d.by, "reviewer:ann");
        snprintf(d.reason, sizeof d.reason, "looked");
        char why[512] = "";
        int rc = hub_ingest_decide(w->ingest, &d, now, why, sizeof why);
        if (rc != 0)
            fail_msg("decide: %d %s", rc, why);
    }
    free(v);
}

/* One simulated day: a few batches at increasing times, decisions between
 * them, the rows' idle refresh now and then. */
static void s_live_day(world_t *w, int today)
{
    int64_t start = (ro_date_days(DAY0) + today) * 86400;
    /* a day the hub hears nothing: what was held for it is released on the
     * next day it does, and counts as known from then (reports.released_at) */
    if (today > 0 && s_below(&w->rng, 6) == 0)
        return;
    hub_ingest_set_review(w->ingest, w->review[s_below(&w->rng, 3) == 0]);
    int batches = 1 + (int)s_below(&w->rng, 4);
    for (int b = 0; b < batches; b++) {
        int64_t now = start + 3600 * (1 + 5 * b) + s_below(&w->rng, 3000);
        /* a day's first batch has a report: a live hub hears from its
         * agents all day, and releases what was held for the day then */
        for (int m = (int)s_below(&w->rng, 6) + (b == 0); m > 0; m--) {
            size_t u = s_below(&w->rng, NUNITS);
            if (w->next[u] + 1 >= SEQS)
                continue;
            if (s_below(&w->rng, 5) == 0) {
                s_correct(w, u, today);
            } else {
                ro_report_t *r = s_new(w, u);
                s_body(w, r, s_when(w, today));
                s_send(w, r);
            }
        }
        assert_int_equal(hub_ingest_flush(w->ingest, now), 0);
        if (s_below(&w->rng, 3) == 0)
            s_decide(w, now + 60);
        if (s_below(&w->rng, 3) == 0)
            assert_true(hub_store_days_refresh(w->store, 1000, NULL, 0) >= 0);
    }
}

/* The 13 aggregates of n states, equal (what a past answer is about: its
 * last seq and last heard are today's). */
static void s_assert_aggregates(const char *what, const hub_unit_state_t *got,
                                const hub_unit_state_t *want, uint64_t seed, int day, uint32_t date)
{
    for (size_t i = 0; i < NUNITS; i++) {
        hub_unit_state_t a = got[i], b = want[i];
        a.last_seq = b.last_seq = a.seq_shown = b.seq_shown = 0;
        a.last_heard = b.last_heard = 0;
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("%s, seed %llu: unit %zu as of %u known on %u: participants %llu, then %llu;"
                     " staff %u/%u, then %u/%u; reports %llu, then %llu",
                     what, (unsigned long long)seed, i, date, s_day(day),
                     (unsigned long long)a.participants, (unsigned long long)b.participants,
                     a.staff_total, a.staff_proficient, b.staff_total, b.staff_proficient,
                     (unsigned long long)a.reports, (unsigned long long)b.reports);
    }
}

/* The corrections and decisions after the end of day known_on on the
 * reports dated up to as_of, from a unit's trail e (n events): what the
 * count must be. */
static uint32_t s_after(const hub_store_event_t *e, size_t n, uint32_t as_of, uint32_t known_on)
{
    uint32_t count = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t t =
            e[k].target_kind == RO_KIND_CASES ? e[k].target_date * 100 + 1 : e[k].target_date;
        uint32_t c = e[k].new_date < 1000000 ? e[k].new_date * 100 + 1 : e[k].new_date;
        int touches = t <= as_of || (e[k].what == RO_ACTION_AMEND && c <= as_of);
        count += e[k].at > ro_date_end(known_on) && touches && (int)e[k].what != 3;
    }
    return count;
}

static world_t *s_world(uint64_t seed)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->rng.s = seed * 0x9E3779B97F4A7C15ull + 1;
    w->reg = hf_registry();
    for (int h = 0; h < 2; h++) {
        w->targets[h] = s_targets(h == 0);
        char err[256] = "";
        w->engine[h] = hub_engine_new(w->reg, w->targets[h], err, sizeof err);
        if (!w->engine[h])
            fail_msg("engine: %s", err);
        w->review[h] = hub_review_new(w->reg, w->targets[h], w->engine[h]);
    }
    const char *file = getenv("KNOWN_DB"); /* to look into one world */
    if (file)
        hf_remove_db(file);
    w->store = hf_open(file ? file : ":memory:", 0);
    assert_int_equal(hub_store_load_states(w->store, w->reg, w->states, NULL, 0), 0);
    w->ingest = hub_ingest_new(w->store, w->reg, w->states, 64);
    assert_non_null(w->ingest);
    for (size_t u = 0; u < NUNITS; u++)
        w->next[u] = 1;
    return w;
}

static void s_world_destroy(world_t **w_p)
{
    world_t *w = *w_p;
    hub_ingest_destroy(&w->ingest);
    hub_store_destroy(&w->store);
    for (int h = 0; h < 2; h++) {
        hub_review_destroy(&w->review[h]);
        hub_engine_destroy(&w->engine[h]);
        ro_targets_destroy(&w->targets[h]);
    }
    ro_registry_destroy(&w->reg);
    free(w);
    *w_p = NULL;
}

/* Live the days, recording as-of answers at each day's end; then ask each
 * again as known on that day. */
static void s_run(uint64_t seed)
{
    world_t *w = s_world(seed);
    for (int k = 0; k < DAYS; k++) {
        s_live_day(w, k);
        for (int j = 0; j < DATES; j++) {
            uint32_t d = j == 0 ? s_day(k) : s_day(k - (int)s_below(&w->rng, 45));
            w->dates[k][j] = d;
            assert_int_equal(hub_store_states_as_of(w->store, w->reg, d, w->past[k][j], NULL, 0),
                             0);
            hub_unit_state_t scan[NUNITS]; /* what was recorded is what the reports said */
            if (j == 0 && k % 4 == 0) {
                assert_int_equal(hub_store_states_recount(w->store, w->reg, d, scan, NULL, 0), 0);
                s_assert_aggregates("the scan", scan, w->past[k][j], seed, k, d);
            }
        }
    }
    hub_unit_state_t now[NUNITS];
    uint32_t after[NUNITS];
    hub_store_event_t *trail[NUNITS];
    size_t events[NUNITS];
    for (size_t i = 0; i < NUNITS; i++) {
        uint64_t total = 0;
        assert_int_equal(hub_store_trail(w->store, i, 0, &trail[i], &events[i], &total, NULL, 0),
                         0);
    }
    for (int k = 0; k < DAYS; k++)
        for (int j = 0; j < DATES; j++) {
            uint32_t d = w->dates[k][j];
            assert_int_equal(
                hub_store_states_known(w->store, w->reg, d, s_day(k), now, after, NULL, 0), 0);
            s_assert_aggregates("known on", now, w->past[k][j], seed, k, d);
            for (size_t i = 0; i < NUNITS; i++)
                if (after[i] != s_after(trail[i], events[i], d, s_day(k)))
                    fail_msg("seed %llu: unit %zu as of %u known on %u: %u corrections after,"
                             " the trail says %u",
                             (unsigned long long)seed, i, d, s_day(k), after[i],
                             s_after(trail[i], events[i], d, s_day(k)));
        }
    for (size_t i = 0; i < NUNITS; i++)
        free(trail[i]);
    char err[256] = "";
    long diffs = hub_store_recount(w->store, NULL, 0, NULL, NULL, err, sizeof err);
    if (diffs != 0)
        fail_msg("seed %llu: the recount finds %ld differences %s", (unsigned long long)seed, diffs,
                 err);
    s_world_destroy(&w);
}

static void test_known_on_is_the_past(void **state)
{
    (void)state;
    const char *one = getenv("KNOWN_SEED");
    for (uint64_t seed = 1; seed <= WORLDS; seed++)
        if (!one || strtoull(one, NULL, 10) == seed)
            s_run(seed);
}

int main(void)
{
    ro_log_init("test_known", LOG_CRIT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_on_is_the_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
