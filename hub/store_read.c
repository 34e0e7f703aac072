/* hub_store's reads for the status thread, on its own connection
 * (hub_store_open_again): the units' state as of a date, one unit's history
 * and the province's series, all from the reports themselves; the units'
 * problems the store keeps, and one unit's trail of corrections. */
#include "store_db.h"
#include "ro_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unit uid's counted reports up to day as_of folded into *s (as
 * store_days_redo folds them): for a unit whose rows are stale. Returns
 * SQLITE_DONE or SQLite's error. */
static int s_fold_unit(hub_store_t *self, int64_t uid, uint32_t as_of, hub_unit_state_t *s)
{
    sqlite3_stmt *st = self->q[Q_DAY_FOLD];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, as_of);
    return store_fold_rows(st, s);
}

/* Unit uid's reports up to day as_of that counted at the end of the day
 * whose last second is end, folded into *s as s_fold_unit folds, and how
 * many corrections and decisions after then touch them into *after.
 * Returns SQLITE_DONE or SQLite's error. */
static int s_fold_known(hub_store_t *self, int64_t uid, uint32_t as_of, int64_t end,
                        hub_unit_state_t *s, uint32_t *after)
{
    sqlite3_stmt *st = self->q[Q_KNOWN_AFTER];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, as_of);
    sqlite3_bind_int64(st, 3, end);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && after)
        *after = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW)
        return rc;
    st = self->q[Q_KNOWN_FOLD];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, as_of);
    sqlite3_bind_int64(st, 3, end);
    return store_fold_rows(st, s);
}

/* Step st (Q_AS_OF's columns, bound) into out, folding the units its last
 * column names: their counted reports (end 0), or as known at end. */
static int s_states_rows(hub_store_t *self, const ro_registry_t *reg, sqlite3_stmt *st,
                         uint32_t as_of, int64_t end, hub_unit_state_t *out, uint32_t *after)
{
    size_t n = ro_registry_count(reg), next = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!id)
            continue;
        /* rows come in uid order, which is mostly the registry's: try the
         * unit after the last one matched before hashing */
        long i = next < n && strcmp(ro_registry_at(reg, next)->id, id) == 0
                     ? (long)next
                     : ro_registry_find(reg, id);
        if (i < 0)
            continue; /* a unit no longer in the registry */
        next = (size_t)i + 1;
        if (sqlite3_column_int(st, 17)) { /* stale from as_of or before, or changed since end */
            int64_t uid = sqlite3_column_int64(st, 16);
            int rc2 = end ? s_fold_known(self, uid, as_of, end, &out[i], after ? &after[i] : NULL)
                          : s_fold_unit(self, uid, as_of, &out[i]);
            if (rc2 != SQLITE_DONE) {
                rc = rc2;
                break;
            }
        } else {
            store_row_aggregates(st, 3, &out[i]); /* NULL (no day yet): 0 */
        }
        out[i].last_seq = out[i].seq_shown = (uint64_t)sqlite3_column_int64(st, 1);
        out[i].last_heard = sqlite3_column_int64(st, 2);
    }
    return rc;
}

int hub_store_states_as_of(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of,
                           hub_unit_state_t *out, char *err, size_t errlen)
{
    return hub_store_states_known(self, reg, as_of, 0, out, NULL, err, errlen);
}

