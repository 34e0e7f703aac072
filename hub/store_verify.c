/* hub_store's recount and fast check: the stored units rows and unit_days
 * rows against the reports they were folded from (see RECOUNT_SQL in
 * store_db.h), and the reports' runs against the reports, on the caller's
 * connection or in a thread with a connection of its own (the verifier);
 * the fast check at start: the units rows against the runs. */
#include "store_db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Columns of the recount statement: 0 id, 1..15 the stored units row in
 * UNIT_COLUMNS order, 16.. the recount (see s_recount_fields). */
static const struct {
    const char *name; /* units column */
    int stored;       /* its column in the recount row */
    int recount;      /* the recomputed value's column */
} s_recount_fields[] = {
    {"reports", 3, 17},          {"participants", 4, 18}, {"hours_tenths", 5, 19},
    {"sessions", 6, 20},         {"staff_date", 7, 21},   {"staff_total", 8, 22},
    {"staff_proficient", 9, 23}, {"items_date", 10, 24},  {"items_total", 11, 25},
    {"items_no_visit", 12, 26},  {"cases_month", 13, 27}, {"cases_total", 14, 28},
    {"cases_no_visit", 15, 29},
};
#define RECOUNT_MAXSEQ 16

/* Difference ndiff (unit, field, stored, recount) into diffs when there
 * is room (up to cap); returns ndiff + 1. */
static long s_diff(hub_store_diff_t *diffs, size_t cap, long ndiff, const char *unit,
                   const char *field, int64_t stored, int64_t recount)
{
    if (diffs && (size_t)ndiff < cap) {
        hub_store_diff_t *d = &diffs[ndiff];
        snprintf(d->unit, sizeof d->unit, "%s", unit ? unit : "?");
        snprintf(d->field, sizeof d->field, "%s", field ? field : "?");
        d->stored = stored;
        d->recount = recount;
    }
    return ndiff + 1;
}

/* Step the recount statement st (bound) to its end, comparing each units
 * row with the recount. Returns the number of differences (up to cap of
 * them written to diffs) and sets *rc to SQLite's last code: SQLITE_DONE
 * unless the scan failed. */
