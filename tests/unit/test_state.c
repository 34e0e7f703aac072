/* test_state: hub_state_apply, the rule that folds a stored report into a
 * unit's aggregates, without a store: training sums, a snapshot replaces
 * the held one only when dated on or after it, heartbeats change nothing,
 * and the fold never touches last_seq or last_heard (ingest owns those). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "state.h"

#include <string.h>

static ro_report_t s_report(ro_kind_t kind, uint32_t date, uint32_t total, uint32_t part)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.date = date;
    r.total = total;
    r.part = part;
    return r;
}

static void test_training_sums(void **state)
{
    (void)state;
    hub_unit_state_t s = {.last_seq = 7, .last_heard = 1546300800};
    ro_report_t a = s_report(RO_KIND_TRAINING, 20180110, 30, 25);
    ro_report_t b = s_report(RO_KIND_TRAINING, 20170301, 12, 5); /* any date adds */
    hub_state_apply(&s, &a);
    hub_state_apply(&s, &b);
    assert_int_equal(s.participants, 42);
    assert_int_equal(s.hours_tenths, 30);
    assert_int_equal(s.sessions, 2);
    assert_int_equal(s.reports, 2);
    assert_int_equal(s.last_seq, 7);
    assert_int_equal(s.last_heard, 1546300800);
}

/* Each snapshot kind: a later date replaces, the same date replaces (the
 * later report wins), an earlier date is stored but changes nothing. */
static void test_snapshots_keep_the_latest_date(void **state)
{
    (void)state;
    static const struct {
        ro_kind_t kind;
        uint32_t early, late;
    } kinds[] = {{RO_KIND_STAFF, 20180105, 20180305},
                 {RO_KIND_ITEMS, 20180105, 20180301},
                 {RO_KIND_CASES, 201801, 201803}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        hub_unit_state_t s = {0};
        ro_report_t late = s_report(kinds[k].kind, kinds[k].late, 100, 60);
        ro_report_t same = s_report(kinds[k].kind, kinds[k].late, 100, 70);
        ro_report_t early = s_report(kinds[k].kind, kinds[k].early, 99, 1);
        hub_state_apply(&s, &late);
        hub_state_apply(&s, &same);
        hub_state_apply(&s, &early);
        uint32_t date = 0, total = 0, part = 0;
        switch (kinds[k].kind) {
        case RO_KIND_STAFF:
            date = s.staff_date, total = s.staff_total, part = s.staff_proficient;
            break;
        case RO_KIND_ITEMS:
            date = s.items_date, total = s.items_total, part = s.items_no_visit;
            break;
        default: date = s.cases_month, total = s.cases_total, part = s.cases_no_visit; break;
        }
        assert_int_equal(date, kinds[k].late);
        assert_int_equal(total, 100);
        assert_int_equal(part, 70);
        assert_int_equal(s.reports, 3);
        assert_int_equal(s.sessions, 0);
        assert_int_equal(s.participants, 0);
    }
}

/* The kinds do not touch each other's fields. */
static void test_kinds_are_independent(void **state)
{
    (void)state;
    hub_unit_state_t s = {0};
    ro_report_t staff = s_report(RO_KIND_STAFF, 20180305, 22, 18);
    ro_report_t items = s_report(RO_KIND_ITEMS, 20180301, 100, 60);
    ro_report_t cases = s_report(RO_KIND_CASES, 201803, 800, 600);
    hub_state_apply(&s, &staff);
    hub_state_apply(&s, &items);
    hub_state_apply(&s, &cases);
    assert_int_equal(s.staff_date, 20180305);
    assert_int_equal(s.staff_total, 22);
    assert_int_equal(s.staff_proficient, 18);
    assert_int_equal(s.items_date, 20180301);
    assert_int_equal(s.items_no_visit, 60);
    assert_int_equal(s.cases_month, 201803);
    assert_int_equal(s.cases_total, 800);
    assert_int_equal(s.cases_no_visit, 600);
    assert_int_equal(s.reports, 3);
}

static void test_heartbeat_changes_nothing(void **state)
{
    (void)state;
    hub_unit_state_t s = {.reports = 4, .participants = 9, .sessions = 1, .staff_date = 20180101};
    ro_report_t hb = s_report(RO_KIND_HEARTBEAT, 20180601, 5, 5);
    ro_report_t none = s_report(RO_KIND_NONE, 20180601, 5, 5);
    hub_state_apply(&s, &hb);
    hub_state_apply(&s, &none);
    assert_int_equal(s.reports, 4);
    assert_int_equal(s.participants, 9);
    assert_int_equal(s.sessions, 1);
    assert_int_equal(s.staff_date, 20180101);
    assert_int_equal(s.items_date, 0);
    assert_int_equal(s.cases_month, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_sums),
        cmocka_unit_test(test_snapshots_keep_the_latest_date),
        cmocka_unit_test(test_kinds_are_independent),
        cmocka_unit_test(test_heartbeat_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
