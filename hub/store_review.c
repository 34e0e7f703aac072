/* hub_store's part of review (issue 16): a flagged report's state and
 * trail row, a reviewer's decision, and the list of flagged reports. The
 * writes run in ingest's write transaction (the main thread: a decision
 * reaches it from the status thread), the list on the status thread's own
 * connection. Flags and decisions are rare, so their statements are
 * prepared when used rather than at open. */
#include "store_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Run sql (no rows) with the integer and text parameters given; NULL text
 * binds NULL. Returns 0 or a code. */
static int s_exec(hub_store_t *self, const char *sql, const int64_t *ints, size_t nints,
                  const char *const *texts, size_t ntexts, const char *what, char *err,
                  size_t errlen)
{
    int flushed = store_pending_flush(self, err, errlen);
    if (flushed)
        return flushed;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        for (size_t i = 0; i < nints; i++)
            sqlite3_bind_int64(st, (int)i + 1, ints[i]);
        for (size_t i = 0; i < ntexts; i++)
            sqlite3_bind_text(st, (int)(nints + i) + 1, texts[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    int out = rc == SQLITE_DONE ? 0 : store_fail(self, rc, what, err, errlen);
    sqlite3_finalize(st);
    return out;
}

static int s_unit(const hub_store_t *self, size_t index, char *err, size_t errlen)
{
    if (index < self->nunits && self->uids[index] != STORE_NO_UID)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "unit index %zu has no row in the store", index);
    return HUB_STORE_EFAIL;
}

/* The unit's daily rows (unit_days) are stale from the day of its report
 * (iid, seq), whose state a flag or a decision just changed: re-derived
 * when ingest is idle (hub_store_days_refresh), and until then as-of
 * answers fold the unit's reports. Returns 0 or a code. */
static int s_days_stale_from(hub_store_t *self, const int64_t key[3], char *err, size_t errlen)
{
    self->stale_none = 0; /* hub_store_days_refresh looks again */
    /* last_day too: a held report never entered the rows, so an accepted
     * one may be the unit's latest day; an as-of answer before the stale
     * day reads the rows, and takes a unit whose last_day is on or before
     * its date as it is now (its units row, which counts the report) */
    return s_exec(self,
                  "UPDATE units SET (day_stale, last_day) = (SELECT CASE WHEN u.day_stale = 0 OR"
                  " d.day < u.day_stale THEN d.day ELSE u.day_stale END, max(u.last_day, d.day)"
                  " FROM units u, (SELECT CASE WHEN kind = 4 THEN date * 100 + 1 ELSE date END"
                  " AS day FROM reports WHERE rowid = " KEY_ROW " AND uid = ?1"
                  " AND iid = ?2 AND seq = ?3) d"
                  " WHERE u.uid = ?1) WHERE uid = ?1",
                  key, 3, NULL, 0, "cannot mark a unit's days stale", err, errlen);
}

int hub_store_flag(hub_store_t *self, size_t index, int64_t iid, uint64_t seq, int hold,
                   const char *rule, const char *reason, int64_t at, char *err, size_t errlen)
{
    if (s_unit(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    sqlite3_stmt *st = self->q[Q_FLAG];
    sqlite3_bind_int64(st, 1, self->uids[index]);
    sqlite3_bind_int64(st, 2, iid);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
    sqlite3_bind_int64(st, 4, at);
    sqlite3_bind_int(st, 5, hold != 0);
    sqlite3_bind_text(st, 6, rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, reason, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : store_fail(self, rc, "cannot record a flag", err, errlen);
}

/* The flagged report (uid, inc or any, seq): its iid and state. Returns 1,
 * 0 when none is flagged, 2 when several incarnations have one, or a code. */
static int s_flagged(hub_store_t *self, int64_t uid, const uint8_t *inc, uint64_t seq, int64_t *iid,
                     int *state, int *kind, char *why, size_t whylen)
{
    int flushed = store_pending_flush(self, why, whylen);
    if (flushed)
        return flushed;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db,
                                "SELECT DISTINCT e.target_iid, r.state, r.kind FROM events e"
                                " JOIN reports r ON r.rowid = " TARGET_ROW " AND r.uid = e.uid"
                                " AND r.iid = e.target_iid AND r.seq = e.target_seq"
                                " JOIN incarnations i ON i.iid = e.target_iid"
                                " WHERE e.uid = ?1 AND e.what = 3 AND e.target_seq = ?2"
                                " AND (?3 IS NULL OR i.incarnation = ?3) LIMIT 2",
                                -1, &st, NULL);
    int n = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
        if (inc)
            sqlite3_bind_blob(st, 3, inc, RO_INCARNATION_LEN, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            *iid = sqlite3_column_int64(st, 0);
            *state = sqlite3_column_int(st, 1);
            *kind = sqlite3_column_int(st, 2);
            n++;
        }
    }
    int out = rc == SQLITE_DONE ? n : store_fail(self, rc, "cannot find a flag", why, whylen);
    sqlite3_finalize(st);
    return out;
}

/* The latest decision on (uid, iid, seq): 0 none, else its what, with by
 * and at. Returns that or a code. */
static int s_decided(hub_store_t *self, int64_t uid, int64_t iid, uint64_t seq, char *by,
                     size_t bylen, int64_t *at, char *why, size_t whylen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db,
                                "SELECT what, by_key, at FROM events WHERE uid = ?1"
                                " AND target_iid = ?2 AND target_seq = ?3 AND what IN (4, 5)"
                                " ORDER BY id DESC LIMIT 1",
                                -1, &st, NULL);
    int out = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, iid);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out = sqlite3_column_int(st, 0);
            const unsigned char *b = sqlite3_column_text(st, 1);
            snprintf(by, bylen, "%s", b ? (const char *)b : "");
            *at = sqlite3_column_int64(st, 2);
            rc = SQLITE_DONE;
        }
    }
    if (rc != SQLITE_DONE)
        out = store_fail(self, rc, "cannot read a decision", why, whylen);
    sqlite3_finalize(st);
    return out;
}

