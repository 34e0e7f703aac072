/* hub_store: the hub's SQLite file (hub.db): raw reports (the audit trail),
 * refusals, each unit's incarnations (the sequences its reports are numbered
 * in) and per-unit aggregates kept in step with them inside the same
 * transaction. The only hub module that speaks SQL. It decides nothing about
 * ordering, dedup or acks (hub_ingest does) and nothing about targets. */
#ifndef HUB_STORE_H
#define HUB_STORE_H

#include "ro_registry.h"
#include "ro_report.h"
#include "ro_scope.h"
#include "state.h"

#include <stddef.h>
#include <stdint.h>

/* Return codes: 0 is success; every failure is one of these. */
#define HUB_STORE_EFAIL -1   /* SQL or I/O error; the message says which */
#define HUB_STORE_EFULL -2   /* disk full or max_store_bytes reached (SQLITE_FULL) */
#define HUB_STORE_EDUP -3    /* (unit, incarnation, seq) already has a stored report */
#define HUB_STORE_ETARGET -4 /* a correction's target is not one it may correct */

/* The schema this build writes; older files are migrated forward on open. */
#define HUB_STORE_SCHEMA 10

/* Bytes of the store's identity (meta.store_id, Ack.store_id from version 2). */
#define HUB_STORE_ID_LEN 16

/* A stored report's state (reports.state): counted in the aggregates;
 * held (stored and acknowledged, counted nowhere) until the hub's date
 * reaches its own; or corrected. Only HUB_STORE_COUNTED counts anywhere
 * (aggregates, recount, as-of, history, series). Review (store_review.c):
 * a report a [review] rule flagged waits in 2 until a reviewer accepts (0)
 * or rejects (3) it. */
#define HUB_STORE_COUNTED 0
#define HUB_STORE_HELD_CLOCK 1
#define HUB_STORE_HELD_REVIEW 2 /* flagged: counted nowhere until a reviewer accepts it */
#define HUB_STORE_REJECTED 3    /* rejected by a reviewer: counted nowhere */
#define HUB_STORE_AMENDED 4     /* replaced by an amend (the amend's row counts instead) */
#define HUB_STORE_CANCELLED 5   /* withdrawn by a cancel */
#define HUB_STORE_CANCEL 6      /* a cancel's own row: kept for its identity and the trail */

typedef struct hub_store hub_store_t;

/* One field where a unit's stored aggregate and the recount disagree. */
typedef struct {
    char unit[RO_UNIT_MAX + 1]; /* unit id */
    char field[40];             /* column name, e.g. "participants"; of a unit's
                                   day: "participants of 20180315", or "day row of
                                   20180315" for a row missing (stored 0) or one
                                   too many (recount 0) */
    int64_t stored;             /* value in the units row */
    int64_t recount;            /* value recomputed from the raw reports */
} hub_store_diff_t;

/* Name of a return code ("disk full", ...). */
const char *hub_store_strerror(int code);

/* Open (creating if missing) the store at path, or ":memory:". synchronous
 * is SQLite's level: 1 NORMAL, 2 FULL, 3 EXTRA. max_bytes > 0 caps the
 * database file (writes beyond it fail with HUB_STORE_EFULL); 0 = no cap.
 * A file that is not a database, is truncated or damaged, or carries a
 * newer schema is refused with one line in err that says what to do; such a
 * file is never modified, emptied or recreated. A store of an older schema
 * is migrated forward first, each step in one transaction (the step to
 * schema 4 rewrites every report: seconds per million, and the WAL grows to
 * about the store's size until its end); a step that fails leaves the file
 * as it was and the open fails, saying what to do. Apart from a migration,
 * open does no full scan. Returns NULL on failure. */
hub_store_t *hub_store_open(const char *path, int synchronous, int64_t max_bytes, char *err,
                            size_t errlen);

/* Another connection to a store this process already has open with
 * hub_store_open (for a second thread): the same settings, without the file
 * check, which must not run then (see hub_store_open's comment in store.c). */
