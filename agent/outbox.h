/* agent_outbox: the unit's reports, in one small SQLite file (the only agent
 * file that includes sqlite3.h). It numbers, encodes and keeps reports
 * durably until acknowledged or refused, and keeps the acknowledged ones for
 * a retention window as the province's second copy; sending, deciding what
 * to resend and validating command-line input are left to others. */
#ifndef AGENT_OUTBOX_H
#define AGENT_OUTBOX_H

#include "ro_codec.h"
#include "ro_report.h"

#include <stddef.h>
#include <stdint.h>

#define AGENT_OUTBOX_SCHEMA 5                    /* PRAGMA user_version this code writes */
#define AGENT_INCARNATION_LEN RO_INCARNATION_LEN /* bytes of an outbox's identity */
#define AGENT_OUTBOX_BUSY_MS 5000    /* wait this long for another process' transaction */
#define AGENT_OUTBOX_CACHE_KIB 256   /* page cache of a connection, at most (SQLite's: 2000) */
#define AGENT_OUTBOX_RESERVE_KIB 256 /* disk held in OUTBOX-reserve for a full disk */

/* Return codes of the verbs below. */
typedef enum {
    AGENT_OUTBOX_OK = 0,
    AGENT_OUTBOX_ERROR = -1,   /* SQLite or I/O failure; err says what */
    AGENT_OUTBOX_FULL = -2,    /* outbox_max events already waiting; nothing added */
    AGENT_OUTBOX_INVALID = -3, /* the report fails ro_report_check or does not encode */
} agent_outbox_rc_t;

/* How agent_outbox_open treats a missing file. */
typedef enum {
    AGENT_OUTBOX_EXISTING = 0, /* a missing file is an error */
    AGENT_OUTBOX_CREATE = 1,   /* a missing file is created (its folder must exist) */
} agent_outbox_mode_t;

/* One event the hub refused, kept aside and never resent. */
typedef struct {
    uint64_t seq;               /* the refused event's seq */
    ro_reason_t reason;         /* the hub's reason code */
    int64_t at;                 /* when the refusal arrived, Unix seconds */
    char text[RO_TEXT_MAX + 1]; /* the hub's explanation */
} agent_refusal_t;

/* A consistent snapshot of the counters (read in one transaction). Seqs
 * are local (the rows' keys); the current incarnation's wire seq of a local
 * seq s is s - base (agent_outbox_switch). */
typedef struct {
    int64_t depth;          /* events waiting for an ack (retained ones not counted) */
    uint64_t next_seq;      /* the seq the next append gets */
    uint64_t last_ack;      /* highest seq settled: acknowledged, or base */
    int64_t refused;        /* events the hub refused, kept aside */
    int64_t retained;       /* acknowledged events kept for refill */
    uint64_t retained_from; /* the lowest seq kept; 0 when none is */
    int64_t retained_bytes; /* their encoded bodies, in bytes (what retain_max_mb bounds) */
    uint64_t base;          /* wire seq = local seq - base; 0 until a switch */
    uint8_t incarnation[AGENT_INCARNATION_LEN]; /* the outbox's (all zero: legacy) */
    int64_t cur_retained;                       /* of the retained, the current incarnation's */
    uint64_t cur_retained_from;                 /* the lowest of them (local); 0 when none is */
    int64_t cur_depth; /* of the waiting, the current incarnation's (the others': a refill of
                          an earlier incarnation, agent_outbox_refill_earlier) */
} agent_outbox_stats_t;

/* An incarnation the outbox had before its current one and still keeps
 * events of (recorded by agent_outbox_switch, forgotten once none of its
 * events is left): what the agent needs to speak for it again, as the second
 * copy of its events, when the hub's store falls behind. Local seqs. */
typedef struct {
    uint8_t incarnation[AGENT_INCARNATION_LEN]; /* its identity */
    uint64_t base;                              /* its wire seq = local seq - base */
    uint64_t top;           /* its events lie in base + 1 .. top; no other's do */
    uint64_t last_ack;      /* the highest seq of it the hub holds, as far as known */
    int64_t retained;       /* its acknowledged events kept, up to last_ack */
    uint64_t retained_from; /* the lowest of them; 0 when none is */
    int64_t waiting;        /* its events waiting to be sent again (a refill) */
    uint64_t waiting_from;  /* the lowest of them; 0 when none is */
} agent_earlier_t;

