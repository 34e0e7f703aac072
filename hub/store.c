/* hub_store: hub.db in SQLite: schema and forward migrations, opening and
 * checking the file, and the ingest thread's write transaction (units,
 * incarnations, reports, refusals). The status thread's queries are in store_read.c, the
 * recount and check in store_verify.c; store_db.h is what they share.
 * Damaged files are refused, never repaired: what to do with them is the
 * operator's call. Ordering and dedup policy live in hub_ingest. */
#include "store_db.h"
#include "ro_log.h"
#include "ro_mem.h"
#include "ro_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPORT_INSERT                                                                              \
    "INSERT INTO reports(uid, iid, seq, kind, date, total, part, text, recorded_at, received_at,"  \
    " hash, state) VALUES "
#define REPORT_VALUES "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define REPORT_VALUES2 REPORT_VALUES "," REPORT_VALUES
#define REPORT_VALUES4 REPORT_VALUES2 "," REPORT_VALUES2
#define REPORT_VALUES8 REPORT_VALUES4 "," REPORT_VALUES4
#define REPORT_VALUES16 REPORT_VALUES8 "," REPORT_VALUES8
#define REPORT_ROWS 16 /* REPORT_VALUES16's rows: Q_REPORT_INSERT_MANY's */
#define REPORT_COLS 12 /* the parameters of a row */

static const char *s_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_UNIT_INSERT] = "INSERT INTO units(id) VALUES (?1)",
    /* the columns of store_row_aggregates from 3 on; the incarnations
     * come from Q_INC_SCAN (two passes in table order: a seek per unit
     * into the incarnations took twice as long) */
    [Q_UNIT_SCAN] = "SELECT uid, id, last_heard, reports, participants, hours_tenths, sessions,"
                    " staff_date, staff_total, staff_proficient, items_date, items_total,"
                    " items_no_visit, cases_month, cases_total, cases_no_visit, scope FROM units",
    [Q_INC_SCAN] = "SELECT i.uid, i.iid, i.incarnation = " LEGACY_INC ", " INC_LAST_SEQ
                   " FROM incarnations i JOIN units u ON u.uid = i.uid ORDER BY i.iid",
    [Q_UNIT_UPDATE] = "UPDATE units SET last_heard = ?3, reports = ?4,"
                      " participants = ?5, hours_tenths = ?6, sessions = ?7,"
                      " staff_date = ?8, staff_total = ?9, staff_proficient = ?10,"
                      " items_date = ?11, items_total = ?12, items_no_visit = ?13,"
                      " cases_month = ?14, cases_total = ?15, cases_no_visit = ?16,"
                      " last_day = max(last_day, ?2) WHERE uid = ?1",
    /* apart, and only when it moves: a write of day_stale, even of the
     * value it has, rewrites the unit's entry in units_stale, a page more
     * in every commit of a stale unit */
    [Q_UNIT_STALE] = "UPDATE units SET day_stale = ?2 WHERE uid = ?1 AND (day_stale = 0 OR"
                     " ?2 < day_stale)",
    /* one report, and REPORT_ROWS of them in one statement (a statement's
     * start and end cost a third of a row's insert): s_bind_report */
    [Q_REPORT_INSERT] = REPORT_INSERT REPORT_VALUES,
    [Q_REPORT_INSERT_MANY] = REPORT_INSERT REPORT_VALUES16,
    [Q_RUN_MAX] = "SELECT ifnull(max(last_seq), 0) FROM report_runs WHERE iid = ?1",
    [Q_RUN_INSERT] =
        "INSERT INTO report_runs(iid, last_seq, first_seq, first_row) VALUES (?1, ?2, ?3, ?4)",
    [Q_REPORT_FIND] = "SELECT hash FROM reports WHERE rowid = " REPORT_ROW(
        "?3", "?2") " AND uid = ?1 AND iid = ?3 AND seq = ?2",
    [Q_REFUSAL_INSERT] = "INSERT INTO refusals(unit, iid, seq, reason, text, hash, at)"
                         " VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6)",
    [Q_REFUSAL_FIND] = "SELECT hash, reason, text FROM refusals"
                       " WHERE unit = ?1 AND iid = ?3 AND seq = ?2 ORDER BY rowid DESC LIMIT 1",
    [Q_RECOUNT] = RECOUNT_SQL,
    [Q_HISTORY] = "SELECT seq, date, total, part FROM " UNIT_REPORTS
                  " WHERE uid = ?1 AND kind = ?2 AND date <= ?3 AND state = 0"
                  " ORDER BY date, received_at, iid, seq",
    [Q_SERIES] = "SELECT uid, date, total, part FROM reports"
                 " WHERE kind = ?1 AND date <= ?2 AND state = 0"
                 " ORDER BY uid, date, received_at, iid, seq",
    /* the same as known at the end of the day whose last second is ?3: the
     * trail's events grouped once (they are few beside the reports) */
    [Q_SERIES_KNOWN] =
        "SELECT r.uid, r.date, r.total, r.part FROM reports r LEFT JOIN " KNOWN_EVENTS(
            "") " e ON e.uid = r.uid AND e.target_iid = r.iid"
                " AND e.target_seq = r.seq WHERE r.kind = ?1 AND r.date <= ?2 AND " KNOWN_COUNTED
                " ORDER BY r.uid, r.date, r.received_at, r.iid, r.seq",
    /* held reports are few: these read the partial index reports_held, and
     * say so, because without statistics the planner may scan the table */
    [Q_HELD_SUMMARY] = "SELECT count(*), IFNULL(min(" HELD_DUE "), 0) FROM reports"
                       " INDEXED BY reports_held WHERE state = 1",
    [Q_HELD_DUE_UNITS] = "SELECT uid, min(" HELD_DUE ") FROM reports INDEXED BY reports_held"
                         " WHERE state = 1 AND " HELD_DUE " <= ?1 GROUP BY uid",
    [Q_HELD_RELEASE] = "UPDATE reports INDEXED BY reports_held SET state = 0, released_at = ?2"
                       " WHERE state = 1 AND " HELD_DUE " <= ?1",
    [Q_UNIT_COUNTED] = "SELECT kind, date, total, part FROM " UNIT_REPORTS
                       " WHERE uid = ?1 AND state = 0 ORDER BY received_at, iid, seq",
    /* of a unit's counted snapshots of one kind and date, the one that counts */
    [Q_SNAPSHOT] =
        "SELECT total, part, iid, received_at FROM " UNIT_REPORTS " WHERE uid = ?1 AND kind = ?2"
        " AND date = ?3 AND state = 0 ORDER BY received_at DESC, iid DESC, seq DESC"
        " LIMIT 1",
    /* of them all, the latest dated that counts */
    [Q_SNAPSHOT_LATEST] =
        "SELECT total, part, iid, received_at, date FROM " UNIT_REPORTS " WHERE uid = ?1"
        " AND kind = ?2 AND state = 0"
        " ORDER BY date DESC, received_at DESC, iid DESC, seq DESC LIMIT 1",
    [Q_UNIT_AGGREGATES] = "UPDATE units SET reports = ?2,"
                          " participants = ?3, hours_tenths = ?4, sessions = ?5,"
                          " staff_date = ?6, staff_total = ?7, staff_proficient = ?8,"
                          " items_date = ?9, items_total = ?10, items_no_visit = ?11,"
                          " cases_month = ?12, cases_total = ?13, cases_no_visit = ?14"
                          " WHERE uid = ?1",
    [Q_INC_FIND] = "SELECT i.iid, " INC_LAST_SEQ " FROM incarnations i JOIN units u"
                   " ON u.uid = i.uid WHERE i.uid = ?1 AND i.incarnation = ?2",
    [Q_INC_INSERT] = "INSERT INTO incarnations(uid, incarnation, first_heard) VALUES (?1, ?2, ?3)",
    [Q_TARGET_FIND] = "SELECT kind, date, state, total, part, received_at FROM reports"
                      " WHERE rowid = " KEY_ROW " AND uid = ?1 AND iid = ?2"
                      " AND seq = ?3",
    [Q_TARGET_SET] = "UPDATE reports SET state = ?4 WHERE rowid = " KEY_ROW
                     " AND uid = ?1 AND iid = ?2 AND seq = ?3",
    [Q_EVENT_INSERT] = "INSERT INTO events(uid, at, target_iid, target_seq, what, by_key, by_iid,"
                       " by_seq, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* a unit's row for day ?2, written only when it has none later: then
     * every counted report lands on or before ?2, and ?3.. (its aggregates
     * now) are its state as of ?2 (sqlite3_changes says which) */
    [Q_DAY_PUT] = "INSERT OR REPLACE INTO unit_days(uid, date, " DAY_COLUMNS ", changed_at)"
                  " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                  " max(?16, IFNULL((SELECT changed_at FROM unit_days WHERE uid = ?1"
                  " AND date <= ?2 ORDER BY date DESC LIMIT 1), 0))"
                  " WHERE NOT EXISTS (SELECT 1 FROM unit_days WHERE uid = ?1 AND date > ?2)"
                  " AND (SELECT day_stale FROM units WHERE uid = ?1) = 0",
    [Q_DAY_BASE] = "SELECT " DAY_COLUMNS ", changed_at FROM unit_days WHERE uid = ?1 AND date < ?2"
                   " ORDER BY date DESC LIMIT 1",
    [Q_DAY_CLEAR] = "DELETE FROM unit_days WHERE uid = ?1 AND date >= ?2",
    [Q_FLAG] = "INSERT INTO events(uid, target_iid, target_seq, at, what, hold, by_key, rule,"
               " reason) VALUES (?1, ?2, ?3, ?4, 3, ?5, '', ?6, ?7)", /* 3: HUB_STORE_EVENT_FLAG */
    /* the tie rule of RECOUNT_SQL's snapshots: the last one folded wins.
     * Every report but a held one (for its date, or for review: neither
     * counted yet) has a row on its day (those not counted
     * too: a known-on question must find what changed them in the row) */
    [Q_DAY_REPORTS] =
        "SELECT r.kind, r.date, r.total, r.part, " REPORT_DAY " AS day, r.state, " CHANGED_AT
        " FROM " UNIT_REPORTS " r LEFT JOIN " CHANGED_EVENTS(
            "WHERE uid = ?1") " e ON e.target_iid = r.iid AND e.target_seq = r.seq"
                              " WHERE r.uid = ?1 AND r.state NOT IN (1, 2) AND " REPORT_DAY " >= ?2"
                              " ORDER BY day, r.received_at, r.iid, r.seq",
    [Q_DAY_LAST] = "UPDATE units SET last_day ="
                   " IFNULL((SELECT max(date) FROM unit_days WHERE uid = ?1), 0), day_stale = 0"
                   " WHERE uid = ?1",
    [Q_DAY_STATE] = "SELECT day_stale, IFNULL((SELECT max(date) FROM unit_days WHERE uid = ?1), 0)"
                    " FROM units WHERE uid = ?1",
    [Q_DAY_FOLD] =
        "SELECT kind, date, total, part FROM " UNIT_REPORTS " WHERE uid = ?1 AND state = 0"
        " AND " REPORT_DAY " <= ?2 ORDER BY " REPORT_DAY ", received_at, iid, seq",
    [Q_DAY_FROM] = "SELECT " DAY_COLUMNS ", changed_at, date FROM unit_days WHERE uid = ?1"
                   " AND date >= ?2 ORDER BY date",
    [Q_DAY_AT] =
        "SELECT " DAY_COLUMNS ", changed_at, date FROM unit_days WHERE uid = ?1 AND date <= ?2"
        " ORDER BY date DESC LIMIT 1",
    /* a report of kind ?3 dated ?4 (?5, ?6: the snapshot of that date that
     * counts) in the unit's rows after day ?2 (the old values on the right) */
    [Q_DAY_SHIFT] =
        "UPDATE unit_days SET reports = reports + 1,"
        " participants = participants + (CASE WHEN ?3 = 1 THEN ?5 ELSE 0 END),"
        " hours_tenths = hours_tenths + (CASE WHEN ?3 = 1 THEN ?6 ELSE 0 END),"
        " sessions = sessions + (?3 = 1),"
        " staff_date = CASE WHEN ?3 = 2 AND staff_date <= ?4 THEN ?4 ELSE staff_date END,"
        " staff_total = CASE WHEN ?3 = 2 AND staff_date <= ?4 THEN ?5 ELSE staff_total END,"
        " staff_proficient = CASE WHEN ?3 = 2 AND staff_date <= ?4 THEN ?6 ELSE staff_proficient"
        " END,"
        " items_date = CASE WHEN ?3 = 3 AND items_date <= ?4 THEN ?4 ELSE items_date END,"
        " items_total = CASE WHEN ?3 = 3 AND items_date <= ?4 THEN ?5 ELSE items_total END,"
        " items_no_visit = CASE WHEN ?3 = 3 AND items_date <= ?4 THEN ?6 ELSE items_no_visit END,"
        " cases_month = CASE WHEN ?3 = 4 AND cases_month <= ?4 THEN ?4 ELSE cases_month END,"
        " cases_total = CASE WHEN ?3 = 4 AND cases_month <= ?4 THEN ?5 ELSE cases_total END,"
        " cases_no_visit = CASE WHEN ?3 = 4 AND cases_month <= ?4 THEN ?6 ELSE cases_no_visit END,"
        " changed_at = max(changed_at, ?7) WHERE uid = ?1 AND date > ?2",
    /* a counted report of kind ?3 dated ?4 out of the unit's rows from its
     * day ?2 on, corrected at ?8: a session's figures (?5, ?6) leave the
     * sums; a snapshot of that date gives way to the one dated ?7 (0: none)
     * with ?5, ?6 (SET reads the old values on the right) */
    [Q_DAY_LEAVE] =
        "UPDATE unit_days SET reports = reports - 1,"
        " participants = participants - (CASE WHEN ?3 = 1 THEN ?5 ELSE 0 END),"
        " hours_tenths = hours_tenths - (CASE WHEN ?3 = 1 THEN ?6 ELSE 0 END),"
        " sessions = sessions - (?3 = 1),"
        " staff_date = CASE WHEN ?3 = 2 AND staff_date = ?4 THEN ?7 ELSE staff_date END,"
        " staff_total = CASE WHEN ?3 = 2 AND staff_date = ?4 THEN ?5 ELSE staff_total END,"
        " staff_proficient = CASE WHEN ?3 = 2 AND staff_date = ?4 THEN ?6 ELSE staff_proficient"
        " END,"
        " items_date = CASE WHEN ?3 = 3 AND items_date = ?4 THEN ?7 ELSE items_date END,"
        " items_total = CASE WHEN ?3 = 3 AND items_date = ?4 THEN ?5 ELSE items_total END,"
        " items_no_visit = CASE WHEN ?3 = 3 AND items_date = ?4 THEN ?6 ELSE items_no_visit END,"
        " cases_month = CASE WHEN ?3 = 4 AND cases_month = ?4 THEN ?7 ELSE cases_month END,"
        " cases_total = CASE WHEN ?3 = 4 AND cases_month = ?4 THEN ?5 ELSE cases_total END,"
        " cases_no_visit = CASE WHEN ?3 = 4 AND cases_month = ?4 THEN ?6 ELSE cases_no_visit END,"
        " changed_at = max(changed_at, ?8) WHERE uid = ?1 AND date >= ?2",
    [Q_DAY_TOUCH] = "UPDATE unit_days SET changed_at = max(changed_at, ?3)"
                    " WHERE uid = ?1 AND date >= ?2",
    [Q_DAY_INSERT] = "INSERT OR REPLACE INTO unit_days(uid, date, " DAY_COLUMNS ", changed_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                     " ?16)",
    /* each unit's row of the latest day up to ?1: two seeks a unit, no
     * scan of the reports. The last seq shown is today's, as the units
     * scan says it (Q_UNIT_SCAN). */
    /* a unit whose last day is on or before ?1 is as of ?1 as it is now:
     * its units row (a scan of the units); the others, each its row of the
     * latest day up to ?1 (two seeks a unit). Never a scan of the reports.
     * No last seq: the caller has today's (a seek a unit would double the
     * cost of the units' part). */
    [Q_AS_OF] = "SELECT u.id, 0, u.last_heard, u.reports, u.participants,"
                " u.hours_tenths, u.sessions, u.staff_date, u.staff_total, u.staff_proficient,"
                " u.items_date, u.items_total, u.items_no_visit, u.cases_month, u.cases_total,"
                " u.cases_no_visit, u.uid, 0 FROM units u WHERE u.last_day <= ?1"
                " UNION ALL"
                " SELECT u.id, 0, u.last_heard, d.reports, d.participants,"
                " d.hours_tenths, d.sessions, d.staff_date, d.staff_total, d.staff_proficient,"
                " d.items_date, d.items_total, d.items_no_visit, d.cases_month, d.cases_total,"
                " d.cases_no_visit, u.uid, u.day_stale > 0 AND u.day_stale <= ?1"
                " FROM units u LEFT JOIN unit_days d ON d.uid = u.uid AND d.date ="
                " (SELECT max(x.date) FROM unit_days x WHERE x.uid = u.uid AND x.date <= ?1)"
                " WHERE u.last_day > ?1",
    /* as of ?1, as known at the end of the day whose last second is ?2:
     * each unit's row of the latest day up to ?1 (the latest row, for a
     * unit whose last day is on or before ?1), two seeks a unit, in
     * Q_AS_OF's columns; the last says whether its reports are folded
     * instead (Q_KNOWN_FOLD): rows stale, or changed after ?2 */
    [Q_KNOWN_ROWS] = "SELECT u.id, 0, u.last_heard, d.reports, d.participants,"
                     " d.hours_tenths, d.sessions, d.staff_date, d.staff_total,"
                     " d.staff_proficient, d.items_date, d.items_total, d.items_no_visit,"
                     " d.cases_month, d.cases_total, d.cases_no_visit, u.uid,"
                     " (u.day_stale > 0 AND u.day_stale <= ?1) OR IFNULL(d.changed_at, 0) > ?2"
                     " FROM units u LEFT JOIN unit_days d ON d.uid = u.uid AND d.date ="
                     " (SELECT max(x.date) FROM unit_days x WHERE x.uid = u.uid AND x.date <= ?1)",
    /* unit ?1's reports up to day ?2 that counted at the end of the day
     * whose last second is ?3, in store_days_redo's order */
    [Q_KNOWN_FOLD] =
        "SELECT r.kind, r.date, r.total, r.part FROM " UNIT_REPORTS " r LEFT JOIN " KNOWN_EVENTS(
            "WHERE uid = ?1") " e ON e.target_iid = r.iid"
                              " AND e.target_seq = r.seq WHERE "
                              "r.uid = ?1 AND " REPORT_DAY " <= ?2 AND " KNOWN_COUNTED
                              " ORDER BY " REPORT_DAY ", r.received_at, r.iid, r.seq",
    /* unit ?1's corrections and decisions after ?3 on a report up to day ?2
     * (the target, or an amend's replacement) */
    [Q_KNOWN_AFTER] = "SELECT count(*) FROM events e JOIN reports t ON t.rowid = " TARGET_ROW
                      " AND t.uid = e.uid AND t.iid = e.target_iid AND t.seq = e.target_seq"
                      " LEFT JOIN reports c ON e.what = 1 AND c.rowid = " BY_ROW
                      " AND c.uid = e.uid AND c.iid = e.by_iid AND c.seq = e.by_seq"
                      " WHERE e.uid = ?1 AND e.at > ?3 AND e.what IN (1, 2, 4, 5) AND"
                      " ((CASE WHEN t.kind = 4 THEN t.date * 100 + 1 ELSE t.date END) <= ?2 OR"
                      " (CASE WHEN c.kind = 4 THEN c.date * 100 + 1 ELSE c.date END) <= ?2)",
    /* unit ?1's rows from the one before day ?2 on (store_scopes.c) */
    [Q_SCOPE_ROWS] = "SELECT date, reports > 0, reports, participants, hours_tenths, sessions,"
                     " staff_total, staff_proficient, items_total, items_no_visit, cases_total,"
                     " cases_no_visit FROM unit_days WHERE uid = ?1 AND date >= IFNULL((SELECT"
                     " max(date) FROM unit_days WHERE uid = ?1 AND date < ?2), 0) ORDER BY date",
    [Q_SCOPE_ADD] = "INSERT INTO scope_days VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                    " ?12, ?13) ON CONFLICT (scope, date) DO UPDATE SET reporting = reporting +"
                    " ?3, reports = reports + ?4, participants = participants + ?5, hours_tenths"
                    " = hours_tenths + ?6, sessions = sessions + ?7, staff_total = staff_total +"
                    " ?8, staff_proficient = staff_proficient + ?9, items_total = items_total +"
                    " ?10, items_no_visit = items_no_visit + ?11, cases_total = cases_total + ?12,"
                    " cases_no_visit = cases_no_visit + ?13",
    /* every scope as of day ?1: its changes up to then */
    [Q_SCOPE_SUMS] = "SELECT scope, sum(reporting), sum(reports), sum(participants),"
                     " sum(hours_tenths), sum(sessions), sum(staff_total), sum(staff_proficient),"
                     " sum(items_total), sum(items_no_visit), sum(cases_total),"
                     " sum(cases_no_visit) FROM scope_days WHERE date <= ?1 GROUP BY scope",
    /* the units stale from day ?1 or before: the rows the scopes count
     * are not their state (s_states_rows' rule: their units row from
     * their last day on, else their reports folded); and from which day
     * (a series corrects its days from then on) */
    [Q_SCOPE_STALE] = "SELECT uid, id, last_day, scope, reports, participants, hours_tenths,"
                      " sessions, staff_date, staff_total, staff_proficient, items_date,"
                      " items_total, items_no_visit, cases_month, cases_total, cases_no_visit,"
                      " day_stale FROM units WHERE day_stale > 0 AND day_stale <= ?1",
    [Q_UNIT_SCOPE] = "UPDATE units SET scope = ?2 WHERE uid = ?1",
    /* where unit ?1's rows are counted (store_scopes.c): the store says,
     * not a map of the registry's that may be another transaction's */
    [Q_UNIT_SCOPE_OF] = "SELECT scope FROM units WHERE uid = ?1",
};