hub_store_t *hub_store_open_again(const char *path, int synchronous, char *err, size_t errlen);

/* Let self's page cache grow to kib KiB (SQLite's default is 2 MiB). The
 * writer wants one that holds what a batch touches (the reports' last
 * pages, the runs', the units' rows and days); set it after the checks at
 * start, which read each unit's pages once and would only fill it. Returns
 * 0 or a code. */
int hub_store_set_cache(hub_store_t *self, int kib);

/* Make the statement running on self (in another thread) stop soon with an
 * error; safe from any thread. NULL: nothing. */
void hub_store_interrupt(hub_store_t *self);

/* Copy this store's identity into out: 16 random bytes drawn when the file
 * was created, or migrated to schema 4, and the same at every open after
 * (a copy of the file shares it; a new file has another). */
void hub_store_id(const hub_store_t *self, uint8_t out[HUB_STORE_ID_LEN]);

/* Close the store (a transaction still open is rolled back). Accepts NULL
 * and nulls the caller's pointer. */
void hub_store_destroy(hub_store_t **self_p);

/* Cap the database at max_bytes (0 = no cap beyond SQLite's own). A cap
 * below the current size holds it where it is. Returns 0 or a code. */
int hub_store_set_max_bytes(hub_store_t *self, int64_t max_bytes, char *err, size_t errlen);

/* Make sure every unit of reg has a row (new units get a fresh uid; units
 * no longer in reg keep theirs) and a legacy incarnation, and fill
 * states[i] for reg's unit i (last_seq: its legacy incarnation's). One
 * sequential read of the units table, matched to reg in memory, and the
 * missing rows added, all in one write transaction (nothing is written when
 * none is missing). Must not be called inside a transaction. Later calls
 * taking a unit index refer to the registry of the latest successful call.
 * Returns 0 or a code; a damaged file is named as such in err. On failure
 * the previous registry stays. */
int hub_store_load_states(hub_store_t *self, const ro_registry_t *reg, hub_unit_state_t *states,
                          char *err, size_t errlen);

/* Give a second (reader) connection the map from's latest
 * hub_store_load_states made (its registry's units, their rows and legacy
 * incarnations), copied: the reader reads and writes nothing for it. Call
 * it again after each hub_store_load_states on from. Later calls taking a
 * unit index refer to that registry. Returns 0, or HUB_STORE_EFAIL (out of
 * memory) with the previous map kept. */
int hub_store_copy_map(hub_store_t *self, const hub_store_t *from, char *err, size_t errlen);

/* One write transaction (BEGIN IMMEDIATE .. COMMIT). After any failure the
 * caller must call hub_store_rollback, which is safe when SQLite already
 * rolled back on its own and when no transaction is open. */
int hub_store_begin(hub_store_t *self, char *err, size_t errlen);
int hub_store_commit(hub_store_t *self, char *err, size_t errlen);
void hub_store_rollback(hub_store_t *self);

/* The incarnation id (iid, > 0) of unit index's incarnation: the
 * RO_INCARNATION_LEN bytes at incarnation, or NULL for its legacy
 * incarnation (16 zero bytes), which every report of protocol version 1
 * belongs to. A report's identity is (unit, iid, seq): each incarnation has
 * a sequence of its own. The legacy iid of a unit loaded by
 * hub_store_load_states is in memory (no SQL). Another incarnation costs an
 * index seek; one the store does not know yet is added (first heard at
 * now), inside the open write transaction if there is one. Returns the iid
 * or a negative code (a unit index not loaded: HUB_STORE_EFAIL). */
int64_t hub_store_incarnation(hub_store_t *self, size_t index, const uint8_t *incarnation,
                              int64_t now, char *err, size_t errlen);

/* The iid of unit index's incarnation (RO_INCARNATION_LEN bytes), and its
 * last_seq into *last_seq (if not NULL), without adding one: 0 (and
 * *last_seq 0) when the store has none. A last_seq is what the stored
 * reports and refusals say (no cursor is written), the open transaction's
 * included. Three index seeks. Returns the iid, 0, or a negative code. */
