/* The check the store and ingest tests share: a store's unit_days rows
 * answer every as-of question as the scan of every report does, and its
 * scope_days rows add them up. */
#ifndef AS_OF_CHECK_H
#define AS_OF_CHECK_H

#include "engine.h"
#include "ro_registry.h"
#include "store.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void hf_assert_scope_equal(const ro_scope_t *got, const ro_scope_t *want,
                                         const char *which, uint32_t as_of)
{
    if (got->units_reporting != want->units_reporting || got->reports != want->reports ||
        got->participants != want->participants || got->hours_tenths != want->hours_tenths ||
        got->sessions != want->sessions || got->staff_total != want->staff_total ||
        got->staff_proficient != want->staff_proficient || got->items_total != want->items_total ||
        got->items_no_visit != want->items_no_visit || got->cases_total != want->cases_total ||
        got->cases_no_visit != want->cases_no_visit)
        fail_msg("as of %u, %s: from scope_days: reporting %u reports %llu participants %llu "
                 "staff %llu/%llu items %llu/%llu cases %llu/%llu; from the units: reporting %u "
                 "reports %llu participants %llu staff %llu/%llu items %llu/%llu cases %llu/%llu",
                 as_of, which, got->units_reporting, (unsigned long long)got->reports,
                 (unsigned long long)got->participants, (unsigned long long)got->staff_proficient,
                 (unsigned long long)got->staff_total, (unsigned long long)got->items_no_visit,
                 (unsigned long long)got->items_total, (unsigned long long)got->cases_no_visit,
                 (unsigned long long)got->cases_total, want->units_reporting,
                 (unsigned long long)want->reports, (unsigned long long)want->participants,
                 (unsigned long long)want->staff_proficient, (unsigned long long)want->staff_total,
                 (unsigned long long)want->items_no_visit, (unsigned long long)want->items_total,
                 (unsigned long long)want->cases_no_visit, (unsigned long long)want->cases_total);
}

/* The scopes' sums as of as_of (hub_store_scope_sums) are those of the
 * states of reg's units as of then (units[i] unit i's), added up by the
 * engine's hub_scope_add (its units and last_heard are not compared). */
static inline void hf_assert_scope_sums(hub_store_t *st, const ro_registry_t *reg, uint32_t as_of,
                                        const hub_unit_state_t *units)
{
    ro_scope_t *got = calloc(2 * (1 + RO_LEVEL_COUNT + RO_DIVISION_COUNT), sizeof *got);
    assert_non_null(got);
    ro_scope_t *want = got + 1 + RO_LEVEL_COUNT + RO_DIVISION_COUNT;
    char err[256] = "";
    if (hub_store_scope_sums(st, as_of, &got[0], &got[1], &got[1 + RO_LEVEL_COUNT], err,
                             sizeof err) != 0)
        fail_msg("scope sums as of %u: %s", as_of, err);
    for (size_t i = 0; i < ro_registry_count(reg); i++) {
        const ro_unit_t *u = ro_registry_at(reg, i);
        hub_scope_add(&want[0], &units[i]);
        hub_scope_add(&want[1 + u->level], &units[i]);
        int d = ro_division_index(u->division);
        assert_true(d >= 0);
        hub_scope_add(&want[1 + RO_LEVEL_COUNT + d], &units[i]);
    }
    for (size_t k = 0; k < 1 + RO_LEVEL_COUNT + RO_DIVISION_COUNT; k++) {
        char which[32];
        snprintf(which, sizeof which, "scope %zu", k);
        hf_assert_scope_equal(&got[k], &want[k], which, as_of);
    }
    free(got);
}

/* The unit_days rows answer as of each of n dates what a scan of every
 * report (RECOUNT_SQL) answers: every aggregate of every unit of reg. */
static inline void hf_assert_as_of_recount(hub_store_t *st, const ro_registry_t *reg,
                                           const uint32_t *dates, size_t n)
{
    size_t nu = ro_registry_count(reg);
    hub_unit_state_t *days = calloc(nu, sizeof *days), *scan = calloc(nu, sizeof *scan);
    /* each kind's province totals and parts at each date, for the series */
    uint64_t(*want)[4][2] = calloc(n ? n : 1, sizeof *want), *got = calloc(2 * n + 2, sizeof *got);
    assert_non_null(days);
    assert_non_null(scan);
    assert_true(want && got);
    char err[256] = "";
    for (size_t d = 0; d < n; d++) {
        if (hub_store_states_as_of(st, reg, dates[d], days, err, sizeof err) != 0 ||
            hub_store_states_recount(st, reg, dates[d], scan, err, sizeof err) != 0)
            fail_msg("as of %u: %s", dates[d], err);
        hf_assert_scope_sums(st, reg, dates[d], scan);
        for (size_t i = 0; i < nu; i++) {
            want[d][0][0] += scan[i].participants, want[d][0][1] += scan[i].hours_tenths;
            want[d][1][0] += scan[i].staff_total, want[d][1][1] += scan[i].staff_proficient;
            want[d][2][0] += scan[i].items_total, want[d][2][1] += scan[i].items_no_visit;
            want[d][3][0] += scan[i].cases_total, want[d][3][1] += scan[i].cases_no_visit;
        }
        for (size_t i = 0; i < nu; i++) {
            /* last_seq is today's either way, by rules of their own */
            days[i].last_seq = days[i].seq_shown = scan[i].last_seq = scan[i].seq_shown = 0;
            if (memcmp(&days[i], &scan[i], sizeof days[i]) != 0)
                fail_msg("as of %u, unit %zu: from its days: reports %llu participants %llu staff "
                         "%u/%u items %u/%u cases %u/%u; from the reports: reports %llu "
                         "participants %llu staff %u/%u items %u/%u cases %u/%u",
                         dates[d], i, (unsigned long long)days[i].reports,
                         (unsigned long long)days[i].participants, days[i].staff_date,
                         days[i].staff_total, days[i].items_date, days[i].items_total,
                         days[i].cases_month, days[i].cases_total,
                         (unsigned long long)scan[i].reports,
                         (unsigned long long)scan[i].participants, scan[i].staff_date,
                         scan[i].staff_total, scan[i].items_date, scan[i].items_total,
                         scan[i].cases_month, scan[i].cases_total);
        }
    }
    /* and the series (dates ascending) say the same of the province */
    for (int k = 0; k < 4; k++) {
        if (hub_store_series(st, (ro_kind_t)(RO_KIND_TRAINING + k), dates, n, got, got + n, err,
                             sizeof err) != 0)
            fail_msg("series of kind %d: %s", RO_KIND_TRAINING + k, err);
        for (size_t d = 0; d < n; d++)
            if (got[d] != want[d][k][0] || got[n + d] != want[d][k][1])
                fail_msg("series of kind %d as of %u: %llu/%llu, the units add up to %llu/%llu",
                         RO_KIND_TRAINING + k, dates[d], (unsigned long long)got[n + d],
                         (unsigned long long)got[d], (unsigned long long)want[d][k][1],
                         (unsigned long long)want[d][k][0]);
    }
    free(want);
    free(got);
    free(days);
    free(scan);
}

#endif
