/* mkstore: builds a large hub.db fast, for the hub's start-time and memory
 * figures: the schema and the units rows come from hub_store itself, the
 * raw reports are bulk-inserted unit after unit (one run each) with SQLite's journal
 * and syncs OFF (setup only: nothing is acknowledged to anyone), and the
 * per-unit aggregates are folded with the hub's own hub_state_apply and
 * written back through hub_store, so `rolloutctl verify` agrees with them;
 * the units' days (unit_days) are derived by hub_store as the migration to
 * schema 6 derives them. */
#include "bench_util.h"
#include "ro_codec.h"
#include "ro_registry.h"
#include "ro_time.h"
#include "store.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_PER_TX 1000000

static int s_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "mkstore: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Step 1: the schema and the units rows, the hub's way (hub_store makes
 * them on opening a new file). Returns 0, or -1 with the reason on stderr. */
static int s_create(const char *path, const ro_registry_t *reg, hub_unit_state_t *scratch)
{
    char err[512];
    hub_store_t *store = hub_store_open(path, 2, 0, err, sizeof err);
    if (!store || hub_store_load_states(store, reg, scratch, err, sizeof err)) {
        fprintf(stderr, "mkstore: %s\n", err);
        return -1;
    }
    hub_store_destroy(&store);
    return 0;
}

/* The raw reports' bulk insert: the connection, its statement and how far
 * it got. */
typedef struct {
    sqlite3 *db;       /* hub.db, journal and syncs off */
    sqlite3_stmt *ins; /* INSERT INTO reports */
    int64_t now;       /* received_at and last_heard of every report */
    long long rows;    /* reports inserted so far */
} s_bulk_t;

/* Open the store made by hub_store for the bulk insert (journal and syncs
 * off, a big cache), prepare the insert and read each registry unit's uid
 * into uids and its legacy incarnation's iid into iids. Returns 0, or -1
 * with the reason on stderr. */