int64_t hub_store_incarnation_find(hub_store_t *self, size_t index, const uint8_t *incarnation,
                                   uint64_t *last_seq, char *err, size_t errlen);

/* Of unit index's counted snapshots of kind (staff, items, cases) dated
 * *date (0: of any date, the latest), the one that counts: the last
 * received, then the highest incarnation id, then seq (the recount's
 * order). Returns 1 with its *date, *total, *part, its incarnation's *iid
 * and when it was received (*at), 0 when there is none, or a negative
 * code. Reads the unit's reports: for ties between incarnations, and a
 * correction of the snapshot counted, only. */
int hub_store_snapshot(hub_store_t *self, size_t index, ro_kind_t kind, uint32_t *date,
                       uint32_t *total, uint32_t *part, int64_t *iid, int64_t *at);

/* Store report r of unit index (r->unit must be that unit) under its
 * incarnation iid (hub_store_incarnation of that unit), counted, with the
 * hash of its content (ro_report_hash). Returns 0, HUB_STORE_EDUP if (unit,
 * iid, seq) is already stored (nothing changes, the transaction stays
 * usable), or a code. */
int hub_store_put_report(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                         uint64_t hash, int64_t received_at, char *err, size_t errlen);

/* hub_store_put_report, but held (HUB_STORE_HELD_CLOCK): stored, its seq
 * used up, and counted nowhere (aggregates, recount, as-of, history,
 * series) until hub_store_release. */
int hub_store_hold_report(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                          uint64_t hash, int64_t received_at, char *err, size_t errlen);

/* hub_store_put_report, but held for review (HUB_STORE_HELD_REVIEW: a
 * [review] rule flagged it; hub_store_flag records why): counted nowhere
 * until a reviewer accepts it (hub_store_decide). Stored so from the
 * start, it never enters the unit's daily rows. */
int hub_store_hold_review(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                          uint64_t hash, int64_t received_at, char *err, size_t errlen);

/* A correction's target as the store held it before (hub_store_correct). */
typedef struct {
    ro_kind_t kind; /* its kind */
    uint32_t date;  /* its date (month for cases) */
    uint32_t total; /* its figures */
    uint32_t part;
    int state; /* HUB_STORE_COUNTED, HUB_STORE_HELD_CLOCK or HUB_STORE_HELD_REVIEW */
} hub_store_target_t;

/* Apply correction r (r->action amend or cancel), of unit index under its
 * incarnation iid, to its target: the report (target_iid, r->target_seq) of
 * the same unit. The target must be stored counted or held (not corrected
 * already, nor a cancel's row) and, for an amend, of the replacement's
 * kind; else nothing changes and HUB_STORE_ETARGET is returned with why in
 * err (the correction is refused REASON_TARGET). Then the target's state
 * becomes HUB_STORE_AMENDED or HUB_STORE_CANCELLED, and the trail (table
 * events) records the correction: the unit, when (at), the target, what,
 * by whom (by: the connection's User-Id, "" without keys), the correction's
 * own identity (iid, r->seq) and its reason. *was gets the target as it was
 * (its figures too). The target's day changes in the unit's
 * unit_days rows at the commit (a counted target leaves them). The caller
 * takes a counted target out of the unit's aggregates (hub_state_withdraw)
 * and stores the correction's own row (an amend's counts, or is held, like
 * any report; a cancel's with hub_store_put_cancel). In the open write
 * transaction.
 * Returns 0, HUB_STORE_ETARGET, or a code. */
int hub_store_correct(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                      int64_t target_iid, const char *by, int64_t at, hub_store_target_t *was,
                      char *err, size_t errlen);

/* Store cancel r's own row (HUB_STORE_CANCEL: counted nowhere) under the
 * target's kind and date (was), so its identity holds it as any report's.
 * Returns as hub_store_put_report. */