int hub_store_states_known(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of,
                           uint32_t known_on, hub_unit_state_t *out, uint32_t *after, char *err,
                           size_t errlen)
{
    size_t n = ro_registry_count(reg);
    memset(out, 0, n * sizeof *out);
    if (after)
        memset(after, 0, n * sizeof *after);
    int64_t end = known_on ? ro_date_end(known_on) : 0;
    sqlite3_stmt *st = self->q[known_on ? Q_KNOWN_ROWS : Q_AS_OF];
    sqlite3_bind_int64(st, 1, as_of);
    if (known_on)
        sqlite3_bind_int64(st, 2, end);
    int rc = s_states_rows(self, reg, st, as_of, end, out, after);
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = store_fail(self, rc, "cannot compute the state as of a date", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

/* The scope scope_days keys key (store_scopes.c), or NULL. */
static ro_scope_t *s_scope_of(uint32_t key, ro_scope_t *province, ro_scope_t *levels,
                              ro_scope_t *divisions)
{
    if (key == 0)
        return province;
    if (key <= RO_LEVEL_COUNT)
        return &levels[key - 1];
    int d = ro_division_index(key);
    return d >= 0 ? &divisions[d] : NULL;
}

/* Add sign * v (scope_days' figures) to s's sums. */
static void s_scope_figs(ro_scope_t *s, const int64_t *v, int sign)
{
    s->units_reporting += (uint32_t)(sign * v[0]);
    s->reports += (uint64_t)(sign * v[1]);
    s->participants += (uint64_t)(sign * v[2]);
    s->hours_tenths += (uint64_t)(sign * v[3]);
    s->sessions += (uint64_t)(sign * v[4]);
    s->staff_total += (uint64_t)(sign * v[5]);
    s->staff_proficient += (uint64_t)(sign * v[6]);
    s->items_total += (uint64_t)(sign * v[7]);
    s->items_no_visit += (uint64_t)(sign * v[8]);
    s->cases_total += (uint64_t)(sign * v[9]);
    s->cases_no_visit += (uint64_t)(sign * v[10]);
}

/* A unit's state as scope_days' figures. */
static void s_state_figs(const hub_unit_state_t *st, int64_t v[STORE_SCOPE_FIGS])
{
    v[0] = st->reports > 0;
    v[1] = (int64_t)st->reports;
    v[2] = (int64_t)st->participants;
    v[3] = (int64_t)st->hours_tenths;
    v[4] = (int64_t)st->sessions;
    v[5] = st->staff_total;
    v[6] = st->staff_proficient;
    v[7] = st->items_total;
    v[8] = st->items_no_visit;
    v[9] = st->cases_total;
    v[10] = st->cases_no_visit;
}

/* Of the units stale from as_of or before, the rows the scopes count out
 * of each of its scopes, and its state as of as_of in: its units row from
 * its last day on, else its reports folded (s_states_rows' rule). */
static int s_scope_stale(hub_store_t *self, uint32_t as_of, ro_scope_t *province,
                         ro_scope_t *levels, ro_scope_t *divisions)
{
    sqlite3_stmt *st = self->q[Q_SCOPE_STALE];
    sqlite3_bind_int64(st, 1, as_of);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t uid = sqlite3_column_int64(st, 0);
        uint32_t code = (uint32_t)sqlite3_column_int64(st, 3);
        if (!code)
            continue; /* counted in no scope */
        hub_unit_state_t row, now;
        memset(&row, 0, sizeof row);
        memset(&now, 0, sizeof now);
        sqlite3_stmt *at = self->q[Q_DAY_AT];
        sqlite3_bind_int64(at, 1, uid);
        sqlite3_bind_int64(at, 2, as_of);
        int rc2 = sqlite3_step(at);
        if (rc2 == SQLITE_ROW)
            store_row_aggregates(at, 0, &row);
        sqlite3_reset(at);
        sqlite3_clear_bindings(at);
        if (rc2 != SQLITE_ROW && rc2 != SQLITE_DONE) {
            rc = rc2;
            break;
        }
        if ((uint32_t)sqlite3_column_int64(st, 2) <= as_of)
            store_row_aggregates(st, 4, &now);
        else if ((rc2 = s_fold_unit(self, uid, as_of, &now)) != SQLITE_DONE) {
            rc = rc2;
            break;
        }
        int64_t was[STORE_SCOPE_FIGS], is[STORE_SCOPE_FIGS];
        s_state_figs(&row, was);
        s_state_figs(&now, is);
        uint32_t keys[3] = {0, code % 10u, code / 10u};
        for (int k = 0; k < 3; k++) {
            ro_scope_t *s = s_scope_of(keys[k], province, levels, divisions);
            if (s) {
                s_scope_figs(s, was, -1);
                s_scope_figs(s, is, 1);
            }
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int hub_store_scope_sums(hub_store_t *self, uint32_t as_of, ro_scope_t *province,
                         ro_scope_t *levels, ro_scope_t *divisions, char *err, size_t errlen)
{
    ro_scope_t *all[1 + RO_LEVEL_COUNT + RO_DIVISION_COUNT];
    size_t n = 0;
    all[n++] = province;
    for (int l = 0; l < RO_LEVEL_COUNT; l++)
        all[n++] = &levels[l];
    for (int d = 0; d < RO_DIVISION_COUNT; d++)
        all[n++] = &divisions[d];
    for (size_t k = 0; k < n; k++) { /* the sums to 0, the rest kept */
        ro_scope_t *s = all[k];
        s->units_reporting = 0;
        s->reports = s->participants = s->hours_tenths = s->sessions = 0;
        s->staff_total = s->staff_proficient = s->items_total = s->items_no_visit = 0;
        s->cases_total = s->cases_no_visit = 0;
    }
    /* one snapshot of the store for the sums and the stale units: a unit
     * re-derived between them would be counted by its stale row */
    int own = sqlite3_get_autocommit(self->db);
    int rc = own ? sqlite3_exec(self->db, "BEGIN", NULL, NULL, NULL) : SQLITE_OK;
    if (rc != SQLITE_OK)
        return store_fail(self, rc, "cannot add up the scopes as of a date", err, errlen);
    sqlite3_stmt *st = self->q[Q_SCOPE_SUMS];
    sqlite3_bind_int64(st, 1, as_of);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ro_scope_t *s =
            s_scope_of((uint32_t)sqlite3_column_int64(st, 0), province, levels, divisions);
        int64_t v[STORE_SCOPE_FIGS];
        for (int f = 0; f < STORE_SCOPE_FIGS; f++)
            v[f] = sqlite3_column_int64(st, 1 + f);
        if (s)
            s_scope_figs(s, v, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        rc = s_scope_stale(self, as_of, province, levels, divisions);
    int out = rc == SQLITE_DONE
                  ? 0
                  : store_fail(self, rc, "cannot add up the scopes as of a date", err, errlen);
    if (own)
        sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL); /* a read: nothing to keep */
    return out;
}

/* Fill a state from the recomputed columns of a recount row. */
static void s_recount_to_state(sqlite3_stmt *st, hub_unit_state_t *s)
{
    s->reports = (uint64_t)sqlite3_column_int64(st, 17);
    s->participants = (uint64_t)sqlite3_column_int64(st, 18);
    s->hours_tenths = (uint64_t)sqlite3_column_int64(st, 19);
    s->sessions = (uint64_t)sqlite3_column_int64(st, 20);
    s->staff_date = (uint32_t)sqlite3_column_int64(st, 21);
    s->staff_total = (uint32_t)sqlite3_column_int64(st, 22);
    s->staff_proficient = (uint32_t)sqlite3_column_int64(st, 23);
    s->items_date = (uint32_t)sqlite3_column_int64(st, 24);
    s->items_total = (uint32_t)sqlite3_column_int64(st, 25);
    s->items_no_visit = (uint32_t)sqlite3_column_int64(st, 26);
    s->cases_month = (uint32_t)sqlite3_column_int64(st, 27);
    s->cases_total = (uint32_t)sqlite3_column_int64(st, 28);
    s->cases_no_visit = (uint32_t)sqlite3_column_int64(st, 29);
}

int hub_store_states_recount(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of,
                             hub_unit_state_t *out, char *err, size_t errlen)
{
    size_t n = ro_registry_count(reg);
    memset(out, 0, n * sizeof *out);
    sqlite3_stmt *st = self->q[Q_RECOUNT];
    sqlite3_bind_int64(st, 1, as_of);
    sqlite3_bind_int64(st, 2, as_of / 100);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        long i = id ? ro_registry_find(reg, (const char *)id) : -1;
        if (i < 0)
            continue; /* a unit no longer in the registry */
        s_recount_to_state(st, &out[i]);
        out[i].last_seq = out[i].seq_shown = (uint64_t)sqlite3_column_int64(st, 1);
        out[i].last_heard = sqlite3_column_int64(st, 2);
    }
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = store_fail(self, rc, "cannot compute the state as of a date", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

int hub_store_history(hub_store_t *self, size_t index, ro_kind_t kind, uint32_t as_of,
                      hub_store_point_t **out, size_t *count, char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    if (index >= self->nunits) {
        if (err && errlen)
            snprintf(err, errlen, "unit index %zu is not loaded", index);
        return HUB_STORE_EFAIL;
    }
    if (self->uids[index] == STORE_NO_UID)
        return 0; /* a unit without a row has no reports */
    sqlite3_stmt *st = self->q[Q_HISTORY];
    sqlite3_bind_int64(st, 1, self->uids[index]);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_int64(st, 3, kind == RO_KIND_CASES ? as_of / 100 : as_of);
    hub_store_point_t *list = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            hub_store_point_t *grown = realloc(list, ncap * sizeof *grown);
            if (!grown) {
                if (err && errlen)
                    snprintf(err, errlen, "out of memory");
                ret = HUB_STORE_EFAIL;
                break;
            }
            list = grown;
            cap = ncap;
        }
        list[n++] = (hub_store_point_t){.seq = (uint64_t)sqlite3_column_int64(st, 0),
                                        .date = (uint32_t)sqlite3_column_int64(st, 1),
                                        .total = (uint32_t)sqlite3_column_int64(st, 2),
                                        .part = (uint32_t)sqlite3_column_int64(st, 3)};
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(self, rc, "cannot read a unit's history", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (ret != 0 || n == 0) {
        free(list);
        return ret;
    }
    *out = list;
    *count = n;
    return 0;
}

static int s_uid_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of the first of n ascending dates that is >= d (n if none). */
static size_t s_first_on_or_after(const uint32_t *dates, size_t n, uint32_t d)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dates[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* One report or row in a series' running difference (hub_store_series):
 * at the first of the n dates on or after date, sign times what it adds:
 * itself (a sum), or what it changes from the one before it, *pt and *pp,
 * which it replaces (a snapshot). */
static void s_series_step(const uint32_t *dates, size_t n, int64_t *dt, int64_t *dp, uint32_t date,
                          int64_t t, int64_t p, int snapshot, int sign, int64_t *pt, int64_t *pp)
{
    size_t j = s_first_on_or_after(dates, n, date);
    if (j >= n)
        return;
    dt[j] += sign * (t - (snapshot ? *pt : 0));
    dp[j] += sign * (p - (snapshot ? *pp : 0));
    *pt = t;
    *pp = p;
}

/* A state's total and part of kind, as a series counts them. */
static void s_kind_figs(const hub_unit_state_t *s, ro_kind_t kind, int64_t *t, int64_t *p)
{
    switch (kind) {
    case RO_KIND_TRAINING: *t = (int64_t)s->participants, *p = (int64_t)s->hours_tenths; break;
    case RO_KIND_STAFF: *t = s->staff_total, *p = s->staff_proficient; break;
    case RO_KIND_ITEMS: *t = s->items_total, *p = s->items_no_visit; break;
    default: *t = s->cases_total, *p = s->cases_no_visit; break;
    }
}

/* Whether a date of the series falls between a stale unit's first stale
 * day and its last day (Q_SCOPE_STALE's row st): its state then is its
 * reports folded; before, its rows; after, its units row. */
static int s_series_folds(sqlite3_stmt *st, const uint32_t *dates, size_t n)
{
    size_t j = s_first_on_or_after(dates, n, (uint32_t)sqlite3_column_int64(st, 17));
    return j < n && dates[j] < (uint32_t)sqlite3_column_int64(st, 2);
}

/* Into dt and dp, for the stale unit of Q_SCOPE_STALE's row row: its rows
 * from its first stale day (from) on taken out of a series (each a
 * snapshot of its state, as scope_days counted them) and its state from
 * then on put in. The rows before from are right: the row before it is
 * where both start. From its last day on its state is its units row (in
 * row); only a date of the series between the two needs its counted
 * reports of kind, folded. Returns SQLITE_DONE or SQLite's error. */
static int s_series_unit(hub_store_t *self, sqlite3_stmt *row, ro_kind_t kind,
                         const uint32_t *dates, size_t n, int64_t *dt, int64_t *dp)
{
    int64_t uid = sqlite3_column_int64(row, 0);
    uint32_t from = (uint32_t)sqlite3_column_int64(row, 17);
    hub_unit_state_t s;
    int64_t at;
    /* no message of its own: the caller's store_fail reads SQLite's */
    if (store_days_base(self, uid, from, &s, &at, NULL, 0))
        return SQLITE_ERROR;
    int rc;
    int64_t base_t, base_p, pt, pp, t, p;
    s_kind_figs(&s, kind, &base_t, &base_p);
    pt = base_t, pp = base_p;
    sqlite3_stmt *st = self->q[Q_DAY_FROM];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, from);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&s, 0, sizeof s);
        store_row_aggregates(st, 0, &s);
        s_kind_figs(&s, kind, &t, &p);
        s_series_step(dates, n, dt, dp, (uint32_t)sqlite3_column_int64(st, STORE_AGGREGATES + 1), t,
                      p, 1, -1, &pt, &pp);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return rc;
    pt = base_t, pp = base_p;
    if (!s_series_folds(row, dates, n)) { /* its units row at every date from then on */
        memset(&s, 0, sizeof s);
        store_row_aggregates(row, 4, &s);
        s_kind_figs(&s, kind, &t, &p);
        s_series_step(dates, n, dt, dp, from, t, p, 1, 1, &pt, &pp);
        return SQLITE_DONE;
    }
    st = self->q[Q_DAY_FOLD];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, dates[n - 1]);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint32_t date = (uint32_t)sqlite3_column_int64(st, 1);
        if (kind == RO_KIND_CASES)
            date = date * 100 + 1; /* a month counts from its first day */
        if (sqlite3_column_int(st, 0) == (int)kind && date >= from)
            s_series_step(dates, n, dt, dp, date, sqlite3_column_int64(st, 2),
                          sqlite3_column_int64(st, 3), kind != RO_KIND_TRAINING, 1, &pt, &pp);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* s_series_scopes' reads, in its snapshot: the province's rows added up to
 * each date, and the units stale by the last date corrected one by one
 * (s_series_unit). Those with a date to fold read all their reports: when
 * they hold more than a fifth of all (as in a backlog), *used is 0 and the
 * caller reads every report instead. Returns SQLITE_DONE or SQLite's
 * error. */
static int s_series_rows(hub_store_t *self, const char *sql, ro_kind_t kind, const uint32_t *dates,
                         size_t n, uint64_t *total, uint64_t *part, int *used)
{
    int64_t *dt = calloc(2 * n, sizeof *dt), *dp = dt ? dt + n : NULL, all = 0, folds = 0;
    *used = 0;
    sqlite3_stmt *st = NULL;
    int rc = dt ? sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, dates[n - 1]);
        int64_t pt = 0, pp = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) { /* the province's changes */
            s_series_step(dates, n, dt, dp, (uint32_t)sqlite3_column_int64(st, 0),
                          sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), 0, 1, &pt, &pp);
            all += sqlite3_column_int64(st, 3);
        }
        sqlite3_finalize(st);
    }
    /* the reports of the units to fold, then (if few) the corrections */
    for (int pass = 0; pass < 2 && rc == SQLITE_DONE; pass++) {
        *used = folds * 5 <= all;
        if (!*used)
            break;
        st = self->q[Q_SCOPE_STALE];
        sqlite3_bind_int64(st, 1, dates[n - 1]);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (!sqlite3_column_int64(st, 3)) /* counted in no scope */
                continue;
            if (pass == 0)
                folds += s_series_folds(st, dates, n) ? sqlite3_column_int64(st, 4) : 0;
            else if ((rc = s_series_unit(self, st, kind, dates, n, dt, dp)) != SQLITE_DONE)
                break;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    int64_t t = 0, p = 0;
    for (size_t j = 0; *used && rc == SQLITE_DONE && j < n; j++) {
        t += dt[j];
        p += dp[j];
        total[j] = (uint64_t)t;
        part[j] = (uint64_t)p;
    }
    free(dt);
    return rc;
}

/* hub_store_series from the province's scope_days rows: their running sum
 * up to each date, one pass over a row per day, and the stale units'
 * corrections (s_series_rows). *used 0 when the caller must fold the
 * reports instead. Returns 0 or a code. */
static int s_series_scopes(hub_store_t *self, ro_kind_t kind, const uint32_t *dates, size_t n,
                           uint64_t *total, uint64_t *part, int *used, char *err, size_t errlen)
{
    /* the columns of the kind's total and part in Q_SCOPE_SUMS' row order,
     * and the reports (how many the province has, summed) */
    static const char *sql[] = {
        [RO_KIND_TRAINING] = "SELECT date, participants, hours_tenths, reports FROM scope_days"
                             " WHERE scope = 0 AND date <= ?1 ORDER BY date",
        [RO_KIND_STAFF] = "SELECT date, staff_total, staff_proficient, reports FROM scope_days"
                          " WHERE scope = 0 AND date <= ?1 ORDER BY date",
        [RO_KIND_ITEMS] = "SELECT date, items_total, items_no_visit, reports FROM scope_days"
                          " WHERE scope = 0 AND date <= ?1 ORDER BY date",
        [RO_KIND_CASES] = "SELECT date, cases_total, cases_no_visit, reports FROM scope_days"
                          " WHERE scope = 0 AND date <= ?1 ORDER BY date",
    };
    *used = 0;
    if (kind < RO_KIND_TRAINING || kind > RO_KIND_CASES)
        return 0;
    /* one snapshot for the rows and the stale units: a batch committed
     * between them that left a unit stale would be read in part (the other
     * units' rows without that unit's report) */
    int own = sqlite3_get_autocommit(self->db);
    int rc = own ? sqlite3_exec(self->db, "BEGIN", NULL, NULL, NULL) : SQLITE_OK;
    if (rc != SQLITE_OK)
        return store_fail(self, rc, "cannot compute a series", err, errlen);
    rc = s_series_rows(self, sql[kind], kind, dates, n, total, part, used);
    int out = rc == SQLITE_DONE ? 0 : store_fail(self, rc, "cannot compute a series", err, errlen);
    if (rc == SQLITE_NOMEM && err && errlen)
        snprintf(err, errlen, "cannot compute a series: out of memory");
    if (own) /* after the message: COMMIT would replace SQLite's */
        sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL); /* a read: nothing to keep */
    return out;
}

