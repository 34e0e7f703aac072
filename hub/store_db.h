/* The inside of hub_store, shared by the three files that make it up and
 * by nothing else: store.c (schema, open, the ingest thread's write
 * transaction), store_read.c (the status thread's as-of, history and series
 * queries) and store_verify.c (the recount and the fast check, with their
 * own threads and connections). */
#ifndef HUB_STORE_DB_H
#define HUB_STORE_DB_H

#include "store.h"

#include <sqlite3.h>

/* Statements prepared once at open; the order matches s_sql in store.c. */
enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_UNIT_INSERT,
    Q_UNIT_SCAN,
    Q_INC_SCAN,
    Q_UNIT_UPDATE,
    Q_UNIT_STALE,
    Q_REPORT_INSERT,
    Q_REPORT_INSERT_MANY,
    Q_RUN_INSERT,
    Q_RUN_MAX,
    Q_REPORT_FIND,
    Q_REFUSAL_INSERT,
    Q_REFUSAL_FIND,
    Q_RECOUNT,
    Q_HISTORY,
    Q_SERIES,
    Q_HELD_SUMMARY,
    Q_HELD_DUE_UNITS,
    Q_HELD_RELEASE,
    Q_UNIT_COUNTED,
    Q_UNIT_AGGREGATES,
    Q_INC_FIND,
    Q_INC_INSERT,
    Q_SNAPSHOT,
    Q_SNAPSHOT_LATEST,
    Q_TARGET_FIND,
    Q_TARGET_SET,
    Q_EVENT_INSERT,
    Q_DAY_PUT,
    Q_DAY_BASE,
    Q_DAY_CLEAR,
    Q_DAY_REPORTS,
    Q_DAY_INSERT,
    Q_DAY_LAST,
    Q_DAY_FROM,
    Q_DAY_AT,
    Q_DAY_STATE,
    Q_DAY_FOLD,
    Q_DAY_SHIFT,
    Q_DAY_LEAVE,
    Q_DAY_TOUCH,
    Q_AS_OF,
    Q_FLAG,
    Q_KNOWN_ROWS,
    Q_KNOWN_FOLD,
    Q_KNOWN_AFTER,
    Q_SERIES_KNOWN,
    Q_SCOPE_ROWS,
    Q_SCOPE_ADD,
    Q_SCOPE_SUMS,
    Q_SCOPE_STALE,
    Q_UNIT_SCOPE,
    Q_UNIT_SCOPE_OF,
    Q_COUNT
};

/* The legacy incarnation (every protocol-version-1 report's), in SQL. */
#define LEGACY_INC "x'00000000000000000000000000000000'"

/* The last_seq of incarnation i (of unit u: the aliases in the query), the
 * highest seq it has handled (schema 10): its last run's last seq or its
 * highest refused seq, whichever is higher. A seq is used up only by a
 * report or a refusal stored under it, in the same transaction, so this is
 * never behind, and no commit writes a cursor. The column
 * incarnations.last_seq is written no more: what it held at schema 9 stays
 * a floor. */
#define INC_LAST_SEQ                                                                               \
    "max(i.last_seq,"                                                                              \
    " IFNULL((SELECT max(k.last_seq) FROM report_runs k WHERE k.iid = i.iid), 0),"                 \
    " IFNULL((SELECT max(f.seq) FROM refusals f WHERE f.unit = u.id AND f.iid = i.iid), 0))"

/* The first day a report counts from, in SQL: ro_report_due (a month's
 * cases from its first day). A held report is due then; a counted one
 * lands in unit_days on that day. */
#define HELD_DUE "(CASE WHEN kind = 4 THEN date * 100 + 1 ELSE date END)"
#define REPORT_DAY HELD_DUE

/* The reports are stored in arrival order (schema 9), each transaction's
 * sorted by (uid, iid, seq); report_runs has one row per stretch of one
 * incarnation's consecutive seqs in consecutive rowids. UNIT_REPORTS is
 * unit ?1's reports (for FROM); REPORT_ROW(IID, SEQ) the rowid of one if it
 * is stored (a join checks that row's iid and seq: a seq in no run gives
 * another row's). */
#define UNIT_REPORTS                                                                               \
    "(SELECT r.* FROM incarnations ui JOIN report_runs uk ON uk.iid = ui.iid JOIN reports r"       \
    " ON r.rowid BETWEEN uk.first_row AND uk.first_row + uk.last_seq - uk.first_seq"               \
    " WHERE ui.uid = ?1)"