/* Where one event of the current incarnation stands (agent_outbox_find). */
typedef struct {
    uint64_t hash; /* its ro_report_hash; 0 when its content is not known */
    int waiting;   /* 1: waiting for an ack; 0: acknowledged and kept, or refused */
    int refused;   /* 1: set aside in the refused table */
} agent_event_state_t;

/* What agent_outbox_refill (or _refill_earlier) did. Local seqs. */
typedef struct {
    int64_t n;          /* kept events made waiting again */
    uint64_t first;     /* the lowest of them; 0 when n is 0 */
    uint64_t last;      /* the highest */
    uint64_t was_ack;   /* the last ack before */
    uint64_t lost;      /* seqs in (upto, was_ack] not refilled: pruned */
    uint64_t lost_from; /* they lie in lost_from .. lost_to: for the current incarnation */
    uint64_t lost_to;   /* upto + 1 .. first - 1 (or was_ack); for an earlier one, above
                           the refilled run: last + 1 (or upto + 1) .. was_ack */
} agent_refill_t;

typedef struct agent_outbox agent_outbox_t;

/* Open the outbox at path for unit (a valid unit id). The file is checked
 * before anything is written to it: a file that is not a SQLite database, is
 * damaged (PRAGMA quick_check), was made by a newer agent, or was created for
 * another unit is refused and left untouched. A missing file is created when
 * mode is AGENT_OUTBOX_CREATE: built under a temporary name and linked into
 * place, so no other process ever sees a half-made outbox; a new outbox
 * draws its incarnation, 16 random bytes (never all zero), from getrandom().
 * An outbox of an older schema is migrated forward in one transaction (logged
 * once): schema 1 -> 2 keeps every event, gives the outbox and its events the
 * legacy incarnation (16 zero bytes) and hashes each event's decoded body
 * (ro_report_hash); 2 -> 3 adds base (0: wire seqs are local ones until a
 * switch); 3 -> 4 adds the earlier incarnations (agent_earlier_t): of those
 * left under schema 3 only the legacy one (base 0) is known, the others'
 * bases were not recorded; a failed migration leaves the file as it was. Beside the
 * file, OUTBOX-reserve holds AGENT_OUTBOX_RESERVE_KIB of allocated disk, made
 * here when missing and there is room (and tried again by an ack, at most
 * once a minute): in WAL mode even deleting needs a little disk, so a full
 * disk gives it up first (see agent_outbox_append). Returns NULL with a
 * one-line reason (naming the file and what to do) in err. */
agent_outbox_t *agent_outbox_open(const char *path, const char *unit, agent_outbox_mode_t mode,
                                  char *err, size_t errlen);

/* Close the outbox (NULL is fine) and null the caller's pointer. */
void agent_outbox_destroy(agent_outbox_t **self_p);

/* The most events that may wait for the hub; appends beyond it fail with
 * AGENT_OUTBOX_FULL. Retained (acknowledged) events do not count. 0 (the
 * default) means no bound. */
void agent_outbox_set_max(agent_outbox_t *self, int64_t max);

/* How long acknowledged events are kept for refill: until acknowledged more
 * than days days ago, and while their bodies total at most max_bytes (the
 * oldest go first). days or max_bytes 0 keeps none: an ack deletes what it
 * covers. The defaults are RO_AGENT_RETAIN_DAYS and RO_AGENT_RETAIN_MAX_MB
 * (ro_config.h). Applied by the next agent_outbox_ack. */
void agent_outbox_set_retention(agent_outbox_t *self, int days, int64_t max_bytes);

/* Cap the file at max_bytes (PRAGMA max_page_count; 0 lifts the cap): an
 * append that would grow it further fails as on a full disk. For tests and
 * drills that need a full disk without filling one. */