static int s_copy_reports(hub_store_t *self, char *why, size_t whylen);
static int s_add_released_at(hub_store_t *self, char *why, size_t whylen);
static int s_build_days(hub_store_t *self, char *why, size_t whylen);
static int s_build_runs(hub_store_t *self, char *why, size_t whylen);

/* Schema steps: s_migrations[v] takes a store from user_version v to v + 1,
 * in one transaction: its sql, then its copy (if any), then its after (if
 * any). */
typedef struct {
    const char *sql;                                          /* run first */
    int (*copy)(hub_store_t *self, char *why, size_t whylen); /* then this, if any */
    const char *after;                                        /* then this, if any */
} s_step_t;

static const s_step_t s_migrations[HUB_STORE_SCHEMA] = {
    /* 0 -> 1 */
    {"CREATE TABLE units ("
     " uid INTEGER PRIMARY KEY,"
     " id TEXT UNIQUE NOT NULL,"
     " last_seq INTEGER NOT NULL DEFAULT 0,"
     " last_heard INTEGER NOT NULL DEFAULT 0,"
     " reports INTEGER NOT NULL DEFAULT 0,"
     " participants INTEGER NOT NULL DEFAULT 0,"
     " hours_tenths INTEGER NOT NULL DEFAULT 0,"
     " sessions INTEGER NOT NULL DEFAULT 0,"
     " staff_date INTEGER NOT NULL DEFAULT 0,"
     " staff_total INTEGER NOT NULL DEFAULT 0,"
     " staff_proficient INTEGER NOT NULL DEFAULT 0,"
     " items_date INTEGER NOT NULL DEFAULT 0,"
     " items_total INTEGER NOT NULL DEFAULT 0,"
     " items_no_visit INTEGER NOT NULL DEFAULT 0,"
     " cases_month INTEGER NOT NULL DEFAULT 0,"
     " cases_total INTEGER NOT NULL DEFAULT 0,"
     " cases_no_visit INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE reports ("
     " uid INTEGER NOT NULL,"
     " seq INTEGER NOT NULL,"
     " kind INTEGER NOT NULL,"
     " date INTEGER NOT NULL,"
     " total INTEGER NOT NULL,"
     " part INTEGER NOT NULL,"
     " text TEXT NOT NULL,"
     " recorded_at INTEGER NOT NULL,"
     " received_at INTEGER NOT NULL,"
     " hash INTEGER NOT NULL,"
     " PRIMARY KEY (uid, seq)) WITHOUT ROWID;"
     "CREATE TABLE refusals ("
     " unit TEXT NOT NULL,"
     " seq INTEGER NOT NULL,"
     " reason INTEGER NOT NULL,"
     " text TEXT NOT NULL,"
     " hash INTEGER NOT NULL,"
     " at INTEGER NOT NULL);"
     "CREATE INDEX refusals_by_unit ON refusals (unit, seq);",
     NULL, NULL},
    /* 1 -> 2: a report's hash is its decoded content's (ro_report_hash), not
     * its bytes', so that a resend in another encoding is the same report. A
     * refusal's content was not kept: hash 0 matches any resend of it. */
    {"UPDATE reports SET hash = ro_report_hash(kind, date, total, part, text, recorded_at);"
     "UPDATE refusals SET hash = 0;",
     NULL, NULL},
    /* 2 -> 3: a report is stored counted (0) or held (1: dated after the
     * hub's today, until its date comes; REVISION-2.md reserves 2..5), so
     * that nothing time will fix is refused. Existing reports are counted.
     * The partial index holds only the held rows: the check at each batch
     * and the release read it, never the whole table. */
    {"ALTER TABLE reports ADD COLUMN state INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX reports_held ON reports (date, kind, uid) WHERE state = 1;",
     NULL, NULL},
    /* 3 -> 4: a report's identity is (unit, incarnation, seq) (REVISION-2.md,
     * 1): each outbox draws an incarnation, and each incarnation of a unit
     * numbers its reports from 1. What was stored before belongs to each
     * unit's legacy incarnation (16 zero bytes), whose last_seq is the units
     * row's, which keeps none from now on (one home for it). The store draws
     * its identity (meta.store_id, 16 random bytes). reports is rebuilt with
     * the key (uid, iid, seq): the unit first, because every read groups or
     * seeks by unit (recount, as-of, history, series, the check at start), so
     * no second index (and no second b-tree write per report) is needed;
     * (iid, seq) is unique under it, an iid being of one unit. Refusals name
     * their incarnation too. */
    {"CREATE TABLE meta ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " store_id BLOB NOT NULL CHECK (length(store_id) = 16),"
     " created_at INTEGER NOT NULL);"
     "INSERT INTO meta(id, store_id, created_at)"
     " VALUES (1, randomblob(16), CAST(strftime('%s', 'now') AS INTEGER));"
     "CREATE TABLE incarnations ("
     " iid INTEGER PRIMARY KEY,"
     " uid INTEGER NOT NULL,"
     " incarnation BLOB NOT NULL CHECK (length(incarnation) = 16),"
     " last_seq INTEGER NOT NULL DEFAULT 0,"
     " first_heard INTEGER,"
     " last_heard INTEGER,"
     " agent_skew INTEGER,"
     " witness_ack INTEGER NOT NULL DEFAULT 0,"
     " UNIQUE (uid, incarnation));"
     "INSERT INTO incarnations(uid, incarnation, last_seq, last_heard)"
     " SELECT uid, " LEGACY_INC ", last_seq, NULLIF(last_heard, 0) FROM units ORDER BY uid;"
     "CREATE TABLE reports4 ("
     " uid INTEGER NOT NULL,"
     " iid INTEGER NOT NULL,"
     " seq INTEGER NOT NULL,"
     " kind INTEGER NOT NULL,"
     " date INTEGER NOT NULL,"
     " total INTEGER NOT NULL,"
     " part INTEGER NOT NULL,"
     " text TEXT NOT NULL,"
     " recorded_at INTEGER NOT NULL,"
     " received_at INTEGER NOT NULL,"
     " hash INTEGER NOT NULL,"
     " state INTEGER NOT NULL DEFAULT 0,"
     " PRIMARY KEY (uid, iid, seq)) WITHOUT ROWID;",
     s_copy_reports,
     "DROP TABLE reports;"
     "ALTER TABLE reports4 RENAME TO reports;"
     "CREATE INDEX reports_held ON reports (date, kind, uid) WHERE state = 1;"
     "ALTER TABLE refusals ADD COLUMN iid INTEGER;"
     "UPDATE refusals SET iid = (SELECT i.iid FROM units u JOIN incarnations i ON i.uid = u.uid"
     " AND i.incarnation = " LEGACY_INC " WHERE u.id = refusals.unit);"
     "DROP INDEX refusals_by_unit;"
     "CREATE INDEX refusals_by_unit ON refusals (unit, iid, seq);"
     "ALTER TABLE units DROP COLUMN last_seq;"},
    /* 4 -> 5: corrections (issue 16). A corrected report keeps its row, in
     * state 4 (amended) or 5 (cancelled); the correction is a report of its
     * own (an amend's row counts in its target's place; a cancel's, state 6,
     * counts nowhere), and the trail says who corrected what, when and why.
     * what: 1 amend, 2 cancel (REVISION-2.md reserves the review's). */
    {"CREATE TABLE events ("
     " id INTEGER PRIMARY KEY,"
     " uid INTEGER NOT NULL,"
     " at INTEGER NOT NULL,"
     " target_iid INTEGER NOT NULL,"
     " target_seq INTEGER NOT NULL,"
     " what INTEGER NOT NULL,"
     " by_key TEXT NOT NULL,"
     " by_iid INTEGER,"
     " by_seq INTEGER,"
     " rule TEXT,"
     " reason TEXT NOT NULL);"
     "CREATE INDEX events_by_unit ON events (uid, id);",
     NULL, NULL},
    /* 5 -> 6: each unit's aggregates as of each day it has counted reports
     * on (the day a report counts from: REPORT_DAY), so that a unit's state
     * as of a date is one row, the latest on or before it, and an as-of
     * question reads a row per unit, not every report. Written in the same
     * transaction as the reports (store_days_redo, hub_store_put_state);
     * built here from the counted reports. The key is the unit first, as
     * the reports': its rows are read and rewritten together. units.last_day
     * is the latest of a unit's days (0: none): as of that day or later, its
     * units row is its state, and an as-of question reads that row.
     * units.day_stale (0: none) is the day from which a unit's rows wait
     * to be re-derived (a report dated more than DAY_SHIFT_MAX days before
     * its latest row: applying it would rewrite every row since; or a unit
     * in batch after batch, hub_store_put_state's HUB_STORE_DAYS_LATER); as-of
     * questions from that day on fold that unit's reports, and the hub
     * re-derives such units when ingest is idle (hub_store_days_refresh). */
    {"CREATE TABLE unit_days ("
     " uid INTEGER NOT NULL,"
     " date INTEGER NOT NULL,"
     " reports INTEGER NOT NULL,"
     " participants INTEGER NOT NULL,"
     " hours_tenths INTEGER NOT NULL,"
     " sessions INTEGER NOT NULL,"
     " staff_date INTEGER NOT NULL,"
     " staff_total INTEGER NOT NULL,"
     " staff_proficient INTEGER NOT NULL,"
     " items_date INTEGER NOT NULL,"
     " items_total INTEGER NOT NULL,"
     " items_no_visit INTEGER NOT NULL,"
     " cases_month INTEGER NOT NULL,"
     " cases_total INTEGER NOT NULL,"
     " cases_no_visit INTEGER NOT NULL,"
     " PRIMARY KEY (uid, date)) WITHOUT ROWID;"
     "ALTER TABLE units ADD COLUMN last_day INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE units ADD COLUMN day_stale INTEGER NOT NULL DEFAULT 0;",
     NULL,
     /* the rows are derived by 6 -> 7 (the statements that derive them
      * write its column): until then every unit is stale from its first
      * day, which a schema-6 hub answers by folding the unit's reports and
      * re-derives when idle, should 6 -> 7 fail */
     "UPDATE units SET last_day = 99991231, day_stale = 10000101;"},
    /* 6 -> 7: "as known on" a date (issue 16). unit_days.changed_at is the
     * latest moment anything a row counts changed: the receipt of each
     * report on or before its day, and the trail's events on them (an
     * amend's replacement is a report of its own); a row is kept on each
     * day a report lands on, counted or not (held for its date or for
     * review aside: neither has counted yet), so
     * that the row an as-of question reads says whether the answer as known
     * on an earlier day differs (REVISION-2.md, section 3). events.hold
     * says whether a flag held its report (the [review] hold setting then):
     * a flag left counted and undecided was not held; a decided one cannot
     * tell, and takes the setting's default (held). The rows are derived
     * again from the reports and the trail. */
    {"ALTER TABLE unit_days ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;"
     /* schema 8's (s_add_released_at): the rows derived below read it */
     "ALTER TABLE reports ADD COLUMN released_at INTEGER;"
     "ALTER TABLE events ADD COLUMN hold INTEGER;"
     "UPDATE events SET hold = NOT EXISTS (SELECT 1 FROM reports r WHERE r.uid = events.uid"
     " AND r.iid = events.target_iid AND r.seq = events.target_seq AND r.state = 0"
     " AND NOT EXISTS (SELECT 1 FROM events d WHERE d.uid = events.uid AND d.target_iid ="
     " events.target_iid AND d.target_seq = events.target_seq AND d.what IN (4, 5)))"
     " WHERE what = 3;",
     s_build_days, NULL},
    /* 7 -> 8: the scopes' figures as of any day (issue 16; store_db.h,
     * scope_days): a scope's change on a day, the sum over its units of
     * their unit_days row less the row before. units.scope is the code of
     * the scopes a unit's rows are counted in (0: none yet; the hub's
     * first start counts every unit: hub_store_load_states). A migration
     * that derives unit_days again must empty scope_days and set every
     * units.scope to 0. units_stale finds the few units whose rows wait.
     * reports.released_at: see below. */
    {"CREATE TABLE scope_days ("
     " scope INTEGER NOT NULL,"
     " date INTEGER NOT NULL,"
     " reporting INTEGER NOT NULL,"
     " reports INTEGER NOT NULL,"
     " participants INTEGER NOT NULL,"
     " hours_tenths INTEGER NOT NULL,"
     " sessions INTEGER NOT NULL,"
     " staff_total INTEGER NOT NULL,"
     " staff_proficient INTEGER NOT NULL,"
     " items_total INTEGER NOT NULL,"
     " items_no_visit INTEGER NOT NULL,"
     " cases_total INTEGER NOT NULL,"
     " cases_no_visit INTEGER NOT NULL,"
     " PRIMARY KEY (scope, date)) WITHOUT ROWID;"
     "ALTER TABLE units ADD COLUMN scope INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX units_stale ON units (day_stale) WHERE day_stale > 0;",
     s_add_released_at, NULL},
    /* 8 -> 9: the reports in arrival order (issue 18): a rowid table, each
     * transaction's sorted by (uid, iid, seq), and report_runs, a row per
     * stretch of an incarnation's consecutive seqs in consecutive rows (store_db.h,
     * REPORT_ROW). The stored ones are copied in key order: each incarnation
     * one run up to its first hole (a refused seq). */
    {"CREATE TABLE reports9 ("
     " uid INTEGER NOT NULL, iid INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
     " date INTEGER NOT NULL, total INTEGER NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL,"
     " recorded_at INTEGER NOT NULL, received_at INTEGER NOT NULL, hash INTEGER NOT NULL,"
     " state INTEGER NOT NULL DEFAULT 0, released_at INTEGER);"
     "INSERT INTO reports9 SELECT uid, iid, seq, kind, date, total, part, text, recorded_at,"
     " received_at, hash, state, released_at FROM reports ORDER BY uid, iid, seq;"
     "CREATE TABLE report_runs (iid INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
     " first_seq INTEGER NOT NULL, first_row INTEGER NOT NULL, PRIMARY KEY (iid, last_seq))"
     " WITHOUT ROWID;",
     s_build_runs,
     "DROP TABLE reports;"
     "ALTER TABLE reports9 RENAME TO reports;"
     "CREATE INDEX reports_held ON reports (date, kind, uid) WHERE state = 1;"},
    /* 9 -> 10: an incarnation's last_seq is read from its runs and refusals
     * (INC_LAST_SEQ, store_db.h), and no commit writes incarnations.last_seq any more:
     * nothing to change in the file, but a rollout-hub of schema 9, which
     * reads that column alone, must not open it again. */
    {"SELECT 1", NULL, NULL},
};

