/* ro_report: a unit's report as rollout's own C struct, the shape both agent
 * and hub work with. The wire form lives in ro_codec; the checks that make a
 * report acceptable live here, so agent (before recording) and hub (before
 * storing) refuse exactly the same things. */
#ifndef RO_REPORT_H
#define RO_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define RO_PROTOCOL_VERSION 2  /* the highest version spoken (docs/PROTOCOL.md, 6) */
#define RO_PROTOCOL_V1 1       /* revision 1: a unit has one sequence, its legacy incarnation's */
#define RO_UNIT_MAX 32         /* bytes of a unit id, without the NUL */
#define RO_TEXT_MAX 200        /* bytes of a course name or agent version */
#define RO_COUNT_MAX 10000000u /* no count in the domain comes near this */
#define RO_HOURS_TENTHS_MAX 2400u /* one session: at most 240 hours */
#define RO_FUTURE_SKEW 86400      /* seconds a report may lie ahead of the hub's clock */
#define RO_INCARNATION_LEN 16     /* bytes of an outbox's incarnation (REVISION-2.md, 1) */

typedef enum {
    RO_KIND_NONE = 0,
    RO_KIND_TRAINING = 1,
    RO_KIND_STAFF = 2,
    RO_KIND_ITEMS = 3,
    RO_KIND_CASES = 4,
    RO_KIND_HEARTBEAT = 5,
} ro_kind_t;

/* Why a report is refused; the values are the wire's Reason enum. */
typedef enum {
    RO_REASON_NONE = 0,
    RO_REASON_MALFORMED = 1,
    RO_REASON_VERSION = 2,
    RO_REASON_UNKNOWN_UNIT = 3,
    RO_REASON_INVALID = 4,
    RO_REASON_CONFLICT = 5,
    RO_REASON_FORBIDDEN = 6,
    RO_REASON_IDENTITY = 7, /* version 2: another outbox uses this identity */
    RO_REASON_TARGET = 8,   /* version 2: a correction's target is not one it may correct */
    RO_REASON_COUNT = 9,
} ro_reason_t;

/* What a report does (Report.correction): a report of its own, or a
 * correction of an earlier one of the same unit. */
typedef enum {
    RO_ACTION_NONE = 0,   /* a report */
    RO_ACTION_AMEND = 1,  /* replaces the target: the body is the replacement, same kind */
    RO_ACTION_CANCEL = 2, /* withdraws the target: no body */
} ro_action_t;

typedef struct {
    uint32_t version;           /* protocol version */
    char unit[RO_UNIT_MAX + 1]; /* unit id, DIVISION-NNN */
    uint64_t seq;               /* per-unit sequence, from 1; 0 for heartbeats */
    int64_t recorded_at;        /* Unix seconds */
    ro_kind_t kind;             /* which of the bodies below is set */
    uint32_t date;              /* YYYYMMDD; YYYYMM for cases; 0 for heartbeats */
    uint32_t total;             /* training: participants; else the total */
    uint32_t part;              /* training: hours in tenths; staff: proficient;
                                   items and cases: no-visit */
    uint64_t depth;             /* heartbeat: agent's outbox depth */
    char text[RO_TEXT_MAX + 1]; /* training: course; heartbeat: agent version */
    uint32_t unknown;           /* fields the decoder skipped: unknown to this version */
    /* protocol version 2 (docs/REVISION-2.md); zero in every version-1 report */
    uint8_t incarnation[RO_INCARNATION_LEN]; /* the outbox's identity; all zero: legacy */
    uint64_t last_ack;                       /* heartbeat: highest seq it holds acknowledged */
    int64_t agent_time;                      /* heartbeat: the agent's clock when sent */
    uint64_t retained;                       /* heartbeat: acknowledged events it keeps */
    uint64_t retained_from;                  /* heartbeat: the lowest seq of them */
    /* a correction (version 2): kind and the fields above are the
     * replacement's (amend) or none (cancel) */
    ro_action_t action;                     /* RO_ACTION_NONE: not a correction */
    uint8_t target_inc[RO_INCARNATION_LEN]; /* the target's incarnation; all zero: legacy */
    uint64_t target_seq;                    /* the target's seq in it */
    char reason[RO_TEXT_MAX + 1];           /* why, in the staff's words (required) */
} ro_report_t;

/* The report's content as a 64-bit hash, never 0: kind, date, total, part,
 * text and recorded_at (and a correction's action, target and reason),
 * whatever bytes carried them. Two reports of one unit
 * and seq are the same report when their hashes are equal. */
uint64_t ro_report_hash(const ro_report_t *r);

/* The name of an action ("amend", "cancel"; "report" for none), or "?" */
const char *ro_action_name(ro_action_t action);
/* The name of a kind ("training", "staff", ...), or "?" */
const char *ro_kind_name(ro_kind_t kind);
/* The name of a refusal reason ("unknown-unit", ...), or "?" */
const char *ro_reason_name(ro_reason_t reason);
/* True when a refusal for this reason is final: the hub used the seq up and
 * the report is set aside (malformed, invalid, conflict). Version, unknown
 * unit and forbidden are the hub's or the key's to fix: the seq stays open. */
int ro_reason_final(ro_reason_t reason);

/* True when id looks like a unit id: the six-digit division code, '-', and
 * three to six digits (three in Hainan's registry; more for larger ones). */
int ro_unit_id_valid(const char *id);

/* Check a decoded report's fields: unit id format, seq (0 only for
 * heartbeats), a real date (cases: month) not before RO_DATE_MIN,
 * recorded_at not before 2017, counts in range and parts not above totals;
 * a correction: a target seq, a reason, and for an amend a replacement
 * that passes the same checks, for a cancel none.
 * Nothing that time will fix is refused here: a date after now + skew is
 * ro_report_ahead's to say, and a recorded_at ahead of now is accepted
 * (an agent's clock that is ahead says nothing about the figures), so no
 * clock is needed. Returns RO_REASON_NONE or
 * RO_REASON_INVALID with a one-line reason in err (if err is not NULL). */
ro_reason_t ro_report_check(const ro_report_t *r, char *err, size_t errlen);

/* The first day (YYYYMMDD) a report belongs to: its date, or the first day
 * of its month for cases. */
uint32_t ro_report_due(const ro_report_t *r);

/* True when a report's date (cases: its month) is after the UTC date of
 * now + RO_FUTURE_SKEW: the agent refuses to record it; the hub stores it
 * held, uncounted, until its own date reaches it (docs/PROTOCOL.md 5.3). */
int ro_report_ahead(const ro_report_t *r, int64_t now);

/* True when s (len bytes) is valid UTF-8 with no NUL byte. */
int ro_utf8_valid(const char *s, size_t len);

#endif