#define REPORT_ROW(IID, SEQ)                                                                       \
    "(SELECT first_row + (" SEQ ") - first_seq FROM report_runs WHERE iid = (" IID ")"             \
    " AND last_seq >= (" SEQ ") ORDER BY last_seq LIMIT 1)"
/* the row of (iid ?2, seq ?3); of an event's (e) target, and of what corrected it */
#define KEY_ROW REPORT_ROW("?2", "?3")
#define TARGET_ROW REPORT_ROW("e.target_iid", "e.target_seq")
#define BY_ROW REPORT_ROW("e.by_iid", "e.by_seq")

/* Whether report r (joined as e with KNOWN_EVENTS) counted at the end of
 * the day whose last second is ?3 (Unix time), by its trail: received by
 * then, not corrected nor rejected by then, and, if a rule held it for
 * review, accepted by then. A report held for its date (state 1) or a
 * cancel's own row (6) never counts; one held for its date and released
 * since counts from its release (reports.released_at; NULL: never held,
 * or released before schema 8 kept when). */
#define KNOWN_COUNTED                                                                              \
    "r.received_at <= ?3 AND r.state NOT IN (1, 6) AND IFNULL(e.gone, 0) = 0"                      \
    " AND (IFNULL(e.held, 0) = 0 OR e.accepted = 1) AND IFNULL(r.released_at, 0) <= ?3"

/* Each report's trail as of ?3 (the events of WHERE), by (uid, iid, seq),
 * for KNOWN_COUNTED: gone (amended, cancelled or rejected by then), held
 * (a flag that held it for review) and accepted by then. */
#define KNOWN_EVENTS(WHERE)                                                                        \
    "(SELECT uid, target_iid, target_seq, max(what IN (1, 2, 5) AND at <= ?3) AS gone,"            \
    " max(what = 3 AND IFNULL(hold, 1)) AS held, max(what = 4 AND at <= ?3) AS accepted"           \
    " FROM events " WHERE " GROUP BY uid, target_iid, target_seq)"

/* The moment a report last changed what the trail says of it: the latest
 * of its receipt, its release (held for its date) and the trail's events
 * on it (joined as e with CHANGED_EVENTS), for unit_days.changed_at. */
#define CHANGED_AT "max(r.received_at, IFNULL(r.released_at, 0), IFNULL(e.at, 0))"
#define CHANGED_EVENTS(WHERE)                                                                      \
    "(SELECT uid, target_iid, target_seq, max(at) AS at FROM events " WHERE                        \
    " GROUP BY uid, target_iid, target_seq)"

/* unit_days' aggregate columns, in the units table's order. */
#define DAY_COLUMNS                                                                                \
    "reports, participants, hours_tenths, sessions, staff_date, staff_total, staff_proficient,"    \
    " items_date, items_total, items_no_visit, cases_month, cases_total, cases_no_visit"

/* The raw reports folded the way hub_state_apply folds them, for dates up
 * to ?1 (cases: months up to ?2), next to the stored units row. Training
 * sums; per kind the snapshot with the latest date, then the latest seq.
 * Only counted reports (state 0) count. t0 is per incarnation (a sort:
 * the reports are in arrival order); q is, of each unit's incarnations, the one
 * whose last_seq is furthest below (or least above) the highest seq stored
 * under it, held ones too: its last_seq and that seq are columns 1 and 16
 * (for the as-of questions, column 1 is the unit's last_seq of today). */