int hub_store_put_cancel(hub_store_t *self, size_t index, int64_t iid, const ro_report_t *r,
                         const hub_store_target_t *was, uint64_t hash, int64_t received_at,
                         char *err, size_t errlen);

/* Re-derive unit index's aggregates from its counted reports (after a
 * correction), as the recount folds them, and write them to its units row.
 * *st gets them; its last_seq, seq_shown and last_heard are left as they
 * were. Reads the unit's reports. Returns 0 or a code. */
int hub_store_refold(hub_store_t *self, size_t index, hub_unit_state_t *st, char *err,
                     size_t errlen);

/* How many reports are held (*count) and the earliest day one of them is
 * due (*earliest, YYYYMMDD as ro_report_due; 0 when none). Reads the held
 * rows' partial index only. Returns 0 or a code. */
int hub_store_held(hub_store_t *self, uint64_t *count, uint32_t *earliest, char *err,
                   size_t errlen);

/* Inside a write transaction: count every held report due by today
 * (ro_report_due <= today), released at at (Unix seconds: from then on it
 * counts as known on a day, reports.released_at), and re-derive the aggregates of each unit that
 * had one from its counted reports, folded in (incarnation, seq) order with
 * hub_state_apply (what a recount finds), into its units row. For the
 * units of the current registry, states[i] takes the new aggregates
 * (last_seq and last_heard stay) and i is written to changed (room for
 * every registry unit), *nchanged of them. Returns how many reports were
 * released (>= 0) or a negative code. */
long hub_store_release(hub_store_t *self, uint32_t today, int64_t at, hub_unit_state_t *states,
                       uint32_t *changed, size_t *nchanged, char *err, size_t errlen);

/* Record a refused report of unit index and seq under its incarnation
 * iid (stored under the unit's id, as hub_store_find looks it up). */
int hub_store_put_refusal(hub_store_t *self, size_t index, int64_t iid, uint64_t seq,
                          ro_reason_t reason, const char *text, uint64_t hash, int64_t at,
                          char *err, size_t errlen);

/* Write the aggregates and last_heard of unit index into its units row,
 * and its day rows (days HUB_STORE_DAYS_NOW), or mark them stale from the
 * earliest day the transaction touched (HUB_STORE_DAYS_LATER: a unit that
 * reports in batch after batch, whose rows would be rewritten at each;
 * hub_store_days_refresh writes them once ingest is quiet, and until then
 * an as-of question folds its reports). st->last_seq is not written
 * anywhere: a sequence's last seq is read from the reports and refusals
 * stored under it (INC_LAST_SEQ in store_db.h). */
#define HUB_STORE_DAYS_NOW 0
#define HUB_STORE_DAYS_LATER 1
int hub_store_put_state(hub_store_t *self, size_t index, const hub_unit_state_t *st, int days,
                        char *err, size_t errlen);

/* What the store holds for (unit index, iid, seq): returns 1 with *hash for
 * a stored report, 2 with *hash (and the reason, and the text into
 * text/textlen if not NULL) for a stored refusal, 0 if neither, or a
 * negative code. */
int hub_store_find(hub_store_t *self, size_t index, int64_t iid, uint64_t seq, uint64_t *hash,
                   ro_reason_t *reason, char *text, size_t textlen);

/* Recompute every unit's aggregates from the raw reports and compare them
 * with the units rows (reports, training sums, latest snapshots, and each
 * incarnation's last_seq not below the highest seq stored under it; a unit
 * with several such incarnations shows the one furthest behind). Writes up
 * to cap differences
 * into diffs (may be NULL), the number of units and reports looked at into
 * *units and *reports (may be NULL). Returns the number of differences
 * (>= 0) or a negative code. Then the reports' runs against the reports
 * (unit field "run", or unit "(all)" field "reports in runs"). Scans
 * every report: not for the hot path. */
