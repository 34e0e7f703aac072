/* test_committed: what readers see of the committed state. A publication
 * moves the rollups' sums (and the units' values) exactly as working them
 * out afresh from the published states would, copies the counters whole,
 * and touches no unit it was not given; a swap starts over on another
 * registry's states. No SQLite, no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "committed.h"
#include "engine.h"
#include "hub_fixture.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ro_registry_t *reg;
    ro_targets_t *targets;
    hub_engine_t *engine;
    hub_unit_state_t work[NUNITS]; /* ingest's working copy */
    hub_committed_t *c;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[512] = "";
    f->reg = hf_registry();
    f->targets = hf_targets();
    f->engine = hub_engine_new(f->reg, f->targets, err, sizeof err);
    assert_non_null(f->engine);
    f->work[1].reports = 2;
    f->work[1].participants = 40; /* as loaded from the store */
    f->c = hub_committed_new(f->reg, f->engine, f->work);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    hub_committed_destroy(&f->c);
    assert_null(f->c);
    hub_engine_destroy(&f->engine);
    ro_targets_destroy(&f->targets);
    ro_registry_destroy(&f->reg);
    free(f);
    return 0;
}

/* The kept sums equal a fresh sum over the published states, and the
 * kept values (laggards rank on them) the values of those states. */
static void s_assert_sums_fresh(fixture_t *f)
{
    size_t len = hub_engine_values_len(f->engine);
    double *values = calloc(len, sizeof *values);
    assert_non_null(values);
    hub_engine_values(f->engine, hub_committed_states(f->c), values);
    const double *kept = hub_committed_values(f->c, f->engine);
    assert_non_null(kept);
    assert_memory_equal(kept, values, len * sizeof *values);
    free(values);

    hub_rollup_t fresh;
    hub_engine_sum(f->engine, hub_committed_states(f->c), &fresh);
    const hub_rollup_t *sums = hub_committed_sums(f->c);
    assert_non_null(sums);
    assert_int_equal(sums->province.participants, fresh.province.participants);
    assert_int_equal(sums->province.units_reporting, fresh.province.units_reporting);
    assert_int_equal(sums->province.reports, fresh.province.reports);
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        assert_int_equal(sums->levels[l].participants, fresh.levels[l].participants);
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        assert_int_equal(sums->divisions[d].participants, fresh.divisions[d].participants);
}

static void test_publish_moves_only_the_units_given(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(hub_committed_count(f->c), NUNITS);
    assert_int_equal(hub_committed_states(f->c)[1].participants, 40);
    s_assert_sums_fresh(f);

    /* ingest changes units 0 and 2, but commits (publishes) only unit 0 */
    f->work[0].reports = 1;
    f->work[0].participants = 12;
    f->work[2].reports = 7;
    f->work[2].participants = 900;
    hub_ingest_counters_t counters;
    memset(&counters, 0, sizeof counters);
    counters.reports_stored = 1;
    counters.store_state = HUB_STORE_STATE_FULL;
    snprintf(counters.last_error, sizeof counters.last_error, "disk full");
    uint32_t units[] = {0};
    hub_committed_publish(f->c, units, 1, f->work, NULL, &counters);

    const hub_unit_state_t *pub = hub_committed_states(f->c);
    assert_int_equal(pub[0].participants, 12);
    assert_int_equal(pub[2].participants, 0); /* not committed yet: not seen */
    assert_int_equal(hub_committed_sums(f->c)->province.participants, 52);
    s_assert_sums_fresh(f);
    const hub_ingest_counters_t *c = hub_committed_counters(f->c);
    assert_int_equal(c->reports_stored, 1);
    assert_int_equal(c->store_state, HUB_STORE_STATE_FULL);
    assert_string_equal(c->last_error, "disk full");

    /* counters alone (a failed commit); an index out of range is ignored */
    counters.commit_failures = 3;
    hub_committed_publish(f->c, NULL, 0, f->work, NULL, &counters);
    assert_int_equal(hub_committed_counters(f->c)->commit_failures, 3);
    uint32_t bad[] = {NUNITS, 2};
    hub_committed_publish(f->c, bad, 2, f->work, NULL, NULL);
    assert_int_equal(hub_committed_states(f->c)[2].participants, 900);
    assert_int_equal(hub_committed_counters(f->c)->commit_failures, 3); /* NULL: unchanged */
    s_assert_sums_fresh(f);

    hub_metric_t m[HUB_INGEST_METRICS_MAX];
    size_t n = hub_ingest_counters_metrics(hub_committed_counters(f->c), m, HUB_INGEST_METRICS_MAX);
    int full = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].name, "store_full"))
            full = m[i].value == 1.0;
    assert_true(full);
    assert_string_equal(hub_store_state_name(HUB_STORE_STATE_FULL), "full");
}

static void test_swap_and_feed(void **state)
{
    fixture_t *f = *state;
    hub_committed_set_feed(f->c, 17, 99);
    assert_int_equal(hub_committed_feed_seq(f->c), 17);
    assert_int_equal(hub_committed_feed_epoch(f->c), 99);

    /* a reload onto the same units in another state: sums made afresh */
    hub_unit_state_t *next = calloc(NUNITS, sizeof *next);
    assert_non_null(next);
    next[2].reports = 1;
    next[2].participants = 5;
    hub_committed_lock(f->c);
    hub_committed_swap(f->c, f->reg, f->engine, next, calloc(NUNITS, sizeof(hub_unit_flags_t)));
    hub_committed_unlock(f->c);
    assert_ptr_equal(hub_committed_states(f->c), next);
    assert_int_equal(hub_committed_sums(f->c)->province.participants, 5);
    s_assert_sums_fresh(f);
    assert_int_equal(hub_committed_feed_seq(f->c), 17); /* the feed's own business */

    /* a reload carries each unit's flags over by its id, whatever its new index */
    hub_unit_flags_t old[NUNITS] = {{0}, {.gap_since = 1530000000, .gap_seq = 7}, {0}};
    char err[256] = "";
    ro_registry_t *other =
        ro_registry_load(tu_write("other.csv", "id,level,division,name\n"
                                               "469030-001,township,469030,新单位\n"
                                               "460100-001,municipal,460100,海口市教育局\n"),
                         err, sizeof err);
    assert_non_null(other);
    hub_unit_flags_t carried[2];
    hub_unit_flags_carry(f->reg, old, other, carried);
    assert_int_equal(carried[0].gap_since, 0);
    assert_int_equal(carried[1].gap_since, 1530000000);
    assert_int_equal(carried[1].gap_seq, 7);
    ro_registry_destroy(&other);

    /* without an engine nothing is summed, and no sums are offered */
    hub_committed_t *bare = hub_committed_new(f->reg, NULL, f->work);
    assert_non_null(bare);
    assert_null(hub_committed_sums(bare));
    assert_null(hub_committed_values(bare, f->engine)); /* kept for no engine */
    assert_null(hub_committed_values(f->c, NULL));
    assert_null(hub_committed_values(f->c, (const hub_engine_t *)f)); /* not the one kept for */
    uint32_t units[] = {1};
    hub_committed_publish(bare, units, 1, f->work, NULL, NULL);
    assert_int_equal(hub_committed_states(bare)[1].participants, 40);
    hub_committed_destroy(&bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_moves_only_the_units_given, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_swap_and_feed, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
