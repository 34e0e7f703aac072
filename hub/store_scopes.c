/* scope_days: the province's, each level's and each division's figures as
 * of any day, kept in the same transaction as the unit_days rows they add
 * up (store_db.h says what a row holds). The write connection's triggers
 * note each unit_days row a transaction changes, as it was before; at the
 * commit each changed unit's rows around them are read once, and the
 * difference between the unit's day-to-day changes after and before goes
 * into its scopes' rows. Every writer of unit_days is covered alike, with
 * no bookkeeping of its own. */
#include "store_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The scopes' keys in scope_days: the province 0, a level its ro_level_t
 * + 1, a division its code. */
#define SCOPE_PROVINCE 0u

uint32_t store_scope_code(const ro_unit_t *u)
{
    return u->division * 10u + (uint32_t)u->level + 1u;
}

/* The three scopes of a code. */
static void s_scopes_of(uint32_t code, uint32_t out[3])
{
    out[0] = SCOPE_PROVINCE;
    out[1] = code % 10u;
    out[2] = code / 10u;
}

/* ---- the scopes' pending changes: (scope, day) -> figures ------------- */

static uint64_t s_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return key;
}

static int s_sday_grow(hub_store_t *self)
{
    size_t cap = self->sdaycap ? self->sdaycap * 2 : 256;
    struct store_scope_day *t = calloc(cap, sizeof *t);
    uint32_t *used = malloc((cap / 4 * 3 + 1) * sizeof *used);
    if (!t || !used) {
        free(t);
        free(used);
        return -1;
    }
    for (size_t i = 0; i < self->sdayn; i++) {
        const struct store_scope_day *d = &self->sdays[self->sdayused[i]];
        size_t j = (size_t)s_hash(d->key) & (cap - 1);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = *d;
        used[i] = (uint32_t)j;
    }
    free(self->sdays);
    free(self->sdayused);
    self->sdays = t;
    self->sdayused = used;
    self->sdaycap = cap;
    return 0;
}

/* Add sign * v to scope's change on day. Out of memory: scope_lost. */
static void s_sday_add(hub_store_t *self, uint32_t scope, uint32_t day, const int64_t *v, int sign)
{
    if ((self->sdayn + 1) * 4 > self->sdaycap * 3 && s_sday_grow(self)) {
        self->scope_lost = 1;
        return;
    }
    uint64_t key = (uint64_t)scope << 32 | day;
    size_t j = (size_t)s_hash(key) & (self->sdaycap - 1);
    while (self->sdays[j].key && self->sdays[j].key != key)
        j = (j + 1) & (self->sdaycap - 1);
    if (!self->sdays[j].key) {
        self->sdays[j].key = key;
        self->sdayused[self->sdayn++] = (uint32_t)j;
    }
    for (int f = 0; f < STORE_SCOPE_FIGS; f++)
        self->sdays[j].v[f] += sign * v[f];
}

/* A unit's rows as a step function: a row's figures hold from its day
 * until the next row. */
typedef struct {
    uint32_t date;
    int64_t v[STORE_SCOPE_FIGS];
} s_row_t;

/* Add sign * each row's change from the row before it (the first's from
 * nothing) to the scopes of code. */
static void s_steps(hub_store_t *self, uint32_t code, const s_row_t *rows, size_t n, int sign)
{
    uint32_t scopes[3];
    s_scopes_of(code, scopes);
    int64_t prev[STORE_SCOPE_FIGS] = {0};
    for (size_t k = 0; k < n; k++) {
        int64_t d[STORE_SCOPE_FIGS];
        int any = 0;
        for (int f = 0; f < STORE_SCOPE_FIGS; f++) {
            d[f] = rows[k].v[f] - prev[f];
            any |= d[f] != 0;
            prev[f] = rows[k].v[f];
        }
        for (int s = 0; any && s < 3; s++)
            s_sday_add(self, scopes[s], rows[k].date, d, sign);
    }
}

/* ---- reading a unit's rows -------------------------------------------- */

typedef struct {
    s_row_t *rows;
    size_t n, cap;
} s_rows_t;

static int s_rows_push(s_rows_t *r, const s_row_t *row)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        s_row_t *g = realloc(r->rows, cap * sizeof *g);
        if (!g)
            return -1;
        r->rows = g, r->cap = cap;
    }
    r->rows[r->n++] = *row;
    return 0;
}

/* Unit uid's rows from the last one before day from on, up to the first
 * one after day until (all of them: UINT32_MAX), into out. Returns 0 or a
 * code. */