long hub_store_recount(hub_store_t *self, hub_store_diff_t *diffs, size_t cap, uint64_t *units,
                       uint64_t *reports, char *err, size_t errlen);

/* The check at start, as fast on ten million reports as on ten: the
 * units, their incarnations and the reports' runs read through their
 * indexes, one pass over the refusals' index, and the newest report (the
 * pages the last writes went to); no scan of the reports. No
 * incarnation's column last_seq (written until schema 9) may exceed the
 * highest seq stored under it as a report (its last run's) or a refusal,
 * and a unit's reports count must not exceed the sum of its
 * incarnations' last_seq (INC_LAST_SEQ). Writes up to cap
 * differences, in the units' table order, into diffs (may be NULL;
 * "stored" is the units row's value, "recount" what the raw rows say) and
 * the units looked at into *units. Returns the number of differences
 * (>= 0) or a negative code; a damaged file is named as such in err, with
 * what to do. */
long hub_store_check_fast(hub_store_t *self, hub_store_diff_t *diffs, size_t cap, uint64_t *units,
                          char *err, size_t errlen);

/* What a background recount found. */
#define HUB_STORE_VERIFY_SHOWN 8
typedef struct {
    long differences;                               /* >= 0, or a negative code */
    hub_store_diff_t diffs[HUB_STORE_VERIFY_SHOWN]; /* the first differences */
    uint64_t units;                                 /* units looked at */
    uint64_t reports;                               /* raw reports counted */
    int64_t ms;                                     /* how long the recount took */
    int interrupted;                                /* stopped by verify_destroy */
    int damaged;                                    /* the file is damaged (error says) */
    char error[1024];                               /* why it failed, if it did */
} hub_store_verify_result_t;

/* Called once from the recount's thread when it ends (keep it short and
 * thread-safe: a log line). The result is borrowed for the call. */
typedef void (*hub_store_verified_fn)(const hub_store_verify_result_t *result, void *arg);

typedef struct hub_store_verifier hub_store_verifier_t;

/* Run hub_store_recount's comparison on the store file at path in a thread
 * of its own, over a read-only connection of its own, so a store of
 * millions of reports is verified without holding up the hub: the writer
 * goes on (WAL) and the recount reads one consistent snapshot. done(result,
 * arg) is called from that thread. Returns NULL with a reason in err. */
hub_store_verifier_t *hub_store_verify_start(const char *path, hub_store_verified_fn done,
                                             void *arg, char *err, size_t errlen);

/* Stop a recount still running (done is then called with interrupted set),
 * wait for its thread, close its connection. Accepts NULL; nulls the pointer. */
void hub_store_verify_destroy(hub_store_verifier_t **self_p);

/* Derive every unit's unit_days rows afresh from its counted reports, in
 * a transaction of its own (the migration to schema 6 does the same; a
 * store whose reports were written around hub_store, as bench/mkstore's,
 * needs it). Returns 0 or a code. */
int hub_store_days_rebuild(hub_store_t *self, char *err, size_t errlen);

/* Re-derive the unit_days rows of units marked stale (a report dated long
 * before their latest day), a few units a transaction, while budget_ms
 * lasts (checked before each unit, whose own re-derivation reads its
 * reports from its stale day on): for the hub's idle moments. Returns the units re-derived (>= 0)
 * or a negative code. Not in a transaction. */
long hub_store_days_refresh(hub_store_t *self, int64_t budget_ms, char *err, size_t errlen);

/* The state of every unit of reg as of date as_of (YYYYMMDD): training sums
 * over sessions dated <= as_of, the latest snapshot dated <= as_of (cases:
 * month <= as_of's month; equal dates: the last received, then the higher
 * incarnation id, then seq), reports = reports so dated, counted ones only
 * (RECOUNT_SQL's rules); last_heard is today's, last_seq and seq_shown 0
 * (the caller has today's). out has one slot per unit. Reads each unit's
 * units row (when as_of is on or after its last day) or its unit_days row
 * of the latest day up to as_of: a row per unit, not a scan of the
 * reports. Returns 0 or a code. */