int hub_store_series(hub_store_t *self, ro_kind_t kind, const uint32_t *dates, size_t n,
                     uint64_t *total, uint64_t *part, char *err, size_t errlen)
{
    return hub_store_series_known(self, kind, dates, n, 0, total, part, err, errlen);
}

int hub_store_series_known(hub_store_t *self, ro_kind_t kind, const uint32_t *dates, size_t n,
                           uint32_t known_on, uint64_t *total, uint64_t *part, char *err,
                           size_t errlen)
{
    if (n == 0)
        return 0;
    int used = 0;
    int rc = known_on ? 0 : s_series_scopes(self, kind, dates, n, total, part, &used, err, errlen);
    if (rc || used)
        return rc;
    /* Each report lands once, at the first date it counts for, in a running
     * difference: a sum adds itself there; a snapshot adds what it changes
     * from the unit's previous one (which it replaces from then on). A prefix
     * sum over the dates then gives every date's fold in one pass. */
    int64_t *dt = calloc(n, sizeof *dt), *dp = calloc(n, sizeof *dp);
    int64_t *uids = malloc((self->nunits ? self->nunits : 1) * sizeof *uids);
    if (!dt || !dp || !uids) {
        free(dt);
        free(dp);
        free(uids);
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return HUB_STORE_EFAIL;
    }
    memcpy(uids, self->uids, self->nunits * sizeof *uids);
    qsort(uids, self->nunits, sizeof *uids, s_uid_cmp);
    int snapshot = kind != RO_KIND_TRAINING;
    sqlite3_stmt *st = self->q[known_on ? Q_SERIES_KNOWN : Q_SERIES];
    if (known_on)
        sqlite3_bind_int64(st, 3, ro_date_end(known_on));
    sqlite3_bind_int(st, 1, (int)kind);
    sqlite3_bind_int64(st, 2, kind == RO_KIND_CASES ? dates[n - 1] / 100 : dates[n - 1]);
    int64_t uid = -1, prev_total = 0, prev_part = 0;
    int known = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t u = sqlite3_column_int64(st, 0);
        if (u != uid) {
            uid = u;
            known = bsearch(&u, uids, self->nunits, sizeof *uids, s_uid_cmp) != NULL;
            prev_total = prev_part = 0;
        }
        if (!known)
            continue; /* a unit no longer in the registry */
        uint32_t date = (uint32_t)sqlite3_column_int64(st, 1);
        if (kind == RO_KIND_CASES)
            date = date * 100 + 1; /* a month counts from its first day */
        s_series_step(dates, n, dt, dp, date, sqlite3_column_int64(st, 2),
                      sqlite3_column_int64(st, 3), snapshot, 1, &prev_total, &prev_part);
    }
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = store_fail(self, rc, "cannot compute a series", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (ret == 0) {
        int64_t t = 0, p = 0;
        for (size_t j = 0; j < n; j++) {
            t += dt[j];
            p += dp[j];
            total[j] = (uint64_t)t;
            part[j] = (uint64_t)p;
        }
    }
    free(dt);
    free(dp);
    free(uids);
    return ret;
}

