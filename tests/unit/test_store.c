/* test_store: hub.db (aggregates kept with the raw reports, one transaction
 * per batch, damaged files refused untouched, recount, as-of, a full store).
 * hub_ingest's socket-free half is in test_ingest.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_fixture.h"
#include "ingest.h"
#include "ro_codec.h"
#include "ro_time.h"
#include "store_db.h" /* scope_lost: an allocation that failed */

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Store r as the next report of unit i (hash = seq, for these tests). */
static void s_put(hub_store_t *st, hub_unit_state_t *states, size_t i, const ro_report_t *r)
{
    char err[256] = "";
    int rc = hub_store_put_report(st, i, hf_iid(st, i), r, 1000 + r->seq, NOW, err, sizeof err);
    if (rc)
        fail_msg("put_report: %d %s", rc, err);
    hub_state_apply(&states[i], r);
    states[i].last_seq = r->seq;
    states[i].last_heard = NOW;
}

/* Report r of unit i stored held for review (a [review] rule flagged it). */
static void s_put_held(hub_store_t *st, size_t i, const ro_report_t *r)
{
    char err[256] = "";
    int rc = hub_store_hold_review(st, i, hf_iid(st, i), r, 1000 + r->seq, NOW, err, sizeof err);
    if (rc)
        fail_msg("hold_review: %d %s", rc, err);
}

static void s_put_states(hub_store_t *st, const hub_unit_state_t *states)
{
    char err[256] = "";
    for (size_t i = 0; i < NUNITS; i++)
        if (hub_store_put_state(st, i, &states[i], HUB_STORE_DAYS_NOW, err, sizeof err))
            fail_msg("put_state: %s", err);
}

/* A small history for unit 0: three trainings, staff, items, cases. */
static void s_history(hub_store_t *st, hub_unit_state_t *states)
{
    const char *u = "460000-001";
    ro_report_t rs[] = {
        hf_report(u, 1, RO_KIND_TRAINING, 20180110, 30, 25),
        hf_report(u, 2, RO_KIND_STAFF, 20180105, 20, 10),
        hf_report(u, 3, RO_KIND_TRAINING, 20180210, 40, 15),
        hf_report(u, 4, RO_KIND_STAFF, 20180305, 22, 18),
        hf_report(u, 5, RO_KIND_STAFF, 20180201, 99, 1), /* older date: must not replace */
        hf_report(u, 6, RO_KIND_ITEMS, 20180301, 100, 60),
        hf_report(u, 7, RO_KIND_ITEMS, 20180301, 100, 70), /* same date, later seq wins */
        hf_report(u, 8, RO_KIND_CASES, 201801, 500, 100),
        hf_report(u, 9, RO_KIND_CASES, 201803, 800, 600),
        hf_report(u, 10, RO_KIND_TRAINING, 20180310, 5, 10),
    };
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        s_put(st, states, 0, &rs[i]);
    ro_report_t other = hf_report("469002-003", 1, RO_KIND_TRAINING, 20180111, 7, 30);
    s_put(st, states, 2, &other);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
}

/* ---- store ---------------------------------------------------------------- */

static void test_insert_and_aggregates(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS], again[NUNITS];
    memset(states, 0xAB, sizeof states); /* load must overwrite every field */
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    for (size_t i = 0; i < NUNITS; i++)
        assert_int_equal(states[i].reports, 0);
    memset(states, 0, sizeof states);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);

    s_history(st, states);
    const hub_unit_state_t *s = &states[0];
    assert_int_equal(s->reports, 10);
    assert_int_equal(s->last_seq, 10);
    assert_int_equal(s->participants, 75);
    assert_int_equal(s->hours_tenths, 50);
    assert_int_equal(s->sessions, 3);
    assert_int_equal(s->staff_date, 20180305);
    assert_int_equal(s->staff_total, 22);
    assert_int_equal(s->staff_proficient, 18);
    assert_int_equal(s->items_date, 20180301);
    assert_int_equal(s->items_no_visit, 70);
    assert_int_equal(s->cases_month, 201803);
    assert_int_equal(s->cases_total, 800);
    assert_int_equal(s->cases_no_visit, 600);
    assert_int_equal(states[1].reports, 0);
    assert_int_equal(states[2].participants, 7);

    memset(again, 0, sizeof again);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, sizeof states / sizeof states[0]);

    hub_store_destroy(&st);
    assert_null(st);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_duplicate_refused_and_found_by_hash(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    ro_report_t r = hf_report("460100-001", 1, RO_KIND_ITEMS, 20180105, 50, 20);
    char err[256];
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(
        hub_store_put_report(st, 1, hf_iid(st, 1), &r, 0xfeedfacecafebeefull, NOW, err, sizeof err),
        0);
    r.part = 49;
    assert_int_equal(hub_store_put_report(st, 1, hf_iid(st, 1), &r, 42, NOW, err, sizeof err),
                     HUB_STORE_EDUP);
    /* the transaction is still usable after the refused row */
    assert_int_equal(hub_store_put_refusal(st, 1, hf_iid(st, 1), 2, RO_REASON_INVALID, "bad date",
                                           77, NOW, err, sizeof err),
                     0);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);

    uint64_t hash = 0;
    ro_reason_t reason = RO_REASON_NONE;
    char text[64] = "";
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 1, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 0xfeedfacecafebeefull); /* all 64 bits survive */
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 2, &hash, &reason, text, sizeof text), 2);
    assert_true(hash == 77);
    assert_int_equal(reason, RO_REASON_INVALID);
    assert_string_equal(text, "bad date");
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 3, &hash, NULL, NULL, 0), 0);
    assert_int_equal(hub_store_find(st, 0, hf_iid(st, 0), 1, &hash, NULL, NULL, 0),
                     0); /* other unit */

    /* the row went in without its aggregates: reports and the items
     * snapshot (last_seq is read from the report and the refusal) */
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, &reports, NULL, 0), 4);
    assert_int_equal(units, NUNITS);
    assert_int_equal(reports, 1);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_rollback_leaves_nothing(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0}, before[NUNITS], after[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    memcpy(before, states, sizeof states);

    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t seq = 11; seq <= 20; seq++) {
        ro_report_t r = hf_report("460000-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        s_put(st, states, 0, &r);
    }
    assert_int_equal(
        hub_store_put_refusal(st, 0, hf_iid(st, 0), 21, RO_REASON_INVALID, "x", 1, NOW, NULL, 0),
        0);
    s_put_states(st, states);
    hub_store_rollback(st);
    hub_store_rollback(st); /* harmless without a transaction */

    memset(after, 0, sizeof after);
    assert_int_equal(hub_store_load_states(st, reg, after, NULL, 0), 0);
    hf_assert_states_equal(after, before, sizeof before / sizeof before[0]);
    uint64_t hash;
    assert_int_equal(hub_store_find(st, 0, hf_iid(st, 0), 11, &hash, NULL, NULL, 0), 0);
    assert_int_equal(hub_store_find(st, 0, hf_iid(st, 0), 21, &hash, NULL, NULL, 0), 0);
    uint64_t reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, &reports, NULL, 0), 0);
    assert_int_equal(reports, 11);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* The open transaction's index of its reports is emptied at each commit
 * and rollback by the slots its reports took, not the whole of it: after a
 * large transaction is taken back, the same reports store again
 * (backwards, so that each after the first is looked up in the index), a
 * second put of one of them in a transaction is refused, and the scopes'
 * rows that large and small transactions leave equal the recount. */
static void test_pending_index_after_a_large_rollback(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0}, before[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    enum { N = 5000 }; /* the index grows past its first size, 2048 */
    char err[256] = "";
    memcpy(before, states, sizeof states);
    for (int round = 0; round < 2; round++) {
        memcpy(states, before, sizeof states);
        assert_int_equal(hub_store_begin(st, NULL, 0), 0);
        for (uint64_t k = 1; k <= N; k++) {
            uint64_t seq = round == 0 ? k : N + 1 - k;
            ro_report_t r = hf_report("460000-001", seq, RO_KIND_TRAINING,
                                      20180101 + (uint32_t)(seq % 28), 3, 10);
            s_put(st, states, 0, &r);
        }
        ro_report_t again = hf_report("460000-001", 17, RO_KIND_TRAINING, 20180118, 3, 10);
        assert_int_equal(
            hub_store_put_report(st, 0, hf_iid(st, 0), &again, 1000 + 17, NOW, err, sizeof err),
            HUB_STORE_EDUP);
        s_put_states(st, states);
        if (round == 0)
            hub_store_rollback(st);
        else
            assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    }
    for (uint64_t seq = N + 1; seq <= N + 3; seq++) { /* a transaction of one report each */
        assert_int_equal(hub_store_begin(st, NULL, 0), 0);
        ro_report_t r =
            hf_report("460000-001", seq, RO_KIND_STAFF, 20180301, 20, (uint32_t)seq % 20);
        s_put(st, states, 0, &r);
        s_put_states(st, states);
        assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    }
    uint64_t reports = 0;
    long n = hub_store_recount(st, NULL, 0, NULL, &reports, err, sizeof err);
    if (n != 0)
        fail_msg("recount: %ld %s", n, err);
    assert_int_equal(reports, N + 3);
    static const uint32_t dates[] = {20180105, 20180128, 20180301, 20991231};
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Unit 0's legacy incarnation row: its last_seq and last_heard (0: NULL). */
static void s_legacy_row(hub_store_t *st, int64_t *seq, int64_t *heard)
{
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(st->db,
                                        "SELECT last_seq, IFNULL(last_heard, 0) FROM incarnations"
                                        " WHERE iid = ?1",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, hf_iid(st, 0));
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    *seq = sqlite3_column_int64(q, 0);
    *heard = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
}

static void s_put_state_once(hub_store_t *st, const hub_unit_state_t *s, int commit)
{
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_put_state(st, 0, s, HUB_STORE_DAYS_NOW, NULL, 0), 0);
    if (commit)
        assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    else
        hub_store_rollback(st);
}

/* No commit writes a cursor: an incarnation's last_seq is read from what
 * is stored under it (INC_LAST_SEQ), its reports' runs and its refusals,
 * and a rollback takes it back with them. */
static void test_last_seq_read_from_what_is_stored(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    static const uint8_t legacy[RO_INCARNATION_LEN];
    const char *u = "460000-001";
    int64_t seq, heard;
    uint64_t last = 99;
    states[0].last_seq = 3, states[0].last_heard = NOW; /* in memory only */
    s_put_state_once(st, &states[0], 1);
    s_legacy_row(st, &seq, &heard);
    assert_int_equal(seq, 0); /* the column is not written */
    assert_int_equal(hub_store_incarnation_find(st, 0, legacy, &last, NULL, 0), hf_iid(st, 0));
    assert_int_equal(last, 0); /* nothing stored */

    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t k = 1; k <= 2; k++) {
        ro_report_t r = hf_report(u, k, RO_KIND_TRAINING, 20181201, 10, 5);
        assert_int_equal(hub_store_put_report(st, 0, hf_iid(st, 0), &r, k, NOW, NULL, 0), 0);
    }
    assert_int_equal(
        hub_store_put_refusal(st, 0, hf_iid(st, 0), 3, RO_REASON_INVALID, "x", 1, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(hub_store_incarnation_find(st, 0, legacy, &last, NULL, 0), hf_iid(st, 0));
    assert_int_equal(last, 3); /* the refusal's */

    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t k = 4; k <= 6; k++) {
        ro_report_t r = hf_report(u, k, RO_KIND_TRAINING, 20181202, 10, 5);
        assert_int_equal(hub_store_put_report(st, 0, hf_iid(st, 0), &r, k, NOW, NULL, 0), 0);
    }
    assert_int_equal(hub_store_incarnation_find(st, 0, legacy, &last, NULL, 0), hf_iid(st, 0));
    assert_int_equal(last, 6); /* not flushed yet, but stored in the transaction */
    hub_store_rollback(st);    /* gone with its reports */
    assert_int_equal(hub_store_incarnation_find(st, 0, legacy, &last, NULL, 0), hf_iid(st, 0));
    assert_int_equal(last, 3);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t k = 4; k <= 6; k++) {
        ro_report_t r = hf_report(u, k, RO_KIND_TRAINING, 20181202, 10, 5);
        assert_int_equal(hub_store_put_report(st, 0, hf_iid(st, 0), &r, k, NOW, NULL, 0), 0);
    }
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(hub_store_incarnation_find(st, 0, legacy, &last, NULL, 0), hf_iid(st, 0));
    assert_int_equal(last, 6); /* the last run's */
    memset(states, 0, sizeof states);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(states[0].last_seq, 6);
    s_legacy_row(st, &seq, &heard);
    assert_int_equal(seq, 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_states_survive_reopen(void **state)
{
    (void)state;
    const char *path = hf_path("reopen.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    hub_store_destroy(&st);

    st = hf_open(path, 0);
    memset(again, 0, sizeof again);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, sizeof states / sizeof states[0]);
    hub_store_destroy(&st);

    /* a registry that lost a unit and gained one: rows are kept, the new one starts at 0 */
    char err[256];
    ro_registry_t *reg2 =
        ro_registry_load(tu_write("units2.csv", "id,level,division,name\n"
                                                "469002-003,municipal,469002,C\n"
                                                "460200-009,municipal,460200,D\n"),
                         err, sizeof err);
    assert_non_null(reg2);
    st = hf_open(path, 0);
    hub_unit_state_t two[2];
    assert_int_equal(hub_store_load_states(st, reg2, two, NULL, 0), 0);
    hf_assert_states_equal(&two[0], &states[2], 1);
    assert_int_equal(two[1].reports, 0);
    uint64_t units = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, NULL, NULL, 0), 0);
    assert_int_equal(units, NUNITS + 1);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg2);
    ro_registry_destroy(&reg);
}