const char *hub_store_strerror(int code)
{
    switch (code) {
    case 0: return "ok";
    case HUB_STORE_EFULL: return "store full";
    case HUB_STORE_EDUP: return "already stored";
    case HUB_STORE_ETARGET: return "not a correctable target";
    default: return "store error";
    }
}

/* Map SQLite's result to ours and put "what: sqlite's message" in err. */
int store_fail(hub_store_t *self, int rc, const char *what, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(self->db));
    return (rc & 0xff) == SQLITE_FULL ? HUB_STORE_EFULL : HUB_STORE_EFAIL;
}

/* Out of memory (SQLite's last message has nothing to add). */
static int s_oom(char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "out of memory");
    return HUB_STORE_EFAIL;
}

int store_is_damage(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT;
}

void store_damaged(const char *path, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "%s is damaged: %s; restore it from a backup or move it aside to start empty"
             " (rollout never deletes it)",
             path, why);
}

static uint32_t s_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Look at the file's header before SQLite touches it: SQLite would happily
 * read a truncated file until a query reaches a missing page. Returns 0 when
 * the file is absent, empty, or plausibly whole. */
static int s_check_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* absent (created by SQLite) or unreadable (SQLite says why) */
    struct stat st;
    unsigned char h[100];
    ssize_t n = 0;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return 0;
    }
    if (st.st_size == 0) {
        /* an empty file with a WAL is a store whose first commits were not
         * yet copied back: SQLite recovers it. Without one, it is a store
         * that lost everything, or one whose very first start was cut short:
         * which, only the operator can tell, so it is not filled afresh */
        char wal[600];
        struct stat ws;
        snprintf(wal, sizeof wal, "%s-wal", path);
        close(fd);
        if (stat(wal, &ws) == 0 && ws.st_size > 0)
            return 0;
        snprintf(err, errlen,
                 "%s is empty (0 bytes); restore it from a backup, or, if this is a new hub whose "
                 "first start was cut short, delete it (rollout never fills an existing file "
                 "afresh)",
                 path);
        return -1;
    }
    n = pread(fd, h, sizeof h, 0);
    close(fd);
    if (n < (ssize_t)sizeof h || memcmp(h, "SQLite format 3", 16) != 0) {
        store_damaged(path, "file is not a database", err, errlen);
        return -1;
    }
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1)
        page = 65536;
    uint32_t pages = s_be32(h + 28);
    /* the in-header size counts only when it was written with the counter */
    int size_valid = pages != 0 && s_be32(h + 24) == s_be32(h + 92);
    /* pages still in a WAL may legitimately lie beyond the main file */
    char wal[600];
    struct stat ws;
    snprintf(wal, sizeof wal, "%s-wal", path);
    int wal_busy = stat(wal, &ws) == 0 && ws.st_size > 0;
    if (page >= 512 && size_valid && !wal_busy && (uint64_t)st.st_size < (uint64_t)pages * page) {
        char why[160];
        snprintf(why, sizeof why, "file is truncated (%lld bytes, its header says %llu)",
                 (long long)st.st_size, (unsigned long long)pages * page);
        store_damaged(path, why, err, errlen);
        return -1;
    }
    return 0;
}

static int s_exec(hub_store_t *self, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return (rc & 0xff) == SQLITE_FULL ? HUB_STORE_EFULL : HUB_STORE_EFAIL;
    }
    return 0;
}

/* One integer from a single-row query; returns the SQLite code. */
int store_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Read the schema version and check the tables are ours, without writing. */
static int s_inspect(hub_store_t *self, int64_t *version, char *err, size_t errlen)
{
    int64_t tables = 0, ours = 0, ours4 = 0;
    int rc = store_int(self->db, "PRAGMA user_version", version);
    if (rc == SQLITE_OK)
        rc = store_int(self->db, "SELECT count(*) FROM sqlite_schema", &tables);
    if (rc == SQLITE_OK)
        rc = store_int(self->db,
                       "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                       " AND name IN ('units', 'reports', 'refusals')",
                       &ours);
    if (rc == SQLITE_OK)
        rc = store_int(self->db,
                       "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                       " AND name IN ('meta', 'incarnations')",
                       &ours4);
    if (rc != SQLITE_OK) {
        if (store_is_damage(rc) || store_is_damage(sqlite3_errcode(self->db)))
            store_damaged(self->path, sqlite3_errmsg(self->db), err, errlen);
        else
            snprintf(err, errlen, "%s: cannot read: %s", self->path, sqlite3_errmsg(self->db));
        return -1;
    }
    if (*version > HUB_STORE_SCHEMA) {
        snprintf(err, errlen,
                 "%s has schema version %lld, newer than this rollout-hub knows (%d): run the "
                 "rollout-hub that wrote it, or restore a backup; the file was left untouched",
                 self->path, (long long)*version, HUB_STORE_SCHEMA);
        return -1;
    }
    if (*version == 0 && tables > 0) {
        snprintf(err, errlen,
                 "%s is a SQLite database but not a rollout hub store; point data_dir elsewhere"
                 " (the file was left untouched)",
                 self->path);
        return -1;
    }
    if ((*version >= 1 && ours != 3) || (*version >= 4 && ours4 != 2)) {
        store_damaged(self->path, "tables of the hub store are missing", err, errlen);
        return -1;
    }
    return 0;
}

/* Read meta.store_id into self->store_id: every store of schema 4 has it. */
static int s_load_id(hub_store_t *self, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(self->db, "SELECT store_id FROM meta WHERE id = 1", -1, &st, NULL);
    int ok = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == HUB_STORE_ID_LEN) {
            memcpy(self->store_id, sqlite3_column_blob(st, 0), HUB_STORE_ID_LEN);
            ok = 1;
        }
    }
    sqlite3_finalize(st);
    if (ok)
        return 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE || store_is_damage(rc))
        store_damaged(self->path,
                      rc == SQLITE_ROW || rc == SQLITE_DONE
                          ? "the store's identity (meta) is missing"
                          : sqlite3_errmsg(self->db),
                      err, errlen);
    else
        snprintf(err, errlen, "%s: cannot read: %s", self->path, sqlite3_errmsg(self->db));
    return -1;
}

void hub_store_id(const hub_store_t *self, uint8_t out[HUB_STORE_ID_LEN])
{
    memcpy(out, self->store_id, HUB_STORE_ID_LEN);
}

/* Reports a copy step moves at a time (by the units' last_seq, which bounds
 * their reports): each range's pages are freed before the next is written. */
#define COPY_RANGE 262144

/* 3 -> 4's copy: every report into reports4, under its unit's legacy
 * incarnation. A range of units at a time is copied, then deleted from the
 * old table, so that the next range's new pages reuse the ones it freed:
 * the file grows by about one range, not by the whole table (which a copy
 * then DROP TABLE would leave behind as free pages), and the WAL holds the
 * new table once, given back at the end (s_migrate). */
static int s_copy_reports(hub_store_t *self, char *why, size_t whylen)
{
    sqlite3_stmt *units = NULL, *copy = NULL, *del = NULL;
    why[0] = '\0';
    int rc = sqlite3_prepare_v2(self->db,
                                "SELECT uid, last_seq FROM incarnations"
                                " WHERE incarnation = " LEGACY_INC " ORDER BY uid",
                                -1, &units, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            self->db,
            "INSERT INTO reports4(uid, iid, seq, kind, date, total, part, text, recorded_at,"
            " received_at, hash, state)"
            " SELECT r.uid, i.iid, r.seq, r.kind, r.date, r.total, r.part, r.text, r.recorded_at,"
            " r.received_at, r.hash, r.state FROM reports r LEFT JOIN incarnations i"
            " ON i.uid = r.uid AND i.incarnation = " LEGACY_INC
            " WHERE r.uid >= ?1 AND r.uid < ?2 ORDER BY r.uid, r.seq",
            -1, &copy, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "DELETE FROM reports WHERE uid >= ?1 AND uid < ?2", -1,
                                &del, NULL);
    /* ranges [from, to): the last one ends past every uid */
    int64_t from = INT64_MIN, rows = 0;
    int last = 0;
    while (rc == SQLITE_OK && !last) {
        int64_t to = INT64_MAX;
        while ((rc = sqlite3_step(units)) == SQLITE_ROW) {
            int64_t uid = sqlite3_column_int64(units, 0);
            if (rows >= COPY_RANGE && uid > from) {
                to = uid; /* this unit starts the next range */
                rows = 0;
            }
            rows += sqlite3_column_int64(units, 1);
            if (to != INT64_MAX)
                break;
        }
        if (rc == SQLITE_DONE)
            last = 1;
        else if (rc != SQLITE_ROW)
            break;
        rc = SQLITE_OK;
        for (int k = 0; k < 2 && rc == SQLITE_OK; k++) {
            sqlite3_stmt *st = k == 0 ? copy : del;
            sqlite3_bind_int64(st, 1, from);
            sqlite3_bind_int64(st, 2, to);
            if ((rc = sqlite3_step(st)) == SQLITE_DONE)
                rc = SQLITE_OK;
            else
                snprintf(why, whylen, "%s", sqlite3_errmsg(self->db));
            sqlite3_reset(st);
        }
        from = to;
    }
    if (rc != SQLITE_OK && rc != SQLITE_ROW && !why[0])
        snprintf(why, whylen, "%s", sqlite3_errmsg(self->db));
    int64_t left = 0;
    if (rc == SQLITE_OK &&
        (rc = store_int(self->db, "SELECT count(*) FROM reports", &left)) == SQLITE_OK &&
        left > 0) {
        /* only a uid of INT64_MAX escapes the ranges; no hub writes one */
        snprintf(why, whylen, "%lld reports have a unit id past every range", (long long)left);
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(units);
    sqlite3_finalize(copy);
    sqlite3_finalize(del);
    return rc == SQLITE_OK ? 0 : (rc & 0xff) == SQLITE_FULL ? HUB_STORE_EFULL : HUB_STORE_EFAIL;
}

/* Every unit's unit_days rows, derived afresh from its counted reports:
 * a unit at a time (its reports are one range of the key, sorted by day
 * apart from the rest). The statements store_days_redo uses are prepared
 * here when the store's are not yet (in a migration) and put back after. */
static int s_days_rebuild(hub_store_t *self, char *err, size_t errlen)
{
    static const int used[] = {Q_DAY_BASE, Q_DAY_CLEAR, Q_DAY_REPORTS, Q_DAY_INSERT, Q_DAY_LAST};
    /* in a migration before schema 9, the reports are the table keyed by (uid, iid, seq) */
    static const char day_reports_keyed[] =
        "SELECT r.kind, r.date, r.total, r.part, " REPORT_DAY " AS day, r.state, " CHANGED_AT
        " FROM reports r LEFT JOIN " CHANGED_EVENTS(
            "WHERE uid = ?1") " e ON e.target_iid = r.iid AND e.target_seq = r.seq"
                              " WHERE r.uid = ?1 AND r.state NOT IN (1, 2) AND " REPORT_DAY " >= ?2"
                              " ORDER BY day, r.received_at, r.iid, r.seq";
    int own = self->q[Q_DAY_BASE] == NULL, rc = SQLITE_OK;
    for (size_t k = 0; own && rc == SQLITE_OK && k < sizeof used / sizeof used[0]; k++)
        rc = sqlite3_prepare_v2(self->db,
                                used[k] == Q_DAY_REPORTS ? day_reports_keyed : s_sql[used[k]], -1,
                                &self->q[used[k]], NULL);
    sqlite3_stmt *units = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "SELECT uid FROM units ORDER BY uid", -1, &units, NULL);
    int out = rc == SQLITE_OK ? s_exec(self, "DELETE FROM unit_days", err, errlen)
                              : store_fail(self, rc, "cannot derive the units' days", err, errlen);
    while (out == 0 && (rc = sqlite3_step(units)) == SQLITE_ROW)
        out = store_days_redo(self, sqlite3_column_int64(units, 0), 0, err, errlen);
    if (out == 0 && rc != SQLITE_DONE)
        out = store_fail(self, rc, "cannot read the units", err, errlen);
    sqlite3_finalize(units);
    for (size_t k = 0; own && k < sizeof used / sizeof used[0]; k++) {
        sqlite3_finalize(self->q[used[k]]);
        self->q[used[k]] = NULL;
    }
    return out;
}