int hub_store_problems(hub_store_t *self, int64_t since,
                       int (*fn)(void *arg, const hub_store_problem_t *p), void *arg, char *err,
                       size_t errlen)
{
    /* the partial index reports_held holds the held rows only, named:
     * without statistics the planner scanned every report instead (GROUP BY
     * uid follows the table's key), 32% of a hub's start on 10 M reports;
     * the latest refusal's columns come with max(at), as SQLite does for
     * bare columns */
    static const char *sql[2] = {
        "SELECT u.id, count(*), min(r.date) FROM reports r INDEXED BY reports_held"
        " JOIN units u ON u.uid = r.uid WHERE r.state = 1 GROUP BY r.uid ORDER BY u.id",
        "SELECT unit, count(*), seq, reason, text, max(at) FROM refusals WHERE at >= ?1"
        " GROUP BY unit ORDER BY unit",
    };
    for (int q = 0; q < 2; q++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(self->db, sql[q], -1, &st, NULL);
        if (rc != SQLITE_OK)
            return store_fail(self, rc, "cannot list the units' problems", err, errlen);
        if (q == 1)
            sqlite3_bind_int64(st, 1, since);
        int stop = 0;
        while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            hub_store_problem_t p = {.unit = (const char *)sqlite3_column_text(st, 0),
                                     .held = q == 0,
                                     .count = (uint64_t)sqlite3_column_int64(st, 1)};
            if (q == 0) {
                p.date = (uint32_t)sqlite3_column_int64(st, 2);
            } else {
                p.seq = (uint64_t)sqlite3_column_int64(st, 2);
                p.reason = (ro_reason_t)sqlite3_column_int(st, 3);
                p.text = (const char *)sqlite3_column_text(st, 4);
                p.at = sqlite3_column_int64(st, 5);
            }
            if (p.unit)
                stop = fn(arg, &p);
        }
        int done = rc == SQLITE_DONE || stop;
        if (!done)
            rc = store_fail(self, rc, "cannot list the units' problems", err, errlen);
        sqlite3_finalize(st);
        if (!done)
            return rc;
        if (stop)
            return stop;
    }
    return 0;
}

