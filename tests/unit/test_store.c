/* test_store: hub.db (aggregates kept with the raw reports, one transaction
 * per batch, damaged files refused untouched, recount, as-of, a full store)
 * and the socket-free half of hub_ingest (dedup, conflict, gap, invalid,
 * unknown unit, a batch held while the store is full). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest.h"
#include "ro_codec.h"
#include "ro_pb.h"
#include "ro_registry.h"
#include "status.h"
#include "store.h"
#include "test_util.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOW 1546300800 /* 2019-01-01T00:00:00Z: every 2017-2018 date is valid */
#define NUNITS 3

static const char *s_units_csv = "id,level,division,name\n"
                                 "460000-001,provincial,460000,省发展和改革委员会\n"
                                 "460100-001,municipal,460100,海口市教育局\n"
                                 "469002-003,municipal,469002,琼海市科学技术局\n";

static ro_registry_t *s_registry(void)
{
    char err[256] = "";
    ro_registry_t *reg = ro_registry_load(tu_write("units.csv", s_units_csv), err, sizeof err);
    if (!reg)
        fail_msg("registry: %s", err);
    return reg;
}

static char *s_path(const char *name)
{
    static char paths[8][300];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 300, "%s/%s", tu_dir(), name);
    return p;
}

static void s_remove_db(const char *path)
{
    char buf[320];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
}

static hub_store_t *s_open(const char *path, int64_t max_bytes)
{
    char err[512] = "";
    hub_store_t *st = hub_store_open(path, 2, max_bytes, err, sizeof err);
    if (!st)
        fail_msg("open %s: %s", path, err);
    return st;
}

/* Field by field: padding bytes are nobody's business. */
static void s_assert_states_equal(const hub_unit_state_t *a, const hub_unit_state_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
#define EQ(f) assert_int_equal(a[i].f, b[i].f)
        EQ(last_seq);
        EQ(last_heard);
        EQ(reports);
        EQ(participants);
        EQ(hours_tenths);
        EQ(sessions);
        EQ(staff_date);
        EQ(staff_total);
        EQ(staff_proficient);
        EQ(items_date);
        EQ(items_total);
        EQ(items_no_visit);
        EQ(cases_month);
        EQ(cases_total);
        EQ(cases_no_visit);
#undef EQ
    }
}

static ro_report_t s_report(const char *unit, uint64_t seq, ro_kind_t kind, uint32_t date,
                            uint32_t total, uint32_t part)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_VERSION;
    snprintf(r.unit, sizeof r.unit, "%s", unit);
    r.seq = seq;
    r.recorded_at = NOW - 3600;
    r.kind = kind;
    r.date = date;
    r.total = total;
    r.part = part;
    if (kind == RO_KIND_TRAINING)
        snprintf(r.text, sizeof r.text, "第1期 全程网办");
    return r;
}

/* Store r as the next report of unit i (hash = seq, for these tests). */
static void s_put(hub_store_t *st, hub_unit_state_t *states, size_t i, const ro_report_t *r)
{
    char err[256] = "";
    int rc = hub_store_put_report(st, i, r, 1000 + r->seq, NOW, err, sizeof err);
    if (rc)
        fail_msg("put_report: %d %s", rc, err);
    hub_state_apply(&states[i], r);
    states[i].last_seq = r->seq;
    states[i].last_heard = NOW;
}

static void s_put_states(hub_store_t *st, const hub_unit_state_t *states)
{
    char err[256] = "";
    for (size_t i = 0; i < NUNITS; i++)
        if (hub_store_put_state(st, i, &states[i], err, sizeof err))
            fail_msg("put_state: %s", err);
}

/* A small history for unit 0: three trainings, staff, items, cases. */
static void s_history(hub_store_t *st, hub_unit_state_t *states)
{
    const char *u = "460000-001";
    ro_report_t rs[] = {
        s_report(u, 1, RO_KIND_TRAINING, 20180110, 30, 25),
        s_report(u, 2, RO_KIND_STAFF, 20180105, 20, 10),
        s_report(u, 3, RO_KIND_TRAINING, 20180210, 40, 15),
        s_report(u, 4, RO_KIND_STAFF, 20180305, 22, 18),
        s_report(u, 5, RO_KIND_STAFF, 20180201, 99, 1), /* older date: must not replace */
        s_report(u, 6, RO_KIND_ITEMS, 20180301, 100, 60),
        s_report(u, 7, RO_KIND_ITEMS, 20180301, 100, 70), /* same date, later seq wins */
        s_report(u, 8, RO_KIND_CASES, 201801, 500, 100),
        s_report(u, 9, RO_KIND_CASES, 201803, 800, 600),
        s_report(u, 10, RO_KIND_TRAINING, 20180310, 5, 10),
    };
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        s_put(st, states, 0, &rs[i]);
    ro_report_t other = s_report("469002-003", 1, RO_KIND_TRAINING, 20180111, 7, 30);
    s_put(st, states, 2, &other);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
}

