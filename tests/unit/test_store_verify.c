/* test_store_verify: what the fault drills found in hub_store, one test per
 * fault: an empty hub.db was filled afresh as if new; a damaged units table
 * was reported without saying what to do; and the checks at start: the fast
 * one (index seeks per unit) and the full recount in a thread of its own,
 * which finds tampering and damage and can be stopped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_fixture.h"
#include "ro_codec.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh path for a store in the test folder: nothing left there from before. */
static const char *s_path(const char *name)
{
    char *path = hf_path(name);
    hf_remove_db(path);
    return path;
}

/* A store at path with n training reports for unit 1, closed (checkpointed). */
static void s_make(const char *path, const ro_registry_t *reg, uint64_t n)
{
    char err[512] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    if (!st)
        fail_msg("open: %s", err);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, err, sizeof err), 0);
    assert_int_equal(hub_store_begin(st, err, sizeof err), 0);
    for (uint64_t seq = 1; seq <= n; seq++) {
        ro_report_t r;
        memset(&r, 0, sizeof r);
        r.version = RO_PROTOCOL_V1;
        snprintf(r.unit, sizeof r.unit, "460100-001");
        r.seq = seq;
        r.recorded_at = NOW - 3600;
        r.kind = RO_KIND_TRAINING;
        r.date = 20180401;
        r.total = 3;
        r.part = 10;
        assert_int_equal(hub_store_put_report(st, 1, hf_iid(st, 1), &r, seq, NOW, err, sizeof err),
                         0);
        hub_state_apply(&states[1], &r);
        states[1].last_seq = seq;
    }
    for (size_t i = 0; i < NUNITS; i++)
        assert_int_equal(
            hub_store_put_state(st, i, &states[i], HUB_STORE_DAYS_NOW, err, sizeof err), 0);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
    hub_store_destroy(&st);
}

/* In SQL: the legacy iid of the unit whose id is the string U (NULL if none). */
#define LEGACY_OF(U)                                                                               \
    "(SELECT i.iid FROM incarnations i JOIN units u ON u.uid = i.uid WHERE u.id = '" U "')"
/* In SQL: the rows of incarnations that are the legacy ones of units WHERE. */
#define LEGACY_WHERE(WHERE) " WHERE uid IN (SELECT uid FROM units WHERE " WHERE ")"

static void s_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* Overwrite page (from 1) of path with a pattern that is no b-tree page. */
static void s_garble_page(const char *path, long page)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (page - 1) * 4096, SEEK_SET), 0);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919 + 13) & 0xff, f);
    fclose(f);
}

static long s_root(const char *path, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long root = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_schema WHERE name = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        root = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return root;
}

static void test_empty_file_not_filled_afresh(void **state)
{
    (void)state;
    const char *path = s_path("empty.db");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    char err[1024] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_null(st);
    assert_non_null(strstr(err, "is empty (0 bytes)"));
    assert_non_null(strstr(err, "restore it from a backup"));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    /* and a missing file is still a new store */
    unlink(path);
    st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    hub_store_destroy(&st);
}

static void test_damaged_units_table_says_what_to_do(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("units-damaged.db");
    s_make(path, reg, 10);
    s_garble_page(path, s_root(path, "units"));
    char err[1024] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    if (st) {
        hub_unit_state_t states[NUNITS];
        assert_int_not_equal(hub_store_load_states(st, reg, states, err, sizeof err), 0);
        hub_store_destroy(&st);
    }
    assert_non_null(strstr(err, "is damaged"));
    assert_non_null(strstr(err, "restore it from a backup or move it aside"));
    ro_registry_destroy(&reg);
}

static void test_check_fast_finds_last_seq_off(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("fast.db");
    s_make(path, reg, 50);
    char err[1024] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    hub_store_diff_t diffs[4];
    uint64_t units = 0;
    assert_int_equal(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err), 0);
    assert_int_equal(units, NUNITS);
    hub_store_destroy(&st);

    /* aggregates ahead of the raw reports (resends would be dropped as
     * duplicates), and behind them */
    s_sql(path, "UPDATE incarnations SET last_seq = 55" LEGACY_WHERE(
                    "id = '460100-001'") ";"
                                         "UPDATE units SET reports = 3 WHERE id = '469002-003'");
    st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err), 2);
    assert_string_equal(diffs[0].unit, "460100-001");
    assert_string_equal(diffs[0].field, "last_seq");
    assert_int_equal(diffs[0].stored, 55);
    assert_int_equal(diffs[0].recount, 50);
    assert_string_equal(diffs[1].unit, "469002-003");
    assert_string_equal(diffs[1].field, "reports");
    assert_int_equal(hub_store_check_fast(st, NULL, 0, NULL, err, sizeof err), 2);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* last_seq is the highest seq stored or refused (INC_LAST_SEQ): a refusal
 * above the last report raises it, so a unit's reports may reach it, but
 * not pass it; the column written until schema 9 is a floor that may lag
 * (here at 0), never a ceiling. */