#define RECOUNT_SQL                                                                                \
    "WITH t0 AS MATERIALIZED (SELECT uid, iid, SUM(state = 0) AS n, MAX(seq) AS maxseq,"           \
    "  SUM(CASE WHEN kind = 1 AND state = 0 THEN total ELSE 0 END) AS participants,"               \
    "  SUM(CASE WHEN kind = 1 AND state = 0 THEN part ELSE 0 END) AS hours,"                       \
    "  SUM(kind = 1 AND state = 0) AS sessions"                                                    \
    "  FROM reports WHERE (kind = 4 AND date <= ?2) OR (kind <> 4 AND date <= ?1)"                 \
    "  GROUP BY uid, iid),"                                                                        \
    " t AS (SELECT uid, SUM(n) AS n, SUM(participants) AS participants, SUM(hours) AS hours,"      \
    "  SUM(sessions) AS sessions FROM t0 GROUP BY uid),"                                           \
    " q AS (SELECT uid, last_seq, maxseq FROM (SELECT i.uid, i.last_seq,"                          \
    "  IFNULL(t0.maxseq, 0) AS maxseq, ROW_NUMBER() OVER (PARTITION BY i.uid"                      \
    "  ORDER BY i.last_seq - IFNULL(t0.maxseq, 0), i.other, i.iid) AS rn"                          \
    "  FROM (SELECT i.uid, i.iid, i.incarnation <> " LEGACY_INC " AS other, " INC_LAST_SEQ         \
    "   AS last_seq FROM incarnations i JOIN units u ON u.uid = i.uid) i"                          \
    "  LEFT JOIN t0 ON t0.iid = i.iid) WHERE rn = 1),"                                             \
    " s AS (SELECT uid,"                                                                           \
    "  MAX(CASE WHEN kind = 2 THEN date END) AS sd,"                                               \
    "  MAX(CASE WHEN kind = 2 THEN total END) AS st,"                                              \
    "  MAX(CASE WHEN kind = 2 THEN part END) AS sp,"                                               \
    "  MAX(CASE WHEN kind = 3 THEN date END) AS idt,"                                              \
    "  MAX(CASE WHEN kind = 3 THEN total END) AS it,"                                              \
    "  MAX(CASE WHEN kind = 3 THEN part END) AS ip,"                                               \
    "  MAX(CASE WHEN kind = 4 THEN date END) AS cd,"                                               \
    "  MAX(CASE WHEN kind = 4 THEN total END) AS ct,"                                              \
    "  MAX(CASE WHEN kind = 4 THEN part END) AS cp"                                                \
    "  FROM (SELECT uid, kind, date, total, part, ROW_NUMBER() OVER"                               \
    "        (PARTITION BY uid, kind ORDER BY date DESC, received_at DESC, iid DESC, seq DESC) "   \
    "AS rn"                                                                                        \
    "        FROM reports WHERE state = 0 AND"                                                     \
    "        ((kind IN (2, 3) AND date <= ?1) OR (kind = 4 AND date <= ?2)))"                      \
    "  WHERE rn = 1 GROUP BY uid)"                                                                 \
    " SELECT u.id, IFNULL(q.last_seq, 0), u.last_heard, u.reports, u.participants,"                \
    "  u.hours_tenths, u.sessions, u.staff_date, u.staff_total, u.staff_proficient, u.items_date," \
    "  u.items_total, u.items_no_visit, u.cases_month, u.cases_total, u.cases_no_visit,"           \
    "  IFNULL(q.maxseq, 0), IFNULL(t.n, 0), IFNULL(t.participants, 0),"                            \
    "  IFNULL(t.hours, 0), IFNULL(t.sessions, 0),"                                                 \
    "  IFNULL(s.sd, 0), IFNULL(s.st, 0), IFNULL(s.sp, 0),"                                         \
    "  IFNULL(s.idt, 0), IFNULL(s.it, 0), IFNULL(s.ip, 0),"                                        \
    "  IFNULL(s.cd, 0), IFNULL(s.ct, 0), IFNULL(s.cp, 0)"                                          \
    " FROM units u LEFT JOIN t ON t.uid = u.uid LEFT JOIN s ON s.uid = u.uid"                      \
    " LEFT JOIN q ON q.uid = u.uid ORDER BY u.id"

/* The uid of a registry unit that has no row in the store (yet: while
 * hub_store_load_states adds it): SQLite gives new rows uids from 1 up. */
#define STORE_NO_UID INT64_MIN