/* Copy a blob column of RO_INCARNATION_LEN bytes into inc (zero when NULL
 * or of another length: the legacy incarnation is 16 zero bytes anyway). */
static void s_column_inc(sqlite3_stmt *st, int col, uint8_t inc[RO_INCARNATION_LEN])
{
    const void *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    memset(inc, 0, RO_INCARNATION_LEN);
    if (b && n == RO_INCARNATION_LEN)
        memcpy(inc, b, RO_INCARNATION_LEN);
}

/* One row of the trail's query into e. */
static void s_column_event(sqlite3_stmt *st, hub_store_event_t *e)
{
    memset(e, 0, sizeof *e);
    e->at = sqlite3_column_int64(st, 0);
    e->what = (ro_action_t)sqlite3_column_int(st, 1);
    e->target_seq = (uint64_t)sqlite3_column_int64(st, 2);
    s_column_inc(st, 3, e->target_inc);
    e->target_kind = (ro_kind_t)sqlite3_column_int(st, 4);
    e->target_date = (uint32_t)sqlite3_column_int64(st, 5);
    e->target_total = (uint32_t)sqlite3_column_int64(st, 6);
    e->target_part = (uint32_t)sqlite3_column_int64(st, 7);
    e->seq = (uint64_t)sqlite3_column_int64(st, 8);
    s_column_inc(st, 9, e->inc);
    if (e->what == RO_ACTION_AMEND) { /* a cancel's own row carries no figures */
        e->new_date = (uint32_t)sqlite3_column_int64(st, 10);
        e->new_total = (uint32_t)sqlite3_column_int64(st, 11);
        e->new_part = (uint32_t)sqlite3_column_int64(st, 12);
    }
    const unsigned char *by = sqlite3_column_text(st, 13), *reason = sqlite3_column_text(st, 14);
    snprintf(e->by, sizeof e->by, "%s", by ? (const char *)by : "");
    snprintf(e->reason, sizeof e->reason, "%s", reason ? (const char *)reason : "");
}