int hub_store_states_as_of(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of,
                           hub_unit_state_t *out, char *err, size_t errlen);

/* hub_store_states_as_of as the hub knew it at the end of day known_on
 * (YYYYMMDD, on or after as_of; the end is ro_date_end's, UTC as the
 * hub's dates): only the reports received by then count, each in the
 * state the trail gives it then (a report corrected or rejected after
 * then counts as it was, one held for review only if accepted by then).
 * after[i] (after may be NULL) gets how many corrections and review
 * decisions made after then touch unit i's figures as of as_of (their
 * target, or an amend's replacement, dated on or before it). Reads each
 * unit's unit_days row of the latest day up to as_of (two seeks), and
 * folds the reports and trail of the few units whose row changed after
 * then (unit_days.changed_at) or is stale. Returns 0 or a code. */
int hub_store_states_known(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of,
                           uint32_t known_on, hub_unit_state_t *out, uint32_t *after, char *err,
                           size_t errlen);

/* The province's, each level's and each division's figures as of date
 * as_of, as hub_store_states_as_of's states of the registry's units would
 * add up (hub_scope_add's sums: units_reporting, reports, participants,
 * hours_tenths, sessions, and the latest snapshots' totals and parts; the
 * scopes' other fields are left as they are). Reads scope_days, a row per
 * scope and day up to as_of, and the units whose rows are stale from
 * as_of or before: not a row per unit. levels has RO_LEVEL_COUNT scopes,
 * divisions RO_DIVISION_COUNT (ro_division_index's order). Returns 0 or a
 * code. */
int hub_store_scope_sums(hub_store_t *self, uint32_t as_of, ro_scope_t *province,
                         ro_scope_t *levels, ro_scope_t *divisions, char *err, size_t errlen);

/* The same as hub_store_states_as_of, recounted from the reports
 * themselves (RECOUNT_SQL: a scan of every report), for tests and checks
 * of the unit_days rows. Returns 0 or a code. */
int hub_store_states_recount(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of,
                             hub_unit_state_t *out, char *err, size_t errlen);

/* One stored report of a unit, as history sees it. */
typedef struct {
    uint64_t seq;   /* the unit's seq */
    uint32_t date;  /* YYYYMMDD; YYYYMM for cases */
    uint32_t total; /* training: participants; else the total */
    uint32_t part;  /* training: hours in tenths; else proficient or no-visit */
} hub_store_point_t;

/* The reports of kind (training, staff, items or cases) of unit index dated
 * <= as_of (cases: month <= as_of's month), by date then seq. *out is
 * malloc'ed and the caller's to free (NULL when *count is 0). Reads the
 * unit's reports only. Returns 0 or a code. */
int hub_store_history(hub_store_t *self, size_t index, ro_kind_t kind, uint32_t as_of,
                      hub_store_point_t **out, size_t *count, char *err, size_t errlen);

/* The registry's units' reports of kind folded as of each of n dates
 * (YYYYMMDD, ascending): training sums total and part over reports dated
 * <= dates[j]; staff and items add up each unit's latest snapshot dated
 * <= dates[j] (cases: month <= its month; equal dates: the later seq), as
 * hub_store_states_as_of does. Writes total[j] and part[j]. From the
 * province's scope_days rows (a row per day), each unit whose rows are
 * stale corrected from its own rows, its units row and, when a date falls
 * among its stale days, its reports; or, when the units to fold hold more
 * than a fifth of the reports, one pass over the reports of that kind
 * ordered by unit, date, seq, however many dates: the cost of one as-of
 * scan, not n. Returns 0 or a code. */
int hub_store_series(hub_store_t *self, ro_kind_t kind, const uint32_t *dates, size_t n,
                     uint64_t *total, uint64_t *part, char *err, size_t errlen);

/* hub_store_series as known at the end of day known_on (0: now, as
 * hub_store_series), with hub_store_states_known's rule for what counted
 * then; one pass over the reports of the kind (and one over the trail). */