int hub_store_decide(hub_store_t *self, size_t index, const uint8_t *inc, uint64_t seq, int accept,
                     const char *by, const char *reason, int64_t at, int *changed, int *was_held,
                     int *kind, char *why, size_t whylen)
{
    *changed = *was_held = *kind = 0;
    if (s_unit(self, index, why, whylen))
        return HUB_STORE_EFAIL;
    int64_t uid = self->uids[index], iid = 0;
    int state = 0;
    int n = s_flagged(self, uid, inc, seq, &iid, &state, kind, why, whylen);
    if (n < 0)
        return n;
    if (n != 1) {
        snprintf(why, whylen,
                 n == 0 ? "%s seq %llu is not a report flagged for review"
                        : "%s seq %llu is flagged in two incarnations: name the incarnation",
                 self->ids[index], (unsigned long long)seq);
        return HUB_STORE_ETARGET;
    }
    char prev_by[64] = "";
    int64_t prev_at = 0;
    int prev = s_decided(self, uid, iid, seq, prev_by, sizeof prev_by, &prev_at, why, whylen);
    if (prev < 0)
        return prev;
    if (prev) {
        int same = (prev == HUB_STORE_EVENT_ACCEPT) == !!accept;
        time_t t = (time_t)prev_at;
        struct tm tm;
        char when[32] = "";
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        snprintf(why, whylen, "%s seq %llu was %s by %s at %s", self->ids[index],
                 (unsigned long long)seq, prev == HUB_STORE_EVENT_ACCEPT ? "accepted" : "rejected",
                 prev_by[0] ? prev_by : "(no key)", when);
        return same ? 1 : HUB_STORE_ETARGET;
    }
    if (state != HUB_STORE_HELD_REVIEW && state != HUB_STORE_COUNTED) {
        snprintf(why, whylen, "%s seq %llu was corrected since it was flagged: nothing to decide",
                 self->ids[index], (unsigned long long)seq);
        return HUB_STORE_ETARGET;
    }
    /* held: accept counts it, reject keeps it out; counted (hold = no):
     * accept leaves it, reject takes it out */
    int to = accept ? HUB_STORE_COUNTED : HUB_STORE_REJECTED;
    int64_t key[6] = {
        uid, iid, (int64_t)seq, at, accept ? HUB_STORE_EVENT_ACCEPT : HUB_STORE_EVENT_REJECT, to};
    int rc = 0;
    if (to != state)
        rc = s_exec(self,
                    "UPDATE reports SET state = ?4 WHERE rowid = " KEY_ROW
                    " AND uid = ?1 AND iid = ?2 AND seq = ?3",
                    (int64_t[]){uid, iid, (int64_t)seq, to}, 4, NULL, 0,
                    "cannot mark a decided report", why, whylen);
    /* the rows' changed_at moves even when the state does not (an accept
     * of a report that counted): a known-on answer counts the decision */
    if (rc == 0)
        rc = s_days_stale_from(self, key, why, whylen);
    const char *texts[2] = {by ? by : "", reason};
    if (rc == 0)
        rc = s_exec(self,
                    "INSERT INTO events(uid, target_iid, target_seq, at, what, by_key, reason)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    key, 5, texts, 2, "cannot record a decision", why, whylen);
    if (rc == 0)
        *changed = to != state, *was_held = state == HUB_STORE_HELD_REVIEW;
    return rc;
}

/* One row of the list's query into v. */
static void s_column_review(sqlite3_stmt *st, hub_store_review_t *v)
{
    memset(v, 0, sizeof *v);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(v->unit, sizeof v->unit, "%s", t ? (const char *)t : "");
    v->seq = (uint64_t)sqlite3_column_int64(st, 1);
    const void *b = sqlite3_column_blob(st, 2);
    if (b && sqlite3_column_bytes(st, 2) == RO_INCARNATION_LEN)
        memcpy(v->inc, b, RO_INCARNATION_LEN);
    v->kind = (ro_kind_t)sqlite3_column_int(st, 3);
    v->date = (uint32_t)sqlite3_column_int64(st, 4);
    v->total = (uint32_t)sqlite3_column_int64(st, 5);
    v->part = (uint32_t)sqlite3_column_int64(st, 6);
    t = sqlite3_column_text(st, 7);
    snprintf(v->rule, sizeof v->rule, "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(st, 8);
    snprintf(v->text, sizeof v->text, "%s", t ? (const char *)t : "");
    v->flagged_at = sqlite3_column_int64(st, 9);
    int rstate = sqlite3_column_int(st, 10), what = sqlite3_column_int(st, 11);
    v->state = what == HUB_STORE_EVENT_ACCEPT                                   ? 1
               : what == HUB_STORE_EVENT_REJECT                                 ? 2
               : rstate == HUB_STORE_HELD_REVIEW || rstate == HUB_STORE_COUNTED ? 0
                                                                                : 3;
    t = sqlite3_column_text(st, 12);
    snprintf(v->by, sizeof v->by, "%s", t ? (const char *)t : "");
    v->at = sqlite3_column_int64(st, 13);
    t = sqlite3_column_text(st, 14);
    snprintf(v->reason, sizeof v->reason, "%s", t ? (const char *)t : "");
}

/* the row of a flag's (f) report, and of a trail's tally (t) */
#define FLAG_ROW REPORT_ROW("f.target_iid", "f.target_seq")
#define TALLY_ROW REPORT_ROW("t.iid", "t.seq")

/* The list: each flag row with its report and its latest decision; pending
 * (no decision, report neither corrected) first. */
#define REVIEWS_SQL                                                                                \
    "WITH f AS (SELECT e.*, (SELECT max(x.id) FROM events x WHERE x.uid = e.uid"                   \
    "  AND x.target_iid = e.target_iid AND x.target_seq = e.target_seq AND x.what IN (4, 5))"      \
    "  AS did FROM events e WHERE e.what = 3 AND (?1 IS NULL OR e.uid = ?1))"                      \
    " SELECT u.id, f.target_seq, i.incarnation, r.kind, r.date, r.total, r.part, f.rule,"          \
    "  f.reason, f.at, r.state, d.what, d.by_key, d.at, d.reason, p"                               \
    " FROM f JOIN units u ON u.uid = f.uid"                                                        \
    " LEFT JOIN reports r ON r.rowid = " FLAG_ROW                                                  \
    "  AND r.uid = f.uid AND r.iid = f.target_iid AND r.seq = f.target_seq"                        \
    " LEFT JOIN incarnations i ON i.iid = f.target_iid"                                            \
    " LEFT JOIN events d ON d.id = f.did,"                                                         \
    " (SELECT count(*) AS p FROM f JOIN reports r ON r.rowid = " FLAG_ROW                          \
    " AND r.uid = f.uid AND r.iid = f.target_iid"                                                  \
    "  AND r.seq = f.target_seq WHERE f.did IS NULL AND "                                          \
    "r.state IN (0, 2))"                                                                           \
    " ORDER BY (d.id IS NOT NULL OR r.state NOT IN (0, "                                           \
    "2)), f.id DESC"

int hub_store_reviews(hub_store_t *self, long index, size_t limit, hub_store_review_t **out,
                      size_t *count, uint64_t *total, uint64_t *pending, char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    uint64_t t = 0, p = 0;
    if (index >= 0 && (size_t)index >= self->nunits) {
        if (err && errlen)
            snprintf(err, errlen, "unit index %ld is not loaded", index);
        return HUB_STORE_EFAIL;
    }
    if (index >= 0 && self->uids[index] == STORE_NO_UID)
        goto done; /* a unit without a row has nothing flagged */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, REVIEWS_SQL, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_fail(self, rc, "cannot read the reviews", err, errlen);
    if (index >= 0)
        sqlite3_bind_int64(st, 1, self->uids[index]);
    hub_store_review_t *list = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        t++;
        p = (uint64_t)sqlite3_column_int64(st, 15);
        if (limit && n == limit)
            continue; /* counted, not kept */
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            hub_store_review_t *grown = realloc(list, ncap * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                ret = HUB_STORE_EFAIL;
                break;
            }
            list = grown, cap = ncap;
        }
        s_column_review(st, &list[n++]);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(self, rc, "cannot read the reviews", err, errlen);
    sqlite3_finalize(st);
    if (ret || n == 0) {
        free(list);
        if (ret)
            return ret;
    } else {
        *out = list;
        *count = n;
    }
done:
    if (total)
        *total = t;
    if (pending)
        *pending = p;
    return 0;
}

/* Per report the trail names, what it says up to the cutoff ?2 (0: none),
 * then the report's kind, date and state by its key: the events are
 * grouped first (a sort of the few events), and each group seeks its
 * report (CROSS JOIN keeps that order: the reports are never scanned). A
 * flagged report is pending when nothing decided or corrected it by the
 * cutoff and it was held: in state 2 now, or moved out of it since (any
 * state but a counted one never decided, which a flag under hold = no
 * leaves). */
#define MARKS_SQL                                                                                  \
    "WITH t AS (SELECT uid, target_iid AS iid, target_seq AS seq,"                                 \
    "  max(what IN (1, 2) AND (?2 = 0 OR at <= ?2)) AS corr,"                                      \
    "  max(what = 3 AND (?2 = 0 OR at <= ?2)) AS flag,"                                            \
    "  max(what IN (4, 5) AND (?2 = 0 OR at <= ?2)) AS decided,"                                   \
    "  max(what = 5 AND (?2 = 0 OR at <= ?2)) AS rej, max(what = 4) AS accepted"                   \
    "  FROM events GROUP BY uid, target_iid, target_seq)"                                          \
    " SELECT u.id, r.kind, sum(t.corr),"                                                           \
    "  sum(t.flag AND NOT t.corr AND NOT t.decided AND (r.state <> 0 OR t.accepted)),"             \
    "  sum(t.rej AND NOT t.corr)"                                                                  \
    " FROM t CROSS JOIN reports r ON r.rowid = " TALLY_ROW                                         \
    "  AND r.uid = t.uid AND r.iid = t.iid AND r.seq = t.seq"                                      \
    " CROSS JOIN units u ON u.uid = t.uid"                                                         \
    " WHERE r.kind BETWEEN 1 AND 4 AND " REPORT_DAY " <= ?1 GROUP BY t.uid, r.kind"

int64_t hub_store_trail_key(hub_store_t *self)
{
    int64_t key = 0;
    return store_int(self->db, "SELECT IFNULL(max(id), 0) FROM events", &key) == SQLITE_OK ? key
                                                                                           : -1;
}

int hub_store_marks(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of, int64_t known_on,
                    hub_unit_marks_t *out, int64_t *key, char *err, size_t errlen)
{
    size_t n = ro_registry_count(reg);
    memset(out, 0, n * sizeof *out);
    int64_t k = key ? hub_store_trail_key(self) : 0;
    if (k < 0)
        return store_fail(self, sqlite3_errcode(self->db), "cannot read the trail", err, errlen);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, MARKS_SQL, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, as_of);
        sqlite3_bind_int64(st, 2, known_on > 0 ? known_on : 0);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            long i = id ? ro_registry_find(reg, id) : -1;
            int kind = sqlite3_column_int(st, 1) - 1;
            if (i < 0)
                continue; /* a unit no longer in the registry */
            out[i].corrected[kind] = (uint32_t)sqlite3_column_int64(st, 2);
            out[i].held[kind] = (uint32_t)sqlite3_column_int64(st, 3);
            out[i].rejected[kind] = (uint32_t)sqlite3_column_int64(st, 4);
        }
    }
    int ret = rc == SQLITE_DONE ? 0 : store_fail(self, rc, "cannot count the marks", err, errlen);
    sqlite3_finalize(st);
    if (ret == 0 && key)
        *key = k;
    return ret;
}