int hub_store_trail(hub_store_t *self, size_t index, size_t limit, hub_store_event_t **out,
                    size_t *count, uint64_t *total, char *err, size_t errlen)
{
    /* asked rarely, so not kept prepared; the count rides in the same
     * statement, so that it and the rows come from one snapshot */
    static const char *sql =
        "SELECT e.at, e.what, e.target_seq, ti.incarnation, t.kind, t.date, t.total, t.part,"
        " e.by_seq, ci.incarnation, c.date, c.total, c.part, e.by_key, e.reason,"
        " (SELECT count(*) FROM events WHERE uid = ?1)"
        " FROM events e"
        " LEFT JOIN reports t ON t.rowid = " TARGET_ROW
        " AND t.uid = e.uid AND t.iid = e.target_iid AND t.seq = e.target_seq"
        " LEFT JOIN incarnations ti ON ti.iid = e.target_iid"
        " LEFT JOIN reports c ON c.rowid = " BY_ROW
        " AND c.uid = e.uid AND c.iid = e.by_iid AND c.seq = "
        "e.by_seq"
        " LEFT JOIN incarnations ci ON ci.iid = e.by_iid"
        " WHERE e.uid = ?1 ORDER BY e.id DESC LIMIT ?2";
    *out = NULL;
    *count = 0;
    *total = 0;
    if (index >= self->nunits) {
        if (err && errlen)
            snprintf(err, errlen, "unit index %zu is not loaded", index);
        return HUB_STORE_EFAIL;
    }
    if (self->uids[index] == STORE_NO_UID)
        return 0; /* a unit without a row has corrected nothing */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_fail(self, rc, "cannot read a unit's trail", err, errlen);
    sqlite3_bind_int64(st, 1, self->uids[index]);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    hub_store_event_t *list = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            hub_store_event_t *grown = realloc(list, ncap * sizeof *grown);
            if (!grown) {
                if (err && errlen)
                    snprintf(err, errlen, "out of memory");
                ret = HUB_STORE_EFAIL;
                break;
            }
            list = grown;
            cap = ncap;
        }
        s_column_event(st, &list[n++]);
        *total = (uint64_t)sqlite3_column_int64(st, 15);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(self, rc, "cannot read a unit's trail", err, errlen);
    sqlite3_finalize(st);
    if (ret != 0 || n == 0) {
        free(list);
        *total = 0;
        return ret;
    }
    *out = list;
    *count = n;
    return 0;
}