static int s_bulk_open(s_bulk_t *b, const char *path, const ro_registry_t *reg, int64_t *uids,
                       int64_t *iids)
{
    sqlite3_stmt *units;
    if (sqlite3_open(path, &b->db) != SQLITE_OK || s_exec(b->db, "PRAGMA journal_mode = OFF") ||
        s_exec(b->db, "PRAGMA synchronous = OFF") || s_exec(b->db, "PRAGMA cache_size = -262144") ||
        sqlite3_prepare_v2(b->db,
                           "SELECT u.uid, u.id, i.iid FROM units u JOIN incarnations i"
                           " ON i.uid = u.uid AND i.incarnation = zeroblob(16)",
                           -1, &units, NULL) ||
        sqlite3_prepare_v2(b->db,
                           "INSERT INTO reports(uid, seq, kind, date, total, part, text,"
                           " recorded_at, received_at, hash, iid)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                           -1, &b->ins, NULL)) {
        fprintf(stderr, "mkstore: %s\n", sqlite3_errmsg(b->db));
        return -1;
    }
    while (sqlite3_step(units) == SQLITE_ROW) {
        long i = ro_registry_find(reg, (const char *)sqlite3_column_text(units, 1));
        if (i >= 0) {
            uids[i] = sqlite3_column_int64(units, 0);
            iids[i] = sqlite3_column_int64(units, 2);
        }
    }
    sqlite3_finalize(units);
    return 0;
}

/* Insert reports 1..count of unit (uid) under its legacy incarnation iid
 * and fold each into its state, committing every ROWS_PER_TX rows. Returns
 * 0, or -1 (with the reason on stderr when SQLite gave one). */
static int s_bulk_unit(s_bulk_t *b, const char *unit, int64_t uid, int64_t iid, long long count,
                       hub_unit_state_t *state)
{
    for (long long s = 1; s <= count; s++) {
        ro_report_t r;
        bench_event_make(unit, (uint64_t)s, &r);
        sqlite3_bind_int64(b->ins, 1, uid);
        sqlite3_bind_int64(b->ins, 2, s);
        sqlite3_bind_int(b->ins, 3, (int)r.kind);
        sqlite3_bind_int64(b->ins, 4, r.date);
        sqlite3_bind_int64(b->ins, 5, r.total);
        sqlite3_bind_int64(b->ins, 6, r.part);
        sqlite3_bind_text(b->ins, 7, r.text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(b->ins, 8, r.recorded_at);
        sqlite3_bind_int64(b->ins, 9, b->now);
        sqlite3_bind_int64(b->ins, 10, (sqlite3_int64)ro_report_hash(&r));
        sqlite3_bind_int64(b->ins, 11, iid);
        if (sqlite3_step(b->ins) != SQLITE_DONE) {
            fprintf(stderr, "mkstore: insert: %s\n", sqlite3_errmsg(b->db));
            return -1;
        }
        sqlite3_reset(b->ins);
        hub_state_apply(state, &r);
        state->last_seq = (uint64_t)s;
        state->last_heard = b->now;
        if (++b->rows % ROWS_PER_TX == 0 && (s_exec(b->db, "COMMIT") || s_exec(b->db, "BEGIN")))
            return -1;
    }
    return 0;
}

/* Step 2: total raw reports spread evenly over the registry's units, in
 * key order (uid, iid, seq), in big unsynced transactions, folded into
 * states. Sets *rows and *secs (the time it took). Returns 0, or -1. */
static int s_insert_reports(const char *path, const ro_registry_t *reg, long long total,
                            hub_unit_state_t *states, int64_t *uids, int64_t *iids, long long *rows,
                            double *secs)
{
    s_bulk_t b;
    memset(&b, 0, sizeof b);
    if (s_bulk_open(&b, path, reg, uids, iids) != 0)
        return -1;
    size_t n = ro_registry_count(reg);
    b.now = ro_time_now();
    int64_t t0 = bench_now_ns();
    if (s_exec(b.db, "BEGIN"))
        return -1;
    for (size_t i = 0; i < n; i++) {
        long long mine = total / (long long)n + ((long long)i < total % (long long)n ? 1 : 0);
        if (s_bulk_unit(&b, ro_registry_at(reg, i)->id, uids[i], iids[i], mine, &states[i]) != 0)
            return -1;
    }
    /* each unit's reports went in one after the other: one run each */
    if (s_exec(b.db, "INSERT INTO report_runs SELECT iid, max(seq), min(seq), min(rowid)"
                     " FROM reports GROUP BY iid, seq - rowid") ||
        s_exec(b.db, "COMMIT"))
        return -1;
    sqlite3_finalize(b.ins);
    sqlite3_close(b.db);
    *rows = b.rows;
    *secs = (double)(bench_now_ns() - t0) / 1e9;
    return 0;
}

/* Step 3: write the folded states back through the hub's own store code (in
 * WAL, FULL), so the aggregates are the hub's. Returns 0, or -1 with the
 * reason on stderr. */
static int s_write_states(const char *path, const ro_registry_t *reg, hub_unit_state_t *scratch,
                          const hub_unit_state_t *states, double *days_secs)
{
    char err[512];
    size_t n = ro_registry_count(reg);
    hub_store_t *store = hub_store_open(path, 2, 0, err, sizeof err);
    int rc = !store || hub_store_load_states(store, reg, scratch, err, sizeof err) ||
             hub_store_begin(store, err, sizeof err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = hub_store_put_state(store, i, &states[i], HUB_STORE_DAYS_NOW, err, sizeof err);
    if (!rc)
        rc = hub_store_commit(store, err, sizeof err);
    /* the reports went in around hub_store: their unit_days rows too */
    int64_t t0 = bench_now_ns();
    if (!rc)
        rc = hub_store_days_rebuild(store, err, sizeof err);
    *days_secs = (double)(bench_now_ns() - t0) / 1e9;
    if (rc) {
        fprintf(stderr, "mkstore: %s\n", err);
        return -1;
    }
    hub_store_destroy(&store);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mkstore REGISTRY HUB_DB REPORTS\n"
                        "  writes a new hub store with REPORTS reports spread evenly over the\n"
                        "  registry's units (the file must not exist)\n");
        return 2;
    }
    const char *registry = argv[1], *path = argv[2];
    long long total = atoll(argv[3]);
    char err[512];
    FILE *exists = fopen(path, "r");
    if (exists) {
        fclose(exists);
        fprintf(stderr, "mkstore: %s exists; it writes new stores only\n", path);
        return 1;
    }
    ro_registry_t *reg = ro_registry_load(registry, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "mkstore: %s\n", err);
        return 1;
    }
    size_t n = ro_registry_count(reg);
    hub_unit_state_t *states = calloc(n, sizeof *states), *scratch = calloc(n, sizeof *scratch);
    int64_t *uids = calloc(n, sizeof *uids), *iids = calloc(n, sizeof *iids);
    if (!states || !scratch || !uids || !iids)
        return 1;

    long long rows = 0;
    double secs = 0, days_secs = 0;
    if (s_create(path, reg, scratch) != 0 ||
        s_insert_reports(path, reg, total, states, uids, iids, &rows, &secs) != 0 ||
        s_write_states(path, reg, scratch, states, &days_secs) != 0)
        return 1;
    printf("units=%zu reports=%lld insert_seconds=%.1f rows_per_s=%.0f days_seconds=%.1f\n", n,
           rows, secs, secs > 0 ? (double)rows / secs : 0, days_secs);
    free(states);
    free(scratch);
    free(uids);
    free(iids);
    ro_registry_destroy(&reg);
    return 0;
}