void agent_outbox_set_max_bytes(agent_outbox_t *self, int64_t max_bytes);

/* Append one report in one transaction: fill r's version, unit (the
 * outbox's), seq (the next one) and recorded_at (= now), check it with
 * ro_report_check(r, now), encode it and store it under the outbox's
 * incarnation with its ro_report_hash. When the disk is full (SQLITE_FULL),
 * the reserve file is given up and the oldest retained events are deleted
 * (and a warning logged), and the append is tried once more: recording comes
 * before the second copy. On success returns the seq (>= 1) and r holds
 * what was stored; otherwise returns an agent_outbox_rc_t (< 0), nothing is
 * stored, and err says why. */
int64_t agent_outbox_append(agent_outbox_t *self, ro_report_t *r, int64_t now, char *err,
                            size_t errlen);

/* Append n reports in one transaction, all or none, as agent_outbox_append
 * does each. On success returns 0 and sets *first_seq (if not NULL) to the
 * seq of rs[0]; the others follow without gaps. On failure nothing is stored,
 * *bad (if not NULL) is the index of the report that failed (n when the
 * failure was not one report's), and err says why. */
int agent_outbox_append_batch(agent_outbox_t *self, ro_report_t *rs, size_t n, int64_t now,
                              uint64_t *first_seq, size_t *bad, char *err, size_t errlen);

/* Called by agent_outbox_each for each event: body (len bytes) is valid
 * only during the call. Return 0 to take the event, nonzero to stop before it. */
typedef int (*agent_outbox_each_fn)(void *arg, uint64_t seq, const uint8_t *body, size_t len);

/* Hand up to max waiting events of the current incarnation with seq >
 * after, in seq order, to fn, straight from SQLite (no copy); retained
 * (acknowledged) events are never handed out. Returns how many fn took (0
 * when none waits), or -1; fewer than max are taken when no more wait or fn
 * stopped. */
int agent_outbox_each(agent_outbox_t *self, uint64_t after, size_t max, agent_outbox_each_fn fn,
                      void *arg);

/* Read the state of local seq under the outbox's current incarnation: an
 * outbox row of that incarnation, or a refused row above base (a refused
 * row below is of an earlier one). Returns 1 and fills *out when found, 0
 * when not, -1 on failure. */
int agent_outbox_find(agent_outbox_t *self, uint64_t seq, agent_event_state_t *out);

/* The event a correction corrects, as agent_outbox_correct found it. */
typedef struct {
    ro_report_t report; /* as recorded: its kind, date and figures (a cancel: none) */
    int waiting;        /* 1: the hub has not acknowledged it yet */
} agent_target_t;

/* Record r as a correction of the event at local seq target, in one
 * transaction, as agent_outbox_append records a report: r->action is
 * RO_ACTION_AMEND (r's kind and fields are the replacement) or
 * RO_ACTION_CANCEL (no body), r->reason says why. The target must be in the
 * outbox (waiting, or acknowledged and kept), not a cancel, not corrected
 * already by another event here, and for an amend of r's kind; else nothing
 * is stored and AGENT_OUTBOX_INVALID says why in err (the hub would refuse
 * it). r's target_inc and target_seq become the target's wire identity (its
 * incarnation, and its seq less that incarnation's base); a switch that
 * renumbers a waiting target renumbers it in its waiting corrections too.
 * *t (if not NULL) gets the target. Returns the correction's seq (>= 1), or
 * an agent_outbox_rc_t (< 0). */
int64_t agent_outbox_correct(agent_outbox_t *self, ro_report_t *r, uint64_t target, int64_t now,
                             agent_target_t *t, char *err, size_t errlen);

/* One event as agent_outbox_list hands it: body (len bytes) is valid only
 * during the call. */
typedef struct {
    uint64_t seq;        /* its local seq (the one `record` printed) */
    const uint8_t *body; /* as stored */
    size_t len;
    int state;             /* 0 waiting, 1 acknowledged (kept), 2 refused by the hub */
    uint64_t target;       /* a correction: the seq it corrects; 0 otherwise */
    uint64_t corrected_by; /* the seq of a correction of it in the outbox; 0 none */
} agent_listed_t;