/* ---- store ---------------------------------------------------------------- */

static void test_insert_and_aggregates(void **state)
{
    (void)state;
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(":memory:", 0);
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
    s_assert_states_equal(again, states, sizeof states / sizeof states[0]);

    hub_store_destroy(&st);
    assert_null(st);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_duplicate_refused_and_found_by_hash(void **state)
{
    (void)state;
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    ro_report_t r = s_report("460100-001", 1, RO_KIND_ITEMS, 20180105, 50, 20);
    char err[256];
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    assert_int_equal(hub_store_put_report(st, 1, &r, 0xfeedfacecafebeefull, NOW, err, sizeof err),
                     0);
    r.part = 49;
    assert_int_equal(hub_store_put_report(st, 1, &r, 42, NOW, err, sizeof err), HUB_STORE_EDUP);
    /* the transaction is still usable after the refused row */
    assert_int_equal(hub_store_put_refusal(st, "460100-001", 2, RO_REASON_INVALID, "bad date", 77,
                                           NOW, err, sizeof err),
                     0);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);

    uint64_t hash = 0;
    ro_reason_t reason = RO_REASON_NONE;
    char text[64] = "";
    assert_int_equal(hub_store_find(st, 1, 1, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 0xfeedfacecafebeefull); /* all 64 bits survive */
    assert_int_equal(hub_store_find(st, 1, 2, &hash, &reason, text, sizeof text), 2);
    assert_true(hash == 77);
    assert_int_equal(reason, RO_REASON_INVALID);
    assert_string_equal(text, "bad date");
    assert_int_equal(hub_store_find(st, 1, 3, &hash, NULL, NULL, 0), 0);
    assert_int_equal(hub_store_find(st, 0, 1, &hash, NULL, NULL, 0), 0); /* other unit */

    /* the row went in without its aggregates: reports, the items snapshot and last_seq */
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, &reports, NULL, 0), 5);
    assert_int_equal(units, NUNITS);
    assert_int_equal(reports, 1);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_rollback_leaves_nothing(void **state)
{
    (void)state;
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(":memory:", 0);
    hub_unit_state_t states[NUNITS] = {0}, before[NUNITS], after[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    memcpy(before, states, sizeof states);

    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t seq = 11; seq <= 20; seq++) {
        ro_report_t r = s_report("460000-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        s_put(st, states, 0, &r);
    }
    assert_int_equal(
        hub_store_put_refusal(st, "460000-001", 21, RO_REASON_INVALID, "x", 1, NOW, NULL, 0), 0);
    s_put_states(st, states);
    hub_store_rollback(st);
    hub_store_rollback(st); /* harmless without a transaction */

    memset(after, 0, sizeof after);
    assert_int_equal(hub_store_load_states(st, reg, after, NULL, 0), 0);
    s_assert_states_equal(after, before, sizeof before / sizeof before[0]);
    uint64_t hash;
    assert_int_equal(hub_store_find(st, 0, 11, &hash, NULL, NULL, 0), 0);
    assert_int_equal(hub_store_find(st, 0, 21, &hash, NULL, NULL, 0), 0);
    uint64_t reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, &reports, NULL, 0), 0);
    assert_int_equal(reports, 11);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_states_survive_reopen(void **state)
{
    (void)state;
    const char *path = s_path("reopen.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0}, again[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);
    hub_store_destroy(&st);

    st = s_open(path, 0);
    memset(again, 0, sizeof again);
    assert_int_equal(hub_store_load_states(st, reg, again, NULL, 0), 0);
    s_assert_states_equal(again, states, sizeof states / sizeof states[0]);
    hub_store_destroy(&st);

    /* a registry that lost a unit and gained one: rows are kept, the new one starts at 0 */
    char err[256];
    ro_registry_t *reg2 =
        ro_registry_load(tu_write("units2.csv", "id,level,division,name\n"
                                                "469002-003,municipal,469002,C\n"
                                                "460200-009,municipal,460200,D\n"),
                         err, sizeof err);
    assert_non_null(reg2);
    st = s_open(path, 0);
    hub_unit_state_t two[2];
    assert_int_equal(hub_store_load_states(st, reg2, two, NULL, 0), 0);
    s_assert_states_equal(&two[0], &states[2], 1);
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
    const char *path = s_path("byid.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 0);
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
    st = s_open(path, 0);
    hub_unit_state_t three[3];
    memset(three, 0xAB, sizeof three); /* every field of every unit is written */
    assert_int_equal(hub_store_load_states(st, rev, three, err, sizeof err), 0);
    hub_unit_state_t zero = {0};
    s_assert_states_equal(&three[0], &zero, 1);
    s_assert_states_equal(&three[1], &states[2], 1);
    s_assert_states_equal(&three[2], &states[0], 1);
    /* indices are the new registry's */
    uint64_t hash = 0;
    assert_int_equal(hub_store_find(st, 2, 10, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 1010);
    assert_int_equal(hub_store_find(st, 1, 1, &hash, NULL, NULL, 0), 1);
    assert_int_equal(hub_store_find(st, 0, 1, &hash, NULL, NULL, 0), 0);
    ro_report_t r = s_report("460200-009", 1, RO_KIND_STAFF, 20180105, 20, 10);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    s_put(st, three, 0, &r);
    assert_int_equal(hub_store_put_state(st, 0, &three[0], NULL, 0), 0);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    hub_store_destroy(&st);

    /* every unit has its row now: loading again changes nothing on disk */
    st = s_open(path, 0);
    long long wal_before = s_file_size(wal);
    hub_unit_state_t again[3];
    assert_int_equal(hub_store_load_states(st, rev, again, NULL, 0), 0);
    s_assert_states_equal(again, three, 3);
    assert_true(s_file_size(wal) == wal_before);
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(st, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(units, 4); /* 460100-001 kept its row */
    assert_int_equal(reports, 12);
    hub_store_destroy(&st);
    ro_registry_destroy(&rev);
    ro_registry_destroy(&reg);
}

/* A second connection maps the units without writing: a unit the writer has
 * not added yet has no reports there and cannot be written to, and is
 * mapped by the next call once the writer added it. */
static void test_map_units_reads_only(void **state)
{
    (void)state;
    const char *path = s_path("reader.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    s_history(st, states);

    char err[256] = "";
    ro_registry_t *more = ro_registry_load(tu_write("more.csv", "id,level,division,name\n"
                                                                "460000-001,provincial,460000,A\n"
                                                                "460100-001,municipal,460100,B\n"
                                                                "469002-003,municipal,469002,C\n"
                                                                "460200-009,municipal,460200,D\n"),
                                           err, sizeof err);
    assert_non_null(more);
    hub_store_t *rd = hub_store_open_again(path, 2, err, sizeof err);
    assert_non_null(rd);
    assert_int_equal(hub_store_map_units(rd, more, err, sizeof err), 0);
    uint64_t units = 0;
    assert_int_equal(hub_store_recount(rd, NULL, 0, &units, NULL, NULL, 0), 0);
    assert_int_equal(units, NUNITS); /* no row added */

    uint64_t hash = 0;
    assert_int_equal(hub_store_find(rd, 0, 10, &hash, NULL, NULL, 0), 1);
    assert_int_equal(hub_store_find(rd, 3, 1, &hash, NULL, NULL, 0), 0);
    hub_store_point_t *pts = (hub_store_point_t *)&hash;
    size_t n = 9;
    assert_int_equal(hub_store_history(rd, 3, RO_KIND_STAFF, 20181231, &pts, &n, NULL, 0), 0);
    assert_null(pts);
    assert_int_equal(n, 0);
    assert_int_equal(hub_store_history(rd, 0, RO_KIND_TRAINING, 20181231, &pts, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    free(pts);
    ro_report_t r = s_report("460200-009", 1, RO_KIND_STAFF, 20180105, 20, 10);
    assert_int_equal(hub_store_put_report(rd, 3, &r, 1, NOW, err, sizeof err), HUB_STORE_EFAIL);
    assert_non_null(strstr(err, "460200-009"));
    hub_unit_state_t one = {0};
    assert_int_equal(hub_store_put_state(rd, 3, &one, err, sizeof err), HUB_STORE_EFAIL);
    assert_int_equal(hub_store_put_report(rd, 9, &r, 1, NOW, err, sizeof err), HUB_STORE_EFAIL);
    /* a refusal is kept by id: found for a unit without a row */
    assert_int_equal(
        hub_store_put_refusal(st, "460200-009", 1, RO_REASON_INVALID, "x", 55, NOW, NULL, 0), 0);
    assert_int_equal(hub_store_find(rd, 3, 1, &hash, NULL, NULL, 0), 2);
    assert_true(hash == 55);
    uint64_t total[1], part[1];
    uint32_t dates[1] = {20181231};
    assert_int_equal(hub_store_series(rd, RO_KIND_TRAINING, dates, 1, total, part, NULL, 0), 0);
    assert_int_equal(total[0], 82);

    /* the writer adds the unit and a report; the reader's next map finds them */
    hub_unit_state_t four[4];
    assert_int_equal(hub_store_load_states(st, more, four, NULL, 0), 0);
    r.seq = 2;
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    s_put(st, four, 3, &r);
    assert_int_equal(hub_store_commit(st, NULL, 0), 0);
    assert_int_equal(hub_store_find(rd, 3, 2, &hash, NULL, NULL, 0), 0);
    assert_int_equal(hub_store_map_units(rd, more, err, sizeof err), 0);
    assert_int_equal(hub_store_find(rd, 3, 2, &hash, NULL, NULL, 0), 1);
    assert_true(hash == 1002);
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
    const char *path = s_path("again.db");
    s_remove_db(path);
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
        reg = s_registry();
        st = s_open(path, 0);
        hub_unit_state_t states[NUNITS] = {0};
        char err[256] = "";
        again = hub_store_open_again(path, 2, err, sizeof err);
        if (!again || hub_store_load_states(st, reg, states, NULL, 0))
            _exit(10);
        for (uint64_t seq = 1; seq <= 2; seq++) {
            ro_report_t r = s_report("460000-001", seq, RO_KIND_TRAINING, 20180110, 30, 25);
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
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 0);
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
    const char *path = s_path("garbage.db");
    s_remove_db(path);
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
    const char *path = s_path("truncated.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 0);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t seq = 1; seq <= 3000; seq++) {
        ro_report_t r = s_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
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
    const char *path = s_path("newer.db");
    s_remove_db(path);
    hub_store_t *st = s_open(path, 0);
    hub_store_destroy(&st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s_expect_refused_untouched(path, "newer");

    const char *other = s_path("other.db");
    s_remove_db(other);
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s_expect_refused_untouched(other, "not a rollout hub store");
}

static void test_recount_detects_tampering(void **state)
{
    (void)state;
    const char *path = s_path("tamper.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 0);
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

static void test_states_as_of(void **state)
{
    (void)state;
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(":memory:", 0);
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
    assert_int_equal(at[0].last_seq, 10);
    assert_int_equal(at[2].participants, 7);

    assert_int_equal(hub_store_states_as_of(st, reg, 20180331, at, NULL, 0), 0);
    assert_int_equal(at[0].items_no_visit, 70); /* equal dates: the later seq */
    assert_int_equal(at[0].staff_total, 22);
    assert_int_equal(at[0].cases_month, 201803);
    /* as of the far future, the state is today's */
    assert_int_equal(hub_store_states_as_of(st, reg, 20991231, at, NULL, 0), 0);
    s_assert_states_equal(at, states, sizeof states / sizeof states[0]);

    assert_int_equal(hub_store_states_as_of(st, reg, 20171231, at, NULL, 0), 0);
    assert_int_equal(at[0].reports, 0);
    assert_int_equal(at[0].participants, 0);
    assert_int_equal(at[0].staff_date, 0);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static void test_max_store_bytes_makes_it_full(void **state)
{
    (void)state;
    const char *path = s_path("full.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 64 * 1024);
    hub_unit_state_t states[NUNITS] = {0}, before[NUNITS], after[NUNITS];
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    memcpy(before, states, sizeof states);

    char err[256] = "";
    int rc = hub_store_begin(st, err, sizeof err);
    for (uint64_t seq = 1; rc == 0 && seq <= 2000; seq++) {
        ro_report_t r = s_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        memset(r.text, 'x', RO_TEXT_MAX);
        r.text[RO_TEXT_MAX] = '\0';
        rc = hub_store_put_report(st, 1, &r, seq, NOW, err, sizeof err);
    }
    if (rc == 0)
        rc = hub_store_commit(st, err, sizeof err);
    assert_int_equal(rc, HUB_STORE_EFULL);
    assert_string_equal(hub_store_strerror(rc), "store full");
    assert_non_null(strstr(err, "full"));
    hub_store_rollback(st);
    assert_int_equal(hub_store_load_states(st, reg, after, NULL, 0), 0);
    s_assert_states_equal(after, before, sizeof before / sizeof before[0]);

    /* a small batch still fits */
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    ro_report_t small = s_report("460100-001", 1, RO_KIND_STAFF, 20180401, 3, 1);
    s_put(st, states, 1, &small);
    s_put_states(st, states);
    assert_int_equal(hub_store_commit(st, err, sizeof err), 0);

    /* and after raising the cap the big one goes in */
    assert_int_equal(hub_store_set_max_bytes(st, 0, NULL, 0), 0);
    assert_int_equal(hub_store_begin(st, NULL, 0), 0);
    for (uint64_t seq = 2; seq <= 2000; seq++) {
        ro_report_t r = s_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
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

/* ---- ingest without sockets ----------------------------------------------- */

typedef struct {
    ro_registry_t *reg;
    hub_store_t *store;
    hub_unit_state_t states[NUNITS];
    hub_ingest_t *ingest;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->reg = s_registry();
    f->store = s_open(":memory:", 0);
    if (hub_store_load_states(f->store, f->reg, f->states, NULL, 0))
        return -1;
    f->ingest = hub_ingest_new(f->store, f->reg, f->states, 64);
    *state = f;
    return f->ingest ? 0 : -1;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    hub_ingest_destroy(&f->ingest);
    hub_store_destroy(&f->store);
    ro_registry_destroy(&f->reg);
    free(f);
    return 0;
}

static void s_send(fixture_t *f, const char *peer, const ro_report_t *r)
{
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_ingest_add(f->ingest, peer, strlen(peer), buf, (size_t)n, 1), 0);
}

/* The replies of the last flush as lines "peer ack UNIT N" / "peer refusal UNIT N reason". */
static void s_replies(fixture_t *f, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < hub_ingest_reply_count(f->ingest); i++) {
        const hub_ingest_reply_t *r = hub_ingest_reply_at(f->ingest, i);
        int n;
        if (r->msg.kind == RO_HUBMSG_ACK)
            n = snprintf(out + used, cap - used, "%.*s ack %s %llu\n", (int)r->rid_len,
                         (const char *)r->rid, r->msg.unit, (unsigned long long)r->msg.seq);
        else
            n = snprintf(out + used, cap - used, "%.*s refusal %s %llu %s\n", (int)r->rid_len,
                         (const char *)r->rid, r->msg.unit, (unsigned long long)r->msg.seq,
                         ro_reason_name(r->msg.reason));
        used += (size_t)n;
    }
}

static void test_ingest_dedup_acks_each_resend(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t r = s_report("469002-003", 1, RO_KIND_ITEMS, 20180105, 50, 20);
    for (int i = 0; i < 3; i++)
        s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    /* one ack for the stored report, one per resend */
    assert_string_equal(out, "A ack 469002-003 1\nA ack 469002-003 1\nA ack 469002-003 1\n");
    const hub_ingest_counters_t *c = hub_ingest_counters(f->ingest);
    assert_int_equal(c->reports_stored, 1);
    assert_int_equal(c->duplicates, 2);
    assert_int_equal(c->batches, 1);
    assert_int_equal(c->last_batch_size, 3);
    assert_int_equal(f->states[2].reports, 1);
    assert_int_equal(f->states[2].items_no_visit, 20);
    assert_int_equal(f->states[2].last_heard, NOW);

    /* again in a later batch: still stored once */
    s_send(f, "B", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "B ack 469002-003 1\n");
    assert_int_equal(f->states[2].reports, 1);
    assert_int_equal(c->duplicates, 3);

    /* two new reports from two peers: each peer hears one ack */
    ro_report_t r2 = s_report("469002-003", 2, RO_KIND_STAFF, 20180105, 10, 5);
    ro_report_t r3 = s_report("469002-003", 3, RO_KIND_STAFF, 20180106, 10, 6);
    s_send(f, "A", &r2);
    s_send(f, "A", &r3);
    s_send(f, "C", &r3);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A ack 469002-003 3\nC ack 469002-003 3\n");
    assert_int_equal(f->states[2].staff_proficient, 6);

    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(f->store, f->reg, again, NULL, 0), 0);
    s_assert_states_equal(again, f->states, NUNITS);
}

static void test_ingest_conflict_gap_invalid(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t r1 = s_report("460100-001", 1, RO_KIND_ITEMS, 20180105, 50, 20);
    s_send(f, "A", &r1);
    ro_report_t other = r1;
    other.part = 49; /* same seq, another body */
    s_send(f, "A", &other);
    ro_report_t gap = s_report("460100-001", 3, RO_KIND_STAFF, 20180105, 10, 5);
    s_send(f, "A", &gap);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 1 conflict\nA ack 460100-001 1\n");
    const hub_ingest_counters_t *c = hub_ingest_counters(f->ingest);
    assert_int_equal(c->conflicts, 1);
    assert_int_equal(c->refused[RO_REASON_CONFLICT], 1);
    assert_int_equal(c->gaps, 1);
    assert_int_equal(f->states[1].items_no_visit, 20);
    assert_int_equal(f->states[1].reports, 1);

    /* seq 2 is invalid (part above total): refused, kept, and the stream moves on */
    ro_report_t bad = s_report("460100-001", 2, RO_KIND_STAFF, 20180105, 10, 11);
    s_send(f, "A", &bad);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 2 invalid\nA ack 460100-001 2\n");
    assert_int_equal(f->states[1].last_seq, 2);
    assert_int_equal(f->states[1].reports, 1);
    assert_int_equal(c->refused[RO_REASON_INVALID], 1);
    uint64_t hash;
    assert_int_equal(hub_store_find(f->store, 1, 2, &hash, NULL, NULL, 0), 2);

    /* the same invalid body again: a duplicate, and the refusal is said again */
    s_send(f, "A", &bad);
    s_send(f, "A", &gap); /* now seq 3 is next: stored */
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 2 invalid\nA ack 460100-001 3\n"
                             "A ack 460100-001 3\n");
    assert_int_equal(c->refused[RO_REASON_INVALID], 1);
    assert_int_equal(f->states[1].reports, 2);
    assert_int_equal(f->states[1].staff_total, 10);
    assert_int_equal(hub_store_recount(f->store, NULL, 0, NULL, NULL, NULL, 0), 0);
}

static void test_ingest_unknown_malformed_heartbeat(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t unknown = s_report("469030-999", 1, RO_KIND_STAFF, 20180105, 10, 5);
    s_send(f, "A", &unknown);
    assert_int_equal(hub_ingest_add(f->ingest, "B", 1, "\x0a\x0b\x0c", 3, 1), 0);
    assert_int_equal(hub_ingest_add(f->ingest, "C", 1, "x", 1, 3), 0);
    ro_report_t old = s_report("460000-001", 1, RO_KIND_STAFF, 20180105, 10, 5);
    old.version = 7;
    s_send(f, "D", &old);
    ro_report_t hb = s_report("460000-001", 0, RO_KIND_HEARTBEAT, 0, 0, 0);
    snprintf(hb.text, sizeof hb.text, "agent 0.1");
    s_send(f, "E", &hb);
    ro_report_t zero = s_report("460000-001", 0, RO_KIND_STAFF, 20180105, 10, 5);
    s_send(f, "E", &zero);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 5), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 469030-999 1 unknown-unit\n"
                             "B refusal  0 malformed\n"
                             "C refusal  0 malformed\n"
                             "D refusal  0 version\n"
                             "E refusal 460000-001 0 invalid\n"
                             "E ack 460000-001 0\n");
    const hub_ingest_counters_t *c = hub_ingest_counters(f->ingest);
    assert_int_equal(c->refused[RO_REASON_UNKNOWN_UNIT], 1);
    assert_int_equal(c->refused[RO_REASON_MALFORMED], 2);
    assert_int_equal(c->refused[RO_REASON_VERSION], 1);
    assert_int_equal(c->refused[RO_REASON_INVALID], 1);
    assert_int_equal(c->heartbeats, 1);
    assert_int_equal(c->reports_stored, 0);
    /* the heartbeat's last_heard is persisted with the batch */
    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(f->store, f->reg, again, NULL, 0), 0);
    assert_int_equal(again[0].last_heard, NOW + 5);
    assert_int_equal(again[0].reports, 0);
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(f->store, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(reports, 0);

    hub_metric_t m[HUB_INGEST_METRICS_MAX];
    size_t n = hub_ingest_metrics(f->ingest, m, HUB_INGEST_METRICS_MAX);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].name, "refused_unknown-unit") && m[i].value == 1.0)
            seen = 1;
    assert_true(seen);
}

static void test_ingest_batch_full(void **state)
{
    fixture_t *f = *state;
    ro_report_t r = s_report("460000-001", 1, RO_KIND_STAFF, 20180105, 10, 5);
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&r, buf, sizeof buf);
    for (int i = 0; i < 64; i++)
        assert_int_equal(hub_ingest_add(f->ingest, "A", 1, buf, (size_t)n, 1), 0);
    assert_int_equal(hub_ingest_add(f->ingest, "A", 1, buf, (size_t)n, 1), -1);
    assert_int_equal(hub_ingest_pending(f->ingest), 64);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_ingest_pending(f->ingest), 0);
    assert_int_equal(hub_ingest_reply_count(f->ingest), 64);
    assert_int_equal(hub_ingest_counters(f->ingest)->duplicates, 63);
}

static void test_ingest_holds_batch_while_full(void **state)
{
    (void)state;
    const char *path = s_path("ingest-full.db");
    s_remove_db(path);
    ro_registry_t *reg = s_registry();
    hub_store_t *st = s_open(path, 48 * 1024);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    hub_ingest_t *ing = hub_ingest_new(st, reg, states, 1000);
    assert_non_null(ing);

    uint8_t buf[RO_FRAME_MAX];
    for (uint64_t seq = 1; seq <= 1000; seq++) {
        ro_report_t r = s_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        memset(r.text, 'y', RO_TEXT_MAX);
        r.text[RO_TEXT_MAX] = '\0';
        int n = ro_report_encode(&r, buf, sizeof buf);
        assert_int_equal(hub_ingest_add(ing, "peer", 4, buf, (size_t)n, 1), 0);
    }
    assert_int_equal(hub_ingest_flush(ing, NOW), HUB_STORE_EFULL);
    assert_true(hub_ingest_held(ing));
    assert_int_equal(hub_ingest_store_state(ing), HUB_STORE_STATE_FULL);
    assert_string_equal(hub_ingest_store_state_name(hub_ingest_store_state(ing)), "full");
    assert_int_equal(hub_ingest_reply_count(ing), 0); /* no acks for what is not stored */
    assert_int_equal(states[1].reports, 0);           /* states reloaded from the store */
    assert_int_equal(states[1].last_seq, 0);
    assert_int_equal(hub_ingest_counters(ing)->commit_failures, 1);
    assert_int_equal(hub_ingest_counters(ing)->reports_stored, 0);
    assert_int_equal(hub_ingest_add(ing, "peer", 4, buf, 10, 1), -1); /* nothing more in */
    assert_int_equal(hub_ingest_pending(ing), 1000);
    assert_true(hub_ingest_retry_in(ing, 0) >= 0);
    /* a retry that is not due yet does nothing */
    assert_int_equal(hub_ingest_retry(ing, NULL, NOW, INT64_MIN / 2, 0), -1);
    assert_int_equal(hub_ingest_counters(ing)->commit_failures, 1);

    /* still full: still held */
    assert_int_equal(hub_ingest_retry(ing, NULL, NOW, 0, 1), -1);
    assert_int_equal(hub_ingest_counters(ing)->commit_failures, 2);

    assert_int_equal(hub_store_set_max_bytes(st, 0, NULL, 0), 0);
    assert_int_equal(hub_ingest_retry(ing, NULL, NOW, 0, 1), 0);
    assert_false(hub_ingest_held(ing));
    assert_int_equal(hub_ingest_store_state(ing), HUB_STORE_STATE_OK);
    assert_int_equal(hub_ingest_reply_count(ing), 1);
    assert_int_equal(hub_ingest_reply_at(ing, 0)->msg.seq, 1000);
    assert_int_equal(states[1].reports, 1000);
    assert_int_equal(hub_ingest_counters(ing)->reports_stored, 1000);
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 0);

    hub_ingest_destroy(&ing);
    assert_null(ing);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

/* ---- status answers ------------------------------------------------------- */

static Rollout__StatusReply *s_ask(hub_status_t *status, Rollout__Query q, const char *key)
{
    Rollout__StatusRequest req = ROLLOUT__STATUS_REQUEST__INIT;
    req.version = RO_PROTOCOL_VERSION;
    req.query = q;
    if (key)
        req.key = (char *)key;
    uint8_t buf[512], *out = NULL;
    size_t n = rollout__status_request__pack(&req, buf), out_len = 0;
    assert_int_equal(hub_status_answer(status, buf, n, NOW, &out, &out_len), 0);
    Rollout__StatusReply *r = rollout__status_reply__unpack(NULL, out_len, out);
    free(out);
    assert_non_null(r);
    return r;
}

static void test_status_answers(void **state)
{
    fixture_t *f = *state;
    ro_report_t r1 = s_report("469002-003", 1, RO_KIND_TRAINING, 20180105, 12, 35);
    ro_report_t r2 = s_report("460000-001", 1, RO_KIND_ITEMS, 20180105, 10, 4);
    s_send(f, "A", &r1);
    s_send(f, "B", &r2);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    hub_status_t *status = hub_status_new(f->reg, f->states, f->store, f->ingest);
    assert_non_null(status);

    Rollout__StatusReply *r = s_ask(status, ROLLOUT__QUERY__QUERY_PROVINCE, NULL);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->store_state, "ok");
    assert_int_equal(r->as_of, 20190101);
    assert_int_equal(r->n_scopes, 1);
    assert_string_equal(r->scopes[0]->kind, "province");
    assert_string_equal(r->scopes[0]->name, "海南省");
    assert_int_equal(r->scopes[0]->units, NUNITS);
    assert_int_equal(r->scopes[0]->units_reporting, 2);
    assert_int_equal(r->scopes[0]->participants, 12);
    assert_int_equal(r->scopes[0]->hours_tenths, 35);
    assert_int_equal(r->scopes[0]->items_no_visit, 4);
    rollout__status_reply__free_unpacked(r, NULL);

    r = s_ask(status, ROLLOUT__QUERY__QUERY_UNIT, "469002-003");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->scopes[0]->kind, "unit");
    assert_string_equal(r->scopes[0]->level, "municipal");
    assert_string_equal(r->scopes[0]->division, "469002");
    assert_int_equal(r->scopes[0]->last_seq, 1);
    assert_int_equal(r->scopes[0]->sessions, 1);
    rollout__status_reply__free_unpacked(r, NULL);

    r = s_ask(status, ROLLOUT__QUERY__QUERY_UNIT, "469030-999");
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->error, "unknown unit"));
    rollout__status_reply__free_unpacked(r, NULL);

    /* attainment queries need the engine (test_status covers them) */
    r = s_ask(status, ROLLOUT__QUERY__QUERY_LAGGARDS, NULL);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->error, "no targets"));
    rollout__status_reply__free_unpacked(r, NULL);

    r = s_ask(status, ROLLOUT__QUERY__QUERY_VERIFY, NULL);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->metrics[0]->name, "differences");
    assert_true(r->metrics[0]->value == 0.0);
    rollout__status_reply__free_unpacked(r, NULL);

    r = s_ask(status, ROLLOUT__QUERY__QUERY_METRICS, NULL);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->metrics[0]->name, "reports_stored");
    assert_true(r->metrics[0]->value == 2.0);
    rollout__status_reply__free_unpacked(r, NULL);

    /* junk and unknown fields are bad requests, not crashes */
    uint8_t *out = NULL;
    size_t out_len = 0;
    const uint8_t junk[] = {0x08, 0x01, 0xfa, 0x07, 0x01, 0x00}; /* field 127, unknown */
    assert_int_equal(hub_status_answer(status, junk, sizeof junk, NOW, &out, &out_len), 0);
    r = rollout__status_reply__unpack(NULL, out_len, out);
    free(out);
    assert_non_null(r);
    assert_int_equal(r->status, 2);
    rollout__status_reply__free_unpacked(r, NULL);
    hub_status_destroy(&status);
    assert_null(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_and_aggregates),
        cmocka_unit_test(test_duplicate_refused_and_found_by_hash),
        cmocka_unit_test(test_rollback_leaves_nothing),
        cmocka_unit_test(test_states_survive_reopen),
        cmocka_unit_test(test_load_states_matches_rows_by_id),
        cmocka_unit_test(test_map_units_reads_only),
        cmocka_unit_test(test_second_connection_keeps_the_wal),
        cmocka_unit_test(test_garbage_file_refused_untouched),
        cmocka_unit_test(test_truncated_db_refused_untouched),
        cmocka_unit_test(test_newer_schema_and_foreign_db_refused),
        cmocka_unit_test(test_recount_detects_tampering),
        cmocka_unit_test(test_states_as_of),
        cmocka_unit_test(test_max_store_bytes_makes_it_full),
        cmocka_unit_test_setup_teardown(test_ingest_dedup_acks_each_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_conflict_gap_invalid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_unknown_malformed_heartbeat, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_batch_full, s_setup, s_teardown),
        cmocka_unit_test(test_ingest_holds_batch_while_full),
        cmocka_unit_test_setup_teardown(test_status_answers, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