static long long s_file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Rows matched to the registry by id in one pass: a registry in another
 * order than the rows, with a unit the store lacks, and rows of units the
 * registry no longer has; and a load that adds nothing writes nothing. */
static void test_load_states_matches_rows_by_id(void **state)
{
    (void)state;
    const char *path = hf_path("byid.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    hub_store_destroy(&st);

    char err[256] = "", wal[320];
    snprintf(wal, sizeof wal, "%s-wal", path);
    ro_registry_t *rev =
        ro_registry_load(tu_write("reversed.csv", "id,level,division,name\n"
                                                  "460200-009,municipal,460200,D\n"
                                                  "469002-003,municipal,469002,C\n"
                                                  "460000-001,provincial,460000,A\n"),
                         err, sizeof err);
    assert_non_null(rev);
    st = hf_open(path, 0);
    hub_unit_state_t three[3];
    memset(three, 0xAB, sizeof three); /* every field of every unit is written */
    assert_int_equal(hub_store_load_states(st, rev, three, err, sizeof err), 0);
    hub_unit_state_t zero = {0};
    hf_assert_states_equal(&three[0], &zero, 1);
    hf_assert_states_equal(&three[1], &states[2], 1);
    hf_assert_states_equal(&three[2], &states[0], 1);
    /* indices are the new registry's */
    uint64_t hash = 0;
    assert_int_equal(hub_store_find(st, 2, hf_iid(st, 2), 10, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 1010);
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 1, &hash, NULL, NULL, 0), 1);
    assert_int_equal(hub_store_find(st, 0, hf_iid(st, 0), 1, &hash, NULL, NULL, 0), 0);
    ro_report_t r = hf_report("460200-009", 1, RO_KIND_STAFF, 20180105, 20, 10);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    s_put(st, three, 0, &r);
    assert_int_equal(hub_store_put_state(st, 0, &three[0], HUB_STORE_DAYS_NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);

    /* every unit has its row now: loading again changes nothing on disk */
    st = hf_open(path, 0);
    long long wal_before = s_file_size(wal);
    hub_unit_state_t again[3];
    assert_int_equal(hub_store_load_states(st, rev, again, NULL, 0), 0);
    hf_assert_states_equal(again, three, 3);
    assert_true(s_file_size(wal) == wal_before);
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(units, 4); /* 460100-001 kept its row */
    assert_int_equal(reports, 12);
    hub_store_destroy(&st);
    ro_registry_destroy(&rev);
    ro_registry_destroy(&reg);
}

/* A second connection takes the writer's map: it finds what the writer
 * stored, has the units' legacy incarnations without asking the file,
 * writes nothing, and finds a unit the writer adds once it takes the map
 * again. */
static void test_copy_map(void **state)
{
    (void)state;
    const char *path = hf_path("reader.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);

    char err[256] = "";
    hub_store_t *rd = hub_store_open_again(path, 2, err, sizeof err);
    assert_non_null(rd);
    assert_int_equal(hub_store_copy_map(rd, st, err, sizeof err), 0);
    uint64_t units = 0;
    assert_int_equal(hub_store_recount(rd, NULL, 0, &units, NULL, NULL, 0), 0);
    assert_int_equal(units, NUNITS);
    for (size_t i = 0; i < NUNITS; i++)
        assert_int_equal(hub_store_incarnation(rd, i, NULL, NOW, NULL, 0), hf_iid(st, i));
    uint64_t hash = 0;
    assert_int_equal(hub_store_find(rd, 0, hf_iid(st, 0), 10, &hash, NULL, NULL, 0), 1);
    hub_store_point_t *pts = NULL;
    size_t n = 0;
    assert_int_equal(hub_store_history(rd, 0, RO_KIND_TRAINING, 20181231, &pts, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    free(pts);
    uint64_t total[1], part[1];
    uint32_t dates[1] = {20181231};
    assert_int_equal(hub_store_series(rd, RO_KIND_TRAINING, dates, 1, total, part, NULL, 0), 0);
    assert_int_equal(total[0], 82);

    /* the writer adds a unit and a report; the reader's next map finds them */
    ro_registry_t *more = ro_registry_load(tu_write("more.csv", "id,level,division,name\n"
                                                                "460000-001,provincial,460000,A\n"
                                                                "460100-001,municipal,460100,B\n"
                                                                "469002-003,municipal,469002,C\n"
                                                                "460200-009,municipal,460200,D\n"),
                                           err, sizeof err);
    assert_non_null(more);
    hub_unit_state_t four[4];
    assert_int_equal(hub_store_load_states(st, more, four, NULL, 0), 0);
    ro_report_t r = hf_report("460200-009", 2, RO_KIND_STAFF, 20180105, 20, 10);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    s_put(st, four, 3, &r);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(hub_store_copy_map(rd, st, err, sizeof err), 0);
    assert_int_equal(hub_store_find(rd, 3, hf_iid(st, 3), 2, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 1002);
    assert_int_equal(hub_store_find(rd, 0, hf_iid(st, 0), 10, &hash, NULL, NULL, 0), 1);
    hub_store_destroy(&rd);
    hub_store_destroy(&st);
    ro_registry_destroy(&more);
    ro_registry_destroy(&reg);
}

static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void s_expect_refused_untouched(const char *path, const char *needle)
{
    size_t before_len, after_len;
    char *before = s_slurp(path, &before_len);
    char err[512] = "";
    hub_store_t *st = hub_store_open(path, 2, 0, err, sizeof err);
    if (st)
        fail_msg("%s was opened", path);
    if (!strstr(err, needle) || !strstr(err, path) || strchr(err, '\n'))
        fail_msg("unexpected error for %s: '%s'", path, err);
    char *after = s_slurp(path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(before);
    free(after);
}

/* Another process opens the store and closes it while the hub runs. */
static int s_other_process_reads(const char *path)
{
    sqlite3 *db = NULL;
    int ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
             sqlite3_exec(db, "SELECT count(*) FROM reports", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db); /* the last user of a WAL checkpoints and deletes it */
    return ok ? 0 : 1;
}

/* A writer opens path as the hub does (a second connection for its status
 * thread), commits a report, lets another process (an operator's sqlite3, a
 * backup) open and close the store, commits a second report, then dies
 * without closing. Both commits must survive. The second connection once
 * opened with the file check, whose close() dropped the first connection's
 * POSIX locks: the other process then took itself for the WAL's last user,
 * checkpointed and deleted it, and the second commit went into the deleted
 * file. Both are children of this process, forked before either opens the
 * store (SQLite's lock bookkeeping must not be inherited). */
static void test_second_connection_keeps_the_wal(void **state)
{
    (void)state;
    const char *path = hf_path("again.db");
    hf_remove_db(path);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    char c = 0;
    pid_t other = fork();
    assert_true(other >= 0);
    if (other == 0)
        _exit(read(go[0], &c, 1) == 1 ? s_other_process_reads(path) | (write(done[1], &c, 1) != 1)
                                      : 20);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        /* static volatile: still referenced at the crash, which leaves them open
         * (valgrind follows this child) */
        static ro_registry_t *volatile reg;
        static hub_store_t *volatile st, *volatile again;
        reg = hf_registry();
        st = hf_open(path, 0);
        hub_unit_state_t states[NUNITS] = {0};
        char err[256] = "";
        again = hub_store_open_again(path, 2, err, sizeof err);
        if (!again || hub_store_load_states(st, reg, states, NULL, 0))
            _exit(10);
        for (uint64_t seq = 1; seq <= 2; seq++) {
            ro_report_t r = hf_report("460000-001", seq, RO_KIND_TRAINING, 20180110, 30, 25);
            if (hub_store_begin(st, NULL, 0))
                _exit(11);
            s_put(st, states, 0, &r);
            s_put_states(st, states);
            if (hub_store_commit(st, NULL, 0))
                _exit(12);
            if (seq == 1 && (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1))
                _exit(13);
        }
        raise(SIGKILL); /* a crash: nothing closed, nothing checkpointed */
    }
    int ws = 0, os = 0;
    assert_int_equal(waitpid(writer, &ws, 0), writer);
    assert_int_equal(waitpid(other, &os, 0), other);
    if (WIFEXITED(ws)) /* it failed before the crash */
        fail_msg("the writer exited with %d", WEXITSTATUS(ws));
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    assert_true(WIFEXITED(os));
    assert_int_equal(WEXITSTATUS(os), 0);
    for (int i = 0; i < 2; i++) {
        close(go[i]);
        close(done[i]);
    }
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(states[0].last_seq, 2);
    assert_int_equal(states[0].reports, 2);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_garbage_file_refused_untouched(void **state)
{
    (void)state;
    const char *path = hf_path("garbage.db");
    hf_remove_db(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 20000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    s_expect_refused_untouched(path, "is damaged");
    s_expect_refused_untouched(path, "move it aside");

    /* a file that begins like a database but is cut short of its header */
    f = fopen(path, "wb");
    fputs("SQLite format 3", f);
    fclose(f);
    s_expect_refused_untouched(path, "is damaged");
}

static void test_truncated_db_refused_untouched(void **state)
{
    (void)state;
    const char *path = hf_path("truncated.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t seq = 1; seq <= 3000; seq++) {
        ro_report_t r = hf_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        s_put(st, states, 1, &r);
    }
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st); /* checkpoints the WAL into the file */

    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 64 * 1024);
    assert_int_equal(truncate(path, sb.st_size / 2), 0);
    s_expect_refused_untouched(path, "truncated");
    ro_registry_destroy(&reg);
}

static void test_newer_schema_and_foreign_db_refused(void **state)
{
    (void)state;
    const char *path = hf_path("newer.db");
    hf_remove_db(path);
    hub_store_t *st = hf_open(path, 0);
    hub_store_destroy(&st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s_expect_refused_untouched(path, "newer");

    const char *other = hf_path("other.db");
    hf_remove_db(other);
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s_expect_refused_untouched(other, "not a rollout hub store");
}

/* Make the store at path look as an older build left it: schema version
 * (1, 2, 3 or 4), without what schema 5 added (events) and, below 4, what
 * schema 4 added (meta, incarnations, the
 * reports keyed (uid, seq), refusals' iid; last_seq back in the units
 * rows) and, below 3, what schema 3 added (the state column and its
 * index). Every report must be of its unit's legacy incarnation. */
static void s_downgrade(const char *path, int version)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    /* a build before schema 10 wrote each incarnation's last_seq with its
     * reports; schema 9 stores the reports in arrival order, with their
     * runs: back to the table keyed (uid, iid, seq) */
    int rc = sqlite3_exec(
        db,
        "UPDATE incarnations SET last_seq = (SELECT " INC_LAST_SEQ
        " FROM incarnations i JOIN units u ON u.uid = i.uid WHERE i.iid = incarnations.iid);"
        "CREATE TABLE r8 (uid INTEGER NOT NULL, iid INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " kind INTEGER NOT NULL, date INTEGER NOT NULL, total INTEGER NOT NULL,"
        " part INTEGER NOT NULL, text TEXT NOT NULL, recorded_at INTEGER NOT NULL,"
        " received_at INTEGER NOT NULL, hash INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
        " released_at INTEGER, PRIMARY KEY (uid, iid, seq)) WITHOUT ROWID;"
        "INSERT INTO r8 SELECT uid, iid, seq, kind, date, total, part, text, recorded_at,"
        " received_at, hash, state, released_at FROM reports;"
        "DROP TABLE reports; ALTER TABLE r8 RENAME TO reports;"
        "CREATE INDEX reports_held ON reports (date, kind, uid) WHERE state = 1;"
        "DROP TABLE report_runs;",
        NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "DROP TABLE scope_days; DROP INDEX units_stale; ALTER TABLE reports DROP "
                          "COLUMN released_at;"
                          " ALTER TABLE units DROP COLUMN scope;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK && version < 7)
        rc = sqlite3_exec(db,
                          "ALTER TABLE unit_days DROP COLUMN changed_at;"
                          " ALTER TABLE events DROP COLUMN hold;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK && version < 6)
        rc = sqlite3_exec(db,
                          "DROP TABLE unit_days; ALTER TABLE units DROP COLUMN last_day;"
                          " ALTER TABLE units DROP COLUMN day_stale;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK && version < 5)
        rc = sqlite3_exec(db, "DROP TABLE events;", NULL, NULL, &msg);
    if (rc == SQLITE_OK && version < 4)
        rc = sqlite3_exec(
            db,
            "CREATE TABLE r3 (uid INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
            " date INTEGER NOT NULL, total INTEGER NOT NULL, part INTEGER NOT NULL,"
            " text TEXT NOT NULL, recorded_at INTEGER NOT NULL, received_at INTEGER NOT NULL,"
            " hash INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (uid, seq)) WITHOUT ROWID;"
            "INSERT INTO r3 SELECT uid, seq, kind, date, total, part, text, recorded_at,"
            " received_at, hash, state FROM reports;"
            "DROP TABLE reports;"
            "ALTER TABLE r3 RENAME TO reports;"
            "CREATE INDEX reports_held ON reports (date, kind, uid) WHERE state = 1;"
            "ALTER TABLE units ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"
            "UPDATE units SET last_seq = (SELECT last_seq FROM incarnations i"
            " WHERE i.uid = units.uid AND i.incarnation = zeroblob(16));"
            "DROP INDEX refusals_by_unit;"
            "ALTER TABLE refusals DROP COLUMN iid;"
            "CREATE INDEX refusals_by_unit ON refusals (unit, seq);"
            "DROP TABLE incarnations;"
            "DROP TABLE meta;",
            NULL, NULL, &msg);
    if (rc == SQLITE_OK && version < 3)
        rc = sqlite3_exec(db,
                          "DROP INDEX reports_held;"
                          "ALTER TABLE reports DROP COLUMN state;",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("downgrade: %s", msg ? msg : "?");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version);
    assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t s_sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* Schema 1 hashed a report's bytes; schema 2 its content. Opening a schema-1
 * store rehashes its reports, and marks its refusals (whose content was not
 * kept) as matching any resend. */
static void test_migrate_1_to_2_rehashes(void **state)
{
    (void)state;
    const char *path = hf_path("schema1.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t r = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180401, 3, 10);
    s_put(st, states, 1, &r); /* hash 1001: as if of its bytes */
    assert_int_equal(
        hub_store_put_refusal(st, 1, hf_iid(st, 1), 2, RO_REASON_INVALID, "why", 777, NOW, NULL, 0),
        0);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);
    s_downgrade(path, 1);

    st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    uint64_t hash = 0;
    ro_reason_t why;
    char text[64];
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 1, &hash, &why, text, sizeof text), 1);
    assert_true(hash == ro_report_hash(&r));
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 2, &hash, &why, text, sizeof text), 2);
    assert_true(hash == 0);
    hub_store_destroy(&st);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), HUB_STORE_SCHEMA);
    ro_registry_destroy(&reg);
}

/* Schema 3 adds reports.state (0 counted, 1 held) and a partial index on
 * the held rows: a schema-2 store's reports all stay counted, its
 * aggregates still equal the recount, and it can hold reports at once. */
static void test_migrate_2_to_3_adds_state(void **state)
{
    (void)state;
    const char *path = hf_path("schema2.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    hub_store_destroy(&st);
    s_downgrade(path, 2);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM pragma_table_info('reports')"
                                     " WHERE name = 'state'"),
                     0);

    st = hf_open(path, 0);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), HUB_STORE_SCHEMA);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports WHERE state = 0"), 11);
    assert_int_equal(
        s_sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'reports_held'"), 1);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, NUNITS);
    uint64_t units = 0, reports = 0, held = 9;
    uint32_t earliest = 9;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(reports, 11);
    assert_int_equal(hub_store_held(st, &held, &earliest, NULL, 0), 0);
    assert_int_equal(held, 0);
    assert_int_equal(earliest, 0);

    /* and it holds a report: stored, counted nowhere */
    ro_report_t r = hf_report("469002-003", 2, RO_KIND_TRAINING, 20190110, 9, 9);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_hold_report(st, 2, hf_iid(st, 2), &r, 5, NOW, NULL, 0), 0);
    states[2].last_seq = 2;
    assert_int_equal(hub_store_put_state(st, 2, &states[2], HUB_STORE_DAYS_NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(hub_store_held(st, &held, &earliest, NULL, 0), 0);
    assert_int_equal(held, 1);
    assert_int_equal(earliest, 20190110);
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, &reports, NULL, 0), 0);
    assert_int_equal(reports, 11);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* The legacy incarnation's iid and last_seq of unit id in the store at
 * path, read with SQL. */
static void s_legacy(const char *path, const char *id, int64_t *iid, int64_t *last_seq)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT i.iid, " INC_LAST_SEQ
                                        " FROM incarnations i JOIN units u"
                                        " ON u.uid = i.uid WHERE u.id = ?1"
                                        " AND i.incarnation = zeroblob(16)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    *iid = sqlite3_column_int64(q, 0);
    *last_seq = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* A schema-3 store: the reports of s_history, a held one and a refusal.
 * Closed; states holds its units' states. */
static void s_schema3(const char *path, const ro_registry_t *reg, hub_unit_state_t *states)
{
    hf_remove_db(path);
    hub_store_t *st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    ro_report_t held = hf_report("469002-003", 2, RO_KIND_STAFF, 20190110, 9, 9);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_hold_report(st, 2, hf_iid(st, 2), &held, 55, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_put_refusal(st, 1, hf_iid(st, 1), 1, RO_REASON_INVALID, "bad date",
                                           77, NOW, NULL, 0),
                     0);
    states[1].last_seq = 1;
    states[1].last_heard = NOW;
    states[2].last_seq = 2;
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);
    s_downgrade(path, 3);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), 3);
    assert_int_equal(s_sql_int(path, "SELECT last_seq FROM units WHERE id = '460000-001'"), 10);
}