static long s_recount_scan(sqlite3_stmt *st, hub_store_diff_t *diffs, size_t cap, uint64_t *nunits,
                           uint64_t *nreports, int *rc)
{
    long ndiff = 0;
    *nunits = *nreports = 0;
    while ((*rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        (*nunits)++;
        *nreports += (uint64_t)sqlite3_column_int64(st, 17);
        size_t nf = sizeof s_recount_fields / sizeof s_recount_fields[0];
        for (size_t f = 0; f <= nf; f++) {
            const char *name;
            int64_t stored, recount;
            if (f == nf) {
                /* last_seq covers refusals too, so it may exceed the highest report */
                name = "last_seq";
                stored = sqlite3_column_int64(st, 1);
                recount = sqlite3_column_int64(st, RECOUNT_MAXSEQ);
                if (stored >= recount)
                    continue;
            } else {
                name = s_recount_fields[f].name;
                stored = sqlite3_column_int64(st, s_recount_fields[f].stored);
                recount = sqlite3_column_int64(st, s_recount_fields[f].recount);
                if (stored == recount)
                    continue;
            }
            ndiff = s_diff(diffs, cap, ndiff, (const char *)id, name, stored, recount);
        }
    }
    return ndiff;
}

/* The days check: each unit's reports (held ones aside) in the order
 * store_days_redo folds them (a row expected at each day), the counted
 * ones folded and every one's last change (CHANGED_AT) in the running
 * changed_at, beside the unit_days rows in key order. */
#define DAYS_EXPECTED_SQL                                                                          \
    "SELECT r.uid, u.id, r.kind, r.date, r.total, r.part, " REPORT_DAY " AS day, u.day_stale,"     \
    " r.state, " CHANGED_AT " FROM reports r JOIN units u ON u.uid = r.uid"                        \
    " LEFT JOIN " CHANGED_EVENTS("") " e ON e.uid = r.uid AND e.target_iid = r.iid"                \
                                     " AND e.target_seq = r.seq WHERE r.state NOT IN (1, 2)"       \
                                     " ORDER BY r.uid, day, r.received_at, r.iid, r.seq"
#define DAYS_STORED_SQL                                                                            \
    "SELECT d.uid, u.id, d.date, d.reports, d.participants, d.hours_tenths, d.sessions,"           \
    " d.staff_date, d.staff_total, d.staff_proficient, d.items_date, d.items_total,"               \
    " d.items_no_visit, d.cases_month, d.cases_total, d.cases_no_visit, d.changed_at"              \
    " FROM unit_days d LEFT JOIN units u ON u.uid = d.uid"                                         \
    " WHERE IFNULL(u.day_stale, 0) = 0 OR d.date < u.day_stale ORDER BY d.uid, d.date"

static const char *s_agg_names[] = {
    "reports",     "participants",     "hours_tenths",   "sessions",    "staff_date",
    "staff_total", "staff_proficient", "items_date",     "items_total", "items_no_visit",
    "cases_month", "cases_total",      "cases_no_visit",
};

/* A difference of unit id's day: field of the row of that day (or the row
 * itself, field NULL: missing, stored 0, or one too many, recount 0). */
static void s_day_diff(hub_store_diff_t *diffs, size_t cap, long *ndiff, const char *id,
                       uint32_t day, const char *field, int64_t stored, int64_t recount)
{
    char name[sizeof diffs->field];
    snprintf(name, sizeof name, "%s of %u", field ? field : "day row", day);
    *ndiff = s_diff(diffs, cap, *ndiff, id, name, stored, recount);
}

/* The stored rows of uid before day (all of them: UINT32_MAX) are not
 * expected: each is one too many. Leaves *rc at the first row not passed. */
static void s_days_extra(sqlite3_stmt *rows, int *rc, int64_t uid, uint32_t day,
                         hub_store_diff_t *diffs, size_t cap, long *ndiff)
{
    while (*rc == SQLITE_ROW) {
        int64_t u = sqlite3_column_int64(rows, 0);
        uint32_t d = (uint32_t)sqlite3_column_int64(rows, 2);
        if (u > uid || (u == uid && d >= day))
            return;
        s_day_diff(diffs, cap, ndiff, (const char *)sqlite3_column_text(rows, 1), d, NULL,
                   sqlite3_column_int64(rows, 3), 0);
        *rc = sqlite3_step(rows);
    }
}

/* Compare the fold of uid (id) as of day, agg, and its last change at,
 * with the stored row of that day, if *rc is on it (else it is missing). */
static void s_days_compare(sqlite3_stmt *rows, int *rc, int64_t uid, const char *id, uint32_t day,
                           const hub_unit_state_t *agg, int64_t at, hub_store_diff_t *diffs,
                           size_t cap, long *ndiff)
{
    int64_t want[STORE_AGGREGATES];
    store_aggregates(agg, want);
    s_days_extra(rows, rc, uid, day, diffs, cap, ndiff);
    if (*rc != SQLITE_ROW || sqlite3_column_int64(rows, 0) != uid ||
        (uint32_t)sqlite3_column_int64(rows, 2) != day) {
        s_day_diff(diffs, cap, ndiff, id, day, NULL, 0, want[0]);
        return;
    }
    for (int f = 0; f < 13; f++) {
        int64_t got = sqlite3_column_int64(rows, 3 + f);
        if (got != want[f])
            s_day_diff(diffs, cap, ndiff, id, day, s_agg_names[f], got, want[f]);
    }
    if (sqlite3_column_int64(rows, 3 + STORE_AGGREGATES) != at)
        s_day_diff(diffs, cap, ndiff, id, day, "changed_at",
                   sqlite3_column_int64(rows, 3 + STORE_AGGREGATES), at);
    *rc = sqlite3_step(rows);
}

/* Each row of sql (unit, field, stored, recount) a difference, after the
 * first ndiff of diffs. Sets *rc to SQLITE_DONE unless a read failed. */
static long s_diff_rows(sqlite3 *db, const char *sql, hub_store_diff_t *diffs, size_t cap,
                        long ndiff, int *rc)
{
    sqlite3_stmt *st = NULL;
    *rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    while (*rc == SQLITE_OK && (*rc = sqlite3_step(st)) == SQLITE_ROW) {
        ndiff = s_diff(diffs, cap, ndiff, (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2),
                       sqlite3_column_int64(st, 3));
        *rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return ndiff;
}

/* Each unit's last_day against its latest unit_days row (an as-of
 * question on or after last_day reads the units row). */
#define LAST_DAY_CHECK_SQL                                                                         \
    "SELECT id, 'last_day', last_day, m FROM (SELECT u.id, u.last_day,"                            \
    " IFNULL((SELECT max(date) FROM unit_days d WHERE d.uid = u.uid), 0)"                          \
    " AS m FROM units u WHERE day_stale = 0) WHERE last_day <> m ORDER BY id"

/* The reports' runs (report_runs) against the reports: a run whose first
 * or last row is not the report it names (unit id, field "run": the run's
 * last seq, the seq at its last row or 0), and the reports the runs
 * cover in all against the reports there are (unit "(all)"). A resend is
 * found through the runs, so a wrong run would store it twice. */
#define RUNS_CHECK_SQL                                                                             \
    "SELECT u.id, 'run', k.last_seq, IFNULL(l.seq, 0) FROM report_runs k"                          \
    " JOIN incarnations i ON i.iid = k.iid JOIN units u ON u.uid = i.uid"                          \
    " LEFT JOIN reports l ON l.rowid = k.first_row + k.last_seq - k.first_seq AND l.iid = k.iid"   \
    " LEFT JOIN reports f ON f.rowid = k.first_row AND f.iid = k.iid"                              \
    " WHERE l.seq IS NOT k.last_seq OR f.seq IS NOT k.first_seq"                                   \
    " UNION ALL SELECT '(all)', 'reports in runs', r, n FROM (SELECT"                              \
    " (SELECT IFNULL(sum(last_seq - first_seq + 1), 0) FROM report_runs) AS r,"                    \
    " (SELECT count(*) FROM reports) AS n) WHERE r <> n"

long store_days_check(sqlite3 *db, hub_store_diff_t *diffs, size_t cap, long ndiff, int *rc)
{
    sqlite3_stmt *reps = NULL, *rows = NULL;
    *rc = sqlite3_prepare_v2(db, DAYS_EXPECTED_SQL, -1, &reps, NULL);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_prepare_v2(db, DAYS_STORED_SQL, -1, &rows, NULL);
    int rrc = *rc == SQLITE_OK ? sqlite3_step(rows) : *rc;
    int64_t uid = 0;
    uint32_t day = 0, stale = 0;
    char id[RO_UNIT_MAX * 4 + 1] = "";
    int64_t at = 0;
    hub_unit_state_t agg;
    memset(&agg, 0, sizeof agg);
    while (*rc == SQLITE_OK || *rc == SQLITE_ROW) {
        *rc = sqlite3_step(reps);
        int64_t u = *rc == SQLITE_ROW ? sqlite3_column_int64(reps, 0) : INT64_MAX;
        uint32_t d = *rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(reps, 6) : 0;
        /* the day's last report is folded: its row, unless it waits to be
         * re-derived (the stale rows are not read: the check goes on) */
        if (day != 0 && (u != uid || d != day) && (stale == 0 || day < stale))
            s_days_compare(rows, &rrc, uid, id, day, &agg, at, diffs, cap, &ndiff);
        if (*rc != SQLITE_ROW)
            break;
        if (u != uid) {
            memset(&agg, 0, sizeof agg);
            at = 0;
            stale = (uint32_t)sqlite3_column_int64(reps, 7);
            const unsigned char *t = sqlite3_column_text(reps, 1);
            snprintf(id, sizeof id, "%s", t ? (const char *)t : "?");
        }
        if (sqlite3_column_int(reps, 8) == HUB_STORE_COUNTED)
            store_apply_row(reps, 2, &agg);
        if (sqlite3_column_int64(reps, 9) > at)
            at = sqlite3_column_int64(reps, 9);
        uid = u, day = d;
    }
    if (*rc == SQLITE_DONE)
        s_days_extra(rows, &rrc, INT64_MAX, UINT32_MAX, diffs, cap, &ndiff);
    if (*rc == SQLITE_DONE && rrc != SQLITE_DONE)
        *rc = rrc;
    sqlite3_finalize(reps);
    sqlite3_finalize(rows);
    if (*rc == SQLITE_DONE)
        ndiff = s_diff_rows(db, LAST_DAY_CHECK_SQL, diffs, cap, ndiff, rc);
    if (*rc == SQLITE_DONE)
        ndiff = store_scopes_check(db, diffs, cap, ndiff, rc);
    if (*rc == SQLITE_DONE)
        ndiff = s_diff_rows(db, RUNS_CHECK_SQL, diffs, cap, ndiff, rc);
    return ndiff;
}

long hub_store_recount(hub_store_t *self, hub_store_diff_t *diffs, size_t cap, uint64_t *units,
                       uint64_t *reports, char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_RECOUNT];
    sqlite3_bind_int64(st, 1, 99991231);
    sqlite3_bind_int64(st, 2, 999912);
    uint64_t nunits = 0, nreports = 0;
    int rc;
    long out = s_recount_scan(st, diffs, cap, &nunits, &nreports, &rc);
    if (rc == SQLITE_DONE)
        out = store_days_check(self->db, diffs, cap, out, &rc);
    if (rc != SQLITE_DONE) {
        out = store_fail(self, rc, "cannot recount", err, errlen);
        if (store_is_damage(rc) && err && errlen)
            store_damaged(self->path, sqlite3_errmsg(self->db), err, errlen);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (out >= 0) {
        if (units)
            *units = nunits;
        if (reports)
            *reports = nreports;
    }
    return out;
}

/* The fast check, in the units' table order: a row per incarnation, a unit's rows one
 * after the other. The highest seq stored under an incarnation is its
 * last run's (report_runs: one seek; that the runs name the reports is
 * the recount's to check, store_days_check); the refusals' highest seq
 * per incarnation comes from one pass over their index (refusals are
 * few). The higher of the two is its last_seq (INC_LAST_SEQ); the
 * column incarnations.last_seq, written until schema 9, may be behind it
 * but not ahead (ahead, reports or refusals the store held are gone). A
 * unit's last_seqs summed are what its incarnations have handled in all,
 * which its reports cannot exceed. */
#define CHECK_SQL                                                                                  \
    "SELECT u.uid, u.id, IFNULL(i.last_seq, 0), u.reports,"                                        \
    " IFNULL((SELECT max(k.last_seq) FROM report_runs k WHERE k.iid = i.iid), 0),"                 \
    " IFNULL(f.maxseq, 0)"                                                                         \
    " FROM units u LEFT JOIN incarnations i ON i.uid = u.uid"                                      \
    " LEFT JOIN (SELECT unit, iid, max(seq) AS maxseq FROM refusals"                               \
    " GROUP BY unit, iid) f ON f.unit = u.id AND f.iid = i.iid ORDER BY u.uid"

/* The fast check's progress and outcome. */
typedef struct {
    sqlite3 *db;                                    /* the connection it reads with */
    hub_store_diff_t *diffs;                        /* the first cap differences (may be NULL) */
    size_t cap;                                     /* room in diffs */
    long ndiff;                                     /* differences found */
    uint64_t units;                                 /* units looked at */
    int64_t uid;                                    /* the unit of the rows before... */
    char last[sizeof((hub_store_diff_t *)0)->unit]; /* ...its id, */
    int64_t reports, all; /* its reports, and the last_seq of its incarnations summed */
    int first_off;        /* its first row had a difference */
    int rc;               /* SQLITE_DONE, or why it stopped */
    int damaged;          /* the file is damaged */
    char msg[256];        /* SQLite's message when rc is not SQLITE_DONE */
} s_check_t;

/* The unit's rows ended: its reports fit below what its incarnations
 * handled in all (one difference for a unit's first row, as before). */
static void s_check_unit_end(s_check_t *p)
{
    if (p->units && !p->first_off && p->reports > p->all)
        p->ndiff = s_diff(p->diffs, p->cap, p->ndiff, p->last, "reports", p->reports, p->all);
}

static void s_check_units(s_check_t *p)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(p->db, CHECK_SQL, -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        int64_t uid = sqlite3_column_int64(st, 0);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        int64_t last = sqlite3_column_int64(st, 2);
        int64_t maxrep = sqlite3_column_int64(st, 4), maxref = sqlite3_column_int64(st, 5);
        int64_t handled = maxrep > maxref ? maxrep : maxref;
        int first = p->units == 0 || uid != p->uid;
        if (first) {
            s_check_unit_end(p);
            p->units++;
            p->uid = uid;
            snprintf(p->last, sizeof p->last, "%s", id ? id : "?");
            p->reports = sqlite3_column_int64(st, 3);
            p->all = 0;
            p->first_off = 0;
        }
        p->all += last > handled ? last : handled;
        if (last > handled) {
            p->ndiff = s_diff(p->diffs, p->cap, p->ndiff, p->last, "last_seq", last, handled);
            p->first_off |= first;
        }
    }
    if (rc == SQLITE_DONE)
        s_check_unit_end(p);
    p->rc = rc;
    if (rc != SQLITE_DONE) {
        p->damaged = store_is_damage(rc) || store_is_damage(sqlite3_extended_errcode(p->db));
        snprintf(p->msg, sizeof p->msg, "%s", sqlite3_errmsg(p->db));
    }
    sqlite3_finalize(st);
}

/* The newest report, read whole: the pages the last writes went to are
 * read at start (the per-unit part reads no report). Sets p->rc. */
static int s_check_tail(s_check_t *p)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(p->db, "SELECT * FROM reports ORDER BY rowid DESC LIMIT 1", -1, &st,
                                NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            for (int i = 0; i < sqlite3_column_count(st); i++)
                sqlite3_column_bytes(st, i);
    }
    p->rc = rc;
    if (rc != SQLITE_DONE) {
        p->damaged = store_is_damage(rc) || store_is_damage(sqlite3_extended_errcode(p->db));
        snprintf(p->msg, sizeof p->msg, "%s", sqlite3_errmsg(p->db));
    }
    sqlite3_finalize(st);
    return rc;
}