/* 7 -> 8's: reports.released_at, when a report held for its date was
 * released, for "as known on" (KNOWN_COUNTED: it counted from then, not
 * from its receipt; NULL: never held, or released before schema 8, then
 * from its receipt as schema 7 answered). A store that came through
 * 6 -> 7 in this migration has it already (that step derives the rows,
 * which read it). */
static int s_add_released_at(hub_store_t *self, char *why, size_t whylen)
{
    int64_t has = 0;
    int rc = store_int(
        self->db, "SELECT count(*) FROM pragma_table_info('reports') WHERE name = 'released_at'",
        &has);
    if (rc != SQLITE_OK)
        return store_fail(self, rc, "cannot read the reports' columns", why, whylen);
    return has ? 0
               : s_exec(self, "ALTER TABLE reports ADD COLUMN released_at INTEGER", why, whylen);
}

/* 6 -> 7's copy: unit_days from the reports and the trail. */
static int s_build_days(hub_store_t *self, char *why, size_t whylen)
{
    return s_days_rebuild(self, why, whylen);
}

/* A run being gathered (report_runs): rows of one incarnation whose seqs
 * and rowids both go up by one. */
typedef struct {
    int64_t iid, first_seq, last_seq, first_row, last_row;
} s_run_t;

/* The report (iid, seq) stored at row, after run r's: it continues r, or r
 * is written with put (report_runs' INSERT, ?1 to ?4) and a new run
 * begins with it. iid 0 writes the last run. Returns SQLITE_OK or put's
 * error. */
static int s_run_next(sqlite3_stmt *put, s_run_t *r, int64_t iid, int64_t seq, int64_t row)
{
    if (iid && iid == r->iid && seq == r->last_seq + 1 && row == r->last_row + 1) {
        r->last_seq = seq, r->last_row = row;
        return SQLITE_OK;
    }
    int rc = SQLITE_DONE;
    if (r->iid) {
        sqlite3_bind_int64(put, 1, r->iid);
        sqlite3_bind_int64(put, 2, r->last_seq);
        sqlite3_bind_int64(put, 3, r->first_seq);
        sqlite3_bind_int64(put, 4, r->first_row);
        rc = sqlite3_step(put);
        sqlite3_reset(put);
    }
    *r = (s_run_t){iid, seq, seq, row, row};
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* 8 -> 9's copy: the runs of reports9, in one pass over its rows (the
 * store's statements are not prepared during a migration). */
static int s_build_runs(hub_store_t *self, char *why, size_t whylen)
{
    sqlite3_stmt *rows = NULL, *put = NULL;
    int rc = sqlite3_prepare_v2(self->db, "SELECT rowid, iid, seq FROM reports9 ORDER BY rowid", -1,
                                &rows, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, s_sql[Q_RUN_INSERT], -1, &put, NULL);
    s_run_t run = {0};
    while (rc == SQLITE_OK) {
        int step = sqlite3_step(rows);
        if (step != SQLITE_ROW) {
            rc = step == SQLITE_DONE ? s_run_next(put, &run, 0, 0, 0) : step;
            break;
        }
        rc = s_run_next(put, &run, sqlite3_column_int64(rows, 1), sqlite3_column_int64(rows, 2),
                        sqlite3_column_int64(rows, 0));
    }
    sqlite3_finalize(rows);
    sqlite3_finalize(put);
    return rc == SQLITE_OK ? 0
                           : store_fail(self, rc, "cannot write the reports' runs", why, whylen);
}

long hub_store_days_refresh(hub_store_t *self, int64_t budget_ms, char *err, size_t errlen)
{
    int64_t stop = ro_time_mono_ms() + budget_ms;
    long done = 0;
    if (self->stale_none) /* an idle hub does not scan its units every second */
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, "SELECT uid FROM units WHERE day_stale > 0 LIMIT 32", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return store_fail(self, rc, "cannot find stale days", err, errlen);
    int more = 1, out = 0;
    while (out == 0 && more && ro_time_mono_ms() < stop) {
        int64_t uids[32];
        int n = 0;
        if ((out = hub_store_begin(self, err, errlen)))
            break;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            uids[n++] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            out = store_fail(self, rc, "cannot find stale days", err, errlen);
        int k = 0; /* from its first stale day, and clears it; the budget checked at each */
        for (; out == 0 && k < n && (k == 0 || ro_time_mono_ms() < stop); k++)
            out = store_days_redo(self, uids[k], UINT32_MAX, err, errlen);
        if (out == 0)
            out = hub_store_commit(self, err, errlen);
        if (out)
            hub_store_rollback(self);
        done += out ? 0 : k;
        more = n == 32 || k < n;
        if (out == 0 && n == 0)
            self->stale_none = 1;
    }
    sqlite3_finalize(st);
    return out ? out : done;
}

int hub_store_days_rebuild(hub_store_t *self, char *err, size_t errlen)
{
    int rc = hub_store_begin(self, err, errlen);
    self->scope_off = 1; /* every row is written again: every unit counted again after */
    if (rc == 0)
        rc = s_days_rebuild(self, err, errlen);
    self->scope_off = 0;
    if (rc == 0)
        rc = store_scopes_recount(self, err, errlen);
    if (rc == 0)
        rc = hub_store_commit(self, err, errlen);
    if (rc)
        hub_store_rollback(self);
    return rc;
}

/* ro_report_hash(kind, date, total, part, text, recorded_at) in SQL, for the
 * migration that rehashes stored reports. */
static void s_sql_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.kind = (ro_kind_t)sqlite3_value_int(argv[0]);
    r.date = (uint32_t)sqlite3_value_int64(argv[1]);
    r.total = (uint32_t)sqlite3_value_int64(argv[2]);
    r.part = (uint32_t)sqlite3_value_int64(argv[3]);
    const unsigned char *text = sqlite3_value_text(argv[4]);
    snprintf(r.text, sizeof r.text, "%s", text ? (const char *)text : "");
    r.recorded_at = sqlite3_value_int64(argv[5]);
    sqlite3_result_int64(ctx, (sqlite3_int64)ro_report_hash(&r));
}

static int s_migrate(hub_store_t *self, int64_t from, char *err, size_t errlen)
{
    int64_t t0 = ro_time_mono_ms();
    if (from > 0 && from < 9) /* the steps from 9 on change no row */
        ro_log(LOG_NOTICE,
               "%s: migrating the store from schema %lld to %d (once: about half a minute per 10 "
               "million reports on 2 idle cores, and free disk up to 1.2 times the store's size, "
               "given back at the end); wait for the line that says it is done",
               self->path, (long long)from, HUB_STORE_SCHEMA);
    else if (from > 0 && from < HUB_STORE_SCHEMA)
        ro_log(LOG_NOTICE, "%s: migrating the store from schema %lld to %d (no row changes)",
               self->path, (long long)from, HUB_STORE_SCHEMA);
    if (sqlite3_create_function(self->db, "ro_report_hash", 6, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                NULL, s_sql_hash, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot register ro_report_hash: %s", self->path,
                 sqlite3_errmsg(self->db));
        return -1;
    }
    for (int64_t v = from; v < HUB_STORE_SCHEMA; v++) {
        char why[256], pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %lld", (long long)v + 1);
        const s_step_t *step = &s_migrations[v];
        int rc = s_exec(self, "BEGIN IMMEDIATE", why, sizeof why);
        if (rc == 0)
            rc = s_exec(self, step->sql, why, sizeof why);
        if (rc == 0 && step->copy)
            rc = step->copy(self, why, sizeof why);
        if (rc == 0 && step->after)
            rc = s_exec(self, step->after, why, sizeof why);
        if (rc == 0)
            rc = s_exec(self, pragma, why, sizeof why);
        if (rc == 0)
            rc = s_exec(self, "COMMIT", why, sizeof why);
        if (rc) {
            /* the statements are not prepared yet: hub_store_rollback cannot */
            if (!sqlite3_get_autocommit(self->db))
                sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
            snprintf(err, errlen, "%s: cannot migrate schema %lld to %lld: %s; %s", self->path,
                     (long long)v, (long long)v + 1, why,
                     rc == HUB_STORE_EFULL
                         ? "free disk (up to 1.2 times the store's size) and start again; the "
                           "store is as it was"
                         : "the store is as it was, and the rollout-hub that wrote it still runs "
                           "on it");
            return -1;
        }
    }
    /* a migration rewrites the reports: give back the WAL it grew to (the
     * size of the store), or the disk stays that much fuller */
    if (from > 0 && from < HUB_STORE_SCHEMA) {
        sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        ro_log(LOG_NOTICE, "%s: migrated the store to schema %d in %.1f s", self->path,
               HUB_STORE_SCHEMA, (double)(ro_time_mono_ms() - t0) / 1000);
    }
    return 0;
}

static hub_store_t *s_open(const char *path, int synchronous, int64_t max_bytes, int check,
                           char *err, size_t errlen);

hub_store_t *hub_store_open(const char *path, int synchronous, int64_t max_bytes, char *err,
                            size_t errlen)
{
    return s_open(path, synchronous, max_bytes, 1, err, errlen);
}

hub_store_t *hub_store_open_again(const char *path, int synchronous, char *err, size_t errlen)
{
    return s_open(path, synchronous, 0, 0, err, errlen);
}

int hub_store_set_cache(hub_store_t *self, int kib)
{
    char sql[64], why[256];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", kib);
    return s_exec(self, sql, why, sizeof why);
}

void hub_store_interrupt(hub_store_t *self)
{
    if (self && self->db)
        sqlite3_interrupt(self->db);
}

/* check: look at the file's header first (only before this process has a
 * connection to it: closing that descriptor would drop the connection's
 * POSIX locks, and SQLite would then think the WAL unused). */
static hub_store_t *s_open(const char *path, int synchronous, int64_t max_bytes, int check,
                           char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (synchronous < 1 || synchronous > 3) {
        snprintf(err, errlen, "synchronous must be 1 (normal), 2 (full) or 3 (extra)");
        return NULL;
    }
    int memory = strcmp(path, ":memory:") == 0;
    if (!memory && check && s_check_file(path, err, errlen))
        return NULL;

    hub_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(self->path, sizeof self->path, "%s", path);
    int rc = sqlite3_open_v2(
        path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path,
                 self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
        hub_store_destroy(&self);
        return NULL;
    }
    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_timeout(self->db, 5000);

    int64_t version = 0;
    if (s_inspect(self, &version, err, errlen)) {
        hub_store_destroy(&self);
        return NULL;
    }

    char why[256], sql[160];
    int64_t mode_ok = 0;
    if (!memory) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(self->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) {
                const unsigned char *m = sqlite3_column_text(st, 0);
                mode_ok = m && strcmp((const char *)m, "wal") == 0;
            }
            sqlite3_finalize(st);
        }
        if (!mode_ok) {
            snprintf(err, errlen, "%s: cannot switch to WAL mode: %s", path,
                     sqlite3_errmsg(self->db));
            hub_store_destroy(&self);
            return NULL;
        }
    }
    /* A batch from many agents touches a leaf page per unit: a WAL
     * checkpointed every 32 MiB rather than 4 MiB copies a page that ten
     * commits rewrote back once (and see hub_store_set_cache). */
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %d; PRAGMA wal_autocheckpoint = 8192",
             synchronous);
    if (s_exec(self, sql, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s", path, why);
        hub_store_destroy(&self);
        return NULL;
    }
    if (s_migrate(self, version, err, errlen) || s_load_id(self, err, errlen)) {
        hub_store_destroy(&self);
        return NULL;
    }
    if (max_bytes > 0 && hub_store_set_max_bytes(self, max_bytes, err, errlen)) {
        hub_store_destroy(&self);
        return NULL;
    }
    for (int i = 0; i < Q_COUNT; i++) {
        rc = sqlite3_prepare_v3(self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->q[i],
                                NULL);
        if (rc != SQLITE_OK) {
            if (store_is_damage(rc))
                store_damaged(path, sqlite3_errmsg(self->db), err, errlen);
            else
                snprintf(err, errlen, "%s: cannot prepare statement %d: %s", path, i,
                         sqlite3_errmsg(self->db));
            hub_store_destroy(&self);
            return NULL;
        }
    }
    if (check && store_scopes_setup(self, err, errlen)) { /* the writer's connection */
        hub_store_destroy(&self);
        return NULL;
    }
    return self;
}

int hub_store_set_max_bytes(hub_store_t *self, int64_t max_bytes, char *err, size_t errlen)
{
    int64_t page = 4096, pages = 0xfffffffe; /* SQLite's own ceiling */
    store_int(self->db, "PRAGMA page_size", &page);
    if (max_bytes > 0)
        pages = max_bytes / (page > 0 ? page : 4096);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)(pages > 0 ? pages : 1));
    int64_t got;
    if (store_int(self->db, sql, &got) != SQLITE_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot cap the size: %s", self->path,
                     sqlite3_errmsg(self->db));
        return HUB_STORE_EFAIL;
    }
    return 0;
}

void hub_store_destroy(hub_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_store_t *self = *self_p;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(self->q[i]);
    if (self->db) {
        if (!sqlite3_get_autocommit(self->db))
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(self->db);
    }
    free(self->uids);
    free(self->liids);
    free(self->ids);
    free(self->day_from);
    free(self->day_to);
    free(self->day_list);
    free(self->day_head);
    free(self->day_tail);
    free(self->day_log);
    free(self->pend);
    free(self->pidx);
    free(self->ptext);
    free(self->mx_iid);
    free(self->mx_seq);
    store_scopes_free(self);
    free(self);
    *self_p = NULL;
}

/* Run a statement that returns no rows, then reset it. */
static int s_step_done(hub_store_t *self, sqlite3_stmt *st, const char *what, char *err,
                       size_t errlen)
{
    int rc = sqlite3_step(st);
    int out = 0;
    if (rc != SQLITE_DONE)
        out = store_fail(self, rc, what, err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

void store_row_aggregates(sqlite3_stmt *st, int col, hub_unit_state_t *s)
{
    s->reports = (uint64_t)sqlite3_column_int64(st, col + 0);
    s->participants = (uint64_t)sqlite3_column_int64(st, col + 1);
    s->hours_tenths = (uint64_t)sqlite3_column_int64(st, col + 2);
    s->sessions = (uint64_t)sqlite3_column_int64(st, col + 3);
    s->staff_date = (uint32_t)sqlite3_column_int64(st, col + 4);
    s->staff_total = (uint32_t)sqlite3_column_int64(st, col + 5);
    s->staff_proficient = (uint32_t)sqlite3_column_int64(st, col + 6);
    s->items_date = (uint32_t)sqlite3_column_int64(st, col + 7);
    s->items_total = (uint32_t)sqlite3_column_int64(st, col + 8);
    s->items_no_visit = (uint32_t)sqlite3_column_int64(st, col + 9);
    s->cases_month = (uint32_t)sqlite3_column_int64(st, col + 10);
    s->cases_total = (uint32_t)sqlite3_column_int64(st, col + 11);
    s->cases_no_visit = (uint32_t)sqlite3_column_int64(st, col + 12);
}

/* A registry's units as the store maps them: uid, legacy iid, id. */
typedef struct {
    int64_t *uids;                 /* uid of unit i, or STORE_NO_UID */
    int64_t *liids;                /* iid of its legacy incarnation, or 0 */
    char (*ids)[RO_UNIT_MAX + 1];  /* its id */
    uint32_t *day_from, *day_to;   /* all 0 (hub_store_t's) */
    uint32_t *day_list;            /* room for every unit */
    uint32_t *day_head, *day_tail; /* all 0 */
    uint32_t *codes;               /* load: units.scope of unit i (0: none or no row) */
    struct store_uid_code *gone;   /* load: units no longer in the registry, counted somewhere */
    size_t ngone, gonecap;
} s_map_t;

static void s_map_free(s_map_t *m)
{
    free(m->uids);
    free(m->liids);
    free(m->ids);
    free(m->day_from);
    free(m->day_to);
    free(m->day_list);
    free(m->day_head);
    free(m->day_tail);
    free(m->codes);
    free(m->gone);
}

/* Room in m for n units' map, all zero. Returns 0, or HUB_STORE_EFAIL (out
 * of memory) with nothing allocated. */
static int s_map_alloc(size_t n, s_map_t *m, char *err, size_t errlen)
{
    m->uids = ro_calloc_big(n, sizeof *m->uids);
    m->liids = calloc(n ? n : 1, sizeof *m->liids);
    m->ids = ro_calloc_big(n, sizeof *m->ids);
    m->day_from = calloc(n ? n : 1, sizeof *m->day_from);
    m->day_to = calloc(n ? n : 1, sizeof *m->day_to);
    m->day_list = calloc(n ? n : 1, sizeof *m->day_list);
    m->day_head = calloc(n ? n : 1, sizeof *m->day_head);
    m->day_tail = calloc(n ? n : 1, sizeof *m->day_tail);
    m->codes = calloc(n ? n : 1, sizeof *m->codes);
    m->gone = NULL;
    m->ngone = m->gonecap = 0;
    if (!m->uids || !m->liids || !m->ids || !m->day_from || !m->day_to || !m->day_list ||
        !m->day_head || !m->day_tail || !m->codes) {
        s_map_free(m);
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return HUB_STORE_EFAIL;
    }
    return 0;
}

/* A new map for reg: every uid STORE_NO_UID, every liid 0, every id
 * copied. Returns 0, or HUB_STORE_EFAIL (out of memory) with nothing
 * allocated. */
static int s_map_new(const ro_registry_t *reg, s_map_t *m, char *err, size_t errlen)
{
    size_t n = ro_registry_count(reg);
    if (s_map_alloc(n, m, err, errlen))
        return HUB_STORE_EFAIL;
    for (size_t i = 0; i < n; i++) {
        m->uids[i] = STORE_NO_UID;
        memcpy(m->ids[i], ro_registry_at(reg, i)->id, sizeof m->ids[i]); /* same size, NUL-ended */
    }
    return 0;
}

/* Replace the store's maps with m's (taken over) for n units. */
static void s_map_set(hub_store_t *self, s_map_t *m, size_t n)
{
    free(m->codes);
    free(m->gone);
    free(self->uids);
    free(self->liids);
    free(self->ids);
    free(self->day_from);
    free(self->day_to);
    free(self->day_list);
    free(self->day_head);
    free(self->day_tail);
    self->uids = m->uids;
    self->liids = m->liids;
    self->ids = m->ids;
    self->day_from = m->day_from;
    self->day_to = m->day_to;
    self->day_list = m->day_list;
    self->day_head = m->day_head;
    self->day_tail = m->day_tail;
    self->day_n = 0;
    self->day_logn = 0;
    self->nunits = n;
}

/* A unit's uid and its index in the registry, sorted by uid. */
struct s_uid_at {
    int64_t uid;
    long i;
};

static int s_uid_at_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct s_uid_at *)a)->uid, y = ((const struct s_uid_at *)b)->uid;
    return x < y ? -1 : x > y;
}