/* Schema 5 adds the trail of corrections (events): a schema-4 store keeps
 * every report and unit as it was, and a correction can be recorded after. */
static void test_migrate_4_to_5_events(void **state)
{
    (void)state;
    const char *path = hf_path("schema4.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t r = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180401, 200, 10);
    s_put(st, states, 1, &r);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);
    s_downgrade(path, 4);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'events'"),
                     0);

    st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, NUNITS);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), HUB_STORE_SCHEMA);
    /* amend seq 1 (200 typed for 20) with seq 2 */
    ro_report_t fix = hf_report("460100-001", 2, RO_KIND_TRAINING, 20180401, 20, 10);
    fix.action = RO_ACTION_AMEND, fix.target_seq = 1;
    strcpy(fix.reason, "200 typed for 20");
    hub_store_target_t was;
    char err[256] = "";
    int64_t iid = hf_iid(st, 1);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(
        hub_store_correct(st, 1, iid, &fix, iid, "460100-001", NOW, &was, err, sizeof err), 0);
    assert_int_equal(was.kind, RO_KIND_TRAINING);
    assert_int_equal(was.state, HUB_STORE_COUNTED);
    assert_int_equal(hub_store_put_report(st, 1, iid, &fix, ro_report_hash(&fix), NOW, NULL, 0), 0);
    assert_int_equal(hub_store_refold(st, 1, &again[1], err, sizeof err), 0);
    again[1].last_seq = 2;
    assert_int_equal(hub_store_put_state(st, 1, &again[1], HUB_STORE_DAYS_NOW, NULL, 0), 0);
    /* a second amend of seq 1 is refused, and changes nothing */
    fix.seq = 3;
    assert_int_equal(
        hub_store_correct(st, 1, iid, &fix, iid, "460100-001", NOW, &was, err, sizeof err),
        HUB_STORE_ETARGET);
    assert_non_null(strstr(err, "corrected already"));
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(again[1].participants, 20);
    assert_int_equal(again[1].reports, 1);
    hub_store_destroy(&st);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM events WHERE target_seq = 1"
                                     " AND by_seq = 2 AND reason = '200 typed for 20'"),
                     1);
    assert_int_equal(s_sql_int(path, "SELECT state FROM reports WHERE seq = 1"), HUB_STORE_AMENDED);
    ro_registry_destroy(&reg);
}

/* Schema 6: a store of schema 5 gets its unit_days rows from its counted
 * reports (held and corrected ones counted nowhere), in the migration, and
 * its as-of answers are the scan's. */
/* A new store file at path with s_history in it (states: its units). */
static hub_store_t *s_store_with_history(const char *path, const ro_registry_t *reg,
                                         hub_unit_state_t *states)
{
    hf_remove_db(path);
    hub_store_t *st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    return st;
}

static void test_migrate_5_to_6_days(void **state)
{
    (void)state;
    const char *path = hf_path("schema5.db");
    ro_registry_t *reg = hf_registry();
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS] = {0};
    hub_store_t *st = s_store_with_history(path, reg, states);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t held = hf_report("460100-001", 1, RO_KIND_TRAINING, 20190105, 9, 10);
    assert_int_equal(hub_store_hold_report(st, 1, hf_iid(st, 1), &held, 1, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    states[1].last_seq = 1; /* what ingest would hold: seq 1 is used */
    int64_t days = s_sql_int(path, "SELECT count(*) FROM unit_days");
    hub_store_destroy(&st);
    s_downgrade(path, 5);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'unit_days'"),
                     0);

    st = hf_open(path, 0);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), HUB_STORE_SCHEMA);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM unit_days"), days);
    assert_true(days > 0);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM unit_days WHERE date = 20190105"), 0);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, NUNITS);
    static const uint32_t dates[] = {20171231, 20180110, 20180215, 20180331, 20991231};
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Schema 7: unit_days.changed_at and a row on each day a report lands on
 * (a held one for review too), derived from the reports and the trail;
 * events.hold from what the flags left: a flagged report still counted
 * and undecided was not held. The rows equal verify's recount, the as-of
 * answers the scan, and known on today the as-of answers. */
static void test_migrate_6_to_7_known(void **state)
{
    (void)state;
    const char *path = hf_path("schema6.db");
    ro_registry_t *reg = hf_registry();
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS] = {0};
    hub_store_t *st = s_store_with_history(path, reg, states);
    /* unit 0's sessions 1 (held for review) and 3 (flagged, left counted),
     * as a hub before schema 7 left them: flagged after they were stored
     * counted, the held one then set to state 2 and its unit's days stale */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(
        hub_store_flag(st, 0, hf_iid(st, 0), 1, 1, "max_session_hours", "x", NOW + 5, NULL, 0), 0);
    assert_int_equal(
        hub_store_flag(st, 0, hf_iid(st, 0), 3, 0, "max_session_hours", "y", NOW + 6, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);
    char sql[256];
    const char *u0 = ro_registry_at(reg, 0)->id;
    snprintf(sql, sizeof sql,
             "UPDATE reports SET state = 2 WHERE seq = 1 AND uid = (SELECT uid FROM units"
             " WHERE id = '%s') RETURNING 1",
             u0);
    assert_int_equal(s_sql_int(path, sql), 1);
    snprintf(sql, sizeof sql, "UPDATE units SET day_stale = 1 WHERE id = '%s' RETURNING 1", u0);
    assert_int_equal(s_sql_int(path, sql), 1);
    st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_refold(st, 0, &states[0], NULL, 0), 0);
    assert_int_equal(hub_store_put_state(st, 0, &states[0], HUB_STORE_DAYS_NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_true(hub_store_days_refresh(st, 1000, NULL, 0) >= 0);
    int64_t days = s_sql_int(path, "SELECT count(*) FROM unit_days");
    int64_t changed = s_sql_int(path, "SELECT sum(changed_at) FROM unit_days");
    hub_store_destroy(&st);
    s_downgrade(path, 6);
    assert_int_equal(s_sql_int(path,
                               "SELECT count(*) FROM pragma_table_info('unit_days') WHERE name = "
                               "'changed_at'"),
                     0);

    st = hf_open(path, 0);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), HUB_STORE_SCHEMA);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM unit_days"), days);
    assert_int_equal(s_sql_int(path, "SELECT sum(changed_at) FROM unit_days"), changed);
    /* no row on the held session's day: a report held for review has none */
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM unit_days WHERE date = 20180110"), 0);
    assert_int_equal(
        s_sql_int(path, "SELECT sum(hold * 10 + target_seq) FROM events WHERE what = 3"),
        11 + 3); /* seq 1 held, seq 3 not */
    char err[256] = "";
    long n = hub_store_recount(st, NULL, 0, NULL, NULL, err, sizeof err);
    if (n != 0)
        fail_msg("verify after the migration: %ld %s", n, err);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, NUNITS);
    static const uint32_t dates[] = {20180110, 20180215, 20180331, 20991231};
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
    hub_unit_state_t known[NUNITS];
    for (size_t k = 0; k < sizeof dates / sizeof dates[0] - 1; k++) {
        assert_int_equal(hub_store_states_as_of(st, reg, dates[k], again, NULL, 0), 0);
        assert_int_equal(hub_store_states_known(st, reg, dates[k], 20991231, known, NULL, NULL, 0),
                         0);
        hf_assert_states_equal(known, again, NUNITS);
    }
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Schema 4: each unit's reports become its legacy incarnation's, with the
 * units row's last_seq; every report keeps every column (its hash, its
 * held state), the aggregates still equal the recount and the check at
 * start, and the store has an identity that a reopen keeps. */
