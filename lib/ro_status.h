/* ro_status: the status API's messages (StatusRequest, StatusReply and what
 * a reply carries: Scope, Indicator, HistoryPoint, Metric, Problem,
 * TrailEvent) as plain C data, and the only door between them and the wire.
 * Decoding is as strict as ro_codec's (unknown fields, NUL bytes, bad UTF-8,
 * over-long strings and counts refused). What a query means is
 * hub/status.c's business. */
#ifndef RO_STATUS_H
#define RO_STATUS_H

#include "ro_codec.h"
#include "ro_scope.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RO_STATUS_REQUEST_MAX 4096 /* bytes of a request frame */
#define RO_STATUS_KEY_MAX 255      /* bytes of a request's key or indicator */
#define RO_STATUS_SCOPES_MAX 10000 /* scopes in one reply */
#define RO_STATUS_WHY_MAX 511      /* bytes of an indicator's why */
#define RO_STATUS_ERROR_MAX 4095   /* bytes of a reply's error */
#define RO_STATUS_NAME_MAX 255     /* bytes of a metric's name */
#define RO_STATUS_WORD_MAX 15      /* bytes of a kind, level, grade, milestone... */
#define RO_STATUS_HEX_MAX 32       /* hex digits of an incarnation (RO_INCARNATION_LEN bytes) */

/* What a request asks (proto Query). */
typedef enum {
    RO_QUERY_NONE = 0,
    RO_QUERY_UNIT = 1, /* key = unit id */
    RO_QUERY_PROVINCE = 2,
    RO_QUERY_DIVISION = 3, /* key = division code */
    RO_QUERY_LEVEL = 4,    /* key = provincial | municipal | township */
    RO_QUERY_LAGGARDS = 5,
    RO_QUERY_SILENT = 6,
    RO_QUERY_HISTORY = 7, /* key = unit id, indicator = indicator id */
    RO_QUERY_DIVISIONS = 8,
    RO_QUERY_METRICS = 9,
    RO_QUERY_VERIFY = 10,
    RO_QUERY_SERIES = 11,
    RO_QUERY_TARGETS = 12,
    RO_QUERY_PROBLEMS = 13,
    RO_QUERY_REVIEWS = 14, /* key = unit id or "": flagged reports, pending first */
    RO_QUERY_DECIDE = 15,  /* decision: a reviewer accepts or rejects one */
    RO_QUERY_TRAIL = 16,   /* key = unit id: its corrections, newest first */
    RO_QUERY_MARKED = 17,  /* units whose figures rest on corrected, held or rejected reports */
} ro_query_t;

/* A reviewer's decision (proto Decision). */
typedef struct {
    char unit[RO_UNIT_MAX + 1];              /* the report's unit */
    uint64_t seq;                            /* its seq */
    char incarnation[RO_STATUS_HEX_MAX + 1]; /* 32 hex digits; "" = the one flagged */
    bool accept;                             /* true accept, false reject */
    char reason[RO_TEXT_MAX + 1];            /* why; required by the hub */
} ro_status_decision_t;

/* A status request (proto StatusRequest). */
typedef struct {
    uint32_t version;                      /* RO_PROTOCOL_VERSION */
    ro_query_t query;                      /* any value on the wire: the hub checks it */
    char key[RO_STATUS_KEY_MAX + 1];       /* unit id, division code, level; "" = none */
    uint32_t as_of;                        /* YYYYMMDD, 0 = today */
    char indicator[RO_STATUS_KEY_MAX + 1]; /* indicator id, "" = the headline one */
    uint32_t limit;                        /* 0 = no limit */
    uint32_t known_on;                     /* YYYYMMDD: as known at its end; 0 = now */
    bool has_decision;                     /* decision is set (QUERY_DECIDE) */
    ro_status_decision_t decision;         /* QUERY_DECIDE */
    uint32_t unknown;                      /* fields skipped: unknown to this version */
} ro_status_request_t;

