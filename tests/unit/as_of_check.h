/* The check the store and ingest tests share: a store's unit_days rows
 * answer every as-of question as the scan of every report does. */
#ifndef AS_OF_CHECK_H
#define AS_OF_CHECK_H

#include "ro_registry.h"
#include "store.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

/* The unit_days rows answer as of each of n dates what a scan of every
 * report (RECOUNT_SQL) answers: every aggregate of every unit of reg. */
static inline void hf_assert_as_of_recount(hub_store_t *st, const ro_registry_t *reg,
                                           const uint32_t *dates, size_t n)
{
    size_t nu = ro_registry_count(reg);
    hub_unit_state_t *days = calloc(nu, sizeof *days), *scan = calloc(nu, sizeof *scan);
    assert_non_null(days);
    assert_non_null(scan);
    char err[256] = "";
    for (size_t d = 0; d < n; d++) {
        if (hub_store_states_as_of(st, reg, dates[d], days, err, sizeof err) != 0 ||
            hub_store_states_recount(st, reg, dates[d], scan, err, sizeof err) != 0)
            fail_msg("as of %u: %s", dates[d], err);
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
    free(days);
    free(scan);
}

#endif