static void test_check_fast_counts_refusals(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("fast-refusals.db");
    s_make(path, reg, 50);
    s_sql(path,
          "INSERT INTO refusals(unit, iid, seq, reason, text, hash, at)"
          " VALUES ('460100-001', " LEGACY_OF(
              "460100-001") ", 53, 2, 'x', 1, 0),"
                            " ('460100-001', " LEGACY_OF(
                                "460100-001") ", 7, 4, 'y', 2, 0),"
                                              " ('469002-003', " LEGACY_OF(
                                                  "469002-003") ", 4, 2, 'z', 3, 0),"
                                                                " ('460999-001', NULL, 9, 2, 'a "
                                                                "unit without a row', 4, 0);"
                                                                "UPDATE units SET reports = 53 "
                                                                "WHERE id = '460100-001';"
                                                                "UPDATE units SET reports = 4 "
                                                                "WHERE id = '469002-003'");
    char err[1024] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    hub_store_diff_t diffs[4];
    uint64_t units = 0;
    assert_int_equal(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err), 0);
    assert_int_equal(units, NUNITS);
    hub_store_destroy(&st);

    s_sql(path, "UPDATE units SET reports = 54 WHERE id = '460100-001';"
                "UPDATE units SET reports = 5 WHERE id = '469002-003'");
    st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err), 2);
    assert_string_equal(diffs[0].unit, "460100-001");
    assert_string_equal(diffs[0].field, "reports");
    assert_int_equal(diffs[0].stored, 54);
    assert_int_equal(diffs[0].recount, 53);
    assert_string_equal(diffs[1].unit, "469002-003");
    assert_string_equal(diffs[1].field, "reports");
    assert_int_equal(diffs[1].stored, 5);
    assert_int_equal(diffs[1].recount, 4);
    /* only the first cap differences are written, in id order */
    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_check_fast(st, diffs, 1, &units, err, sizeof err), 2);
    assert_string_equal(diffs[0].unit, "460100-001");
    assert_string_equal(diffs[1].unit, "");
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* A store of many units: differences anywhere are found and come back in
 * the units' order, and a damaged last page (the newest reports) fails the
 * check. */