/* Each incarnation of a unit of reg (rows of Q_INC_SCAN, by iid) into its
 * state: the legacy one's iid and last_seq, and what status shows as the
 * unit's last seq, the last_seq of its newest incarnation that holds any
 * (a replaced or copied outbox's is newer). at (n, by uid) finds a uid's
 * unit. Returns SQLITE_DONE or SQLite's error. */
static int s_scan_incarnations(hub_store_t *self, const struct s_uid_at *at, size_t n, s_map_t *m,
                               hub_unit_state_t *states)
{
    sqlite3_stmt *st = self->q[Q_INC_SCAN];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct s_uid_at key = {sqlite3_column_int64(st, 0), 0};
        const struct s_uid_at *u = bsearch(&key, at, n, sizeof *at, s_uid_at_cmp);
        if (!u)
            continue;
        uint64_t last = (uint64_t)sqlite3_column_int64(st, 3);
        if (sqlite3_column_int(st, 2)) {
            m->liids[u->i] = sqlite3_column_int64(st, 1);
            states[u->i].last_seq = last;
        }
        if (last > 0) /* by iid: the newest comes last */
            states[u->i].seq_shown = last;
    }
    sqlite3_reset(st);
    return rc;
}

/* One sequential pass over the units table and one over the incarnations:
 * for each row whose id is reg's unit i, m->uids[i], states[i] and
 * m->liids[i]. Rows of units no longer in reg are passed over. Returns 0
 * or a code; a damaged file is named as such in err. */
static int s_scan_units(hub_store_t *self, const ro_registry_t *reg, s_map_t *m,
                        hub_unit_state_t *states, char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_UNIT_SCAN];
    size_t n = ro_registry_count(reg), next = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 1);
        if (!id)
            continue;
        /* rows were added in registry order: try the unit after the last
         * one matched before hashing */
        long i = next < n && strcmp(ro_registry_at(reg, next)->id, id) == 0
                     ? (long)next
                     : ro_registry_find(reg, id);
        if (i < 0 && sqlite3_column_int64(st, 16) != 0) {
            /* counted in the scopes, no longer in the registry: leaves them */
            if (m->ngone == m->gonecap) {
                size_t cap = m->gonecap ? m->gonecap * 2 : 16;
                struct store_uid_code *g = realloc(m->gone, cap * sizeof *g);
                if (!g) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                m->gone = g, m->gonecap = cap;
            }
            m->gone[m->ngone++] = (struct store_uid_code){sqlite3_column_int64(st, 0),
                                                          (uint32_t)sqlite3_column_int64(st, 16)};
        }
        if (i < 0)
            continue;
        next = (size_t)i + 1;
        m->uids[i] = sqlite3_column_int64(st, 0);
        m->codes[i] = (uint32_t)sqlite3_column_int64(st, 16);
        states[i].last_seq = states[i].seq_shown = 0; /* the incarnations' pass sets them */
        states[i].last_heard = sqlite3_column_int64(st, 2);
        store_row_aggregates(st, 3, &states[i]);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        struct s_uid_at *at = malloc((n ? n : 1) * sizeof *at);
        size_t k = 0;
        for (size_t i = 0; at && i < n; i++)
            if (m->uids[i] != STORE_NO_UID)
                at[k++] = (struct s_uid_at){m->uids[i], (long)i};
        if (at) {
            qsort(at, k, sizeof *at, s_uid_at_cmp);
            rc = s_scan_incarnations(self, at, k, m, states);
        } else {
            rc = SQLITE_NOMEM;
        }
        free(at);
    }
    int out = 0;
    if (rc != SQLITE_DONE) {
        out = store_fail(self, rc, "cannot read the units", err, errlen);
        if (err && errlen &&
            (store_is_damage(rc) || store_is_damage(sqlite3_extended_errcode(self->db))))
            store_damaged(self->path, sqlite3_errmsg(self->db), err, errlen);
    }
    return out;
}

int hub_store_copy_map(hub_store_t *self, const hub_store_t *from, char *err, size_t errlen)
{
    size_t n = from->nunits;
    s_map_t m;
    if (s_map_alloc(n, &m, err, errlen))
        return HUB_STORE_EFAIL;
    if (n) {
        memcpy(m.uids, from->uids, n * sizeof *m.uids);
        memcpy(m.liids, from->liids, n * sizeof *m.liids);
        memcpy(m.ids, from->ids, n * sizeof *m.ids);
    }
    s_map_set(self, &m, n);
    return 0;
}

/* Add unit uid's incarnation inc (first heard at heard; 0: not yet) and
 * return its iid, or a negative code. */
static int64_t s_add_incarnation(hub_store_t *self, int64_t uid, const uint8_t *inc, int64_t heard,
                                 char *err, size_t errlen)
{
    static const uint8_t legacy[RO_INCARNATION_LEN];
    sqlite3_stmt *st = self->q[Q_INC_INSERT];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_blob(st, 2, inc ? inc : legacy, RO_INCARNATION_LEN, SQLITE_STATIC);
    if (heard)
        sqlite3_bind_int64(st, 3, heard);
    int rc = s_step_done(self, st, "cannot add an incarnation", err, errlen);
    return rc ? rc : sqlite3_last_insert_rowid(self->db);
}

int hub_store_load_states(hub_store_t *self, const ro_registry_t *reg, hub_unit_state_t *states,
                          char *err, size_t errlen)
{
    size_t n = ro_registry_count(reg);
    s_map_t m;
    if (s_map_new(reg, &m, err, errlen))
        return HUB_STORE_EFAIL;
    /* one write transaction: the units read are the units there are, and
     * the rows of units new to the store are added in one commit (none
     * added: nothing is written) */
    int rc = hub_store_begin(self, err, errlen);
    if (rc == 0)
        rc = s_scan_units(self, reg, &m, states, err, errlen);
    size_t moving = 0; /* units whose scope changes: all of them, once, after an upgrade */
    for (size_t i = 0; rc == 0 && i < n; i++)
        moving +=
            m.uids[i] != STORE_NO_UID && m.codes[i] != store_scope_code(ro_registry_at(reg, i));
    int64_t t0 = ro_time_mono_ms();
    if (moving >= 1000)
        ro_log(LOG_NOTICE, "%s: adding %zu units' daily states up by scope (scope_days)",
               self->path, moving);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (m.uids[i] == STORE_NO_UID) {
            sqlite3_bind_text(self->q[Q_UNIT_INSERT], 1, m.ids[i], -1, SQLITE_STATIC);
            rc = s_step_done(self, self->q[Q_UNIT_INSERT], "cannot add a unit", err, errlen);
            if (rc)
                break;
            m.uids[i] = sqlite3_last_insert_rowid(self->db);
            memset(&states[i], 0, sizeof states[i]); /* a new row: every column 0 */
        }
        /* every unit has its legacy sequence, heard from or not, so that
         * a version-1 report never adds a row in the middle of a batch */
        if (m.liids[i] == 0) {
            int64_t iid = s_add_incarnation(self, m.uids[i], NULL, 0, err, errlen);
            if (iid < 0)
                rc = (int)iid;
            else
                m.liids[i] = iid;
        }
        /* counted in the scopes the registry puts it in (a new row, or
         * a store from before scope_days: every unit, once) */
        uint32_t code = store_scope_code(ro_registry_at(reg, i));
        if (rc == 0 && m.codes[i] != code)
            rc = store_scopes_move(self, m.uids[i], m.codes[i], code, err, errlen);
    }
    for (size_t k = 0; rc == 0 && k < m.ngone; k++)
        rc = store_scopes_move(self, m.gone[k].uid, m.gone[k].code, 0, err, errlen);
    if (rc == 0)
        rc = hub_store_commit(self, err, errlen);
    if (rc == 0 && moving >= 1000)
        ro_log(LOG_NOTICE, "%s: added %zu units' daily states up by scope in %.1f s", self->path,
               moving, (double)(ro_time_mono_ms() - t0) / 1000);
    if (rc) {
        if (err && errlen && store_is_damage(sqlite3_extended_errcode(self->db)))
            store_damaged(self->path, sqlite3_errmsg(self->db), err, errlen);
        hub_store_rollback(self);
        s_map_free(&m);
        return rc;
    }
    s_map_set(self, &m, n);
    return 0;
}

int hub_store_begin(hub_store_t *self, char *err, size_t errlen)
{
    return s_step_done(self, self->q[Q_BEGIN], "cannot begin a transaction", err, errlen);
}

/* Forget the units marked for unit_days (the transaction ends). */
static void s_days_forget(hub_store_t *self)
{
    for (size_t k = 0; k < self->day_n; k++) {
        uint32_t i = self->day_list[k];
        self->day_from[i] = self->day_to[i] = self->day_head[i] = self->day_tail[i] = 0;
    }
    self->day_n = 0;
    self->day_logn = 0;
}

/* Mark unit index's unit_days rows as changed from day on (to: the latest
 * day, or DAY_REDO). */
static void s_days_mark(hub_store_t *self, size_t index, uint32_t day, uint32_t to)
{
    if (!self->day_from || index >= self->nunits)
        return;
    if (self->day_from[index] == 0) {
        self->day_list[self->day_n++] = (uint32_t)index;
        self->day_from[index] = day;
        self->day_to[index] = to;
        return;
    }
    if (day < self->day_from[index])
        self->day_from[index] = day;
    if (to > self->day_to[index])
        self->day_to[index] = to;
}

/* Keep what a report of unit index (marked) does to its rows (effect, at:
 * when), for s_days_put; when memory runs out, its unit is re-derived
 * instead. */
static void s_days_log(hub_store_t *self, size_t index, int effect, ro_kind_t kind, uint32_t date,
                       uint32_t total, uint32_t part, int64_t at, int64_t iid, uint64_t seq)
{
    if (!self->day_from || index >= self->nunits || self->day_to[index] == DAY_REDO)
        return;
    if (self->day_logn == self->day_logcap) {
        size_t cap = self->day_logcap ? self->day_logcap * 2 : 1024;
        struct store_day_entry *grown = realloc(self->day_log, cap * sizeof *grown);
        if (!grown) {
            self->day_to[index] = DAY_REDO;
            return;
        }
        self->day_log = grown;
        self->day_logcap = cap;
    }
    struct store_day_entry *e = &self->day_log[self->day_logn++];
    *e = (struct store_day_entry){0, at, iid, seq, effect, (int)kind, date, total, part};
    uint32_t k = (uint32_t)self->day_logn; /* its index + 1 */
    if (self->day_tail[index])
        self->day_log[self->day_tail[index] - 1].next = k;
    else
        self->day_head[index] = k;
    self->day_tail[index] = k;
}

/* The day report r (of kind and date) lands on in unit_days. */
static uint32_t s_day_of(ro_kind_t kind, uint32_t date)
{
    return kind == RO_KIND_CASES ? date * 100 + 1 : date;
}

int hub_store_commit(hub_store_t *self, char *err, size_t errlen)
{
    /* units marked but not written by hub_store_put_state: re-derived */
    int rc = store_pending_flush(self, err, errlen);
    for (size_t k = 0; rc == 0 && k < self->day_n; k++) {
        uint32_t i = self->day_list[k];
        if (self->day_from[i])
            rc = store_days_redo(self, self->uids[i], self->day_from[i], err, errlen);
    }
    s_days_forget(self);
    if (rc == 0)
        rc = store_scopes_flush(self, err, errlen);
    return rc ? rc : s_step_done(self, self->q[Q_COMMIT], "cannot commit", err, errlen);
}

/* Empty pidx, if it was built: the slots the reports took, not the whole
 * of it (grown by the largest batch, it would be cleared at every commit
 * of one report). */
static void s_pidx_clear(hub_store_t *self)
{
    for (size_t k = 0; self->pidx_on && k < self->pendn; k++)
        self->pidx[self->pend[k].slot] = 0;
    self->pidx_on = 0;
}

void hub_store_rollback(hub_store_t *self)
{
    s_pidx_clear(self);
    self->pendn = 0, self->ptextn = 0;
    if (self->mxcap)
        memset(self->mx_iid, 0, self->mxcap * sizeof *self->mx_iid);
    self->mxn = 0;
    s_days_forget(self);
    store_scopes_forget(self);
    /* SQLite may already have rolled back on its own (e.g. after SQLITE_FULL) */
    for (int i = 0; i < Q_COUNT; i++)
        if (i != Q_ROLLBACK)
            sqlite3_reset(self->q[i]);
    if (!sqlite3_get_autocommit(self->db)) {
        sqlite3_step(self->q[Q_ROLLBACK]);
        sqlite3_reset(self->q[Q_ROLLBACK]);
    }
}

/* 0 if unit index has a row to write to, else HUB_STORE_EFAIL with why. */
static int s_writable(const hub_store_t *self, size_t index, char *err, size_t errlen)
{
    if (index < self->nunits && self->uids[index] != STORE_NO_UID)
        return 0;
    if (err && errlen) {
        if (index < self->nunits)
            snprintf(err, errlen, "unit %s has no row in the store", self->ids[index]);
        else
            snprintf(err, errlen, "unit index %zu is not loaded", index);
    }
    return HUB_STORE_EFAIL;
}

static size_t s_mx_slot(const hub_store_t *self, int64_t iid);

/* The iid (0: none) and last_seq of unit index's incarnation inc (16
 * bytes): what the file says (INC_LAST_SEQ), or the highest seq of its
 * reports the transaction has not flushed yet (mx), if higher. */