/* Hand the newest max events (0: all) to fn, newest first: waiting, kept
 * and refused ones, each with what became of it. One read transaction.
 * Returns how many, or -1. */
int agent_outbox_list(agent_outbox_t *self, size_t max,
                      void (*fn)(void *arg, const agent_listed_t *ev), void *arg);

/* Another outbox speaks under this one's identity (REASON_IDENTITY, or an
 * Ack whose upto_hash is not our event's): in one transaction, draw a new
 * incarnation (getrandom(), never all zero) and give it every waiting
 * event, renumbered densely from next_seq on (so no local seq is reused:
 * kept rows keep theirs, and their bodies keep their stale seq, the wire's
 * being stamped at send); base becomes the old next_seq - 1 (the first
 * waiting event is wire seq 1 of the new incarnation), and last_ack base.
 * Kept (acknowledged) events stay under their old incarnation, which is
 * recorded as an earlier one (its identity, base and last ack:
 * agent_earlier_t) while any of them is kept; refused ones stay in the
 * refused table. An earlier incarnation's events are never renumbered: a
 * switch moves only the current one's. Returns 0 and sets *renumbered (if
 * not NULL) to how many events wait under the new incarnation, or -1 with
 * nothing changed. */
int agent_outbox_switch(agent_outbox_t *self, int64_t *renumbered);

/* The hub's store is behind: it holds the current incarnation only up to
 * local seq upto (>= base), below last_ack. In one transaction, make the
 * kept events of the current incarnation above upto waiting again (acked_at
 * NULL; the retained counters lessened), and the events the hub refused in
 * that range too (out of the refused table: the store lost their refusals
 * with the rest, and would wait at their seqs), and set last_ack to upto, so
 * that they are sent again. *out says what was refilled and what could not be
 * (pruned or refused seqs). Returns 0 (nothing done when upto >= last_ack),
 * or -1 with nothing changed. */
int agent_outbox_refill(agent_outbox_t *self, uint64_t upto, agent_refill_t *out);

/* ---- earlier incarnations: the second copy of what they acknowledged ---- */

/* Up to max earlier incarnations with base >= from_base, lowest base first,
 * with their counters, read in one transaction. Returns how many, or -1. */
int agent_outbox_earlier(agent_outbox_t *self, uint64_t from_base, agent_earlier_t *out,
                         size_t max);

/* The earlier incarnation inc (AGENT_INCARNATION_LEN bytes), with its
 * waiting counters, and with kept its retained ones too (a walk of what it
 * keeps; else they are 0). Returns 1 and fills *out, 0 when the outbox
 * keeps nothing of it (never one of its incarnations, the current one, or
 * forgotten), -1. */
int agent_outbox_earlier_find(agent_outbox_t *self, const uint8_t *inc, int kept,
                              agent_earlier_t *out);

/* The earlier incarnation holding the lowest event that waits to be sent
 * again (the oldest refill), with its waiting counters (its retained ones
 * are 0). Returns 1 and fills *out, 0 when none waits, -1. */
int agent_outbox_earlier_next(agent_outbox_t *self, agent_earlier_t *out);

/* As agent_outbox_each, for earlier incarnation e's waiting events with
 * seq > after (local seqs; the caller stamps e's identity on each). */
int agent_outbox_each_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t after,
                              size_t max, agent_outbox_each_fn fn, void *arg);

/* As agent_outbox_find, for local seq of earlier incarnation e: one of its
 * events (waiting or kept), or a refused one in its range. */
int agent_outbox_find_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t seq,
                              agent_event_state_t *out);

/* The hub holds every seq of earlier incarnation e up to local seq upto
 * (its top at most): as agent_outbox_ack, for e's waiting events only, and
 * e's last ack (which never moves back) instead of the current one's. */
int agent_outbox_ack_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto,
                             int64_t now);