int hub_store_series_known(hub_store_t *self, ro_kind_t kind, const uint32_t *dates, size_t n,
                           uint32_t known_on, uint64_t *total, uint64_t *part, char *err,
                           size_t errlen);

/* One correction of a unit's report, as the trail (table events) and the
 * reports it names hold it. */
typedef struct {
    int64_t at;                             /* when the hub applied it, Unix seconds */
    ro_action_t what;                       /* RO_ACTION_AMEND or RO_ACTION_CANCEL */
    uint64_t target_seq;                    /* the corrected report's seq */
    uint8_t target_inc[RO_INCARNATION_LEN]; /* its incarnation; all zero: legacy */
    ro_kind_t target_kind;                  /* the target's kind, date, total and part */
    uint32_t target_date;                   /* YYYYMMDD; YYYYMM for cases */
    uint32_t target_total;                  /* as stored */
    uint32_t target_part;                   /* as stored */
    uint64_t seq;                           /* the correction's own seq */
    uint8_t inc[RO_INCARNATION_LEN];        /* its incarnation; all zero: legacy */
    uint32_t new_date;                      /* amend: the replacement's; cancel: 0 */
    uint32_t new_total;                     /* amend: the replacement's; cancel: 0 */
    uint32_t new_part;                      /* amend: the replacement's; cancel: 0 */
    char by[64];                            /* the connection's User-Id, "" without keys */
    char reason[RO_TEXT_MAX + 1];           /* why */
} hub_store_event_t;

/* The trail of unit index: its corrections, newest first (the order the
 * hub applied them), at most limit of them (0: all) into *out (malloc'ed,
 * the caller's to free; NULL when *count is 0), and how many it has into
 * *total. Reads the unit's events (an index seek) and, per event, its
 * target's and its correction's rows. Returns 0 or a code. */
int hub_store_trail(hub_store_t *self, size_t index, size_t limit, hub_store_event_t **out,
                    size_t *count, uint64_t *total, char *err, size_t errlen);

/* What the store knows of a unit's problems (hub_store_problems): its
 * reports held until their date, or its refusals since a time. Strings are
 * valid during the call only. */
typedef struct {
    const char *unit;   /* unit id */
    int held;           /* 1: held reports; 0: refusals */
    uint64_t count;     /* how many */
    uint32_t date;      /* held: the earliest date held (YYYYMMDD, or YYYYMM for cases) */
    uint64_t seq;       /* refusals: the latest one's seq */
    ro_reason_t reason; /* its reason */
    const char *text;   /* its text */
    int64_t at;         /* when it was refused */
} hub_store_problem_t;

/* Call fn once per unit with held reports, then once per unit with
 * refusals at or after since (their latest), in unit id order each. Reads
 * the held reports' index and the refusals (few), never the whole store.
 * fn returning nonzero stops the scan (returned). Returns 0, a code, or
 * fn's nonzero. */
int hub_store_problems(hub_store_t *self, int64_t since,
                       int (*fn)(void *arg, const hub_store_problem_t *p), void *arg, char *err,
                       size_t errlen);

/* ---- review (hub/store_review.c) ----
 * The trail (table events) records a flag (what 3, rule and reason: what
 * the rule saw), an accept (4) and a reject (5), by the reviewer's User-Id,
 * beside the corrections (1 amend, 2 cancel). Decisions are rare: their
 * statements are prepared when used; a flag's (as many as one report in
 * three of a careless unit's) is prepared once. */
#define HUB_STORE_EVENT_FLAG 3
#define HUB_STORE_EVENT_ACCEPT 4
#define HUB_STORE_EVENT_REJECT 5

/* The flag row in the trail of the report (unit index, iid, seq) just
 * stored: held (hold: stored with hub_store_hold_review), or counted when
 * the rules do not hold; naming rule and reason, and whether it held (a
 * known-on answer counts a held report only once accepted). In the open
 * write transaction. Returns 0 or a code. */