static int64_t s_inc_find(hub_store_t *self, size_t index, const uint8_t *inc, uint64_t *last_seq,
                          char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_INC_FIND];
    sqlite3_bind_int64(st, 1, self->uids[index]);
    sqlite3_bind_blob(st, 2, inc, RO_INCARNATION_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t iid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (last_seq)
        *last_seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
    size_t mi = iid > 0 && self->mxcap ? s_mx_slot(self, iid) : 0;
    if (last_seq && iid > 0 && self->mxcap && self->mx_iid[mi] == iid &&
        (uint64_t)self->mx_seq[mi] > *last_seq)
        *last_seq = (uint64_t)self->mx_seq[mi];
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        iid = store_fail(self, rc, "cannot look up an incarnation", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return iid;
}

int64_t hub_store_incarnation(hub_store_t *self, size_t index, const uint8_t *incarnation,
                              int64_t now, char *err, size_t errlen)
{
    static const uint8_t legacy[RO_INCARNATION_LEN];
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    if (!incarnation || memcmp(incarnation, legacy, sizeof legacy) == 0) {
        if (self->liids && self->liids[index] > 0)
            return self->liids[index];
        incarnation = legacy; /* not in the map: ask the file */
    }
    int64_t iid = s_inc_find(self, index, incarnation, NULL, err, errlen);
    if (iid == 0)
        iid = s_add_incarnation(self, self->uids[index], incarnation, now, err, errlen);
    return iid;
}

int64_t hub_store_incarnation_find(hub_store_t *self, size_t index, const uint8_t *incarnation,
                                   uint64_t *last_seq, char *err, size_t errlen)
{
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    return s_inc_find(self, index, incarnation, last_seq, err, errlen);
}

static size_t s_pidx_slot(const hub_store_t *self, int64_t iid, int64_t seq)
{
    uint64_t h = ((uint64_t)iid * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)seq * 0xc2b2ae3d27d4eb4full);
    size_t i = (size_t)(h >> 17) & (self->pidxcap - 1);
    while (self->pidx[i]) {
        const struct store_pending *p = &self->pend[self->pidx[i] - 1];
        if (p->iid == iid && p->seq == seq)
            break;
        i = (i + 1) & (self->pidxcap - 1);
    }
    return i;
}

/* Put pend[n] in pidx, growing it to stay at most half full: 0, or -1
 * out of memory. */
static int s_pidx_add(hub_store_t *self, size_t n)
{
    if ((n + 1) * 2 > self->pidxcap) {
        size_t cap = self->pidxcap ? self->pidxcap * 2 : 2048;
        while ((n + 1) * 2 > cap)
            cap *= 2;
        uint32_t *g = calloc(cap, sizeof *g);
        if (!g)
            return -1;
        free(self->pidx);
        self->pidx = g, self->pidxcap = cap;
        for (size_t k = 0; k < n; k++) {
            self->pend[k].slot = (uint32_t)s_pidx_slot(self, self->pend[k].iid, self->pend[k].seq);
            self->pidx[self->pend[k].slot] = (uint32_t)k + 1;
        }
    }
    self->pend[n].slot = (uint32_t)s_pidx_slot(self, self->pend[n].iid, self->pend[n].seq);
    self->pidx[self->pend[n].slot] = (uint32_t)n + 1;
    return 0;
}

/* The report (iid, seq) waiting in the open transaction, or NULL. Only a
 * resend, a correction or an ack's look-up asks, so pidx is built at the
 * first question of a transaction and kept from then on: a batch of
 * reports in order, the usual one, never builds it (a random write per
 * report into a table of the batch's size, 5% of the ingest thread at 893
 * agents). Out of memory, the reports are searched one by one. */
static struct store_pending *s_pending_find(hub_store_t *self, int64_t iid, int64_t seq)
{
    if (!self->pendn)
        return NULL;
    if (!self->pidx_on) {
        size_t n = 0;
        while (n < self->pendn && s_pidx_add(self, n) == 0)
            n++;
        if (n < self->pendn) {
            for (size_t k = 0; k < n; k++)
                self->pidx[self->pend[k].slot] = 0;
            for (size_t k = 0; k < self->pendn; k++)
                if (self->pend[k].iid == iid && self->pend[k].seq == seq)
                    return &self->pend[k];
            return NULL;
        }
        self->pidx_on = 1;
    }
    uint32_t k = self->pidx[s_pidx_slot(self, iid, seq)];
    return k ? &self->pend[k - 1] : NULL;
}

static int s_pending_cmp(const void *a, const void *b)
{
    const struct store_pending *x = a, *y = b;
    if (x->uid != y->uid)
        return x->uid < y->uid ? -1 : 1;
    if (x->iid != y->iid)
        return x->iid < y->iid ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Bind p as the row at parameters base + 1 to base + REPORT_COLS. */
static void s_bind_report(sqlite3_stmt *st, int base, const hub_store_t *self,
                          const struct store_pending *p)
{
    sqlite3_bind_int64(st, base + 1, p->uid);
    sqlite3_bind_int64(st, base + 2, p->iid);
    sqlite3_bind_int64(st, base + 3, p->seq);
    sqlite3_bind_int(st, base + 4, p->kind);
    sqlite3_bind_int64(st, base + 5, p->date);
    sqlite3_bind_int64(st, base + 6, p->total);
    sqlite3_bind_int64(st, base + 7, p->part);
    sqlite3_bind_text(st, base + 8, self->ptext + p->text_off, (int)p->text_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 9, p->recorded_at);
    sqlite3_bind_int64(st, base + 10, p->received_at);
    sqlite3_bind_int64(st, base + 11, p->hash);
    sqlite3_bind_int(st, base + 12, p->state);
}

/* Insert the waiting reports in (uid, iid, seq) order, and a run for each
 * stretch of an incarnation's consecutive seqs in consecutive rows. */
int store_pending_flush(hub_store_t *self, char *err, size_t errlen)
{
    if (!self->pendn)
        return 0;
    qsort(self->pend, self->pendn, sizeof *self->pend, s_pending_cmp);
    int out = 0, rc = SQLITE_OK;
    s_run_t run = {0};
    for (size_t i = 0; i < self->pendn && rc == SQLITE_OK;) {
        /* REPORT_ROWS at a time while there are as many. The rows of one
         * INSERT take consecutive rowids, the last of them last_insert_rowid */
        size_t n = self->pendn - i >= REPORT_ROWS ? REPORT_ROWS : 1;
        sqlite3_stmt *st = self->q[n > 1 ? Q_REPORT_INSERT_MANY : Q_REPORT_INSERT];
        for (size_t k = 0; k < n; k++)
            s_bind_report(st, (int)k * REPORT_COLS, self, &self->pend[i + k]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            out = store_fail(self, rc, "cannot store a report", err, errlen);
            break;
        }
        int64_t row = sqlite3_last_insert_rowid(self->db) - (int64_t)n;
        rc = SQLITE_OK; /* the step's SQLITE_DONE, for the runs' loop */
        for (size_t k = 0; k < n && rc == SQLITE_OK; k++, i++)
            rc = s_run_next(self->q[Q_RUN_INSERT], &run, self->pend[i].iid, self->pend[i].seq,
                            ++row);
    }
    if (out == 0 && rc == SQLITE_OK)
        rc = s_run_next(self->q[Q_RUN_INSERT], &run, 0, 0, 0);
    if (out == 0 && rc != SQLITE_OK)
        out = store_fail(self, rc, "cannot store a run", err, errlen);
    s_pidx_clear(self);
    self->pendn = 0;
    self->ptextn = 0;
    return out;
}

static size_t s_mx_slot(const hub_store_t *self, int64_t iid)
{
    size_t i = (size_t)((uint64_t)iid * 0x9e3779b97f4a7c15ull >> 20) & (self->mxcap - 1);
    while (self->mx_iid[i] && self->mx_iid[i] != iid)
        i = (i + 1) & (self->mxcap - 1);
    return i;
}

/* The slot of iid's highest stored seq, read from the runs when first met;
 * NULL when out of memory or unreadable. */
static int64_t *s_mx(hub_store_t *self, int64_t iid, char *err, size_t errlen)
{
    if (self->mxn * 2 >= self->mxcap) {
        size_t cap = self->mxcap ? self->mxcap * 2 : 1024;
        int64_t *ki = calloc(cap, sizeof *ki), *ks = calloc(cap, sizeof *ks);
        if (!ki || !ks) {
            free(ki), free(ks);
            s_oom(err, errlen);
            return NULL;
        }
        int64_t *oi = self->mx_iid, *os = self->mx_seq;
        size_t ocap = self->mxcap;
        self->mx_iid = ki, self->mx_seq = ks, self->mxcap = cap;
        for (size_t k = 0; k < ocap; k++)
            if (oi[k]) {
                size_t j = s_mx_slot(self, oi[k]);
                self->mx_iid[j] = oi[k], self->mx_seq[j] = os[k];
            }
        free(oi), free(os);
    }
    size_t i = s_mx_slot(self, iid);
    if (!self->mx_iid[i]) {
        sqlite3_stmt *st = self->q[Q_RUN_MAX];
        sqlite3_bind_int64(st, 1, iid);
        int rc = sqlite3_step(st);
        int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW) {
            store_fail(self, rc, "cannot read an incarnation's runs", err, errlen);
            return NULL;
        }
        self->mx_iid[i] = iid, self->mx_seq[i] = v, self->mxn++;
    }
    return &self->mx_seq[i];
}

static int s_put_report(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                        uint64_t hash, int64_t received_at, int state, char *err, size_t errlen)
{
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    int64_t *mx = s_mx(self, iid, err, errlen);
    if (!mx)
        return HUB_STORE_EFAIL;
    if ((int64_t)r->seq <= *mx) { /* not in the incarnation's order: is it stored? */
        int n = s_pending_find(self, iid, (int64_t)r->seq) != NULL;
        if (!n) {
            sqlite3_stmt *st = self->q[Q_REPORT_FIND];
            sqlite3_bind_int64(st, 1, self->uids[index]);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)r->seq);
            sqlite3_bind_int64(st, 3, iid);
            int rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_fail(self, rc, "cannot look up a report", err, errlen);
            n = rc == SQLITE_ROW;
        }
        if (n) {
            if (err && errlen)
                snprintf(err, errlen, "%s seq %llu is already stored", r->unit,
                         (unsigned long long)r->seq);
            return HUB_STORE_EDUP;
        }
    }
    size_t tl = strlen(r->text) + 1;
    if (self->pendn == self->pendcap) {
        size_t cap = self->pendcap ? self->pendcap * 2 : 1024;
        struct store_pending *g = realloc(self->pend, cap * sizeof *g);
        if (!g)
            return s_oom(err, errlen);
        self->pend = g, self->pendcap = cap;
    }
    if (self->ptextn + tl > self->ptextcap) {
        size_t cap = self->ptextcap ? self->ptextcap * 2 : 65536;
        while (cap < self->ptextn + tl)
            cap *= 2;
        char *g = realloc(self->ptext, cap);
        if (!g)
            return s_oom(err, errlen);
        self->ptext = g, self->ptextcap = cap;
    }
    memcpy(self->ptext + self->ptextn, r->text, tl);
    self->pend[self->pendn] = (struct store_pending){self->uids[index],
                                                     iid,
                                                     (int64_t)r->seq,
                                                     r->date,
                                                     r->total,
                                                     r->part,
                                                     r->recorded_at,
                                                     received_at,
                                                     (int64_t)hash,
                                                     (int)r->kind,
                                                     state,
                                                     self->ptextn,
                                                     0,
                                                     (uint32_t)(tl - 1)};
    if (self->pidx_on && s_pidx_add(self, self->pendn))
        s_pidx_clear(self); /* built again at the next question */
    self->pendn++;
    self->ptextn += tl;
    if ((int64_t)r->seq > *mx)
        *mx = (int64_t)r->seq;
    if (state == HUB_STORE_COUNTED) {
        uint32_t day = s_day_of(r->kind, r->date);
        s_days_mark(self, index, day, day);
        s_days_log(self, index, DAY_ENTERS, r->kind, r->date, r->total, r->part, received_at, iid,
                   r->seq);
    }
    return 0;
}

int hub_store_put_report(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                         uint64_t hash, int64_t received_at, char *err, size_t errlen)
{
    return s_put_report(self, index, iid, r, hash, received_at, HUB_STORE_COUNTED, err, errlen);
}

int hub_store_hold_report(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                          uint64_t hash, int64_t received_at, char *err, size_t errlen)
{
    return s_put_report(self, index, iid, r, hash, received_at, HUB_STORE_HELD_CLOCK, err, errlen);
}

int hub_store_hold_review(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                          uint64_t hash, int64_t received_at, char *err, size_t errlen)
{
    return s_put_report(self, index, iid, r, hash, received_at, HUB_STORE_HELD_REVIEW, err, errlen);
}

int hub_store_put_cancel(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                         const hub_store_target_t *was, uint64_t hash, int64_t received_at,
                         char *err, size_t errlen)
{
    ro_report_t row = *r;
    row.kind = was->kind, row.date = was->date, row.total = row.part = 0, row.text[0] = '\0';
    return s_put_report(self, index, iid, &row, hash, received_at, HUB_STORE_CANCEL, err, errlen);
}

/* Why target (found: its state) may not be corrected by r; NULL if it may. */
static const char *s_target_refusal(const ro_report_t *r, const hub_store_target_t *t, char *buf,
                                    size_t cap)
{
    switch (t->state) {
    case HUB_STORE_COUNTED:
    case HUB_STORE_HELD_CLOCK:
    case HUB_STORE_HELD_REVIEW: break; /* a held report may be corrected, its review with it */
    case HUB_STORE_AMENDED:
    case HUB_STORE_CANCELLED:
        return "it was corrected already: correct the latest correction of it instead";
    case HUB_STORE_CANCEL: return "it is a cancel: record the report again instead";
    default: return "it is not a report that counts";
    }
    if (r->action == RO_ACTION_AMEND && r->kind != t->kind) {
        snprintf(buf, cap, "it is a %s report, the amend a %s one", ro_kind_name(t->kind),
                 ro_kind_name(r->kind));
        return buf;
    }
    return NULL;
}

int hub_store_correct(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                      int64_t target_iid, const char *by, int64_t at, hub_store_target_t *was,
                      char *err, size_t errlen)
{
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    sqlite3_int64 uid = self->uids[index];
    /* the target may wait in this transaction: read and marked there */
    struct store_pending *p = s_pending_find(self, target_iid, (int64_t)r->target_seq);
    if (p && p->uid != uid)
        p = NULL;
    sqlite3_stmt *st = self->q[Q_TARGET_FIND];
    int rc = SQLITE_DONE, found = p != NULL;
    int64_t received = 0;
    if (p) {
        received = p->received_at;
        *was = (hub_store_target_t){(ro_kind_t)p->kind, (uint32_t)p->date, (uint32_t)p->total,
                                    (uint32_t)p->part, p->state};
    } else {
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, target_iid);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->target_seq);
        rc = sqlite3_step(st);
        found = rc == SQLITE_ROW;
    }
    if (found && !p) {
        received = sqlite3_column_int64(st, 5);
        was->kind = (ro_kind_t)sqlite3_column_int(st, 0);
        was->date = (uint32_t)sqlite3_column_int64(st, 1);
        was->state = sqlite3_column_int(st, 2);
        was->total = (uint32_t)sqlite3_column_int64(st, 3);
        was->part = (uint32_t)sqlite3_column_int64(st, 4);
    }
    int out =
        found || rc == SQLITE_DONE ? 0 : store_fail(self, rc, "cannot find a report", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (out)
        return out;
    char buf[96];
    const char *no = found ? s_target_refusal(r, was, buf, sizeof buf)
                           : "the unit has no report stored under that incarnation and seq";
    if (no) {
        if (err && errlen)
            snprintf(err, errlen, "cannot %s seq %llu: %s", ro_action_name(r->action),
                     (unsigned long long)r->target_seq, no);
        return HUB_STORE_ETARGET;
    }
    /* it leaves the rows from its day on, if it counted; and whatever its
     * state, they changed now (changed_at), and its day keeps a row. A held
     * report enters them only now, with its receipt (its trail's only other
     * event, a flag, is as old): later than now if the hub's clock stepped
     * back since (CHANGED_AT) */
    uint32_t day = s_day_of(was->kind, was->date);
    s_days_mark(self, index, day, day);
    s_days_log(self, index, was->state == HUB_STORE_COUNTED ? DAY_LEAVES : DAY_TOUCHES, was->kind,
               was->date, was->total, was->part, received > at ? received : at, 0, 0);
    int to = r->action == RO_ACTION_AMEND ? HUB_STORE_AMENDED : HUB_STORE_CANCELLED;
    if (p) {
        p->state = to;
    } else {
        st = self->q[Q_TARGET_SET];
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, target_iid);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->target_seq);
        sqlite3_bind_int(st, 4, to);
        if ((out = s_step_done(self, st, "cannot mark a corrected report", err, errlen)))
            return out;
    }
    st = self->q[Q_EVENT_INSERT];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int64(st, 3, target_iid);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->target_seq);
    sqlite3_bind_int(st, 5, (int)r->action);
    sqlite3_bind_text(st, 6, by ? by : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, iid);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->seq);
    sqlite3_bind_text(st, 9, r->reason, -1, SQLITE_STATIC);
    return s_step_done(self, st, "cannot record a correction", err, errlen);
}