/* One indicator of a scope as the wire carries it (proto Indicator). */
typedef struct {
    char *id;             /* indicator id */
    double value;         /* count or ratio 0..1; 0 when no_data */
    double goal;          /* the scope's goal */
    double share;         /* value / goal; 0 when no_data */
    char *grade;          /* 优 良 中 差 */
    char *milestone;      /* met | at-risk | missed | none */
    uint32_t next_date;   /* YYYYMMDD of the next milestone, 0 if none */
    double next_goal;     /* what it asks */
    double gap;           /* how far below next_goal */
    bool no_data;         /* a ratio with nothing to divide */
    char *label_zh;       /* the document's name */
    char *label_en;       /* English name */
    char *measure;        /* people | hours | percent */
    uint32_t due_date;    /* YYYYMMDD of the latest milestone due, 0 if none */
    double due_goal;      /* what that milestone asks */
    char *why;            /* why it falls short; "" if not */
    uint64_t corrected;   /* of the reports its value rests on: amended or cancelled */
    uint64_t held_review; /* held for review, pending */
    uint64_t rejected;    /* rejected by a reviewer */
} ro_status_indicator_t;

/* A unit, division, level or the province as the wire carries it (proto
 * Scope). Strings are never NULL in a decoded or made scope; to encode, NULL
 * is "". */
typedef struct {
    char *kind;                /* unit | division | level | province */
    char *id;                  /* unit id, division code, level name, "460000" */
    char *name;                /* display name */
    char *level;               /* level name, "" if none */
    char *division;            /* "NNNNNN", "" if none */
    uint32_t units;            /* units in the scope */
    uint32_t units_reporting;  /* of which sent at least one report */
    uint64_t participants;     /* training people */
    uint64_t hours_tenths;     /* training tenths of an hour */
    uint64_t sessions;         /* training sessions */
    uint64_t staff_total;      /* approval staff */
    uint64_t staff_proficient; /* of whom can approve online */
    uint64_t items_total;      /* service items */
    uint64_t items_no_visit;   /* of which no-visit */
    uint64_t cases_total;      /* cases */
    uint64_t cases_no_visit;   /* of which no-visit */
    uint64_t last_seq;         /* units only: highest seq handled */
    int64_t last_heard;        /* last report or heartbeat */
    uint64_t reports;          /* reports stored */
    size_t n_indicators;       /* indicators used */
    ro_status_indicator_t indicators[RO_INDICATORS_MAX]; /* in targets order */
    char *grade;          /* the worst indicator grade, "" without targets */
    uint32_t why;         /* bit i: indicators[i] falls short */
    uint32_t flags;       /* units only: RO_SCOPE_FLAG_* (ro_scope.h) */
    uint64_t corrected;   /* of the reports the figures rest on: amended or cancelled */
    uint64_t held_review; /* held for review, pending */
    uint64_t rejected;    /* rejected by a reviewer */
    char *mem;            /* owned: the strings above (decoded or made), or NULL */
} ro_status_scope_t;

/* One point of a HISTORY or SERIES answer (proto HistoryPoint). */
typedef struct {
    uint32_t date;  /* YYYYMMDD, or YYYYMM for a case-volume month */
    double value;   /* 0 when no_data */
    uint64_t seq;   /* HISTORY: the report's seq */
    uint64_t total; /* the report's (or sum of) total */
    uint64_t part;  /* its part */
    bool no_data;   /* a ratio whose total is 0 */
} ro_status_point_t;

/* One METRICS pair (proto Metric). */
typedef struct {
    char *name;   /* metric name */
    double value; /* its value */
} ro_status_metric_t;

/* One unit's problem (proto Problem): what PROBLEMS lists. */
typedef struct {
    char *unit;       /* unit id */
    char *kind;       /* silent | gap | refused | held (RO_STATUS_WORD_MAX) */
    int64_t since;    /* when it began, Unix seconds; 0: never heard */
    char *text;       /* what is wrong, one line (RO_STATUS_WHY_MAX) */
    char *what_to_do; /* what the operator does; "" = nothing (RO_STATUS_WHY_MAX) */
} ro_status_problem_t;