int hub_store_flag(hub_store_t *self, size_t index, int64_t iid, uint64_t seq, int hold,
                   const char *rule, const char *reason, int64_t at, char *err, size_t errlen);

/* Decide the flagged report seq of unit index, in incarnation inc
 * (RO_INCARNATION_LEN bytes; NULL: whichever incarnation has a flagged
 * report of that seq, refused when two have): accept (state 2 -> 0) or
 * reject (2 or 0 -> 3), with a trail row (4 or 5) by `by`, at `at`, for
 * reason. In the open write transaction. Returns 0 when decided now
 * (*changed: its state moved, so its unit must be folded again; *was_held:
 * it was held; *kind: its kind), 1 when it was decided the same way
 * already (nothing written, why says by whom), HUB_STORE_ETARGET with why
 * (not flagged, decided the other way, corrected since), or a code. */
int hub_store_decide(hub_store_t *self, size_t index, const uint8_t *inc, uint64_t seq, int accept,
                     const char *by, const char *reason, int64_t at, int *changed, int *was_held,
                     int *kind, char *why, size_t whylen);

/* What the figures as of as_of (YYYYMMDD) rest on, per unit of reg and
 * kind (hub_unit_marks_t, one per registry unit, into out): of the reports
 * dated on or before as_of (cases: months up to its month; the target's
 * date as stored, as every as-of answer counts it), how many the trail says
 * were corrected (an amend or a cancel names them: an amend of an amend
 * counts the first amend too, each a report replaced), are held for review
 * (flagged, neither decided nor corrected since) and were rejected.
 * known_on > 0 counts only the trail rows at or before it (Unix seconds):
 * a report flagged by then and decided or corrected after is held at it
 * (one flagged under hold = no and decided after is counted so too: the
 * trail does not say it was not held). One pass over the events (few
 * beside the reports) and an index seek into the reports per corrected,
 * flagged or decided report: never a scan of the reports. *key (may be
 * NULL) gets the trail's newest id, read before: the counts hold while it
 * stays. Returns 0 or a code. */
int hub_store_marks(hub_store_t *self, const ro_registry_t *reg, uint32_t as_of, int64_t known_on,
                    hub_unit_marks_t *out, int64_t *key, char *err, size_t errlen);

/* The trail's newest id (0: none): it grows with every correction, flag and
 * decision, so hub_store_marks' answer holds while it stays. A seek. */
int64_t hub_store_trail_key(hub_store_t *self);

/* A flagged report and what became of it. */
typedef struct {
    char unit[RO_UNIT_MAX + 1];      /* unit id */
    uint64_t seq;                    /* the report's seq */
    uint8_t inc[RO_INCARNATION_LEN]; /* its incarnation; all zero: legacy */
    ro_kind_t kind;                  /* its kind, date and figures as stored */
    uint32_t date;
    uint32_t total;
    uint32_t part;
    char rule[40];                /* the rule that flagged it */
    char text[256];               /* what the rule saw */
    int64_t flagged_at;           /* when */
    int state;                    /* 0 pending, 1 accepted, 2 rejected, 3 corrected since */
    char by[64];                  /* the reviewer's User-Id; "" while pending */
    int64_t at;                   /* when decided; 0 while pending */
    char reason[RO_TEXT_MAX + 1]; /* the reviewer's reason */
} hub_store_review_t;

/* The flagged reports of unit index (-1: every unit), pending first, then
 * the newest first, at most limit (0: all) into *out (malloc'ed, the
 * caller's; NULL when *count is 0), how many there are into *total and of
 * them pending into *pending (either may be NULL). Reads the trail's flag
 * rows (the events table: corrections and flags, few beside the reports).
 * Returns 0 or a code. */
int hub_store_reviews(hub_store_t *self, long index, size_t limit, hub_store_review_t **out,
                      size_t *count, uint64_t *total, uint64_t *pending, char *err, size_t errlen);

#endif