static void test_migrate_3_to_4_incarnations(void **state)
{
    (void)state;
    const char *path = hf_path("schema3.db");
    ro_registry_t *reg = hf_registry();
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS];
    s_schema3(path, reg, states);
    int64_t sum3 = s_sql_int(path, "SELECT sum(hash + seq * 7 + uid * 11 + kind + date + total"
                                   " + part + length(text) + recorded_at + received_at"
                                   " + state * 13) FROM reports");

    hub_store_t *st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, states, NUNITS);
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), HUB_STORE_SCHEMA);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM pragma_table_info('units')"
                                     " WHERE name = 'last_seq'"),
                     0);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM incarnations"), NUNITS);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM incarnations"
                                     " WHERE incarnation <> zeroblob(16)"),
                     0);
    int64_t iid = 0, last = 0;
    const uint64_t want[NUNITS] = {10, 1, 2};
    for (size_t i = 0; i < NUNITS; i++) {
        s_legacy(path, ro_registry_at(reg, i)->id, &iid, &last);
        assert_int_equal(last, want[i]);
        assert_int_equal(iid, hf_iid(st, i));
    }
    /* every report, every column, under its unit's legacy incarnation */
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports"), 12);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports r JOIN incarnations i"
                                     " ON i.iid = r.iid AND i.uid = r.uid"
                                     " AND i.incarnation = zeroblob(16)"),
                     12);
    assert_int_equal(s_sql_int(path, "SELECT sum(hash + seq * 7 + uid * 11 + kind + date + total"
                                     " + part + length(text) + recorded_at + received_at"
                                     " + state * 13) FROM reports"),
                     sum3);
    uint64_t hash = 0, held = 0;
    uint32_t earliest = 0;
    ro_reason_t why = RO_REASON_NONE;
    char text[64] = "";
    assert_int_equal(hub_store_find(st, 0, hf_iid(st, 0), 7, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 1007);
    assert_int_equal(hub_store_find(st, 1, hf_iid(st, 1), 1, &hash, &why, text, sizeof text), 2);
    assert_true(hash == 77);
    assert_int_equal(why, RO_REASON_INVALID);
    assert_string_equal(text, "bad date");
    assert_int_equal(hub_store_held(st, &held, &earliest, NULL, 0), 0);
    assert_int_equal(held, 1);
    assert_int_equal(earliest, 20190110);

    /* the aggregates and totals: in step with the reports */
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(units, NUNITS);
    assert_int_equal(reports, 11);
    assert_int_equal(hub_store_check_fast(st, NULL, 0, &units, NULL, 0), 0);
    assert_int_equal(units, NUNITS);
    uint32_t dates[] = {20991231};
    uint64_t total, part;
    assert_int_equal(hub_store_series(st, RO_KIND_TRAINING, dates, 1, &total, &part, NULL, 0), 0);
    assert_int_equal(total, 75 + 7);

    /* the identity: 16 bytes, not all zero, the same after a reopen */
    uint8_t id[HUB_STORE_ID_LEN], id2[HUB_STORE_ID_LEN], zero[HUB_STORE_ID_LEN] = {0};
    hub_store_id(st, id);
    assert_memory_not_equal(id, zero, sizeof id);
    assert_int_equal(s_sql_int(path, "SELECT length(store_id) FROM meta"), HUB_STORE_ID_LEN);
    assert_int_equal(s_sql_int(path, "SELECT created_at > 1700000000 FROM meta"), 1);
    hub_store_destroy(&st);
    st = hf_open(path, 0);
    hub_store_id(st, id2);
    assert_memory_equal(id, id2, sizeof id);

    /* and the old seqs still dedup: (unit, legacy incarnation, seq) */
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    ro_report_t r = hf_report("460000-001", 3, RO_KIND_TRAINING, 20180401, 1, 1);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_put_report(st, 0, hf_iid(st, 0), &r, 1, NOW, NULL, 0),
                     HUB_STORE_EDUP);
    hub_store_rollback(st);
    hub_store_destroy(&st);

    /* a new store has an identity of its own */
    const char *other = hf_path("other.db");
    hf_remove_db(other);
    st = hf_open(other, 0);
    hub_store_id(st, id2);
    assert_memory_not_equal(id, id2, sizeof id);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* A migration that fails leaves schema 3 as it was: here a report whose
 * unit has no row (no hub writes one) stops the copy after the other
 * reports were moved; once it is gone, the migration goes through. */
static void test_migrate_3_to_4_fails_untouched(void **state)
{
    (void)state;
    const char *path = hf_path("schema3-bad.db");
    ro_registry_t *reg = hf_registry();
    hub_unit_state_t states[NUNITS] = {0};
    s_schema3(path, reg, states);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO reports(uid, seq, kind, date, total, part, text,"
                                  " recorded_at, received_at, hash)"
                                  " VALUES (999, 1, 1, 20180101, 1, 1, '', 0, 0, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    char err[512] = "";
    assert_null(hub_store_open(path, 2, 0, err, sizeof err));
    assert_non_null(strstr(err, "cannot migrate schema 3 to 4"));
    assert_int_equal(s_sql_int(path, "PRAGMA user_version"), 3);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports"), 13);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM sqlite_schema"
                                     " WHERE name IN ('meta', 'incarnations', 'reports4')"),
                     0);
    assert_int_equal(s_sql_int(path, "SELECT sum(last_seq) FROM units"), 13);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM refusals"), 1);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM reports WHERE uid = 999", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    hub_store_t *st = hf_open(path, 0);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports"), 12);
    assert_int_equal(hub_store_check_fast(st, NULL, 0, NULL, NULL, 0), 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* The copy moves a range of units at a time (by their last_seq): with
 * units that claim many reports, each range is its own, and every report
 * still arrives once, under its unit's legacy incarnation. */
static void test_migrate_3_to_4_in_ranges(void **state)
{
    (void)state;
    const char *path = hf_path("schema3-ranges.db");
    ro_registry_t *reg = hf_registry();
    hub_unit_state_t states[NUNITS] = {0};
    s_schema3(path, reg, states);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE units SET last_seq = last_seq + 300000", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    hub_store_t *st = hf_open(path, 0);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports r JOIN incarnations i"
                                     " ON i.iid = r.iid AND i.uid = r.uid"),
                     12);
    int64_t iid, last;
    s_legacy(path, "460100-001", &iid, &last);
    assert_int_equal(last, 300001);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Add reports rs[0..n) to in's batch from peer "A" and flush it at NOW. */
static void s_ingest(hub_ingest_t *in, const ro_report_t *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[RO_FRAME_MAX];
        int len = ro_report_encode(&rs[i], buf, sizeof buf);
        assert_true(len > 0);
        assert_int_equal(hub_ingest_add(in, "A", 1, buf, (size_t)len, 1), 0);
    }
    assert_int_equal(hub_ingest_flush(in, NOW), 0);
}

/* Ingest goes on over a migrated store as it did before: every version-1
 * report is of its unit's legacy incarnation, which has the unit's old
 * last_seq, so a resend is a duplicate, other content under an old seq a
 * conflict, a seq ahead a gap, and the next seq is stored and moves the
 * legacy incarnation's last_seq. */