static void test_check_fast_many_units(void **state)
{
    (void)state;
    enum { MANY = 1500 };
    size_t len = 32 + MANY * 40;
    char *csv = malloc(len), err[1024] = "";
    assert_non_null(csv);
    size_t off = (size_t)snprintf(csv, len, "id,level,division,name\n");
    for (int i = 1; i <= MANY; i++)
        off += (size_t)snprintf(csv + off, len - off, "460100-%04d,municipal,460100,U%d\n", i, i);
    ro_registry_t *reg = ro_registry_load(tu_write("many.csv", csv), err, sizeof err);
    free(csv);
    if (!reg)
        fail_msg("registry: %s", err);
    const char *path = s_path("many.db");
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    hub_unit_state_t *states = calloc(MANY, sizeof *states);
    assert_non_null(states);
    assert_int_equal(hub_store_load_states(st, reg, states, err, sizeof err), 0);
    assert_int_equal(hub_store_begin(st, err, sizeof err), 0);
    for (size_t i = 0; i < MANY; i += 3) {
        for (uint64_t seq = 1; seq <= 5; seq++) {
            ro_report_t r;
            memset(&r, 0, sizeof r);
            r.version = RO_PROTOCOL_V1;
            snprintf(r.unit, sizeof r.unit, "%s", ro_registry_at(reg, i)->id);
            r.seq = seq;
            r.recorded_at = NOW - 3600;
            r.kind = RO_KIND_TRAINING;
            r.date = 20180401;
            r.total = 3;
            r.part = 10;
            assert_int_equal(
                hub_store_put_report(st, i, hf_iid(st, i), &r, seq, NOW, err, sizeof err), 0);
            hub_state_apply(&states[i], &r);
            states[i].last_seq = seq;
        }
        assert_int_equal(
            hub_store_put_state(st, i, &states[i], HUB_STORE_DAYS_NOW, err, sizeof err), 0);
    }
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
    hub_store_diff_t diffs[4];
    uint64_t units = 0;
    assert_int_equal(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err), 0);
    assert_int_equal(units, MANY);
    hub_store_destroy(&st);
    free(states);

    s_sql(path, "UPDATE incarnations SET last_seq = 7" LEGACY_WHERE(
                    "id IN ('460100-0004', '460100-1300')") ";"
                                                            "UPDATE units SET reports = 9 WHERE id "
                                                            "= '460100-0901'");
    st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err), 3);
    assert_int_equal(units, MANY);
    assert_string_equal(diffs[0].unit, "460100-0004");
    assert_string_equal(diffs[0].field, "last_seq");
    assert_int_equal(diffs[0].stored, 7);
    assert_int_equal(diffs[0].recount, 5);
    assert_string_equal(diffs[1].unit, "460100-0901");
    assert_string_equal(diffs[1].field, "reports");
    assert_int_equal(diffs[1].stored, 9);
    assert_int_equal(diffs[1].recount, 5);
    assert_string_equal(diffs[2].unit, "460100-1300");
    assert_int_equal(diffs[2].stored, 7);
    assert_int_equal(diffs[2].recount, 5);
    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_check_fast(st, diffs, 2, NULL, err, sizeof err), 3);
    assert_string_equal(diffs[1].unit, "460100-0901");
    assert_string_equal(diffs[2].unit, "");
    assert_int_equal(hub_store_check_fast(st, NULL, 0, NULL, err, sizeof err), 3);
    hub_store_destroy(&st);

    /* the last page holds the newest reports: the check reads them */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    s_garble_page(path, sb.st_size / 4096);
    st = hub_store_open(path, 2, 0, err, sizeof err);
    if (st) {
        assert_true(hub_store_check_fast(st, diffs, 4, &units, err, sizeof err) < 0);
        hub_store_destroy(&st);
    }
    assert_non_null(strstr(err, "is damaged"));
    assert_non_null(strstr(err, "restore it from a backup"));
    ro_registry_destroy(&reg);
}

/* The store at path after sql, opened, with diffs (n of them) cleared. */
static hub_store_t *s_changed(const char *path, const char *sql, hub_store_diff_t *diffs, size_t n)
{
    s_sql(path, sql);
    char err[1024] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    if (!st)
        fail_msg("open: %s", err);
    memset(diffs, 0, n * sizeof *diffs);
    return st;
}

static void s_diff_is(const hub_store_diff_t *d, const char *unit, const char *field,
                      int64_t stored, int64_t recount)
{
    assert_string_equal(d->unit, unit);
    assert_string_equal(d->field, field);
    assert_int_equal(d->stored, stored);
    assert_int_equal(d->recount, recount);
}

/* The runs find the reports (a resend is looked up through them), and a
 * last_seq is read from them: the recount names a run that does not end
 * at its report, reports no run covers and the last_seq they leave behind
 * the reports; the check at start, a last_seq written before schema 10
 * ahead of the runs. */