/* One correction of a unit's report (proto TrailEvent): what TRAIL lists. */
typedef struct {
    int64_t at;               /* when the hub applied it, Unix seconds */
    char *what;               /* amend | cancel (RO_STATUS_WORD_MAX) */
    uint64_t target_seq;      /* the corrected report's seq */
    char *target_incarnation; /* its incarnation, RO_STATUS_HEX_MAX hex digits; "" = legacy */
    char *target_kind;        /* training | staff | items | cases (RO_STATUS_WORD_MAX) */
    uint32_t target_date;     /* YYYYMMDD, or YYYYMM for cases */
    uint64_t target_total;    /* as stored: participants, or the total */
    uint64_t target_part;     /* hours in tenths, proficient, or no-visit */
    uint64_t seq;             /* the correction's own seq */
    char *incarnation;        /* its incarnation, as target_incarnation */
    uint32_t new_date;        /* amend: the replacement's date; cancel: 0 */
    uint64_t new_total;       /* amend: the replacement's total; cancel: 0 */
    uint64_t new_part;        /* amend: the replacement's part; cancel: 0 */
    char *by;                 /* the connection's User-Id, "" without keys (RO_STATUS_NAME_MAX) */
    char *reason;             /* why, in the staff's words (RO_TEXT_MAX) */
} ro_status_trail_t;

/* A flagged report and what became of it (proto Review): what REVIEWS lists. */
typedef struct {
    char *unit;         /* unit id */
    uint64_t seq;       /* the report's seq */
    char *incarnation;  /* RO_STATUS_HEX_MAX hex digits; "" = legacy */
    char *kind;         /* training | staff | items | cases (RO_STATUS_WORD_MAX) */
    uint32_t date;      /* YYYYMMDD, or YYYYMM for cases */
    uint64_t total;     /* participants, or the total */
    uint64_t part;      /* hours in tenths, proficient, or no-visit */
    char *rule;         /* the rule that flagged it (RO_STATUS_WORD_MAX * 3) */
    char *text;         /* what the rule saw (RO_STATUS_WHY_MAX) */
    int64_t flagged_at; /* when */
    char *state;        /* pending | accepted | rejected | corrected (RO_STATUS_WORD_MAX) */
    char *by;           /* the reviewer's User-Id, "" while pending (RO_STATUS_NAME_MAX) */
    int64_t at;         /* when decided; 0 while pending */
    char *reason;       /* the reviewer's reason (RO_TEXT_MAX) */
} ro_status_review_t;

/* A status reply (proto StatusReply). A decoded reply owns everything it
 * points to (ro_status_reply_free); to encode, the caller's arrays and
 * strings are only read (NULL strings are ""). */
typedef struct {
    uint32_t version;              /* RO_PROTOCOL_VERSION */
    int32_t status;                /* 0 ok, 2 bad request, 1 hub trouble */
    char *error;                   /* why not ok (or VERIFY's summary) */
    uint64_t feed_seq;             /* the feed sequence this answer reflects */
    uint32_t as_of;                /* YYYYMMDD evaluated as of */
    ro_status_scope_t *scopes;     /* n_scopes of them */
    size_t n_scopes;               /* at most RO_STATUS_SCOPES_MAX */
    ro_status_point_t *history;    /* n_history of them */
    size_t n_history;              /* points */
    ro_status_metric_t *metrics;   /* n_metrics of them */
    size_t n_metrics;              /* metrics */
    char *store_state;             /* ok | full | error */
    char *indicator;               /* the indicator answered for */
    uint32_t total;                /* LAGGARDS, SILENT, PROBLEMS, TRAIL: how many before limit */
    char *targets_ini;             /* TARGETS: the hub's targets file */
    ro_status_problem_t *problems; /* PROBLEMS: n_problems of them */
    size_t n_problems;             /* at most RO_STATUS_SCOPES_MAX */
    ro_status_trail_t *trail;      /* TRAIL: n_trail of them, newest first */
    size_t n_trail;                /* at most RO_STATUS_SCOPES_MAX */
    ro_status_review_t *reviews;   /* REVIEWS: n_reviews of them, pending first */
    size_t n_reviews;              /* at most RO_STATUS_SCOPES_MAX */
    uint64_t feed_epoch;           /* the hub incarnation feed_seq counts in */
    uint32_t known_on;             /* the known-on date answered, 0 = now */
    uint32_t corrections_after;    /* with known_on: corrections and decisions after it */
    char *mem;                     /* owned when decoded: the reply's own strings */
} ro_status_reply_t;