long hub_store_check_fast(hub_store_t *self, hub_store_diff_t *diffs, size_t cap, uint64_t *units,
                          char *err, size_t errlen)
{
    /* the units, their incarnations and runs are read through indexes
     * (about 60 ms for 100,000 units); the reports only at their end */
    s_check_t p = {.db = self->db, .diffs = diffs, .cap = cap};
    if (s_check_tail(&p) == SQLITE_DONE)
        s_check_units(&p);
    if (p.rc != SQLITE_DONE) {
        if (err && errlen && p.damaged)
            store_damaged(self->path, p.msg, err, errlen);
        else if (err && errlen)
            snprintf(err, errlen, "%s: cannot check: %s", self->path, p.msg);
        return HUB_STORE_EFAIL;
    }
    if (units)
        *units = p.units;
    return p.ndiff;
}

/* ---- the recount in a thread of its own ---------------------------------- */

struct hub_store_verifier {
    sqlite3 *db;                 /* read-only connection of its own */
    sqlite3_stmt *st;            /* the recount */
    char path[512];              /* for messages */
    hub_store_verified_fn done;  /* called once, from the thread */
    void *arg;                   /* done's argument */
    pthread_t thread;            /* runs s_verifier_main */
    int started;                 /* the thread exists: join it */
    hub_store_verify_result_t r; /* what it found */
};