int hub_store_held(hub_store_t *self, uint64_t *count, uint32_t *earliest, char *err, size_t errlen)
{
    int flushed = store_pending_flush(self, err, errlen);
    if (flushed)
        return flushed;
    sqlite3_stmt *st = self->q[Q_HELD_SUMMARY];
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        *count = (uint64_t)sqlite3_column_int64(st, 0);
        *earliest = (uint32_t)sqlite3_column_int64(st, 1);
    } else {
        out = store_fail(self, rc, "cannot count the held reports", err, errlen);
    }
    sqlite3_reset(st);
    return out;
}

/* The uids of the units with held reports due by today, malloc'ed into
 * *uids (*n of them), each followed by the earliest day one of them lands
 * on. Returns 0 or a code. */
static int s_due_units(hub_store_t *self, uint32_t today, int64_t **uids, size_t *n, char *err,
                       size_t errlen)
{
    int flushed = store_pending_flush(self, err, errlen);
    if (flushed)
        return flushed;
    sqlite3_stmt *st = self->q[Q_HELD_DUE_UNITS];
    size_t cap = 0;
    int rc, out = 0;
    *uids = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, today);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *grown = realloc(*uids, 2 * cap * sizeof *grown);
            if (!grown) {
                out = HUB_STORE_EFAIL;
                if (err && errlen)
                    snprintf(err, errlen, "out of memory");
                break;
            }
            *uids = grown;
        }
        (*uids)[2 * *n] = sqlite3_column_int64(st, 0);
        (*uids)[2 * (*n)++ + 1] = sqlite3_column_int64(st, 1);
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = store_fail(self, rc, "cannot find the held reports due", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (out) {
        free(*uids);
        *uids = NULL;
        *n = 0;
    }
    return out;
}

void store_aggregates(const hub_unit_state_t *s, int64_t v[STORE_AGGREGATES])
{
    const int64_t w[STORE_AGGREGATES] = {(int64_t)s->reports,
                                         (int64_t)s->participants,
                                         (int64_t)s->hours_tenths,
                                         (int64_t)s->sessions,
                                         s->staff_date,
                                         s->staff_total,
                                         s->staff_proficient,
                                         s->items_date,
                                         s->items_total,
                                         s->items_no_visit,
                                         s->cases_month,
                                         s->cases_total,
                                         s->cases_no_visit};
    memcpy(v, w, sizeof w);
}

/* Bind a unit's 13 aggregates (reports .. cases_no_visit, the units
 * table's order) to parameters at, at + 1, ... of st. */
static void s_bind_aggregates(sqlite3_stmt *st, int at, const hub_unit_state_t *s)
{
    int64_t v[STORE_AGGREGATES];
    store_aggregates(s, v);
    for (int i = 0; i < STORE_AGGREGATES; i++)
        sqlite3_bind_int64(st, at + i, v[i]);
}

void store_apply_row(sqlite3_stmt *st, int col, hub_unit_state_t *s)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.kind = (ro_kind_t)sqlite3_column_int(st, col);
    r.date = (uint32_t)sqlite3_column_int64(st, col + 1);
    r.total = (uint32_t)sqlite3_column_int64(st, col + 2);
    r.part = (uint32_t)sqlite3_column_int64(st, col + 3);
    hub_state_apply(s, &r);
}

int store_fold_rows(sqlite3_stmt *st, hub_unit_state_t *s)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        store_apply_row(st, 0, s);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Fold the counted reports of uid, in seq order, into *agg (zeroed first)
 * with hub_state_apply, the rule the live state follows: the same result as
 * RECOUNT_SQL (latest date, then latest seq), and write it to its units row
 * (last_seq and last_heard stay). Returns 0 or a code. */
static int s_refold_unit(hub_store_t *self, int64_t uid, hub_unit_state_t *agg, char *err,
                         size_t errlen)
{
    int flushed = store_pending_flush(self, err, errlen);
    if (flushed)
        return flushed;
    memset(agg, 0, sizeof *agg);
    sqlite3_stmt *st = self->q[Q_UNIT_COUNTED];
    sqlite3_bind_int64(st, 1, uid);
    int rc = store_fold_rows(st, agg);
    if (rc != SQLITE_DONE)
        return store_fail(self, rc, "cannot recount a unit", err, errlen);
    st = self->q[Q_UNIT_AGGREGATES];
    sqlite3_bind_int64(st, 1, uid);
    s_bind_aggregates(st, 2, agg);
    return s_step_done(self, st, "cannot update a unit's aggregates", err, errlen);
}

int hub_store_refold(hub_store_t *self, size_t index, hub_unit_state_t *st, char *err,
                     size_t errlen)
{
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    hub_unit_state_t agg;
    int rc = s_refold_unit(self, self->uids[index], &agg, err, errlen);
    if (rc)
        return rc;
    agg.last_seq = st->last_seq;
    agg.seq_shown = st->seq_shown;
    agg.last_heard = st->last_heard;
    *st = agg;
    return 0;
}

typedef struct {
    int64_t uid;
    size_t index;
} s_uid_index_t;

static int s_by_uid(const void *a, const void *b)
{
    int64_t x = ((const s_uid_index_t *)a)->uid, y = ((const s_uid_index_t *)b)->uid;
    return (x > y) - (x < y);
}

long hub_store_release(hub_store_t *self, uint32_t today, int64_t at, hub_unit_state_t *states,
                       uint32_t *changed, size_t *nchanged, char *err, size_t errlen)
{
    int flushed = store_pending_flush(self, err, errlen);
    if (flushed)
        return flushed;
    int64_t *uids;
    size_t n;
    *nchanged = 0;
    int rc = s_due_units(self, today, &uids, &n, err, errlen);
    if (rc)
        return rc;
    long released = 0;
    /* the registry's units by uid: a clock fixed after days behind releases
     * reports of every unit at once, so no scan of the registry per unit */
    s_uid_index_t *map = n ? malloc((self->nunits ? self->nunits : 1) * sizeof *map) : NULL;
    if (n && !map) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        rc = HUB_STORE_EFAIL;
    }
    for (size_t i = 0; map && i < self->nunits; i++)
        map[i] = (s_uid_index_t){self->uids[i], i};
    if (map)
        qsort(map, self->nunits, sizeof *map, s_by_uid);
    if (rc == 0 && n > 0) {
        sqlite3_bind_int64(self->q[Q_HELD_RELEASE], 1, today);
        sqlite3_bind_int64(self->q[Q_HELD_RELEASE], 2, at);
        rc = s_step_done(self, self->q[Q_HELD_RELEASE], "cannot release held reports", err, errlen);
        released = rc ? 0 : (long)sqlite3_changes(self->db);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        hub_unit_state_t agg;
        rc = s_refold_unit(self, uids[2 * k], &agg, err, errlen);
        if (rc == 0)
            rc = store_days_redo(self, uids[2 * k], (uint32_t)uids[2 * k + 1], err, errlen);
        /* a unit no longer in the registry has its row rewritten all the same */
        s_uid_index_t key = {uids[2 * k], 0};
        const s_uid_index_t *at =
            rc == 0 ? bsearch(&key, map, self->nunits, sizeof *map, s_by_uid) : NULL;
        if (at) {
            agg.last_seq = states[at->index].last_seq;
            agg.seq_shown = states[at->index].seq_shown;
            agg.last_heard = states[at->index].last_heard;
            states[at->index] = agg;
            changed[(*nchanged)++] = (uint32_t)at->index;
        }
    }
    free(map);
    free(uids);
    return rc ? rc : released;
}

int hub_store_put_refusal(hub_store_t *self, size_t index, int64_t iid, uint64_t seq,
                          ro_reason_t reason, const char *text, uint64_t hash, int64_t at,
                          char *err, size_t errlen)
{
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    sqlite3_stmt *st = self->q[Q_REFUSAL_INSERT];
    sqlite3_bind_int64(st, 7, iid);
    sqlite3_bind_text(st, 1, self->ids[index], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_int(st, 3, (int)reason);
    sqlite3_bind_text(st, 4, text ? text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)hash);
    sqlite3_bind_int64(st, 6, at);
    return s_step_done(self, st, "cannot store a refusal", err, errlen);
}

/* Insert unit uid's row for day with agg's aggregates, changed last at. */
static int s_days_insert(hub_store_t *self, int64_t uid, uint32_t day, const hub_unit_state_t *agg,
                         int64_t at, char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_DAY_INSERT];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, day);
    s_bind_aggregates(st, 3, agg);
    sqlite3_bind_int64(st, 16, at);
    return s_step_done(self, st, "cannot write a unit's day", err, errlen);
}

/* Unit uid's day_stale (0: none) and its latest row's day (0: none). */
static int s_days_state(hub_store_t *self, int64_t uid, uint32_t *stale, uint32_t *latest,
                        char *err, size_t errlen)
{
    sqlite3_stmt *st = self->q[Q_DAY_STATE];
    sqlite3_bind_int64(st, 1, uid);
    int rc = sqlite3_step(st), out = 0;
    *stale = *latest = 0;
    if (rc == SQLITE_ROW) {
        *stale = (uint32_t)sqlite3_column_int64(st, 0);
        *latest = (uint32_t)sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        out = store_fail(self, rc, "cannot read a unit's days", err, errlen);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

/* Of unit uid's counted snapshots of kind dated *date (0: of any date,
 * the latest), the one that counts, as hub_store_snapshot (iid and at may
 * be NULL). */
static int s_snapshot_of(hub_store_t *self, int64_t uid, ro_kind_t kind, uint32_t *date,
                         uint32_t *total, uint32_t *part, int64_t *iid, int64_t *at, char *err,
                         size_t errlen)
{
    int flushed = store_pending_flush(self, err, errlen);
    if (flushed)
        return flushed;
    sqlite3_stmt *st = self->q[*date ? Q_SNAPSHOT : Q_SNAPSHOT_LATEST];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int(st, 2, (int)kind);
    if (*date)
        sqlite3_bind_int64(st, 3, *date);
    int rc = sqlite3_step(st), out = 0;
    *total = *part = 0;
    if (rc == SQLITE_ROW) {
        *total = (uint32_t)sqlite3_column_int64(st, 0);
        *part = (uint32_t)sqlite3_column_int64(st, 1);
        if (iid)
            *iid = sqlite3_column_int64(st, 2);
        if (at)
            *at = sqlite3_column_int64(st, 3);
        if (!*date)
            *date = (uint32_t)sqlite3_column_int64(st, 4);
        out = 1;
    } else if (rc != SQLITE_DONE) {
        out = store_fail(self, rc, "cannot look up a snapshot", err, errlen);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

/* The figures rows from day on give a snapshot of kind dated date (of
 * those counted there may be several: the one that counts, by the tie
 * rule; 0 and 0 when none is): when the unit's aggregates now (s) count
 * one of that date, theirs; else the store says. Returns 1 (found), 0 or
 * a code. */
static int s_days_snapshot(hub_store_t *self, int64_t uid, ro_kind_t kind, uint32_t date,
                           const hub_unit_state_t *s, uint32_t *total, uint32_t *part, char *err,
                           size_t errlen)
{
    if (hub_state_snapshot(s, kind, total, part) == date)
        return 1;
    return s_snapshot_of(self, uid, kind, &date, total, part, NULL, NULL, err, errlen);
}

/* The latest of unit uid's rows up to day: *agg its aggregates, *at its
 * changed_at, *date its day (0 and zeros: none). Returns 0 or a code. */
static int s_days_at(hub_store_t *self, int64_t uid, uint32_t day, hub_unit_state_t *agg,
                     int64_t *at, uint32_t *date, char *err, size_t errlen)
{
    memset(agg, 0, sizeof *agg);
    *at = 0, *date = 0;
    sqlite3_stmt *st = self->q[Q_DAY_AT];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, day);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_row_aggregates(st, 0, agg);
        *at = sqlite3_column_int64(st, STORE_AGGREGATES);
        *date = (uint32_t)sqlite3_column_int64(st, STORE_AGGREGATES + 1);
    }
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE
                  ? 0
                  : store_fail(self, rc, "cannot read a unit's day", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

/* Counted report e of unit uid (stored) in its unit_days rows: the row of
 * its day is the latest row up to that day with e folded in, and every
 * later row gains it (a sum adds; a snapshot replaces older ones). A
 * snapshot's figures are those of the one of its date that counts
 * (s_days_snapshot: s, the unit's aggregates now, or the store), so the
 * order reports are applied in does not matter. Returns 0 or a code. */
static int s_days_apply(hub_store_t *self, int64_t uid, const struct store_day_entry *e,
                        const hub_unit_state_t *s, char *err, size_t errlen)
{
    if (e->kind < RO_KIND_TRAINING || e->kind > RO_KIND_CASES)
        return 0; /* counted nowhere, as hub_state_apply */
    uint32_t day = s_day_of((ro_kind_t)e->kind, e->date), total = e->total, part = e->part, on;
    hub_unit_state_t agg;
    int64_t at;
    int out = s_days_at(self, uid, day, &agg, &at, &on, err, errlen);
    if (out)
        return out;
    /* a snapshot of the date the row holds already ties (without a tie,
     * this one counts: no snapshot of its date was counted before, nor
     * after, as a snapshot lands on its own date's row); received after
     * every report the row holds, it wins the tie */
    if (e->kind != RO_KIND_TRAINING && e->at <= at &&
        hub_state_snapshot_date(&agg, (ro_kind_t)e->kind) == e->date &&
        (out = s_days_snapshot(self, uid, (ro_kind_t)e->kind, e->date, s, &total, &part, err,
                               errlen)) == 0) {
        total = e->total, part = e->part; /* none counts: the row is wrong; this one */
    }
    if (out < 0)
        return out;
    at = e->at > at ? e->at : at;
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.kind = (ro_kind_t)e->kind, r.date = e->date, r.total = total, r.part = part;
    hub_state_apply(&agg, &r);
    if ((out = s_days_insert(self, uid, day, &agg, at, err, errlen)))
        return out;
    sqlite3_stmt *st = self->q[Q_DAY_SHIFT];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, day);
    sqlite3_bind_int(st, 3, e->kind);
    sqlite3_bind_int64(st, 4, e->date);
    sqlite3_bind_int64(st, 5, total);
    sqlite3_bind_int64(st, 6, part);
    sqlite3_bind_int64(st, 7, e->at);
    return s_step_done(self, st, "cannot write a unit's days", err, errlen);
}

/* Report e of unit uid corrected (at e->at): its day keeps a row (the
 * latest before it, if it had none), and the rows from its day on changed
 * then; a report that counted (DAY_LEAVES) leaves them, a snapshot giving
 * way to the one that counts in its place (s_days_snapshot of its date,
 * else the one the row before its day holds). Returns 0 or a code. */
static int s_days_correct(hub_store_t *self, int64_t uid, const struct store_day_entry *e,
                          const hub_unit_state_t *s, char *err, size_t errlen)
{
    ro_kind_t kind = (ro_kind_t)e->kind;
    uint32_t day = s_day_of(kind, e->date), on;
    hub_unit_state_t agg;
    int64_t at;
    int out = s_days_at(self, uid, day, &agg, &at, &on, err, errlen);
    if (out == 0 && on != day) /* none yet on its day: the row before, as of then */
        out = s_days_insert(self, uid, day, &agg, e->at > at ? e->at : at, err, errlen);
    if (out)
        return out;
    if (e->effect != DAY_LEAVES || kind < RO_KIND_TRAINING || kind > RO_KIND_CASES) {
        sqlite3_stmt *st = self->q[Q_DAY_TOUCH];
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, day);
        sqlite3_bind_int64(st, 3, e->at);
        return s_step_done(self, st, "cannot write a unit's days", err, errlen);
    }
    uint32_t date = 0, total = e->total, part = e->part;
    if (kind != RO_KIND_TRAINING) {
        /* the rows still holding a snapshot of its date: the one counted
         * now if it is dated so or earlier (then none of its date is left,
         * nor any later); else the one of its date that counts, or the one
         * the row before its day holds */
        date = hub_state_snapshot(s, kind, &total, &part); /* the one counted now */
        if (date > e->date) {
            date = e->date;
            out = s_snapshot_of(self, uid, kind, &date, &total, &part, NULL, NULL, err, errlen);
            if (out == 0 && (out = s_days_at(self, uid, day - 1, &agg, &at, &on, err, errlen)) == 0)
                date = hub_state_snapshot(&agg, kind, &total, &part);
        }
        if (out < 0)
            return out;
    }
    sqlite3_stmt *st = self->q[Q_DAY_LEAVE];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, day);
    sqlite3_bind_int(st, 3, (int)kind);
    sqlite3_bind_int64(st, 4, e->date);
    sqlite3_bind_int64(st, 5, total);
    sqlite3_bind_int64(st, 6, part);
    sqlite3_bind_int64(st, 7, date);
    sqlite3_bind_int64(st, 8, e->at);
    return s_step_done(self, st, "cannot write a unit's days", err, errlen);
}

/* Whether entry a comes after b in the snapshots' tie rule (Q_SNAPSHOT):
 * received later, else of the higher incarnation, else the higher seq. */
static int s_day_entry_after(const struct store_day_entry *a, const struct store_day_entry *b)
{
    if (a->at != b->at)
        return a->at > b->at;
    return a->iid != b->iid ? a->iid > b->iid : a->seq > b->seq;
}

int store_days_base(hub_store_t *self, int64_t uid, uint32_t from, hub_unit_state_t *agg,
                    int64_t *at, char *err, size_t errlen)
{
    memset(agg, 0, sizeof *agg);
    *at = 0;
    sqlite3_stmt *st = self->q[Q_DAY_BASE];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, from);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_row_aggregates(st, 0, agg);
        *at = sqlite3_column_int64(st, STORE_AGGREGATES);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : store_fail(self, rc, "cannot read a unit's day", err, errlen);
}