/* A request for query, version set, everything else zero. */
ro_status_request_t ro_status_request(ro_query_t query);

/* Encode r into buf (capacity cap). Returns the length, or -1 if it does not fit. */
int ro_status_request_encode(const ro_status_request_t *r, uint8_t *buf, size_t cap);

/* Decode one request frame of at most RO_STATUS_REQUEST_MAX bytes into *out.
 * Any valid encoding is taken; fields it does not know are skipped and
 * counted in out->unknown. Returns 0, or -1 with a reason in err (not a
 * StatusRequest; bad UTF-8 or a NUL byte in a string; a key or indicator over
 * RO_STATUS_KEY_MAX). The version and query are not checked here. */
int ro_status_request_decode(const uint8_t *buf, size_t len, ro_status_request_t *out, char *err,
                             size_t errlen);

/* Fill out with scope s as the wire carries it: names of its enums, its
 * division as "NNNNNN", and with targets (the engine's; NULL for raw sums:
 * no indicators) the indicators' labels, measure and why text (NaN values
 * as 0 with no_data). out's strings are its own (ro_status_scope_clear).
 * Returns 0, or -1 out of memory (out is then empty). */
int ro_status_scope_make(const ro_targets_t *targets, const ro_scope_t *s, ro_status_scope_t *out);

/* The inverse of ro_status_scope_make: w, as a reply or the feed carries
 * it, back into the engine's form in out, for a renderer. Its indicators
 * must be targets', in targets' order, and its names (kind, grade,
 * milestone) ones ro_status_scope_make writes. Returns 0, or -1 with the
 * reason in err. */
int ro_status_scope_read(const ro_targets_t *targets, const ro_status_scope_t *w, ro_scope_t *out,
                         char *err, size_t errlen);

/* A deep copy of src into dst (whose strings are then its own). Returns 0,
 * or -1 out of memory (dst is then empty). */
int ro_status_scope_copy(ro_status_scope_t *dst, const ro_status_scope_t *src);

/* Free a decoded, made or copied scope's strings and zero it. NULL is fine. */
void ro_status_scope_clear(ro_status_scope_t *s);

/* Encode s as a protobuf Scope into buf if it fits in cap bytes. Returns
 * its encoded size (more than cap: nothing written, call again with room),
 * or 0 when out of memory or it has more than RO_INDICATORS_MAX indicators. */
size_t ro_status_scope_encode(const ro_status_scope_t *s, uint8_t *buf, size_t cap);

/* Encode r into a malloc'd buffer (*out, the caller's to free) of *out_len
 * bytes. Returns 0, or -1 out of memory or over a limit (*out NULL). */
int ro_status_reply_encode(const ro_status_reply_t *r, uint8_t **out, size_t *out_len);

/* Decode one reply frame of at most RO_STATUS_FRAME_MAX bytes (mode: what
 * to do with unknown fields; rolloutctl skips them). Returns the reply (the
 * caller's: ro_status_reply_free), or NULL with a reason in err. */
ro_status_reply_t *ro_status_reply_decode(const uint8_t *buf, size_t len, ro_decode_mode_t mode,
                                          char *err, size_t errlen);

/* Free a decoded reply and null the pointer. NULL is fine. */
void ro_status_reply_free(ro_status_reply_t **self_p);

#endif