static void *s_verifier_main(void *arg)
{
    hub_store_verifier_t *self = arg;
    hub_store_verify_result_t *r = &self->r;
    pthread_setname_np(pthread_self(), "hub-verify");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc;
    r->differences =
        s_recount_scan(self->st, r->diffs, HUB_STORE_VERIFY_SHOWN, &r->units, &r->reports, &rc);
    sqlite3_reset(self->st); /* its read ends: the days are read in a snapshot of their own */
    if (rc == SQLITE_DONE)
        r->differences =
            store_days_check(self->db, r->diffs, HUB_STORE_VERIFY_SHOWN, r->differences, &rc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (rc != SQLITE_DONE) {
        r->interrupted = (rc & 0xff) == SQLITE_INTERRUPT;
        r->damaged = store_is_damage(rc) || store_is_damage(sqlite3_errcode(self->db));
        if (r->damaged)
            store_damaged(self->path, sqlite3_errmsg(self->db), r->error, sizeof r->error);
        else
            snprintf(r->error, sizeof r->error, "%s: cannot recount: %s", self->path,
                     sqlite3_errmsg(self->db));
        r->differences = HUB_STORE_EFAIL;
    }
    sqlite3_reset(self->st);
    if (self->done)
        self->done(r, self->arg);
    return NULL;
}

hub_store_verifier_t *hub_store_verify_start(const char *path, hub_store_verified_fn done,
                                             void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    hub_store_verifier_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(self->path, sizeof self->path, "%s", path);
    self->done = done;
    self->arg = arg;
    int rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(self->db, 1);
        sqlite3_busy_timeout(self->db, 5000);
        rc = sqlite3_prepare_v2(self->db, RECOUNT_SQL, -1, &self->st, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(self->st, 1, 99991231);
        sqlite3_bind_int64(self->st, 2, 999912);
        rc = pthread_create(&self->thread, NULL, s_verifier_main, self);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
            hub_store_verify_destroy(&self);
            return NULL;
        }
        self->started = 1;
        return self;
    }
    snprintf(err, errlen, "%s: cannot open for a recount: %s", path,
             self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
    hub_store_verify_destroy(&self);
    return NULL;
}

void hub_store_verify_destroy(hub_store_verifier_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_store_verifier_t *self = *self_p;
    if (self->started) {
        sqlite3_interrupt(self->db); /* a recount still running stops at its next row */
        pthread_join(self->thread, NULL);
    }
    sqlite3_finalize(self->st);
    sqlite3_close(self->db);
    free(self);
    *self_p = NULL;
}