static void test_migrate_3_to_4_ingest_goes_on(void **state)
{
    (void)state;
    const char *path = hf_path("schema3-ingest.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_unit_state_t states[NUNITS] = {0};
    const char *u = "460000-001";
    ro_report_t ten[10];
    for (uint64_t seq = 1; seq <= 10; seq++)
        ten[seq - 1] = hf_report(u, seq, RO_KIND_ITEMS, 20180301, 100, (uint32_t)(60 + seq));
    hub_store_t *st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    hub_ingest_t *in = hub_ingest_new(st, reg, states, 64);
    assert_non_null(in);
    s_ingest(in, ten, 10);
    hub_ingest_destroy(&in);
    hub_store_destroy(&st);
    s_downgrade(path, 3);

    st = hf_open(path, 0);
    memset(states, 0, sizeof states);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(states[0].last_seq, 10);
    in = hub_ingest_new(st, reg, states, 64);
    assert_non_null(in);
    ro_report_t rs[] = {
        ten[6],                                             /* as stored: a duplicate */
        hf_report(u, 7, RO_KIND_ITEMS, 20180301, 100, 99),  /* other content: a conflict */
        hf_report(u, 12, RO_KIND_ITEMS, 20180401, 100, 80), /* ahead: a gap */
        hf_report(u, 11, RO_KIND_ITEMS, 20180401, 100, 75), /* the next: stored */
    };
    s_ingest(in, rs, sizeof rs / sizeof rs[0]);
    const hub_ingest_counters_t *c = hub_ingest_counters(in);
    assert_int_equal(c->duplicates, 1);
    assert_int_equal(c->conflicts, 1);
    assert_int_equal(c->gaps, 1);
    assert_int_equal(c->reports_stored, 1);
    assert_int_equal(states[0].last_seq, 11);
    assert_int_equal(states[0].reports, 11);
    assert_int_equal(states[0].items_no_visit, 75);
    int64_t iid = 0, last = 0;
    s_legacy(path, u, &iid, &last);
    assert_int_equal(last, 11);
    assert_int_equal(iid, hf_iid(st, 0));
    uint64_t hash = 0;
    assert_int_equal(hub_store_find(st, 0, iid, 11, &hash, NULL, NULL, 0), 1);
    assert_true(hash == ro_report_hash(&rs[3]));
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 0);
    assert_int_equal(hub_store_check_fast(st, NULL, 0, NULL, NULL, 0), 0);
    hub_ingest_destroy(&in);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Another incarnation of a unit is a sequence of its own: added when first
 * asked for, found again after, and the same seq under it is another
 * report than the legacy one's. */
static void test_incarnations_are_sequences_of_their_own(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    const uint8_t zero[RO_INCARNATION_LEN] = {0};
    uint8_t inc[RO_INCARNATION_LEN];
    memset(inc, 0x5a, sizeof inc);
    int64_t legacy = hf_iid(st, 1);
    assert_int_equal(hub_store_incarnation(st, 1, zero, NOW, NULL, 0), legacy);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    int64_t other = hub_store_incarnation(st, 1, inc, NOW, NULL, 0);
    assert_true(other > 0 && other != legacy);
    assert_int_equal(hub_store_incarnation(st, 1, inc, NOW, NULL, 0), other);
    assert_true(hub_store_incarnation(st, 0, inc, NOW, NULL, 0) != other); /* another unit's */
    ro_report_t a = hf_report("460100-001", 1, RO_KIND_STAFF, 20180105, 10, 5);
    ro_report_t b = hf_report("460100-001", 1, RO_KIND_STAFF, 20180106, 10, 6);
    assert_int_equal(hub_store_put_report(st, 1, legacy, &a, 11, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_put_report(st, 1, other, &b, 22, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_put_report(st, 1, other, &b, 22, NOW, NULL, 0), HUB_STORE_EDUP);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    uint64_t hash = 0;
    assert_int_equal(hub_store_find(st, 1, legacy, 1, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 11);
    assert_int_equal(hub_store_find(st, 1, other, 1, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 22);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Loaded again, a unit's state has its legacy incarnation's last_seq, and
 * shows the last_seq of its newest incarnation that holds any (an outbox
 * copied or replaced is newer); a newer one still at 0 does not hide it. */
static void test_load_states_shows_newest_incarnation(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = hf_path("incs.db");
    hf_remove_db(path);
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    uint8_t inc[RO_INCARNATION_LEN];
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    int64_t iid[3];
    for (int k = 0; k < 3; k++) {
        memset(inc, 0x31 + k, sizeof inc);
        iid[k] = hub_store_incarnation(st, 1, inc, NOW, NULL, 0);
        assert_true(iid[k] > 0);
    }
    /* each last_seq what its reports and refusals say: the legacy one's
     * reports up to 6 and a refusal at 7; iid[0] a refusal at 9; iid[1]
     * reports 1 to 4 (its refusal at 2 is lower); iid[2] none */
    const char *u1 = "460100-001";
    for (uint64_t k = 1; k <= 6; k++) {
        ro_report_t r = hf_report(u1, k, RO_KIND_TRAINING, 20181201, 10, 5);
        assert_int_equal(hub_store_put_report(st, 1, hf_iid(st, 1), &r, k, NOW, NULL, 0), 0);
    }
    assert_int_equal(
        hub_store_put_refusal(st, 1, hf_iid(st, 1), 7, RO_REASON_INVALID, "x", 1, NOW, NULL, 0), 0);
    assert_int_equal(
        hub_store_put_refusal(st, 1, iid[0], 9, RO_REASON_INVALID, "x", 1, NOW, NULL, 0), 0);
    for (uint64_t k = 1; k <= 4; k++) {
        ro_report_t r = hf_report(u1, k, RO_KIND_TRAINING, 20181202, 10, 5);
        assert_int_equal(hub_store_put_report(st, 1, iid[1], &r, 100 + k, NOW, NULL, 0), 0);
    }
    assert_int_equal(
        hub_store_put_refusal(st, 1, iid[1], 2, RO_REASON_INVALID, "x", 1, NOW, NULL, 0), 0);
    assert_int_equal(
        hub_store_put_refusal(st, 2, hf_iid(st, 2), 5, RO_REASON_INVALID, "x", 1, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    uint64_t last = 99;
    assert_int_equal(hub_store_incarnation_find(st, 1, inc, &last, NULL, 0), iid[2]);
    assert_int_equal(last, 0);
    memset(inc, 0x32, sizeof inc); /* iid[1]'s */
    assert_int_equal(hub_store_incarnation_find(st, 1, inc, &last, NULL, 0), iid[1]);
    assert_int_equal(last, 4);
    memset(inc, 0x31, sizeof inc); /* iid[0]'s */
    assert_int_equal(hub_store_incarnation_find(st, 1, inc, &last, NULL, 0), iid[0]);
    assert_int_equal(last, 9);
    int64_t legacy = hf_iid(st, 1);
    hub_store_destroy(&st);

    st = hf_open(path, 0);
    memset(states, 0xff, sizeof states);
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(states[1].last_seq, 7);  /* the legacy incarnation's */
    assert_int_equal(states[1].seq_shown, 4); /* iid[1]'s: the newest with any */
    assert_int_equal(hf_iid(st, 1), legacy);  /* the legacy iid, in memory again */
    assert_int_equal(states[2].last_seq, 5);  /* legacy only */
    assert_int_equal(states[2].seq_shown, 5);
    assert_int_equal(states[0].last_seq, 0); /* never heard from */
    assert_int_equal(states[0].seq_shown, 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Held reports count nowhere: not in the recount (which still sees their
 * seq under last_seq), as-of states, history or series. Released, they
 * count as if stored counted in seq order: a later same-date snapshot
 * still wins. */
static void test_held_counted_nowhere_until_released(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0}, at[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    const char *u = "460000-001";
    ro_report_t held[] = {
        hf_report(u, 11, RO_KIND_STAFF, 20190110, 500, 400),
        hf_report(u, 13, RO_KIND_TRAINING, 20190110, 1000, 900),
        hf_report(u, 14, RO_KIND_CASES, 201902, 10, 9),
    };
    ro_report_t later = hf_report(u, 12, RO_KIND_STAFF, 20190110, 30, 3); /* counted */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_hold_report(st, 0, hf_iid(st, 0), &held[0], 1, NOW, NULL, 0), 0);
    s_put(st, states, 0, &later); /* as if the clock had moved on in between */
    assert_int_equal(hub_store_hold_report(st, 0, hf_iid(st, 0), &held[1], 3, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_hold_report(st, 0, hf_iid(st, 0), &held[2], 4, NOW, NULL, 0), 0);
    states[0].last_seq = 14;
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_unit_state_t before = states[0];

    uint64_t reports = 0, count = 0;
    uint32_t earliest = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, &reports, NULL, 0), 0);
    assert_int_equal(reports, 12);
    assert_int_equal(hub_store_held(st, &count, &earliest, NULL, 0), 0);
    assert_int_equal(count, 3);
    assert_int_equal(earliest, 20190110);
    assert_int_equal(hub_store_states_as_of(st, reg, 20991231, at, NULL, 0), 0);
    for (size_t i = 0; i < NUNITS; i++) /* the seq is today's, hub_status's to add */
        at[i].last_seq = at[i].seq_shown = states[i].last_seq;
    hf_assert_states_equal(at, states, NUNITS);
    hub_store_point_t *pts;
    size_t n;
    assert_int_equal(hub_store_history(st, 0, RO_KIND_TRAINING, 20991231, &pts, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    free(pts);
    uint32_t dates[] = {20991231};
    uint64_t total, part;
    assert_int_equal(hub_store_series(st, RO_KIND_TRAINING, dates, 1, &total, &part, NULL, 0), 0);
    assert_int_equal(total, 75 + 7);

    /* the 10th: the two dated then are released, February's cases wait */
    uint32_t changed[NUNITS];
    size_t nchanged = 9;
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_release(st, 20190110, NOW, states, changed, &nchanged, NULL, 0), 2);
    assert_int_equal(nchanged, 1);
    assert_int_equal(changed[0], 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(states[0].last_seq, before.last_seq);
    assert_int_equal(states[0].last_heard, before.last_heard);
    assert_int_equal(states[0].reports, 13);
    assert_int_equal(states[0].participants, 75 + 1000);
    assert_int_equal(states[0].staff_total, 30); /* seq 12 beats seq 11 of the same date */
    assert_int_equal(states[0].cases_month, 201803);
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, &reports, NULL, 0), 0);
    assert_int_equal(reports, 14);
    hub_unit_state_t row[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, row, NULL, 0), 0);
    hf_assert_states_equal(row, states, NUNITS);
    assert_int_equal(hub_store_held(st, &count, &earliest, NULL, 0), 0);
    assert_int_equal(count, 1);
    assert_int_equal(earliest, 20190201);

    /* nothing due: nothing changes */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_release(st, 20190131, NOW, states, changed, &nchanged, NULL, 0), 0);
    assert_int_equal(nchanged, 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_recount_detects_tampering(void **state)
{
    (void)state;
    const char *path = hf_path("tamper.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    hub_store_diff_t diffs[8];
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(st, diffs, 8, &units, &reports, NULL, 0), 0);
    assert_int_equal(units, NUNITS);
    assert_int_equal(reports, 11);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE units SET participants = participants + 5,"
                                  " staff_total = 1 WHERE id = '460000-001'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_recount(st, diffs, 8, NULL, NULL, NULL, 0), 2);
    assert_string_equal(diffs[0].unit, "460000-001");
    assert_string_equal(diffs[0].field, "participants");
    assert_int_equal(diffs[0].stored, 80);
    assert_int_equal(diffs[0].recount, 75);
    assert_string_equal(diffs[1].field, "staff_total");
    assert_int_equal(diffs[1].stored, 1);
    assert_int_equal(diffs[1].recount, 22);
    /* cap 0: still counted */
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 2);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* The recount checks the unit_days rows too: a field changed, a row's
 * changed_at, a row deleted and a row added are each a difference, named
 * by day. */
static void test_recount_detects_damaged_days(void **state)
{
    (void)state;
    const char *path = hf_path("tamper-days.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    char e0[256] = "";
    long n0 = hub_store_recount(st, NULL, 0, NULL, NULL, e0, sizeof e0);
    if (n0 != 0)
        fail_msg("%ld %s", n0, e0);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(
        sqlite3_exec(db,
                     "UPDATE unit_days SET participants = participants + 1,"
                     " changed_at = changed_at - 1 WHERE date = 20180210"
                     " AND uid = (SELECT uid FROM units WHERE id = '460000-001');"
                     "DELETE FROM unit_days WHERE date = 20180305"
                     " AND uid = (SELECT uid FROM units WHERE id = '460000-001');"
                     "INSERT INTO unit_days SELECT uid, 20180401, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0,"
                     " 0, 0, 0, 0 FROM units WHERE id = '469002-003';"
                     "UPDATE units SET last_day = 20170101 WHERE id = '460100-001';",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    hub_store_diff_t diffs[8];
    memset(diffs, 0, sizeof diffs);
    /* the rows changed behind the store's back: the scopes' rows no longer
     * add them up either (after the rows' own differences) */
    assert_true(hub_store_recount(st, diffs, 8, NULL, NULL, NULL, 0) > 6);
    assert_string_equal(diffs[6].unit, "province");
    assert_string_equal(diffs[0].unit, "460000-001");
    assert_string_equal(diffs[0].field, "participants of 20180210");
    assert_int_equal(diffs[0].stored, 71);
    assert_int_equal(diffs[0].recount, 70);
    assert_string_equal(diffs[1].field, "changed_at of 20180210");
    assert_true(diffs[1].recount > 0);
    assert_int_equal(diffs[1].stored, diffs[1].recount - 1);
    assert_string_equal(diffs[2].field, "day row of 20180305");
    assert_int_equal(diffs[2].stored, 0);
    assert_int_equal(diffs[2].recount, 9);
    assert_string_equal(diffs[3].unit, "469002-003");
    assert_string_equal(diffs[3].field, "day row of 20180401");
    assert_int_equal(diffs[3].stored, 99);
    assert_int_equal(diffs[3].recount, 0);
    /* and the unit whose last day is no longer its latest row's */
    assert_string_equal(diffs[4].unit, "460100-001");
    assert_string_equal(diffs[4].field, "last_day");
    assert_int_equal(diffs[4].stored, 20170101);
    assert_int_equal(diffs[4].recount, 0);
    assert_string_equal(diffs[5].unit, "469002-003");
    assert_int_equal(diffs[5].stored, 20180111);
    assert_int_equal(diffs[5].recount, 20180401);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* The recount checks scope_days against the unit_days rows: a scope's
 * change on a day altered is one difference, named by scope, figure and
 * day; the store's own writes (history, a unit moved between scopes by a
 * registry, a rebuild of the rows) leave none. */
static void test_recount_detects_damaged_scopes(void **state)
{
    (void)state;
    const char *path = hf_path("tamper-scopes.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    char e0[256] = "";
    long n0 = hub_store_recount(st, NULL, 0, NULL, NULL, e0, sizeof e0);
    if (n0 != 0)
        fail_msg("%ld %s", n0, e0);
    assert_true(s_sql_int(path, "SELECT count(*) FROM scope_days") > 0);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE scope = 0"), 0);
    assert_int_equal(s_sql_int(path, "UPDATE scope_days SET participants = participants + 5"
                                     " WHERE scope = 0 AND date = 20180210 RETURNING 1"),
                     1);
    hub_store_diff_t diffs[4];
    memset(diffs, 0, sizeof diffs);
    assert_int_equal(hub_store_recount(st, diffs, 4, NULL, NULL, NULL, 0), 1);
    assert_string_equal(diffs[0].unit, "province");
    assert_string_equal(diffs[0].field, "participants of 20180210");
    assert_int_equal(diffs[0].stored, diffs[0].recount + 5);
    /* a rebuild counts every unit again */
    assert_int_equal(hub_store_days_rebuild(st, NULL, 0), 0);
    n0 = hub_store_recount(st, NULL, 0, NULL, NULL, e0, sizeof e0);
    if (n0 != 0)
        fail_msg("after a rebuild: %ld %s", n0, e0);
    static const uint32_t dates[] = {20180110, 20180215, 20180331, 20991231};
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);

    /* a registry that moves a unit to another level (a unit id starts with
     * its division: that one stays) and drops another, both with reports:
     * the scopes follow it, and follow it back */
    char err[256] = "";
    ro_registry_t *moved =
        ro_registry_load(tu_write("moved.csv", "id,level,division,name\n"
                                               "469002-003,township,469002,a\n"
                                               "460100-001,municipal,460100,b\n"),
                         err, sizeof err);
    if (!moved)
        fail_msg("registry: %s", err);
    hub_unit_state_t again[NUNITS];
    for (int round = 0; round < 2; round++) {
        const ro_registry_t *r = round == 0 ? moved : reg;
        assert_int_equal(hub_store_load_states(st, r, again, NULL, 0), 0);
        n0 = hub_store_recount(st, NULL, 0, NULL, NULL, e0, sizeof e0);
        if (n0 != 0)
            fail_msg("registry %d: %ld %s", round, n0, e0);
        hf_assert_as_of_recount(st, r, dates, sizeof dates / sizeof dates[0]);
    }
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE scope = 0"), 0);
    hf_assert_states_equal(again, states, NUNITS);
    ro_registry_destroy(&moved);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* A reviewer's decisions leave a unit's rows stale (hub_store_decide; its
 * unit refolded, as ingest does): the scopes' sums as of any day, and the
 * series, equal the recount before and after the rows are re-derived. */
static void test_scopes_after_decisions(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = hf_path("scopes-decide.db");
    hf_remove_db(path);
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    const char *u = "460100-001";
    char err[256] = "";
    int changed, was_held, kind;
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t a = hf_report(u, 1, RO_KIND_TRAINING, 20180301, 20, 10);
    ro_report_t b = hf_report(u, 2, RO_KIND_TRAINING, 20180310, 900, 10); /* held */
    ro_report_t c = hf_report(u, 3, RO_KIND_STAFF, 20180320, 40, 20);
    ro_report_t d = hf_report(u, 4, RO_KIND_ITEMS, 20180401, 100, 90);  /* held, after all */
    ro_report_t e = hf_report(u, 5, RO_KIND_TRAINING, 20180315, 7, 10); /* counted, flagged */
    s_put(st, states, 1, &a);
    s_put_held(st, 1, &b);
    s_put(st, states, 1, &c);
    s_put_held(st, 1, &d);
    s_put(st, states, 1, &e);
    states[1].last_seq = 5;
    s_put_states(st, states);
    assert_int_equal(hub_store_flag(st, 1, hf_iid(st, 1), 2, 1, "r", "x", NOW, err, sizeof err), 0);
    assert_int_equal(hub_store_flag(st, 1, hf_iid(st, 1), 4, 1, "r", "x", NOW, err, sizeof err), 0);
    assert_int_equal(hub_store_flag(st, 1, hf_iid(st, 1), 5, 0, "r", "x", NOW, err, sizeof err), 0);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
    static const uint32_t dates[] = {20180228, 20180301, 20180310, 20180314, 20180315,
                                     20180320, 20180331, 20180401, 20180402, 20991231};
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
    /* accept the two held ones, reject the counted one: one transaction each */
    const struct {
        uint64_t seq;
        int accept;
    } dec[] = {{2, 1}, {4, 1}, {5, 0}};
    for (size_t k = 0; k < sizeof dec / sizeof dec[0]; k++) {
        assert_int_equal(hub_store_begin(st, NULL, 0), 0);
        if (hub_store_decide(st, 1, NULL, dec[k].seq, dec[k].accept, "k", "r", NOW + 10 + (int)k,
                             &changed, &was_held, &kind, err, sizeof err))
            fail_msg("decide %llu: %s", (unsigned long long)dec[k].seq, err);
        assert_int_equal(hub_store_refold(st, 1, &states[1], err, sizeof err), 0);
        assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
        hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
        assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 0);
    }
    assert_true(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0") > 0);
    assert_true(hub_store_days_refresh(st, 10000, NULL, 0) >= 0);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0"), 0);
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 0);
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* A change noted nowhere (out of memory: scope_lost, as s_day_was or
 * s_sday_add sets it) pending when the registry is loaded: the commit of
 * hub_store_load_states counts every unit again. It must count them where
 * the registry being loaded puts them (units.scope, moved in that same
 * transaction), not where the registry before it did: at the first start
 * (no registry before) and at a reload that moves one unit and drops
 * another. Then every later write keeps scope_days with the rows. */
static void test_scopes_lost_while_loading(void **state)
{
    (void)state;
    const char *path = hf_path("scopes-lost.db");
    ro_registry_t *reg = hf_registry();
    char err[256] = "";
    ro_registry_t *moved =
        ro_registry_load(tu_write("moved2.csv", "id,level,division,name\n"
                                                "469002-003,township,469002,a\n"
                                                "460100-001,municipal,460100,b\n"),
                         err, sizeof err);
    if (!moved)
        fail_msg("registry: %s", err);
    static const uint32_t dates[] = {20180110, 20180215, 20180331, 20991231};
    for (int round = 0; round < 2; round++) {
        hf_remove_db(path);
        hub_store_t *st = hf_open(path, 0);
        hub_unit_state_t states[NUNITS] = {0}, again[NUNITS];
        const ro_registry_t *r = reg;
        if (round == 0) { /* the first start (as after the migration to 8): lost meanwhile */
            st->scope_lost = 1;
        } else { /* a reload to another registry, lost meanwhile */
            assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
            s_history(st, states);
            st->scope_lost = 1;
            r = moved;
        }
        assert_int_equal(hub_store_load_states(st, r, again, NULL, 0), 0);
        long n0 = hub_store_recount(st, NULL, 0, NULL, NULL, err, sizeof err);
        if (n0 != 0)
            fail_msg("round %d, loaded: %ld %s", round, n0, err);
        if (round == 0)
            s_history(st, states); /* written after: counted where the registry says */
        else
            hf_assert_as_of_recount(st, r, dates, sizeof dates / sizeof dates[0]);
        n0 = hub_store_recount(st, NULL, 0, NULL, NULL, err, sizeof err);
        if (n0 != 0)
            fail_msg("round %d, written: %ld %s", round, n0, err);
        hf_assert_as_of_recount(st, r, dates, sizeof dates / sizeof dates[0]);
        hub_store_destroy(&st);
    }
    ro_registry_destroy(&moved);
    ro_registry_destroy(&reg);
}

/* What a commit on the writer does in the middle of a series on the
 * status thread's connection (s_series_race: between its look for stale
 * units and its read of the province's rows). */
typedef struct {
    hub_store_t *st;
    hub_unit_state_t *states;
    int done;
} s_race_t;

static int s_series_race(unsigned what, void *arg, void *p, void *x)
{
    (void)what, (void)p;
    s_race_t *race = arg;
    if (race->done || !x || !strstr((const char *)x, "FROM scope_days WHERE scope = 0"))
        return 0;
    race->done = 1;
    /* one batch: unit 1's held report accepted (its rows left stale), and
     * a report of unit 2 (its rows, and the province's, take it) */
    char err[256] = "";
    int changed, was_held, kind;
    hub_store_t *st = race->st;
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    if (hub_store_decide(st, 1, NULL, 1, 1, "k", "fine", NOW + 5, &changed, &was_held, &kind, err,
                         sizeof err))
        fail_msg("decide: %s", err);
    assert_int_equal(hub_store_refold(st, 1, &race->states[1], err, sizeof err), 0);
    ro_report_t r = hf_report("469002-003", 2, RO_KIND_TRAINING, 20180320, 11, 10);
    s_put(st, race->states, 2, &r);
    s_put_states(st, race->states);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
    return 0;
}

/* A series from the province's rows (no unit stale) on the status thread's
 * connection while ingest commits: one snapshot of the store, the batch
 * all in or all out, not the rows of one unit without the unit the batch
 * left stale. */
static void test_series_one_snapshot(void **state)
{
    (void)state;
    const char *path = hf_path("series-race.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t held = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180305, 500, 10);
    s_put_held(st, 1, &held);
    states[1].last_seq = 1;
    s_put_states(st, states);
    assert_int_equal(hub_store_flag(st, 1, hf_iid(st, 1), 1, 1, "r", "x", NOW, NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    char err[256] = "";
    hub_store_t *rd = hub_store_open_again(path, 1, err, sizeof err);
    if (!rd || hub_store_copy_map(rd, st, err, sizeof err))
        fail_msg("reader: %s", err);
    uint32_t dates[] = {20180331};
    uint64_t before, after, got, part;
    assert_int_equal(hub_store_series(rd, RO_KIND_TRAINING, dates, 1, &before, &part, NULL, 0), 0);
    assert_int_equal(before, 75 + 7);
    s_race_t race = {st, states, 0};
    sqlite3_trace_v2(rd->db, SQLITE_TRACE_STMT, s_series_race, &race);
    assert_int_equal(hub_store_series(rd, RO_KIND_TRAINING, dates, 1, &got, &part, NULL, 0), 0);
    sqlite3_trace_v2(rd->db, 0, NULL, NULL);
    assert_true(race.done);
    assert_int_equal(hub_store_series(rd, RO_KIND_TRAINING, dates, 1, &after, &part, NULL, 0), 0);
    assert_int_equal(after, 75 + 7 + 500 + 11);
    if (got != before && got != after)
        fail_msg("the series during a commit: %llu, before it %llu, after it %llu",
                 (unsigned long long)got, (unsigned long long)before, (unsigned long long)after);
    hub_store_destroy(&rd);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_states_as_of(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0}, at[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);

    assert_int_equal(hub_store_states_as_of(st, reg, 20180215, at, NULL, 0), 0);
    assert_int_equal(at[0].participants, 70); /* sessions of 01-10 and 02-10 */
    assert_int_equal(at[0].hours_tenths, 40);
    assert_int_equal(at[0].sessions, 2);
    assert_int_equal(at[0].staff_date, 20180201); /* the 02-01 snapshot is the latest by then */
    assert_int_equal(at[0].staff_total, 99);
    assert_int_equal(at[0].items_date, 0);
    assert_int_equal(at[0].cases_month, 201801);
    assert_int_equal(at[0].cases_no_visit, 100);
    assert_int_equal(at[0].reports, 5);
    assert_int_equal(at[0].last_seq, 0); /* the caller has today's (hub_status) */
    assert_int_equal(at[2].participants, 7);

    assert_int_equal(hub_store_states_as_of(st, reg, 20180331, at, NULL, 0), 0);
    assert_int_equal(at[0].items_no_visit, 70); /* equal dates: the later seq */
    assert_int_equal(at[0].staff_total, 22);
    assert_int_equal(at[0].cases_month, 201803);
    /* as of the far future, the state is today's */
    assert_int_equal(hub_store_states_as_of(st, reg, 20991231, at, NULL, 0), 0);
    for (size_t i = 0; i < NUNITS; i++) /* the seq is today's, hub_status's to add */
        at[i].last_seq = at[i].seq_shown = states[i].last_seq;
    hf_assert_states_equal(at, states, sizeof states / sizeof states[0]);

    assert_int_equal(hub_store_states_as_of(st, reg, 20171231, at, NULL, 0), 0);
    assert_int_equal(at[0].reports, 0);
    assert_int_equal(at[0].participants, 0);
    assert_int_equal(at[0].staff_date, 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* ---- unit_days against the scan ------------------------------------------ */

/* A report the random store may correct later. */
typedef struct {
    size_t unit;
    int inc;
    uint64_t seq;
    ro_kind_t kind;
} s_dw_stored_t;

#define S_DW_UNITS 48 /* the most units a random store's registry has */

/* A random store: two incarnations a unit, their next seqs, the reports
 * stored (which later ones may correct), the live states. */
typedef struct {
    hub_store_t *st;
    const ro_registry_t *reg;
    size_t nunits; /* reg's */
    size_t only;   /* 0, or the reports go to the first only units */
    hub_unit_state_t states[S_DW_UNITS];
    int64_t iids[S_DW_UNITS][2];
    uint64_t next[S_DW_UNITS][2];
    s_dw_stored_t stored[1024];
    size_t nstored;
    uint64_t rng;
    int64_t now;
    uint64_t later; /* 0: every unit's day rows written at its commit; else
                     * the random numbers that leave some for later */
} s_dw_t;

/* The next of the random numbers whose state is *x. */
static uint64_t s_dw_next(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

static uint32_t s_dw_below(s_dw_t *w, uint32_t n)
{
    return (uint32_t)(s_dw_next(&w->rng) % n);
}

/* A new random store at path (seed: its random numbers): each unit with
 * its legacy incarnation and one more. */
static s_dw_t *s_dw_open(const ro_registry_t *reg, const char *path, uint64_t seed)
{
    s_dw_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->reg = reg;
    w->nunits = ro_registry_count(reg);
    assert_true(w->nunits <= S_DW_UNITS);
    w->rng = seed;
    hf_remove_db(path);
    w->st = hf_open(path, 0);
    assert_int_equal(hub_store_load_states(w->st, reg, w->states, NULL, 0), 0);
    assert_int_equal(hub_store_begin(w->st, NULL, 0), 0);
    for (size_t i = 0; i < w->nunits; i++) {
        uint8_t inc[RO_INCARNATION_LEN];
        memset(inc, 0xa0 + (int)i, sizeof inc);
        w->iids[i][0] = hf_iid(w->st, i);
        w->iids[i][1] = hub_store_incarnation(w->st, i, inc, NOW, NULL, 0);
    }
    assert_int_equal(hub_store_commit(w->st, NULL, 0), 0);
    return w;
}

/* The batch's end: the units' states (and the legacy incarnations' last
 * seq in them), commit. */
static void s_dw_commit(s_dw_t *w)
{
    char err[256] = "";
    for (size_t i = 0; i < w->nunits; i++) {
        w->states[i].last_seq = w->next[i][0];
        int days = w->later && s_dw_next(&w->later) % 3 ? HUB_STORE_DAYS_LATER : HUB_STORE_DAYS_NOW;
        if (hub_store_put_state(w->st, i, &w->states[i], days, err, sizeof err))
            fail_msg("put_state: %s", err);
    }
    assert_int_equal(hub_store_commit(w->st, NULL, 0), 0);
}

/* A report of unit i, incarnation inc, of kind, at one of few dates (so that
 * snapshots of one date from both incarnations in one second are common),
 * cases by month; 1 in 8 dated in 2019, after NOW (to be held). */
static ro_report_t s_dw_report(s_dw_t *w, size_t i, int inc, ro_kind_t kind)
{
    static const uint32_t days[] = {20170101, 20170131, 20170201, 20170615, 20171231,
                                    20180101, 20180301, 20180302, 20190105, 20190301};
    uint32_t d = days[s_dw_below(w, sizeof days / sizeof days[0])];
    ro_report_t r =
        hf_report(ro_registry_at(w->reg, i)->id, ++w->next[i][inc], kind,
                  kind == RO_KIND_CASES ? d / 100 : d, 1 + s_dw_below(w, 90), s_dw_below(w, 10));
    return r;
}

/* One report of a random unit: a new one (held when dated after NOW), or an
 * amend or cancel of one stored before; its unit refolded. */
static void s_dw_one(s_dw_t *w)
{
    size_t units = w->only ? w->only : w->nunits;
    size_t i = s_dw_below(w, (uint32_t)units);
    int inc = (int)s_dw_below(w, 2);
    ro_kind_t kind = (ro_kind_t)(RO_KIND_TRAINING + s_dw_below(w, 4));
    char err[256] = "";
    int correct = w->nstored > 0 && s_dw_below(w, 5) == 0;
    size_t t = correct ? s_dw_below(w, (uint32_t)w->nstored) : 0;
    correct = correct && w->stored[t].unit < units;
    if (correct) {
        i = w->stored[t].unit;
        kind = w->stored[t].kind;
    }
    ro_report_t r = s_dw_report(w, i, inc, kind);
    int64_t iid = w->iids[i][inc];
    int rc = 0;
    if (correct) {
        r.action = s_dw_below(w, 3) ? RO_ACTION_AMEND : RO_ACTION_CANCEL;
        r.target_seq = w->stored[t].seq;
        strcpy(r.reason, "typed wrong");
        hub_store_target_t was;
        rc = hub_store_correct(w->st, i, iid, &r, w->iids[i][w->stored[t].inc], "x", w->now, &was,
                               err, sizeof err);
        if (rc == HUB_STORE_ETARGET) { /* corrected already: the seq is used up all the same */
            rc = hub_store_put_refusal(w->st, i, iid, r.seq, RO_REASON_TARGET, err, 0, w->now, err,
                                       sizeof err);
        } else if (rc == 0 && r.action == RO_ACTION_CANCEL) {
            rc = hub_store_put_cancel(w->st, i, iid, &r, &was, r.seq, w->now, err, sizeof err);
        } else if (rc == 0) {
            rc = ro_report_ahead(&r, NOW)
                     ? hub_store_hold_report(w->st, i, iid, &r, r.seq, w->now, err, sizeof err)
                     : hub_store_put_report(w->st, i, iid, &r, r.seq, w->now, err, sizeof err);
        }
    } else {
        rc = ro_report_ahead(&r, NOW)
                 ? hub_store_hold_report(w->st, i, iid, &r, r.seq, w->now, err, sizeof err)
                 : hub_store_put_report(w->st, i, iid, &r, r.seq, w->now, err, sizeof err);
    }
    if (rc == 0 && r.action != RO_ACTION_CANCEL && w->nstored < 1024)
        w->stored[w->nstored++] = (s_dw_stored_t){i, inc, r.seq, kind};
    if (rc == 0)
        rc = hub_store_refold(w->st, i, &w->states[i], err, sizeof err);
    if (rc)
        fail_msg("seq %llu of unit %zu: %d %s", (unsigned long long)r.seq, i, rc, err);
}

/* The unit_days rows answer as the scan of every report does, on random
 * stores: reports out of date order, several dates in a batch, snapshots of
 * one date from two incarnations received in the same second, cases by
 * month, held reports (counted nowhere until released), amends and cancels
 * (the corrected report counted nowhere, the amend in its place). In half
 * of them some units' rows are left for later (HUB_STORE_DAYS_LATER, as the
 * hub does for a unit in batch after batch): the answers fold their
 * reports until a refresh writes the rows. */
static void test_days_equal_the_scan(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    static const uint32_t dates[] = {20161231, 20170101, 20170130, 20170131, 20170201,
                                     20170614, 20170615, 20171231, 20180101, 20180228,
                                     20180301, 20180302, 20181231, 20190105, 20991231};
    const char *path = hf_path("days.db");
    int64_t stale = 0; /* units found stale before a refresh, none left for later */
    for (uint64_t seed = 1; seed <= 40; seed++) {
        s_dw_t *w = s_dw_open(reg, path, seed);
        w->later = seed % 2 ? seed : 0; /* half the stores leave some day rows for later */
        for (int batch = 0; batch < 24; batch++) {
            w->now = NOW - 86400 + batch / 3; /* three batches a second */
            assert_int_equal(hub_store_begin(w->st, NULL, 0), 0);
            if (batch == 12 || batch == 23) { /* the hub's date reaches the held ones */
                uint32_t changed[NUNITS];
                size_t n;
                assert_true(hub_store_release(w->st, batch == 12 ? 20190201 : 20190331, NOW,
                                              w->states, changed, &n, NULL, 0) >= 0);
            }
            for (uint32_t k = 1 + s_dw_below(w, 8); k > 0; k--)
                s_dw_one(w);
            s_dw_commit(w);
            if (batch % 6 == 5)
                hf_assert_as_of_recount(w->st, reg, dates, sizeof dates / sizeof dates[0]);
            if (batch % 8 == 7) { /* an idle moment: the stale rows re-derived */
                if (!w->later)
                    stale += s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0");
                assert_true(hub_store_days_refresh(w->st, 10000, NULL, 0) >= 0);
                assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0"),
                                 0);
                assert_int_equal(hub_store_recount(w->st, NULL, 0, NULL, NULL, NULL, 0), 0);
                hf_assert_as_of_recount(w->st, reg, dates, sizeof dates / sizeof dates[0]);
            }
        }
        assert_int_equal(hub_store_recount(w->st, NULL, 0, NULL, NULL, NULL, 0), 0);
        hub_store_destroy(&w->st);
        free(w);
    }
    assert_true(stale > 0); /* the stale rows' path (far back, many) taken, and refreshed */
    ro_registry_destroy(&reg);
}

/* A few units in batch after batch leave their day rows for later while the
 * rest of a larger store waits for nothing (as on a hub with a few busy
 * units): the series correct those few from their own rows and reports,
 * not by reading every report as a backlog's do, and answer as the recount
 * does after every batch and after the refresh. */
static void test_series_few_stale(void **state)
{
    (void)state;
    char csv[S_DW_UNITS * 40 + 32] = "id,level,division,name\n";
    for (int i = 0; i < S_DW_UNITS; i++)
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "460100-%03d,municipal,460100,u%d\n",
                 i + 1, i);
    char err[256] = "";
    ro_registry_t *reg = ro_registry_load(tu_write("units48.csv", csv), err, sizeof err);
    if (!reg)
        fail_msg("registry: %s", err);
    static const uint32_t dates[] = {20161231, 20170101, 20170131, 20170201, 20170615,
                                     20171231, 20180101, 20180301, 20180302, 20991231};
    static const uint32_t few[] = {20161231, 20171231, 20991231};
    const char *path = hf_path("series-few.db");
    int64_t stale = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        s_dw_t *w = s_dw_open(reg, path, seed);
        for (int batch = 0; batch < 16; batch++) { /* every unit's rows written */
            w->now = NOW - 86400 + batch;
            assert_int_equal(hub_store_begin(w->st, NULL, 0), 0);
            for (uint32_t k = 40 + s_dw_below(w, 24); k > 0; k--)
                s_dw_one(w);
            s_dw_commit(w);
        }
        assert_true(hub_store_days_refresh(w->st, 10000, NULL, 0) >= 0); /* (reports far back) */
        w->only = 3, w->later = seed; /* then three units, their rows often left */
        for (int batch = 0; batch < 8; batch++) {
            w->now = NOW - 3600 + batch;
            assert_int_equal(hub_store_begin(w->st, NULL, 0), 0);
            for (uint32_t k = 1 + s_dw_below(w, 4); k > 0; k--)
                s_dw_one(w);
            s_dw_commit(w);
            int64_t n = s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0");
            assert_true(n <= 3);
            stale += n;
            /* under a fifth of the reports the province's rows count: the
             * series correct them one by one, not read every report */
            assert_true(5 * s_sql_int(path, "SELECT IFNULL(sum(reports), 0) FROM units"
                                            " WHERE day_stale > 0") <=
                        s_sql_int(path, "SELECT sum(reports) FROM scope_days WHERE scope = 0"));
            hf_assert_as_of_recount(w->st, reg, dates, sizeof dates / sizeof dates[0]);
            /* few dates: stale days between two of them take the units row */
            hf_assert_as_of_recount(w->st, reg, few, sizeof few / sizeof few[0]);
        }
        assert_true(hub_store_days_refresh(w->st, 10000, NULL, 0) >= 0);
        assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0"), 0);
        assert_int_equal(hub_store_recount(w->st, NULL, 0, NULL, NULL, NULL, 0), 0);
        hf_assert_as_of_recount(w->st, reg, dates, sizeof dates / sizeof dates[0]);
        hub_store_destroy(&w->st);
        free(w);
    }
    assert_true(stale > 0);
    ro_registry_destroy(&reg);
}

/* Every row of table (unit_days, scope_days), in order, as text. */
static char *s_rows_dump(const char *path, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    char sql[96]; /* both keyed by their first two columns */
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", table);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    while (sqlite3_step(q) == SQLITE_ROW)
        for (int c = 0, n = sqlite3_column_count(q); c < n; c++) {
            const char *v = (const char *)sqlite3_column_text(q, c);
            size_t need = strlen(v ? v : "") + 2;
            if (len + need >= cap) {
                cap = 2 * cap + need;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            len +=
                (size_t)snprintf(out + len, cap - len, "%s%c", v ? v : "", c + 1 < n ? ',' : '\n');
        }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

/* 24 batches of reports in date order, as agents send them, a few days of
 * them in each unit's batch, cases on their month's first day (before days
 * the unit has rows for), into w's store. */
static void s_dw_in_order(s_dw_t *w)
{
    int64_t day[NUNITS] = {0}; /* each unit's days since 2017-01-01 */
    char err[256] = "";
    for (int batch = 0; batch < 24; batch++) {
        /* two batches a second; the hub's clock steps back now and then */
        w->now = NOW - 86400 + batch / 2 * 7 % 12;
        assert_int_equal(hub_store_begin(w->st, NULL, 0), 0);
        for (size_t i = 0; i < NUNITS; i++) {
            for (uint32_t k = s_dw_below(w, 9); k > 0; k--) {
                day[i] += s_dw_below(w, 3);
                int inc = (int)s_dw_below(w, 2);
                ro_kind_t kind = (ro_kind_t)(RO_KIND_TRAINING + s_dw_below(w, 4));
                uint32_t d = ro_date_of(1483228800 + day[i] * 86400);
                ro_report_t r = hf_report(ro_registry_at(w->reg, i)->id, ++w->next[i][inc], kind,
                                          kind == RO_KIND_CASES ? d / 100 : d,
                                          1 + s_dw_below(w, 90), s_dw_below(w, 10));
                if (hub_store_put_report(w->st, i, w->iids[i][inc], &r, r.seq, w->now, err,
                                         sizeof err) ||
                    hub_store_refold(w->st, i, &w->states[i], err, sizeof err))
                    fail_msg("seq %llu of unit %zu: %s", (unsigned long long)r.seq, i, err);
            }
        }
        s_dw_commit(w);
    }
}

/* Reports in date order (s_dw_in_order), merged into the rows, give the
 * rows a rebuild derives from the reports, changed_at and all, and answer
 * as the scan does. Snapshots of one date from both incarnations, in one
 * batch or in two received in the same second, tie by the scan's rule. */
static void test_days_merged_equal_the_rebuild(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    static const uint32_t dates[] = {20170101, 20170301, 20170615, 20171231, 20180301, 20181231};
    const char *path = hf_path("append.db");
    for (uint64_t seed = 1; seed <= 10; seed++) {
        s_dw_t *w = s_dw_open(reg, path, seed);
        s_dw_in_order(w);
        assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0"), 0);
        hf_assert_as_of_recount(w->st, reg, dates, sizeof dates / sizeof dates[0]);
        char *folded = s_rows_dump(path, "unit_days");
        assert_true(strchr(folded, '\n') != NULL); /* rows there are */
        assert_int_equal(hub_store_days_rebuild(w->st, NULL, 0), 0);
        char *rebuilt = s_rows_dump(path, "unit_days");
        assert_string_equal(folded, rebuilt);
        free(folded);
        free(rebuilt);
        hub_store_destroy(&w->st);
        free(w);
    }
    ro_registry_destroy(&reg);
}

/* The same reports with some units' rows left for later in each batch (as
 * the hub does for a unit in batch after batch): the units stale meanwhile
 * answer as the scan does, and once a refresh has written their rows, the
 * rows are those written at each commit, changed_at and all, and so are
 * the scopes' day rows. */
static void test_days_later_equal_now(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    static const uint32_t dates[] = {20170101, 20170301, 20170615, 20171231, 20180301, 20181231};
    const char *path = hf_path("later.db");
    for (uint64_t seed = 1; seed <= 10; seed++) {
        s_dw_t *w = s_dw_open(reg, path, seed);
        s_dw_in_order(w);
        char *now = s_rows_dump(path, "unit_days"), *now_scopes = s_rows_dump(path, "scope_days");
        hub_store_destroy(&w->st);
        free(w);
        w = s_dw_open(reg, path, seed);
        w->later = seed;
        s_dw_in_order(w);
        assert_true(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0") > 0);
        hf_assert_as_of_recount(w->st, reg, dates, sizeof dates / sizeof dates[0]);
        assert_true(hub_store_days_refresh(w->st, 10000, NULL, 0) > 0);
        assert_int_equal(s_sql_int(path, "SELECT count(*) FROM units WHERE day_stale > 0"), 0);
        char *later = s_rows_dump(path, "unit_days"), *scopes = s_rows_dump(path, "scope_days");
        assert_true(strchr(later, '\n') != NULL && strchr(scopes, '\n') != NULL); /* rows */
        assert_string_equal(later, now);
        assert_string_equal(scopes, now_scopes);
        free(now);
        free(later);
        free(now_scopes);
        free(scopes);
        hub_store_destroy(&w->st);
        free(w);
    }
    ro_registry_destroy(&reg);
}

/* Two snapshots of one date, received in the same second from two
 * incarnations: the higher incarnation id counts, whichever came last, also
 * when the later one is applied to a unit's rows (a batch of two days). */
static void test_days_tie_in_a_second(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    uint8_t inc[RO_INCARNATION_LEN];
    memset(inc, 0xb1, sizeof inc);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    int64_t legacy = hf_iid(st, 0), other = hub_store_incarnation(st, 0, inc, NOW, NULL, 0);
    assert_true(other > legacy);
    ro_report_t a = hf_report("460000-001", 1, RO_KIND_STAFF, 20180301, 50, 5);
    assert_int_equal(hub_store_put_report(st, 0, other, &a, 1, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_refold(st, 0, &states[0], NULL, 0), 0);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    /* the same second: the legacy one's 20180301 ties and loses; 20180305 is later */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t b = hf_report("460000-001", 1, RO_KIND_STAFF, 20180301, 70, 7);
    ro_report_t c = hf_report("460000-001", 2, RO_KIND_TRAINING, 20180305, 9, 10);
    assert_int_equal(hub_store_put_report(st, 0, legacy, &c, 2, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_put_report(st, 0, legacy, &b, 3, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_refold(st, 0, &states[0], NULL, 0), 0);
    assert_int_equal(states[0].staff_total, 50);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    /* alone in a batch, another of 20180301 ties and loses: the rows after
     * its day (20180305's) keep the one that counts */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t d = hf_report("460000-001", 4, RO_KIND_STAFF, 20180301, 90, 9);
    assert_int_equal(hub_store_put_report(st, 0, legacy, &d, 4, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_refold(st, 0, &states[0], NULL, 0), 0);
    assert_int_equal(states[0].staff_total, 50);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    static const uint32_t dates[] = {20180301, 20180304, 20180305};
    hf_assert_as_of_recount(st, reg, dates, sizeof dates / sizeof dates[0]);
    hub_unit_state_t at[NUNITS];
    assert_int_equal(hub_store_states_as_of(st, reg, 20180301, at, NULL, 0), 0);
    assert_int_equal(at[0].staff_total, 50);
    assert_int_equal(hub_store_states_as_of(st, reg, 20180305, at, NULL, 0), 0);
    assert_int_equal(at[0].staff_total, 50);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Apply correction fix (amend or cancel of target_seq) of unit i at at, and
 * store its own row, as ingest does. */
static void s_correct(hub_store_t *st, size_t i, ro_report_t *fix, int64_t at)
{
    char err[256] = "";
    hub_store_target_t was;
    int64_t iid = hf_iid(st, i);
    snprintf(fix->reason, sizeof fix->reason, "typo");
    if (hub_store_correct(st, i, iid, fix, iid, "", at, &was, err, sizeof err))
        fail_msg("correct: %s", err);
    int rc = fix->action == RO_ACTION_CANCEL
                 ? hub_store_put_cancel(st, i, iid, fix, &was, fix->seq, at, err, sizeof err)
                 : hub_store_put_report(st, i, iid, fix, fix->seq, at, err, sizeof err);
    if (rc)
        fail_msg("correction's row: %s", err);
}

/* Unit i's marks of kind as of as_of with the cutoff known_on: "c h r". */
static const char *s_marks(hub_store_t *st, const ro_registry_t *reg, size_t i, ro_kind_t kind,
                           uint32_t as_of, int64_t known_on)
{
    static char buf[64];
    hub_unit_marks_t m[NUNITS];
    char err[256] = "";
    int64_t key = -1;
    if (hub_store_marks(st, reg, as_of, known_on, m, &key, err, sizeof err))
        fail_msg("marks: %s", err);
    assert_true(key > 0);
    snprintf(buf, sizeof buf, "%u %u %u", m[i].corrected[kind - 1], m[i].held[kind - 1],
             m[i].rejected[kind - 1]);
    return buf;
}

/* What the figures rest on (hub_store_marks): corrected (an amend, an
 * amend of that amend, a cancel), held for review, accepted (nothing),
 * rejected, by the report's date (a month's cases by its month), and a
 * known-on cutoff that leaves out the trail rows after it. */
static void test_marks_from_the_trail(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    const char *u = "460100-001";
    ro_report_t rs[] = {
        hf_report(u, 1, RO_KIND_TRAINING, 20180301, 200, 10),
        hf_report(u, 4, RO_KIND_STAFF, 20180305, 40, 20),
        hf_report(u, 6, RO_KIND_ITEMS, 20180310, 100, 10),
        hf_report(u, 7, RO_KIND_ITEMS, 20180320, 100, 99),
        hf_report(u, 8, RO_KIND_CASES, 201803, 100, 99),
        hf_report(u, 9, RO_KIND_TRAINING, 20180501, 30, 10),
    };
    char err[256] = "";
    int changed, was_held, kind;
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (size_t k = 0; k < sizeof rs / sizeof rs[0]; k++) /* seqs 6, 7 and 8: flagged, held */
        if (rs[k].seq >= 6 && rs[k].seq <= 8)
            s_put_held(st, 1, &rs[k]);
        else
            s_put(st, states, 1, &rs[k]);
    ro_report_t other = hf_report("469002-003", 1, RO_KIND_TRAINING, 20180302, 900, 10);
    s_put_held(st, 2, &other);
    other = hf_report("469002-003", 2, RO_KIND_TRAINING, 20180303, 900, 10);
    s_put(st, states, 2, &other); /* flagged under hold = no: it counts, not held */
    ro_report_t fix = hf_report(u, 2, RO_KIND_TRAINING, 20180301, 20, 10);
    fix.action = RO_ACTION_AMEND, fix.target_seq = 1;
    s_correct(st, 1, &fix, NOW + 10);
    fix.seq = 3, fix.target_seq = 2, fix.total = 21; /* an amend of the amend */
    s_correct(st, 1, &fix, NOW + 20);
    ro_report_t cancel = hf_report(u, 5, RO_KIND_NONE, 0, 0, 0);
    cancel.action = RO_ACTION_CANCEL, cancel.target_seq = 4;
    s_correct(st, 1, &cancel, NOW + 30);
    assert_int_equal(
        hub_store_flag(st, 2, hf_iid(st, 2), 1, 1, "r", "x", NOW + 15, err, sizeof err), 0);
    assert_int_equal(
        hub_store_flag(st, 2, hf_iid(st, 2), 2, 0, "r", "x", NOW + 16, err, sizeof err), 0);
    assert_int_equal(
        hub_store_flag(st, 1, hf_iid(st, 1), 6, 1, "r", "x", NOW + 40, err, sizeof err), 0);
    assert_int_equal(
        hub_store_flag(st, 1, hf_iid(st, 1), 7, 1, "r", "x", NOW + 50, err, sizeof err), 0);
    assert_int_equal(hub_store_decide(st, 1, NULL, 7, 1, "reviewer:a", "fine", NOW + 60, &changed,
                                      &was_held, &kind, err, sizeof err),
                     0);
    assert_int_equal(
        hub_store_flag(st, 1, hf_iid(st, 1), 8, 1, "r", "x", NOW + 70, err, sizeof err), 0);
    assert_int_equal(hub_store_decide(st, 1, NULL, 8, 0, "reviewer:a", "no", NOW + 80, &changed,
                                      &was_held, &kind, err, sizeof err),
                     0);
    fix = hf_report(u, 10, RO_KIND_TRAINING, 20180501, 3, 10);
    fix.action = RO_ACTION_AMEND, fix.target_seq = 9;
    s_correct(st, 1, &fix, NOW + 90);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);

    /* corrected / held / rejected, as of the end of March, now */
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_TRAINING, 20180331, 0), "2 0 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_STAFF, 20180331, 0), "1 0 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_ITEMS, 20180331, 0), "0 1 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_CASES, 20180331, 0), "0 0 1");
    assert_string_equal(s_marks(st, reg, 2, RO_KIND_TRAINING, 20180331, 0), "0 1 0");
    assert_string_equal(s_marks(st, reg, 0, RO_KIND_TRAINING, 20180331, 0), "0 0 0");
    /* by the report's date: none before March; the May amend from May on;
     * the March cases from the 1st of March */
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_TRAINING, 20180228, 0), "0 0 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_TRAINING, 20180501, 0), "3 0 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_CASES, 20180301, 0), "0 0 1");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_STAFF, 20180304, 0), "0 0 0");
    /* known on: the amend of the amend, the accept and the reject not yet */
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_TRAINING, 20180331, NOW + 15), "1 0 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_ITEMS, 20180331, NOW + 55), "0 2 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_CASES, 20180331, NOW + 75), "0 1 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_CASES, 20180331, NOW + 65), "0 0 0");
    assert_string_equal(s_marks(st, reg, 1, RO_KIND_TRAINING, 20180601, NOW + 80), "2 0 0");

    /* the trail's key grows with each row */
    int64_t key = hub_store_trail_key(st);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_flag(st, 0, hf_iid(st, 0), 99, 0, "r", "x", NOW, err, sizeof err),
                     0);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
    assert_true(hub_store_trail_key(st) > key);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_max_store_bytes_makes_it_full(void **state)
{
    (void)state;
    const char *path = hf_path("full.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 64 * 1024);
    hub_unit_state_t states[NUNITS] = {0}, before[NUNITS], after[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    memcpy(before, states, sizeof states);

    char err[256] = "";
    int rc = hub_store_begin(st, err, sizeof err);
    for (uint64_t seq = 1; rc == 0 && seq <= 2000; seq++) {
        ro_report_t r = hf_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        memset(r.text, 'x', RO_TEXT_MAX);
        r.text[RO_TEXT_MAX] = '\0';
        rc = hub_store_put_report(st, 1, hf_iid(st, 1), &r, seq, NOW, err, sizeof err);
    }
    if (rc == 0)
        rc = hub_store_commit(st, err, sizeof err);
    assert_int_equal(rc, HUB_STORE_EFULL);
    assert_string_equal(hub_store_strerror(rc), "store full");
    assert_non_null(strstr(err, "full"));
    hub_store_rollback(st);
    assert_int_equal(hub_store_load_states(st, reg, after, NULL, 0), 0);
    hf_assert_states_equal(after, before, sizeof before / sizeof before[0]);

    /* a small batch still fits */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t small = hf_report("460100-001", 1, RO_KIND_STAFF, 20180401, 3, 1);
    s_put(st, states, 1, &small);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);

    /* and after raising the cap the big one goes in */
    assert_int_equal(hub_store_set_max_bytes(st, 0, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t seq = 2; seq <= 2000; seq++) {
        ro_report_t r = hf_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        memset(r.text, 'x', RO_TEXT_MAX);
        r.text[RO_TEXT_MAX] = '\0';
        s_put(st, states, 1, &r);
    }
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);
    assert_int_equal(hub_store_load_states(st, reg, after, NULL, 0), 0);
    assert_int_equal(after[1].reports, 2000);
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* Schema 9 stores reports in arrival order, each commit's sorted by (unit,
 * incarnation, seq), found by their runs (report_runs): three commits that
 * interleave two units, one with a hole (a refused seq), one with a second
 * incarnation; every report is found with its hash, a unit's history is
 * all of its own and none of the other's, a stored seq put again (even in
 * a later commit, below the highest) is EDUP, and a seq of the hole is
 * stored later in its place and found. */
static void test_runs_find_every_report(void **state)
{
    (void)state;
    ro_registry_t *reg = hf_registry();
    const char *path = hf_path("runs.db");
    hub_store_t *st = hf_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    uint8_t inc[RO_INCARNATION_LEN];
    memset(inc, 0x77, sizeof inc);
    int64_t a = hf_iid(st, 0), b = hf_iid(st, 1);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    int64_t b2 = hub_store_incarnation(st, 1, inc, NOW, NULL, 0);
    assert_true(b2 > 0 && b2 != b);
    uint64_t seq_a = 0, seq_b = 0, seq_b2 = 0;
    for (int commit = 0; commit < 3; commit++) {
        if (commit)
            assert_int_equal(hub_store_begin(st, NULL, 0), 0);
        for (int k = 0; k < 20; k++) { /* interleaved, as 893 agents' are */
            ro_report_t r = hf_report("460000-001", ++seq_a, RO_KIND_TRAINING, 20180301, 5, 10);
            if (seq_a == 25) /* the hole: refused, stored below */
                r = hf_report("460000-001", ++seq_a, RO_KIND_TRAINING, 20180301, 5, 10);
            assert_int_equal(hub_store_put_report(st, 0, a, &r, 1000 + r.seq, NOW, NULL, 0), 0);
            r = hf_report("460100-001", ++seq_b, RO_KIND_TRAINING, 20180302, 7, 10);
            assert_int_equal(hub_store_put_report(st, 1, b, &r, 2000 + r.seq, NOW, NULL, 0), 0);
            if (k % 3 == 0) {
                r = hf_report("460100-001", ++seq_b2, RO_KIND_TRAINING, 20180303, 9, 10);
                assert_int_equal(hub_store_put_report(st, 1, b2, &r, 3000 + r.seq, NOW, NULL, 0),
                                 0);
            }
        }
        assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    }
    uint64_t hash = 0;
    for (uint64_t q = 1; q <= seq_a; q++) {
        int found = hub_store_find(st, 0, a, q, &hash, NULL, NULL, 0);
        assert_int_equal(found, q == 25 ? 0 : 1);
        if (found)
            assert_true(hash == 1000 + q);
        assert_int_equal(hub_store_find(st, 0, b, q, &hash, NULL, NULL, 0), 0); /* not a's */
    }
    for (uint64_t q = 1; q <= seq_b; q++) {
        assert_int_equal(hub_store_find(st, 1, b, q, &hash, NULL, NULL, 0), 1);
        assert_true(hash == 2000 + q);
    }
    for (uint64_t q = 1; q <= seq_b2; q++) {
        assert_int_equal(hub_store_find(st, 1, b2, q, &hash, NULL, NULL, 0), 1);
        assert_true(hash == 3000 + q);
    }
    assert_int_equal(hub_store_find(st, 1, b2, seq_b2 + 1, &hash, NULL, NULL, 0), 0);
    /* a stored seq again, in a later commit: EDUP; the hole's seq: stored in its place */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t again = hf_report("460000-001", 3, RO_KIND_TRAINING, 20180301, 5, 10);
    assert_int_equal(hub_store_put_report(st, 0, a, &again, 1, NOW, NULL, 0), HUB_STORE_EDUP);
    ro_report_t hole = hf_report("460000-001", 25, RO_KIND_TRAINING, 20180301, 5, 10);
    assert_int_equal(hub_store_put_report(st, 0, a, &hole, 1025, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_put_report(st, 0, a, &hole, 1025, NOW, NULL, 0), HUB_STORE_EDUP);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(hub_store_find(st, 0, a, 25, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 1025);
    /* a unit's history is its own reports, all of them */
    hub_store_point_t *pts = NULL;
    size_t n = 0;
    assert_int_equal(hub_store_history(st, 1, RO_KIND_TRAINING, 20181231, &pts, &n, NULL, 0), 0);
    assert_int_equal(n, seq_b + seq_b2);
    free(pts);
    assert_int_equal(hub_store_history(st, 0, RO_KIND_TRAINING, 20181231, &pts, &n, NULL, 0), 0);
    assert_int_equal(n, seq_a);
    free(pts);
    /* commit by commit, each incarnation's stretch of a batch is one run */
    assert_true(s_sql_int(path, "SELECT count(*) FROM report_runs") <= 3 * 3 + 2);
    assert_int_equal(s_sql_int(path, "SELECT count(*) FROM reports"), seq_a + seq_b + seq_b2);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_and_aggregates),
        cmocka_unit_test(test_duplicate_refused_and_found_by_hash),
        cmocka_unit_test(test_rollback_leaves_nothing),
        cmocka_unit_test(test_pending_index_after_a_large_rollback),
        cmocka_unit_test(test_last_seq_read_from_what_is_stored),
        cmocka_unit_test(test_states_survive_reopen),
        cmocka_unit_test(test_load_states_matches_rows_by_id),
        cmocka_unit_test(test_copy_map),
        cmocka_unit_test(test_second_connection_keeps_the_wal),
        cmocka_unit_test(test_garbage_file_refused_untouched),
        cmocka_unit_test(test_truncated_db_refused_untouched),
        cmocka_unit_test(test_newer_schema_and_foreign_db_refused),
        cmocka_unit_test(test_migrate_1_to_2_rehashes),
        cmocka_unit_test(test_migrate_2_to_3_adds_state),
        cmocka_unit_test(test_migrate_3_to_4_incarnations),
        cmocka_unit_test(test_migrate_4_to_5_events),
        cmocka_unit_test(test_migrate_5_to_6_days),
        cmocka_unit_test(test_migrate_6_to_7_known),
        cmocka_unit_test(test_migrate_3_to_4_fails_untouched),
        cmocka_unit_test(test_migrate_3_to_4_in_ranges),
        cmocka_unit_test(test_migrate_3_to_4_ingest_goes_on),
        cmocka_unit_test(test_incarnations_are_sequences_of_their_own),
        cmocka_unit_test(test_load_states_shows_newest_incarnation),
        cmocka_unit_test(test_held_counted_nowhere_until_released),
        cmocka_unit_test(test_recount_detects_tampering),
        cmocka_unit_test(test_recount_detects_damaged_days),
        cmocka_unit_test(test_recount_detects_damaged_scopes),
        cmocka_unit_test(test_scopes_after_decisions),
        cmocka_unit_test(test_scopes_lost_while_loading),
        cmocka_unit_test(test_series_one_snapshot),
        cmocka_unit_test(test_states_as_of),
        cmocka_unit_test(test_days_equal_the_scan),
        cmocka_unit_test(test_series_few_stale),
        cmocka_unit_test(test_days_merged_equal_the_rebuild),
        cmocka_unit_test(test_days_later_equal_now),
        cmocka_unit_test(test_days_tie_in_a_second),
        cmocka_unit_test(test_marks_from_the_trail),
        cmocka_unit_test(test_max_store_bytes_makes_it_full),
        cmocka_unit_test(test_runs_find_every_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