struct hub_store {
    sqlite3 *db;                        /* the connection; one writer, or a reader */
    sqlite3_stmt *q[Q_COUNT];           /* prepared statements */
    char path[512];                     /* for messages */
    int64_t *uids;                      /* uid of registry unit i, or STORE_NO_UID */
    int64_t *liids;                     /* iid of its legacy incarnation; 0: not loaded */
    char (*ids)[RO_UNIT_MAX + 1];       /* id of registry unit i */
    size_t nunits;                      /* units in uids, liids and ids */
    uint8_t store_id[HUB_STORE_ID_LEN]; /* meta.store_id */
    /* units whose unit_days rows the open transaction changes: day_from[i]
     * the earliest day a counted report of it lands on (0: none), day_to[i]
     * the latest (DAY_REDO: re-derive from day_from whatever the rows say);
     * day_list the indices with a day_from, day_n of them */
    uint32_t *day_from, *day_to, *day_list;
    size_t day_n;
    /* the counted reports of the open transaction, each unit's chained
     * from day_head[i] to day_tail[i] (log index + 1; 0: none) */
    struct store_day_entry *day_log;
    size_t day_logn, day_logcap;
    uint32_t *day_head, *day_tail;
    int stale_none; /* no unit is stale (known since the last refresh found none) */
    /* scope_days (store_scopes.c): the unit_days rows the open
     * transaction changed, each as it was before (triggers on the write
     * connection add them), and the scopes' day changes waiting for the
     * commit */
    struct store_touch *touch;
    size_t touchn, touchcap;
    struct store_scope_day *sdays; /* an open-addressing table by (scope, date) */
    uint32_t *sdayused;            /* its slots in use, sdayn of them */
    size_t sdayn, sdaycap;
    int scope_off;  /* rows written are not tracked: the caller counts every unit again */
    int scope_lost; /* a change was not tracked (out of memory): count every unit again */
    /* the reports put in the open transaction, inserted together (sorted)
     * at its commit or before a statement that reads them (store_pending_flush);
     * their texts in ptext */
    struct store_pending *pend;
    size_t pendn, pendcap;
    uint32_t *pidx; /* pend by (iid, seq): open addressing, index + 1; 0 empty */
    size_t pidxcap;
    int pidx_on; /* pidx holds pend (built at the first s_pending_find) */
    char *ptext;
    size_t ptextn, ptextcap;
    /* each incarnation's highest stored seq (pending ones too), by iid:
     * open addressing, filled from report_runs as met; emptied by a rollback */
    int64_t *mx_iid, *mx_seq;
    size_t mxn, mxcap;
};

/* A report waiting for its transaction's commit (the reports row's columns). */
struct store_pending {
    int64_t uid, iid, seq, date, total, part, recorded_at, received_at, hash;
    int kind, state;
    size_t text_off;   /* its text in ptext */
    uint32_t slot;     /* its slot in pidx, while pidx_on */
    uint32_t text_len; /* bytes of its text, without the NUL */
};

/* Insert the reports waiting in the open transaction. Returns 0 or a code. */
int store_pending_flush(hub_store_t *self, char *err, size_t errlen);

/* What a report of the open transaction does to its unit's unit_days
 * rows: counted, it enters them; amended or cancelled after it counted, it
 * leaves them; else (corrected while held) it only changed them then, and
 * its day keeps a row. */
enum { DAY_ENTERS, DAY_LEAVES, DAY_TOUCHES };

/* A report of the open transaction, as unit_days needs it. */
struct store_day_entry {
    uint32_t next; /* the unit's next entry + 1; 0: none */
    int64_t at;    /* when it was received or corrected: the rows' changed_at */
    int64_t iid;   /* a report that enters: its incarnation and seq, with at */
    uint64_t seq;  /* its key in the snapshots' tie rule (Q_SNAPSHOT) */
    int effect;    /* DAY_ENTERS, DAY_LEAVES or DAY_TOUCHES */
    int kind;      /* ro_kind_t */
    uint32_t date; /* YYYYMMDD; cases YYYYMM */
    uint32_t total, part;
};

/* day_to of a unit whose rows are re-derived from day_from at commit. */
#define DAY_REDO UINT32_MAX

/* A report dated at most this many days before its unit's latest row is
 * applied to the rows since (rewriting at most about so many); one dated
 * earlier marks them stale instead (units.day_stale). */
#define DAY_SHIFT_MAX 31

/* More reports of one unit than this in a batch (an outbox's backlog, in
 * any date order) mark its rows stale rather than each rewriting the rows
 * after it. */
#define DAY_APPLY_MAX 16

/* ---- scope_days (store_scopes.c) ----------------------------------------
 * The province's, each level's and each division's figures as of any day
 * without a row per unit: scope_days holds, for each scope and day, how
 * much the scope's sums (ro_scope_t's additive fields) change on that day,
 * the sum over its units of each unit_days row less the unit's row before
 * it. The scope as of day D is the sum of its rows up to D. A unit is
 * counted in the scopes its units.scope code names (0: none), which the
 * registry decides (hub_store_load_states moves a unit whose code
 * changed). Triggers on the write connection note every unit_days row
 * changed, as it was; the commit turns them into the scopes' changes. */

/* The figures scope_days keeps, in its column order (reporting: the unit
 * has a counted report). */
#define STORE_SCOPE_FIGS 11