/* The hub's store holds earlier incarnation e only up to local seq upto
 * (>= e's base), below its last ack: in one transaction, make waiting again
 * the run of e's kept events directly above upto, up to its last ack or the
 * first seq not kept (pruned or refused: the hub would take nothing beyond
 * it, a gap, and these events cannot go under another identity, where a
 * copy of this outbox holding the same ones would have them counted twice),
 * and set e's last ack to upto. *out says what was refilled and what not
 * (lost_from .. lost_to: they stay kept, not sent). Returns 0 (nothing done
 * when upto >= e's last ack), or -1 with nothing changed. */
int agent_outbox_refill_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto,
                                agent_refill_t *out);

/* Remember id (AGENT_INCARNATION_LEN bytes) as the store of the hub that
 * acknowledges (meta.store_id); written only when it differs. Returns 1
 * when it replaced another, 0 when it was the same or the first, -1 on
 * failure. */
int agent_outbox_store_id(agent_outbox_t *self, const uint8_t id[AGENT_INCARNATION_LEN]);

/* The hub has every seq <= upto of the current incarnation: mark its
 * waiting events up to it acknowledged (acked_at = now; an earlier
 * incarnation's are not touched), remember upto as the last ack (it never
 * moves back), then delete the retained events beyond the retention
 * (agent_outbox_set_retention), oldest (lowest seq) first: those
 * acknowledged more than its days ago, then as many as needed to bring the
 * retained bodies within its bytes (an earlier incarnation's waiting
 * events are skipped, never deleted), and forget the earlier incarnations
 * none of whose events is left. All in one transaction, at a cost that
 * does not grow with the number retained. Returns 0 or -1. */
int agent_outbox_ack(agent_outbox_t *self, uint64_t upto, int64_t now);

/* Move waiting event seq (of any incarnation) from the outbox to the
 * refused table with the hub's reason and text, at time `at`, in one
 * transaction (an earlier incarnation none of whose events is left is
 * forgotten). Returns 0 when
 * moved, 1 when seq is not waiting (never stored, refused or acknowledged
 * already: nothing changes), -1 on failure. */
int agent_outbox_refuse(agent_outbox_t *self, uint64_t seq, ro_reason_t reason, const char *text,
                        int64_t at);

/* Move back into the outbox, in one transaction, the events an older agent
 * set aside for a refusal that is not final (ro_reason_final: the hub used
 * no seq up, so its next events waited on that gap for ever) and that the
 * hub has not acknowledged since; they wait again under the outbox's
 * incarnation, hashed. Returns how many, or -1. */
int agent_outbox_requeue(agent_outbox_t *self);

/* Give back what the connection holds only to go faster: its cached pages
 * and the statements an idle sender does not use (prepared again when
 * needed). For quiet moments, such as an outbox just drained; a no-op inside
 * a transaction. Nothing on disk changes. */
void agent_outbox_release(agent_outbox_t *self);

/* Fill *st in one read transaction. Returns 0 or -1. */
int agent_outbox_stats(agent_outbox_t *self, agent_outbox_stats_t *st);

/* Events waiting for an ack (retained ones not counted), or -1. */
int64_t agent_outbox_depth(agent_outbox_t *self);

/* The most recent refusals, newest first, up to max. Returns how many, or -1. */
int agent_outbox_refused_last(agent_outbox_t *self, agent_refusal_t *out, size_t max);

/* 1 when another connection (another process) committed to the file since
 * the last call (or since open), 0 when not, -1 on failure. Cheap: it reads
 * PRAGMA data_version, no table. */
int agent_outbox_changed(agent_outbox_t *self);

/* Copy the outbox's incarnation (AGENT_INCARNATION_LEN bytes: all zero for
 * the legacy one of a migrated outbox) into out. Returns 0 or -1. */
int agent_outbox_incarnation(agent_outbox_t *self, uint8_t out[AGENT_INCARNATION_LEN]);

/* The unit the outbox is bound to (borrowed). */
const char *agent_outbox_unit(const agent_outbox_t *self);

/* The last SQLite error on this outbox, for logs (borrowed). */
const char *agent_outbox_errmsg(const agent_outbox_t *self);

#endif