/* The unit's rows from day from on (at most cap: *n of them, or cap + 1
 * when there are more) into rows, their changed_at and day; and *base,
 * *base_at the latest row before from (zeros: none). Returns 0 or a code. */
static int s_days_from(hub_store_t *self, int64_t uid, uint32_t from, hub_unit_state_t *base,
                       int64_t *base_at, hub_unit_state_t *rows, int64_t *at, uint32_t *day,
                       size_t cap, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    int rc = store_days_base(self, uid, from, base, base_at, err, errlen);
    if (rc)
        return rc;
    sqlite3_stmt *st = self->q[Q_DAY_FROM];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, from);
    while (*n <= cap && (rc = sqlite3_step(st)) == SQLITE_ROW && ++*n <= cap) {
        memset(&rows[*n - 1], 0, sizeof rows[*n - 1]);
        store_row_aggregates(st, 0, &rows[*n - 1]);
        at[*n - 1] = sqlite3_column_int64(st, STORE_AGGREGATES);
        day[*n - 1] = (uint32_t)sqlite3_column_int64(st, STORE_AGGREGATES + 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : store_fail(self, rc, "cannot read a unit's days", err, errlen);
}

/* Unit index's reports of the transaction, when each one counted: merged
 * into its rows from the earliest one's day (from) on, in day order, each
 * row written once. A row then holds what the reports stored before gave
 * it (its own figures, or those of the latest row before it) and the
 * transaction's up to its day: sums add; of two snapshots the later dated
 * counts, and of one date the latest by the tie rule: of the
 * transaction's, known here; against a stored one, the transaction's if
 * it was received after every report the row holds, else as the store
 * says (s_days_snapshot). Returns 1 (done), 0 (more rows than it merges:
 * nothing written) or a code. */
static int s_days_merge(hub_store_t *self, size_t index, uint32_t from, const hub_unit_state_t *s,
                        char *err, size_t errlen)
{
    enum { ROWS = DAY_SHIFT_MAX + 2 }; /* the days from from to the latest, at most */
    const struct store_day_entry *e[DAY_APPLY_MAX];
    size_t n = 0, m = 0;
    for (uint32_t k = self->day_head[index]; k && n < DAY_APPLY_MAX;
         k = self->day_log[k - 1].next) {
        const struct store_day_entry *x = &self->day_log[k - 1];
        if (x->kind < RO_KIND_TRAINING || x->kind > RO_KIND_CASES)
            continue; /* counted nowhere, as hub_state_apply */
        uint32_t day = s_day_of((ro_kind_t)x->kind, x->date);
        size_t j = n++;
        for (; j > 0 && s_day_of((ro_kind_t)e[j - 1]->kind, e[j - 1]->date) > day; j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
    int64_t uid = self->uids[index], stored_at, at[ROWS], b_at = 0;
    hub_unit_state_t stored, rows[ROWS], b, out;
    uint32_t days[ROWS];
    int rc =
        s_days_from(self, uid, from, &stored, &stored_at, rows, at, days, ROWS, &m, err, errlen);
    if (rc || m > ROWS)
        return rc;
    memset(&b, 0, sizeof b); /* the transaction's reports up to the row's day */
    const struct store_day_entry *won[RO_KIND_CASES + 1] = {0}; /* of b's snapshot's date */
    /* a tie with a stored snapshot, settled: its date, and the figures that count */
    uint32_t tied[RO_KIND_CASES + 1] = {0};
    uint32_t tied_total[RO_KIND_CASES + 1], tied_part[RO_KIND_CASES + 1];
    for (size_t i = 0, j = 0; i < m || j < n;) {
        uint32_t day = i < m ? days[i] : UINT32_MAX;
        if (j < n && s_day_of((ro_kind_t)e[j]->kind, e[j]->date) < day)
            day = s_day_of((ro_kind_t)e[j]->kind, e[j]->date);
        if (i < m && days[i] == day)
            stored = rows[i], stored_at = at[i++];
        for (; j < n && s_day_of((ro_kind_t)e[j]->kind, e[j]->date) == day; j++) {
            ro_report_t r;
            memset(&r, 0, sizeof r);
            r.kind = (ro_kind_t)e[j]->kind, r.date = e[j]->date;
            const struct store_day_entry *w = e[j]; /* of its kind and date, the latest */
            for (size_t k = 0; r.kind != RO_KIND_TRAINING && k < n; k++)
                if (e[k]->kind == e[j]->kind && e[k]->date == e[j]->date &&
                    s_day_entry_after(e[k], w))
                    w = e[k];
            r.total = w->total, r.part = w->part;
            hub_state_apply(&b, &r);
            won[r.kind] = w;
            b_at = e[j]->at > b_at ? e[j]->at : b_at;
        }
        out = stored;
        out.reports += b.reports, out.participants += b.participants;
        out.hours_tenths += b.hours_tenths, out.sessions += b.sessions;
        for (int kind = RO_KIND_STAFF; kind <= RO_KIND_CASES; kind++) {
            uint32_t total, part, date = hub_state_snapshot(&b, (ro_kind_t)kind, &total, &part);
            if (date == 0 || date < hub_state_snapshot_date(&stored, (ro_kind_t)kind))
                continue; /* none, or the stored one is later dated */
            if (date == hub_state_snapshot_date(&stored, (ro_kind_t)kind) && tied[kind] != date) {
                if (won[kind]->at <= stored_at &&
                    (rc = s_days_snapshot(self, uid, (ro_kind_t)kind, date, s, &total, &part, err,
                                          errlen)) <= 0) {
                    if (rc < 0)
                        return rc;
                    hub_state_snapshot(&b, (ro_kind_t)kind, &total, &part); /* none counts */
                }
                tied[kind] = date, tied_total[kind] = total, tied_part[kind] = part;
            }
            if (tied[kind] == date)
                total = tied_total[kind], part = tied_part[kind];
            hub_state_put_snapshot(&out, (ro_kind_t)kind, date, total, part);
        }
        if ((rc = s_days_insert(self, uid, day, &out, stored_at > b_at ? stored_at : b_at, err,
                                errlen)))
            return rc;
    }
    return 1;
}

/* Unit index's unit_days rows after the reports the transaction counted
 * for it (s: its aggregates now). When they all land on one day and it has
 * no row after that day, s is its state as of that day: one row written
 * (the usual case: a unit reports in date order); when each one counted,
 * they are merged into the rows (s_days_merge); else (a correction among
 * them) each is applied to the rows (s_days_apply, s_days_correct: the
 * rows from its day on, no report read), or the rows are re-derived from
 * the earliest day. *last: the unit's latest day now, if it may have
 * grown. Returns 0 or a code. */
static int s_days_put(hub_store_t *self, size_t index, const hub_unit_state_t *s, int days,
                      uint32_t *last, uint32_t *stale, char *err, size_t errlen)
{
    uint32_t from = self->day_from ? self->day_from[index] : 0;
    *last = *stale = 0;
    if (from == 0)
        return 0;
    self->day_from[index] = 0; /* done here, not again at commit */
    if (days == HUB_STORE_DAYS_LATER && self->day_to[index] != DAY_REDO) {
        *last = self->day_to[index]; /* as-of reads after it read the units row */
        *stale = from;
        return 0;
    }
    if (self->day_to[index] == from) {
        int64_t at = 0; /* the latest receipt of its reports: the row's changed_at */
        for (uint32_t k = self->day_head[index]; k; k = self->day_log[k - 1].next)
            at = self->day_log[k - 1].at > at ? self->day_log[k - 1].at : at;
        sqlite3_stmt *st = self->q[Q_DAY_PUT];
        sqlite3_bind_int64(st, 1, self->uids[index]);
        sqlite3_bind_int64(st, 2, from);
        s_bind_aggregates(st, 3, s);
        sqlite3_bind_int64(st, 16, at);
        int rc = s_step_done(self, st, "cannot write a unit's day", err, errlen);
        if (rc || sqlite3_changes(self->db) > 0) {
            *last = from; /* its latest day now: units.last_day */
            return rc;
        }
    }
    if (self->day_to[index] == DAY_REDO)
        return store_days_redo(self, self->uids[index], from, err, errlen);
    uint32_t was_stale = 0, latest = 0;
    int rc = s_days_state(self, self->uids[index], &was_stale, &latest, err, errlen);
    if (rc)
        return rc;
    *last = self->day_to[index];
    size_t n = 0;  /* each applied report may rewrite the rows after it: a few at most */
    int enter = 1; /* each one counted */
    for (uint32_t at = self->day_head[index]; at && n <= DAY_APPLY_MAX;
         at = self->day_log[at - 1].next)
        n++, enter &= self->day_log[at - 1].effect == DAY_ENTERS;
    if (was_stale || n > DAY_APPLY_MAX ||
        ro_date_days(latest) - ro_date_days(from) > DAY_SHIFT_MAX) {
        *stale = from; /* for hub_store_days_refresh, or an as-of question's fold */
        return 0;
    }
    if (enter && (rc = s_days_merge(self, index, from, s, err, errlen)) != 0)
        rc = rc < 0 ? rc : 0;
    else
        for (uint32_t at = self->day_head[index]; rc == 0 && at; at = self->day_log[at - 1].next) {
            const struct store_day_entry *e = &self->day_log[at - 1];
            rc = e->effect == DAY_ENTERS
                     ? s_days_apply(self, self->uids[index], e, s, err, errlen)
                     : s_days_correct(self, self->uids[index], e, s, err, errlen);
        }
    self->day_head[index] = self->day_tail[index] = 0;
    return rc;
}

int store_days_redo(hub_store_t *self, int64_t uid, uint32_t from, char *err, size_t errlen)
{
    uint32_t stale = 0, latest = 0;
    int rc = store_pending_flush(self, err, errlen);
    if (rc == 0)
        rc = self->q[Q_DAY_STATE] ? s_days_state(self, uid, &stale, &latest, err, errlen) : 0;
    if (rc)
        return rc;
    if (stale && stale < from) /* the rows before from are stale too: from there */
        from = stale;
    hub_unit_state_t agg;
    int64_t at; /* the rows' changed_at: a running maximum, as the sums */
    int out = store_days_base(self, uid, from, &agg, &at, err, errlen);
    if (out)
        return out;
    sqlite3_stmt *st = self->q[Q_DAY_CLEAR];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, from);
    if ((out = s_step_done(self, st, "cannot clear a unit's days", err, errlen)))
        return out;
    st = self->q[Q_DAY_REPORTS];
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, from);
    uint32_t day = 0;
    while (out == 0) {
        rc = sqlite3_step(st);
        uint32_t next = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 4) : 0;
        if (day != 0 && next != day) /* the day's last report is folded: its row */
            out = s_days_insert(self, uid, day, &agg, at, err, errlen);
        if (rc != SQLITE_ROW)
            break;
        if (sqlite3_column_int(st, 5) == HUB_STORE_COUNTED)
            store_apply_row(st, 0, &agg);
        if (sqlite3_column_int64(st, 6) > at)
            at = sqlite3_column_int64(st, 6);
        day = next;
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = store_fail(self, rc, "cannot read a unit's reports", err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (out)
        return out;
    st = self->q[Q_DAY_LAST];
    sqlite3_bind_int64(st, 1, uid);
    return s_step_done(self, st, "cannot write a unit's last day", err, errlen);
}

int hub_store_put_state(hub_store_t *self, size_t index, const hub_unit_state_t *s, int days,
                        char *err, size_t errlen)
{
    if (s_writable(self, index, err, errlen))
        return HUB_STORE_EFAIL;
    uint32_t last, stale;
    int rc = s_days_put(self, index, s, days, &last, &stale, err, errlen);
    if (rc)
        return rc;
    sqlite3_stmt *st = self->q[Q_UNIT_UPDATE];
    sqlite3_bind_int64(st, 1, self->uids[index]);
    sqlite3_bind_int64(st, 2, last);
    sqlite3_bind_int64(st, 3, s->last_heard);
    s_bind_aggregates(st, 4, s);
    rc = s_step_done(self, st, "cannot update a unit", err, errlen);
    if (stale)
        self->stale_none = 0;
    if (rc == 0 && stale) {
        st = self->q[Q_UNIT_STALE];
        sqlite3_bind_int64(st, 1, self->uids[index]);
        sqlite3_bind_int64(st, 2, stale);
        rc = s_step_done(self, st, "cannot update a unit", err, errlen);
    }
    return rc;
}

int hub_store_snapshot(hub_store_t *self, size_t index, ro_kind_t kind, uint32_t *date,
                       uint32_t *total, uint32_t *part, int64_t *iid, int64_t *at)
{
    if (index >= self->nunits || self->uids[index] == STORE_NO_UID)
        return HUB_STORE_EFAIL;
    return s_snapshot_of(self, self->uids[index], kind, date, total, part, iid, at, NULL, 0);
}

int hub_store_find(hub_store_t *self, size_t index, int64_t iid, uint64_t seq, uint64_t *hash,
                   ro_reason_t *reason, char *text, size_t textlen)
{
    if (index >= self->nunits)
        return HUB_STORE_EFAIL;
    const struct store_pending *p = s_pending_find(self, iid, (int64_t)seq);
    if (p && p->uid == self->uids[index]) { /* waiting for the commit: stored there */
        *hash = (uint64_t)p->hash;
        return 1;
    }
    sqlite3_stmt *st = self->q[Q_REPORT_FIND];
    int rc, out = 0;
    if (self->uids[index] != STORE_NO_UID) { /* a unit without a row has no reports */
        sqlite3_bind_int64(st, 1, self->uids[index]);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
        sqlite3_bind_int64(st, 3, iid);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *hash = (uint64_t)sqlite3_column_int64(st, 0);
            out = 1;
        } else if (rc != SQLITE_DONE) {
            out = store_fail(self, rc, "cannot look up a report", NULL, 0);
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (out != 0)
            return out;
    }

    st = self->q[Q_REFUSAL_FIND];
    sqlite3_bind_text(st, 1, self->ids[index], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_int64(st, 3, iid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *hash = (uint64_t)sqlite3_column_int64(st, 0);
        if (reason)
            *reason = (ro_reason_t)sqlite3_column_int(st, 1);
        if (text && textlen) {
            const unsigned char *t = sqlite3_column_text(st, 2);
            snprintf(text, textlen, "%s", t ? (const char *)t : "");
        }
        out = 2;
    } else if (rc != SQLITE_DONE) {
        out = store_fail(self, rc, "cannot look up a refusal", NULL, 0);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}