static int s_read_rows(hub_store_t *self, int64_t uid, uint32_t from, uint32_t until, s_rows_t *out,
                       char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_SCOPE_ROWS];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, from);
    int rc, out_rc = 0;
    out->n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        s_row_t row;
        row.date = (uint32_t)sqlite3_column_int64(st, 0);
        for (int f = 0; f < STORE_SCOPE_FIGS; f++)
            row.v[f] = sqlite3_column_int64(st, 1 + f);
        if (s_rows_push(out, &row)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (row.date > until)
            break; /* the first row after the changed ones: its change from the one before */
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out_rc = store_fail(self, rc, "cannot read a unit's days", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out_rc;
}

/* ---- the triggers ------------------------------------------------------ */

/* ro_day_was(uid, date, existed, reports, participants, hours_tenths,
 * sessions, staff_total, staff_proficient, items_total, items_no_visit,
 * cases_total, cases_no_visit): a unit_days row is about to change (or
 * has just been added: existed 0). */
static void s_day_was(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    hub_store_t *self = sqlite3_user_data(ctx);
    if (self->scope_off)
        return;
    if (self->touchn == self->touchcap) {
        size_t cap = self->touchcap ? self->touchcap * 2 : 256;
        struct store_touch *t = realloc(self->touch, cap * sizeof *t);
        if (!t) {
            self->scope_lost = 1;
            return;
        }
        self->touch = t, self->touchcap = cap;
    }
    struct store_touch *t = &self->touch[self->touchn];
    t->uid = sqlite3_value_int64(argv[0]);
    t->date = (uint32_t)sqlite3_value_int64(argv[1]);
    t->order = (uint32_t)self->touchn++;
    t->existed = sqlite3_value_int(argv[2]);
    t->v[0] = t->existed && sqlite3_value_int64(argv[3]) > 0;
    for (int f = 1; f < STORE_SCOPE_FIGS; f++)
        t->v[f] = t->existed ? sqlite3_value_int64(argv[2 + f]) : 0;
}

#define WAS_FIGS(R)                                                                                \
    R ".reports, " R ".participants, " R ".hours_tenths, " R ".sessions, " R ".staff_total, " R    \
      ".staff_proficient, " R ".items_total, " R ".items_no_visit, " R ".cases_total, " R          \
      ".cases_no_visit"

int store_scopes_setup(hub_store_t *self, char *err, size_t errlen)
{
    static const char *sql =
        "PRAGMA recursive_triggers = ON;" /* an INSERT OR REPLACE's delete tells the row */
        "CREATE TEMP TRIGGER ro_day_added AFTER INSERT ON main.unit_days BEGIN"
        " SELECT ro_day_was(NEW.uid, NEW.date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0); END;"
        "CREATE TEMP TRIGGER ro_day_changed AFTER UPDATE OF reports, participants,"
        " hours_tenths, sessions, staff_total, staff_proficient, items_total, items_no_visit,"
        " cases_total, cases_no_visit ON main.unit_days BEGIN"
        " SELECT ro_day_was(OLD.uid, OLD.date, 1, " WAS_FIGS(
            "OLD") "); END;"
                   "CREATE TEMP TRIGGER ro_day_gone AFTER DELETE ON main.unit_days BEGIN"
                   " SELECT ro_day_was(OLD.uid, OLD.date, 1, " WAS_FIGS("OLD") "); END;";
    char *msg = NULL;
    int rc = sqlite3_create_function(self->db, "ro_day_was", 13, SQLITE_UTF8, self, s_day_was, NULL,
                                     NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(self->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot set up the scopes' days: %s", self->path,
                 msg ? msg : sqlite3_errmsg(self->db));
        sqlite3_free(msg);
        return HUB_STORE_EFAIL;
    }
    return 0;
}

/* ---- where a unit is counted ------------------------------------------ */

/* The code unit uid's rows are counted under (units.scope; 0: none) into
 * *code. Returns 0 or a code. */
static int s_code_of(hub_store_t *self, int64_t uid, uint32_t *code, char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_UNIT_SCOPE_OF];
    sqlite3_bind_int64(st, 1, uid);
    int rc = sqlite3_step(st);
    *code = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE
                  ? 0
                  : store_fail(self, rc, "cannot read a unit's scope", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

/* ---- moving and counting units ----------------------------------------- */

int store_scopes_move(hub_store_t *self, int64_t uid, uint32_t from, uint32_t to, char *err,
                      size_t errlen)
{
    s_rows_t r = {NULL, 0, 0};
    int rc = s_read_rows(self, uid, 0, UINT32_MAX, &r, err, errlen);
    if (rc == 0) {
        if (from)
            s_steps(self, from, r.rows, r.n, -1);
        if (to)
            s_steps(self, to, r.rows, r.n, 1);
        sqlite3_stmt *st = self->q[Q_UNIT_SCOPE];
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, to);
        int src = sqlite3_step(st);
        if (src != SQLITE_DONE)
            rc = store_fail(self, src, "cannot write a unit's scope", err, errlen);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    free(r.rows);
    return rc;
}

int store_scopes_recount(hub_store_t *self, char *err, size_t errlen)
{
    char *msg = NULL;
    store_scopes_forget(self);
    int rc = sqlite3_exec(self->db, "DELETE FROM scope_days", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot count the scopes again: %s",
                 msg ? msg : sqlite3_errmsg(self->db));
        sqlite3_free(msg);
        return (rc & 0xff) == SQLITE_FULL ? HUB_STORE_EFULL : HUB_STORE_EFAIL;
    }
    /* each unit where units.scope says: the registry's codes as
     * hub_store_load_states set them, also when it is this transaction
     * that moves them (the commit of a load that lost a change) */
    sqlite3_stmt *units = NULL;
    rc = sqlite3_prepare_v2(self->db, "SELECT uid, scope FROM units WHERE scope <> 0", -1, &units,
                            NULL);
    int out = rc == SQLITE_OK ? 0 : store_fail(self, rc, "cannot read the units", err, errlen);
    s_rows_t r = {NULL, 0, 0};
    while (out == 0 && (rc = sqlite3_step(units)) == SQLITE_ROW) {
        out = s_read_rows(self, sqlite3_column_int64(units, 0), 0, UINT32_MAX, &r, err, errlen);
        if (out == 0)
            s_steps(self, (uint32_t)sqlite3_column_int64(units, 1), r.rows, r.n, 1);
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = store_fail(self, rc, "cannot read the units", err, errlen);
    sqlite3_finalize(units);
    free(r.rows);
    return out;
}

/* ---- the commit --------------------------------------------------------- */

/* A slot of the scopes' table by its key, to write them in key order. */
typedef struct {
    uint64_t key;
    uint32_t slot;
} s_slot_t;

static int s_slot_cmp(const void *a, const void *b)
{
    uint64_t x = ((const s_slot_t *)a)->key, y = ((const s_slot_t *)b)->key;
    return (x > y) - (x < y);
}

static int s_touch_cmp(const void *a, const void *b)
{
    const struct store_touch *x = a, *y = b;
    if (x->uid != y->uid)
        return x->uid < y->uid ? -1 : 1;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The changes of unit uid's rows t[0..n) (by date, each day's first
 * change first) into its scopes: its rows read from the one before the
 * first day changed to the first one after the last, as they are now
 * (after) and as they were (before: the changed days as noted), and the
 * difference of their steps. */
static int s_flush_unit(hub_store_t *self, const struct store_touch *t, size_t n, s_rows_t *after,
                        s_rows_t *before, char *err, size_t errlen)
{
    uint32_t code;
    int rc = s_code_of(self, t[0].uid, &code, err, errlen);
    if (rc || !code)
        return rc; /* counted in no scope */
    rc = s_read_rows(self, t[0].uid, t[0].date, t[n - 1].date, after, err, errlen);
    if (rc)
        return rc;
    before->n = 0;
    size_t a = 0, k = 0;
    while (a < after->n || k < n) {
        uint32_t ad = a < after->n ? after->rows[a].date : UINT32_MAX;
        uint32_t kd = k < n ? t[k].date : UINT32_MAX;
        s_row_t row;
        if (kd <= ad) { /* a changed day: as it was, if it was */
            if (t[k].existed) {
                row.date = kd;
                memcpy(row.v, t[k].v, sizeof row.v);
                if (s_rows_push(before, &row))
                    return HUB_STORE_EFAIL;
            }
            uint32_t d = kd;
            while (k < n && t[k].date == d)
                k++;
            if (ad == d)
                a++;
        } else if (s_rows_push(before, &after->rows[a++])) {
            return HUB_STORE_EFAIL;
        }
    }
    s_steps(self, code, after->rows, after->n, 1);
    s_steps(self, code, before->rows, before->n, -1);
    return 0;
}

int store_scopes_flush(hub_store_t *self, char *err, size_t errlen)
{
    int rc = 0;
    if (self->touchn) {
        qsort(self->touch, self->touchn, sizeof *self->touch, s_touch_cmp);
        s_rows_t after = {NULL, 0, 0}, before = {NULL, 0, 0};
        size_t i = 0, w = 0;
        /* keep each (uid, day)'s first change: how the row was */
        for (i = 0; i < self->touchn; i++)
            if (w == 0 || self->touch[i].uid != self->touch[w - 1].uid ||
                self->touch[i].date != self->touch[w - 1].date)
                self->touch[w++] = self->touch[i];
        for (i = 0; rc == 0 && i < w;) {
            size_t j = i;
            while (j < w && self->touch[j].uid == self->touch[i].uid)
                j++;
            rc = s_flush_unit(self, &self->touch[i], j - i, &after, &before, err, errlen);
            if (rc == HUB_STORE_EFAIL && err && errlen && !err[0])
                snprintf(err, errlen, "out of memory");
            i = j;
        }
        free(after.rows);
        free(before.rows);
        self->touchn = 0;
    }
    if (rc == 0 && self->scope_lost) {
        self->scope_lost = 0;
        rc = store_scopes_recount(self, err, errlen);
    }
    /* in the table's key order (scope, date): each leaf page once */
    s_slot_t *order = self->sdayn ? malloc(self->sdayn * sizeof *order) : NULL;
    if (self->sdayn && !order)
        rc = store_fail(self, SQLITE_NOMEM, "cannot write a scope's day", err, errlen);
    for (size_t i = 0; order && i < self->sdayn; i++)
        order[i] = (s_slot_t){self->sdays[self->sdayused[i]].key, self->sdayused[i]};
    if (order)
        qsort(order, self->sdayn, sizeof *order, s_slot_cmp);
    sqlite3_stmt *st = self->q[Q_SCOPE_ADD];
    for (size_t i = 0; rc == 0 && i < self->sdayn; i++) {
        const struct store_scope_day *d = &self->sdays[order[i].slot];
        int any = 0;
        for (int f = 0; f < STORE_SCOPE_FIGS; f++)
            any |= d->v[f] != 0;
        if (!any)
            continue;
        sqlite3_bind_int64(st, 1, (int64_t)(d->key >> 32));
        sqlite3_bind_int64(st, 2, (int64_t)(d->key & 0xffffffffu));
        for (int f = 0; f < STORE_SCOPE_FIGS; f++)
            sqlite3_bind_int64(st, 3 + f, d->v[f]);
        int src = sqlite3_step(st);
        if (src != SQLITE_DONE)
            rc = store_fail(self, src, "cannot write a scope's day", err, errlen);
        sqlite3_reset(st);
    }
    free(order);
    store_scopes_forget(self);
    return rc;
}

void store_scopes_forget(hub_store_t *self)
{
    self->touchn = 0;
    if (self->sdaycap > 4096) { /* grown by a count of every unit: not kept between commits */
        free(self->sdays);
        free(self->sdayused);
        self->sdays = NULL;
        self->sdayused = NULL;
        self->sdaycap = 0;
    } else {
        for (size_t i = 0; i < self->sdayn; i++) /* the slots used: 3 for a report */
            memset(&self->sdays[self->sdayused[i]], 0, sizeof *self->sdays);
    }
    self->sdayn = 0;
}

void store_scopes_free(hub_store_t *self)
{
    free(self->touch);
    free(self->sdays);
    free(self->sdayused);
}

/* ---- the check ---------------------------------------------------------- */

#define STEP(F, N) ", " F " - IFNULL(lag(" F ") OVER w, 0) AS f" #N
#define SUMS                                                                                       \
    "sum(f0) AS f0, sum(f1) AS f1, sum(f2) AS f2, sum(f3) AS f3, sum(f4) AS f4, sum(f5) AS f5,"    \
    " sum(f6) AS f6, sum(f7) AS f7, sum(f8) AS f8, sum(f9) AS f9, sum(f10) AS f10"
#define FIGS "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10"

/* Each (scope, day)'s change as the unit_days rows give it (the units
 * counted under their units.scope), and as scope_days holds it; both by
 * (scope, day), the days that change nothing left out. */
static const char *s_expected_sql =
    "WITH d AS MATERIALIZED (SELECT u.scope AS code, x.date AS date" STEP(
        "(x.reports > 0)", 0) STEP("x.reports",
                                   1) STEP("x.participants",
                                           2) STEP("x.hours_tenths",
                                                   3) STEP("x.sessions",
                                                           4) STEP("x.staff_total",
                                                                   5) STEP("x.staff_proficient", 6)
        STEP("x.items_total", 7) STEP("x.items_no_visit", 8) STEP("x.cases_total", 9) STEP(
            "x.cases_no_visit",
            10) " FROM unit_days x JOIN units u ON u.uid = x.uid WHERE u.scope <> 0"
                " WINDOW w AS (PARTITION BY x.uid ORDER BY x.date)),"
                " e(scope, date, " FIGS ") AS (SELECT 0, * FROM (SELECT date, " FIGS " FROM d)"
                " UNION ALL SELECT code % 10, date, " FIGS " FROM d"
                " UNION ALL SELECT code / 10, date, " FIGS " FROM d)"
                " SELECT * FROM (SELECT scope, date, " SUMS " FROM e GROUP BY scope, date)"
                " WHERE max(abs(f0), abs(f1), abs(f2), abs(f3), abs(f4), abs(f5), abs(f6), abs(f7),"
                " abs(f8), abs(f9), abs(f10)) > 0 ORDER BY scope, date";
static const char *s_stored_sql =
    "SELECT * FROM scope_days WHERE max(abs(reporting), abs(reports), abs(participants),"
    " abs(hours_tenths), abs(sessions), abs(staff_total), abs(staff_proficient),"
    " abs(items_total), abs(items_no_visit), abs(cases_total), abs(cases_no_visit)) > 0"
    " ORDER BY scope, date";

static const char *s_fig_names[STORE_SCOPE_FIGS] = {
    "reporting",      "reports",     "participants",     "hours_tenths",
    "sessions",       "staff_total", "staff_proficient", "items_total",
    "items_no_visit", "cases_total", "cases_no_visit",
};

/* "province", "level municipal", "division 460100": scope_days' key. */
static void s_scope_name(uint32_t scope, char *out, size_t len)
{
    if (scope == SCOPE_PROVINCE)
        snprintf(out, len, "province");
    else if (scope <= RO_LEVEL_COUNT)
        snprintf(out, len, "level %s", ro_level_name((ro_level_t)(scope - 1)));
    else
        snprintf(out, len, "division %06u", (unsigned)scope);
}

long store_scopes_check(sqlite3 *db, hub_store_diff_t *diffs, size_t cap, long ndiff, int *rc)
{
    sqlite3_stmt *exp = NULL, *got = NULL;
    *rc = sqlite3_prepare_v2(db, s_expected_sql, -1, &exp, NULL);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_prepare_v2(db, s_stored_sql, -1, &got, NULL);
    int erc = *rc == SQLITE_OK ? sqlite3_step(exp) : *rc;
    int grc = *rc == SQLITE_OK ? sqlite3_step(got) : *rc;
    while (erc == SQLITE_ROW || grc == SQLITE_ROW) {
        uint64_t ek = erc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(exp, 0) << 32 |
                                              (uint32_t)sqlite3_column_int64(exp, 1)
                                        : UINT64_MAX;
        uint64_t gk = grc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(got, 0) << 32 |
                                              (uint32_t)sqlite3_column_int64(got, 1)
                                        : UINT64_MAX;
        uint64_t key = ek < gk ? ek : gk;
        for (int f = 0; f < STORE_SCOPE_FIGS; f++) {
            int64_t e = ek == key ? sqlite3_column_int64(exp, 2 + f) : 0;
            int64_t g = gk == key ? sqlite3_column_int64(got, 2 + f) : 0;
            if (e == g)
                continue;
            if (diffs && (size_t)ndiff < cap) {
                hub_store_diff_t *d = &diffs[ndiff];
                s_scope_name((uint32_t)(key >> 32), d->unit, sizeof d->unit);
                snprintf(d->field, sizeof d->field, "%s of %u", s_fig_names[f],
                         (unsigned)(key & 0xffffffffu));
                d->stored = g;
                d->recount = e;
            }
            ndiff++;
        }
        if (ek == key)
            erc = sqlite3_step(exp);
        if (gk == key)
            grc = sqlite3_step(got);
    }
    if (*rc == SQLITE_OK)
        *rc = erc != SQLITE_DONE ? erc : grc;
    sqlite3_finalize(exp);
    sqlite3_finalize(got);
    return ndiff;
}