struct store_touch {
    int64_t uid;
    uint32_t date;
    uint32_t order;              /* the first change of a row tells how it was */
    int existed;                 /* the row was there before */
    int64_t v[STORE_SCOPE_FIGS]; /* and its figures then */
};
struct store_scope_day {
    uint64_t key; /* scope << 32 | date; 0: a free slot (scope 0, day 0 is no day) */
    int64_t v[STORE_SCOPE_FIGS];
};
/* A unit and the scope code it is counted under (units.scope). */
struct store_uid_code {
    int64_t uid;
    uint32_t code;
};

/* The scope code of registry unit u: division * 10 + level + 1. */
uint32_t store_scope_code(const ro_unit_t *u);

/* Set up the triggers and their function on the write connection. */
int store_scopes_setup(hub_store_t *self, char *err, size_t errlen);
/* Unit uid counted under code to (0: nowhere) instead of from: its rows
 * leave from's scopes and enter to's, and units.scope says to. In the
 * open write transaction. Returns 0 or a code. */
int store_scopes_move(hub_store_t *self, int64_t uid, uint32_t from, uint32_t to, char *err,
                      size_t errlen);
/* Count every unit again: scope_days emptied, each unit's rows added to
 * the scopes its units.scope names (the registry's, as hub_store_load_states
 * set it, in this transaction too). In the open write transaction. */
int store_scopes_recount(hub_store_t *self, char *err, size_t errlen);
/* Before COMMIT: the changed rows into the scopes' rows. Returns 0 or a code. */
int store_scopes_flush(hub_store_t *self, char *err, size_t errlen);
/* The transaction ends without a commit: forget what it noted. */
void store_scopes_forget(hub_store_t *self);
void store_scopes_free(hub_store_t *self);

/* Compare scope_days with the sums of the unit_days rows it stands for
 * (every unit counted under its units.scope): a (scope, day) whose change
 * differs is a difference (unit "province", "level L" or "division C",
 * field "<figure> of D"), written
 * after the first ndiff of diffs (up to cap in all). Returns the
 * differences in all and sets *rc to SQLITE_DONE unless a read failed. */
long store_scopes_check(sqlite3 *db, hub_store_diff_t *diffs, size_t cap, long ndiff, int *rc);

/* Compare every unit_days row of db with the fold of its unit's counted
 * reports up to its day: a row missing, one too many, or a field that
 * differs is a difference, written after the first ndiff of diffs (up to
 * cap in all); then scope_days with the rows (store_scopes_check). Returns
 * the differences in all (ndiff and these) and sets *rc to SQLITE_DONE
 * unless a read failed. */
long store_days_check(sqlite3 *db, hub_store_diff_t *diffs, size_t cap, long ndiff, int *rc);

/* The 13 aggregates (reports .. cases_no_visit) from columns col.. of st. */
void store_row_aggregates(sqlite3_stmt *st, int col, hub_unit_state_t *s);

/* The aggregates of s, in that order (the units and unit_days columns). */
#define STORE_AGGREGATES 13
void store_aggregates(const hub_unit_state_t *s, int64_t v[STORE_AGGREGATES]);

/* The report in columns col.. of st's row (kind, date, total, part) folded
 * into *s with hub_state_apply, the rule the live state follows. */
void store_apply_row(sqlite3_stmt *st, int col, hub_unit_state_t *s);

/* Every row of st (kind, date, total, part) folded into *s so; st is
 * reset and its bindings cleared. Returns SQLITE_DONE or SQLite's error. */
int store_fold_rows(sqlite3_stmt *st, hub_unit_state_t *s);

/* The latest of unit uid's rows before day from: *agg its aggregates,
 * *at its changed_at (zeros: none). Returns 0 or a code. */
int store_days_base(hub_store_t *self, int64_t uid, uint32_t from, hub_unit_state_t *agg,
                    int64_t *at, char *err, size_t errlen);

/* Re-derive unit uid's unit_days rows from day from on: the row before it,
 * then its counted reports from that day on, folded with hub_state_apply in
 * (day, received_at, iid, seq) order, a row at each day. Returns 0 or a
 * code. In the open write transaction. */
int store_days_redo(hub_store_t *self, int64_t uid, uint32_t from, char *err, size_t errlen);

/* Map SQLite's result to ours and put "what: sqlite's message" in err. */
int store_fail(hub_store_t *self, int rc, const char *what, char *err, size_t errlen);
/* The file is not a database or is corrupt. */
int store_is_damage(int rc);
/* "path is damaged: why; restore it..." in err. */
void store_damaged(const char *path, const char *why, char *err, size_t errlen);
/* One integer from a single-row query; returns the SQLite code. */
int store_int(sqlite3 *db, const char *sql, int64_t *out);

#endif