static void test_recount_finds_a_wrong_run(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("runs.db");
    s_make(path, reg, 50);
    char err[1024] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    hub_store_diff_t diffs[4];
    assert_int_equal(hub_store_recount(st, diffs, 4, NULL, NULL, err, sizeof err), 0);
    hub_store_destroy(&st);

    st = s_changed(path, "UPDATE report_runs SET first_row = first_row + 1", diffs, 4);
    assert_int_equal(hub_store_recount(st, diffs, 4, NULL, NULL, err, sizeof err), 1);
    s_diff_is(&diffs[0], "460100-001", "run", 50, 0); /* no report of it there */
    hub_store_destroy(&st);

    st = s_changed(path,
                   "DELETE FROM report_runs;"
                   "UPDATE incarnations SET last_seq = 50" LEGACY_WHERE("id = '460100-001'"),
                   diffs, 4);
    assert_int_equal(hub_store_recount(st, diffs, 4, NULL, NULL, err, sizeof err), 1);
    s_diff_is(&diffs[0], "(all)", "reports in runs", 0, 50);
    hub_store_destroy(&st);
    st = s_changed(path, "UPDATE incarnations SET last_seq = 0", diffs, 4);
    assert_int_equal(hub_store_recount(st, diffs, 4, NULL, NULL, err, sizeof err), 2);
    s_diff_is(&diffs[0], "460100-001", "last_seq", 0, 50);
    assert_string_equal(diffs[1].unit, "(all)");
    hub_store_destroy(&st);
    st = s_changed(path, "UPDATE incarnations SET last_seq = 50" LEGACY_WHERE("id = '460100-001'"),
                   diffs, 4);
    assert_int_equal(hub_store_check_fast(st, diffs, 4, NULL, err, sizeof err), 1);
    s_diff_is(&diffs[0], "460100-001", "last_seq", 50, 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* ---- the recount in a thread ---------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    hub_store_verify_result_t r;
} s_waiter_t;

static void s_done(const hub_store_verify_result_t *r, void *arg)
{
    s_waiter_t *w = arg;
    pthread_mutex_lock(&w->lock);
    w->r = *r;
    w->calls++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void s_wait(s_waiter_t *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->calls == 0)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void test_verify_in_thread_equals_recount(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("bg.db");
    s_make(path, reg, 3000);
    char err[1024] = "";
    s_waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
    /* the writer keeps its connection open meanwhile, as the hub does */
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    assert_non_null(st);
    hub_store_verifier_t *v = hub_store_verify_start(path, s_done, &w, err, sizeof err);
    assert_non_null(v);
    s_wait(&w);
    hub_store_verify_destroy(&v);
    assert_null(v);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.r.differences, 0);
    assert_int_equal(w.r.units, NUNITS);
    assert_int_equal(w.r.reports, 3000);
    assert_false(w.r.interrupted);
    assert_false(w.r.damaged);

    /* tampered: the thread names the unit and the field, like rolloutctl verify */
    hub_store_destroy(&st);
    s_sql(path, "UPDATE units SET participants = participants + 1 WHERE id = '460100-001'");
    w.calls = 0;
    v = hub_store_verify_start(path, s_done, &w, err, sizeof err);
    assert_non_null(v);
    s_wait(&w);
    hub_store_verify_destroy(&v);
    assert_int_equal(w.r.differences, 1);
    assert_string_equal(w.r.diffs[0].unit, "460100-001");
    assert_string_equal(w.r.diffs[0].field, "participants");
    assert_int_equal(w.r.diffs[0].stored, 9001);
    assert_int_equal(w.r.diffs[0].recount, 9000);
    ro_registry_destroy(&reg);
}

static void test_verify_in_thread_finds_damage(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("bg-damaged.db");
    s_make(path, reg, 3000);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    long root = s_root(path, "reports"), last = sb.st_size / 4096;
    assert_true(last - root > 4);
    s_garble_page(path, (root + last) / 2); /* a leaf the fast check never reads */
    char err[1024] = "";
    s_waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
    hub_store_verifier_t *v = hub_store_verify_start(path, s_done, &w, err, sizeof err);
    assert_non_null(v);
    s_wait(&w);
    hub_store_verify_destroy(&v);
    assert_true(w.r.differences < 0);
    assert_true(w.r.damaged);
    assert_non_null(strstr(w.r.error, "is damaged"));
    assert_non_null(strstr(w.r.error, "restore it from a backup"));
    ro_registry_destroy(&reg);
}

static void test_verify_stopped_and_missing_file(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = s_path("bg-stop.db");
    s_make(path, reg, 20000);
    char err[1024] = "";
    s_waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
    /* destroy at once: it either finished or was interrupted, and called back once */
    hub_store_verifier_t *v = hub_store_verify_start(path, s_done, &w, err, sizeof err);
    assert_non_null(v);
    hub_store_verify_destroy(&v);
    assert_int_equal(w.calls, 1);
    assert_true(w.r.interrupted || w.r.differences == 0);
    hub_store_verify_destroy(&v); /* NULL is fine */

    v = hub_store_verify_start(s_path("no-such.db"), s_done, &w, err, sizeof err);
    assert_null(v);
    assert_non_null(strstr(err, "cannot open for a recount"));
    ro_registry_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_not_filled_afresh),
        cmocka_unit_test(test_damaged_units_table_says_what_to_do),
        cmocka_unit_test(test_check_fast_finds_last_seq_off),
        cmocka_unit_test(test_check_fast_counts_refusals),
        cmocka_unit_test(test_check_fast_many_units),
        cmocka_unit_test(test_recount_finds_a_wrong_run),
        cmocka_unit_test(test_verify_in_thread_equals_recount),
        cmocka_unit_test(test_verify_in_thread_finds_damage),
        cmocka_unit_test(test_verify_stopped_and_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
